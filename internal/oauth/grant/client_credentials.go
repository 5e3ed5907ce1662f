package grant

import (
	"context"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// ClientCredentials serves grant_type=client_credentials (RFC 6749 §4.4): a
// confidential client obtains a token for itself. The token's sub is the
// client ID; the owner travels in an "owner" claim, and the token's
// permissions never exceed the owner's: a permission the client holds only
// in some divisions is kept only where the owner holds it too. A client
// with roles has its effective grants in a "roles" claim ("oauth_admin",
// "viewer@emea"), so a resource server learns in which divisions the
// token's permissions apply.
type ClientCredentials struct {
	Tokens TokenIssuer
	// OwnerRoles returns the roles of a client's owner user (nil when the
	// user no longer exists). Required when clients have owners.
	OwnerRoles func(ctx context.Context, userID string) ([]string, error)
	// Catalog returns a tenant's roles, built in and custom; nil knows the
	// built-in roles only.
	Catalog func(ctx context.Context, tenantID string) (*authz.Catalog, error)
}

var _ Handler = (*ClientCredentials)(nil)

func (*ClientCredentials) GrantType() client.GrantType { return client.GrantClientCredentials }
func (*ClientCredentials) AllowsPublic() bool          { return false }

// Handle issues an access token without a refresh token (RFC 6749 §4.4.3).
func (g *ClientCredentials) Handle(ctx context.Context, r *Request) (*Response, error) {
	c := r.Client
	if !c.HasGrant(client.GrantClientCredentials) {
		return nil, oautherr.UnauthorizedClient("this client is not allowed the client_credentials grant")
	}
	var (
		perms []authz.Permission
		roles []string
	)
	if len(c.Roles) > 0 {
		var cat *authz.Catalog
		if g.Catalog != nil {
			var err error
			if cat, err = g.Catalog(ctx, c.TenantID); err != nil {
				return nil, err
			}
		}
		var owner []string
		if c.OwnerUserID != "" {
			var err error
			if owner, err = g.OwnerRoles(ctx, c.OwnerUserID); err != nil {
				return nil, err
			}
		}
		perms, roles = Entitled(cat, c.Roles, owner, c.OwnerUserID != "")
	}
	scopes, oerr := ResolveScopes(c, r.Params.Get("scope"), perms)
	if oerr != nil {
		return nil, oerr
	}
	req := AccessRequest{Tenant: r.Tenant, Client: c, Subject: c.ID, Scopes: scopes, Now: r.Now}
	if r.Secret != nil {
		req.SecretID = r.Secret.ID
	}
	if c.OwnerUserID != "" || len(roles) > 0 {
		req.Extra = map[string]any{}
	}
	if c.OwnerUserID != "" {
		req.Extra["owner"] = c.OwnerUserID
	}
	if len(roles) > 0 {
		req.Extra["roles"] = roles
	}
	tok, err := g.Tokens.IssueAccess(ctx, req)
	if err != nil {
		return nil, err
	}
	return &Response{AccessToken: tok.Token, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresIn.Seconds()),
		Scope: strings.Join(scopes, " ")}, nil
}

// Entitled returns what a client holding grants may carry in a token: the
// permissions its grants give somewhere in the tenant, and its effective
// grants, those of a role the catalog knows. When the client has an owner
// (owned), a permission is kept only where the owner's grants give it too;
// a deleted owner (no grants) leaves nothing.
//
// An effective grant says where its role applies once the owner caps it:
// where every permission of the role that survives somewhere survives. So
// a grant held tenant-wide stays so only when the owner holds those
// permissions tenant-wide too, and otherwise becomes role@division for
// each division left (super_admin, held tenant-wide only, is then left
// out). The grants never claim more than the token holds; where the
// owner's grants differ permission by permission, they may claim less.
func Entitled(cat *authz.Catalog, grants, owner []string, owned bool) ([]authz.Permission, []string) {
	where := func(gs []string, p authz.Permission) authz.Reach {
		r := cat.Reach(gs, p)
		if owned {
			r = r.Intersect(cat.Reach(owner, p))
		}
		return r
	}
	var perms []authz.Permission
	for _, p := range authz.AllPermissions() {
		if where(grants, p).Any() {
			perms = append(perms, p)
		}
	}
	var effective []string
	add := func(g authz.Grant) {
		// super_admin is tenant-wide or nothing: capped to divisions, it
		// is left out rather than claimed everywhere.
		if s := g.String(); !slices.Contains(effective, s) && (g.Division == "" || g.Role != authz.SuperAdmin) {
			effective = append(effective, s)
		}
	}
	for _, s := range grants {
		g, err := authz.ParseGrant(s)
		if err != nil {
			continue
		}
		role, ok := cat.Role(g.Role)
		if !ok {
			continue
		}
		// r narrows to where each permission of the role that survives
		// holds; a role none of whose permissions survive is no grant.
		r, found := authz.Reach{All: true}, false
		for _, p := range role.Permissions {
			if pr := where([]string{s}, p); pr.Any() {
				r, found = r.Intersect(pr), true
			}
		}
		if !found {
			continue
		}
		if r.All {
			add(g)
			continue
		}
		for _, d := range r.Divisions {
			add(authz.Grant{Role: g.Role, Division: d})
		}
	}
	return perms, effective
}
