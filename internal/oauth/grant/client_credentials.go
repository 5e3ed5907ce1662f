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
// permissions never exceed the owner's.
type ClientCredentials struct {
	Tokens TokenIssuer
	// OwnerRoles returns the roles of a client's owner user (nil when the
	// user no longer exists). Required when clients have owners.
	OwnerRoles func(ctx context.Context, userID string) ([]string, error)
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
	held := authz.Permissions(c.Roles)
	if c.OwnerUserID != "" && len(held) > 0 {
		roles, err := g.OwnerRoles(ctx, c.OwnerUserID)
		if err != nil {
			return nil, err
		}
		owner := authz.Permissions(roles)
		held = slices.DeleteFunc(held, func(p authz.Permission) bool { return !slices.Contains(owner, p) })
	}
	scopes, oerr := ResolveScopes(c, r.Params.Get("scope"), held)
	if oerr != nil {
		return nil, oerr
	}
	req := AccessRequest{Tenant: r.Tenant, Client: c, Subject: c.ID, Scopes: scopes, Now: r.Now}
	if r.Secret != nil {
		req.SecretID = r.Secret.ID
	}
	if c.OwnerUserID != "" {
		req.Extra = map[string]any{"owner": c.OwnerUserID}
	}
	tok, err := g.Tokens.IssueAccess(ctx, req)
	if err != nil {
		return nil, err
	}
	return &Response{AccessToken: tok.Token, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresIn.Seconds()),
		Scope: strings.Join(scopes, " ")}, nil
}
