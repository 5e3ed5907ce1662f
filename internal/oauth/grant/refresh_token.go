package grant

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/token"
)

// RefreshToken serves grant_type=refresh_token (RFC 6749 §6): a client
// trades the refresh token of a user's grant for a new access token and
// the family's next refresh token.
//
// Refresh tokens rotate on every use, and presenting one already used
// revokes its whole family with the family's access tokens (RFC 9700
// §4.14.2): either the client or a thief holds a stale copy, and the
// server cannot tell which. A token is bound to its client and inactive
// once revoked (its user disabled, its consent revoked, the family ended)
// or expired; a client revoked, deactivated or deleted cannot
// authenticate to use it at all.
type RefreshToken struct {
	UserGrants
}

var _ Handler = (*RefreshToken)(nil)

func (*RefreshToken) GrantType() client.GrantType { return client.GrantRefreshToken }

// AllowsPublic is true: a public client's refresh token is bound to it by
// rotation, not by a secret.
func (*RefreshToken) AllowsPublic() bool { return true }

// errRefresh is the one answer for a refresh token that is unknown,
// expired, revoked or of another tenant.
func errRefresh() *oautherr.Error {
	return oautherr.InvalidGrant("the refresh token is invalid, expired or revoked")
}

// Handle rotates the refresh token. A scope parameter may narrow the new
// access token's scopes, never widen them; the new refresh token keeps
// the family's scopes (RFC 6749 §6).
func (g *RefreshToken) Handle(ctx context.Context, r *Request) (*Response, error) {
	if err := g.configured(); err != nil {
		return nil, err
	}
	c := r.Client
	if !c.HasGrant(client.GrantRefreshToken) {
		return nil, oautherr.UnauthorizedClient("this client is not allowed the refresh_token grant")
	}
	value := r.Params.Get("refresh_token")
	if value == "" {
		return nil, oautherr.InvalidRequest("refresh_token is required")
	}
	requested := r.Params.Get("scope")
	if requested != "" && slices.Contains(strings.Split(requested, " "), "") {
		return nil, oautherr.InvalidRequest("scope must be scope tokens separated by single spaces")
	}
	jti, err := client.NewID(g.random(), "")
	if err != nil {
		return nil, err
	}
	now := r.Now
	accessExp := AccessExpiry(c, now)
	var (
		is   userIssue
		revs []token.Revocation
	)
	err = g.Store.InGrantTx(ctx, func(tx token.GrantTx) error {
		is, revs = userIssue{}, nil
		old, err := tx.UseRefreshToken(ctx, token.HashOpaque(value), now)
		if errors.Is(err, token.ErrNotFound) {
			return errRefresh()
		}
		if err != nil {
			return err
		}
		switch {
		case old.TenantID != r.Tenant.ID:
			return errRefresh()
		case old.ClientID != c.ID:
			// Refused without touching the family: the token's own client
			// may still hold it.
			return oautherr.InvalidGrant("the refresh token was issued to another client")
		case !old.RevokedAt.IsZero():
			return errRefresh()
		case !old.UsedAt.IsZero():
			revs, err = grantRevoke(ctx, tx, old.FamilyID, now)
			return err
		case !now.Before(old.ExpiresAt):
			return errRefresh()
		}
		scopes := old.Scopes
		if requested != "" {
			scopes = nil
			for _, s := range strings.Split(requested, " ") {
				if !slices.Contains(old.Scopes, s) {
					return oautherr.InvalidScope("the scope %s was not granted to this refresh token; a refresh may narrow the scopes, never widen them", oautherr.Quote(s))
				}
				if !slices.Contains(scopes, s) {
					scopes = append(scopes, s)
				}
			}
		}
		if err := userActive(ctx, tx, old.UserID, r.Tenant.ID); err != nil {
			return err
		}
		next, rt, err := g.newRefresh(c, r.Tenant.ID, old.FamilyID, old.UserID, old.Scopes, old.AuthTime, now, jti, accessExp)
		if err != nil {
			return err
		}
		is = userIssue{userID: old.UserID, scopes: scopes, authTime: old.AuthTime, jti: jti, refresh: next}
		return tx.CreateRefreshToken(ctx, rt)
	})
	if err != nil {
		return nil, err
	}
	if is.userID == "" {
		if g.OnRevoke != nil && len(revs) > 0 {
			g.OnRevoke(revs)
		}
		return nil, oautherr.InvalidGrant("the refresh token was already used; every token of its grant is revoked")
	}
	return g.respond(ctx, r, is)
}
