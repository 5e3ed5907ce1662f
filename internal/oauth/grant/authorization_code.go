package grant

import (
	"context"
	"errors"
	"slices"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/token"
)

// AuthorizationCode serves grant_type=authorization_code (RFC 6749
// §4.1.3, RFC 7636): a client exchanges the code the authorize endpoint
// gave a signed-in user for tokens that act for that user.
//
// A code is single use, bound to the client and redirect URI it was
// issued for and to its PKCE challenge, and lives CodeLifetime. A refused
// exchange (wrong client, redirect URI or verifier) leaves the code
// unused, so an attacker holding a stolen code cannot burn it for its
// owner; an exchange of a code already used is refused and revokes what
// the first exchange issued (RFC 6749 §4.1.2).
type AuthorizationCode struct {
	UserGrants
}

var _ Handler = (*AuthorizationCode)(nil)

func (*AuthorizationCode) GrantType() client.GrantType { return client.GrantAuthorizationCode }

// AllowsPublic is true: public clients authenticate with none and PKCE.
func (*AuthorizationCode) AllowsPublic() bool { return true }

// errCode is the one answer for a code that is unknown, expired, or of
// another tenant: which it was is nobody's business.
func errCode() *oautherr.Error {
	return oautherr.InvalidGrant("the authorization code is invalid or expired")
}

// Handle exchanges the code for an access token, a refresh token when the
// client has the refresh_token grant, and an ID token when openid was
// granted.
func (g *AuthorizationCode) Handle(ctx context.Context, r *Request) (*Response, error) {
	if err := g.configured(); err != nil {
		return nil, err
	}
	c := r.Client
	if !c.HasGrant(client.GrantAuthorizationCode) {
		return nil, oautherr.UnauthorizedClient("this client is not allowed the authorization_code grant")
	}
	code, redirect, verifier := r.Params.Get("code"), r.Params.Get("redirect_uri"), r.Params.Get("code_verifier")
	switch {
	case code == "":
		return nil, oautherr.InvalidRequest("code is required")
	case redirect == "":
		return nil, oautherr.InvalidRequest("redirect_uri is required: send the one the authorization request sent")
	case verifier != "" && !ValidPKCE(verifier):
		return nil, oautherr.InvalidRequest("code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636 section 4.1)")
	}
	jti, err := client.NewID(g.random(), "")
	if err != nil {
		return nil, err
	}
	hash := token.HashOpaque(code)
	now := r.Now
	accessExp := AccessExpiry(c, now)
	var (
		is   userIssue
		revs []token.Revocation
	)
	err = g.Store.InGrantTx(ctx, func(tx token.GrantTx) error {
		is, revs = userIssue{}, nil
		cd, err := tx.UseCode(ctx, hash, now)
		if errors.Is(err, token.ErrNotFound) {
			return errCode()
		}
		if err != nil {
			return err
		}
		if cd.TenantID != r.Tenant.ID {
			return errCode()
		}
		if !cd.UsedAt.IsZero() {
			// A replay: whoever holds the code now may not be its owner,
			// so what the first exchange issued is revoked with this
			// transaction, and the refusal follows the commit.
			revs, err = grantRevoke(ctx, tx, cd.FamilyID, now,
				token.Revocation{TokenID: cd.AccessTokenID, ClientID: cd.ClientID, ExpiresAt: cd.AccessExpiresAt})
			return err
		}
		// Each refusal below returns its error, which rolls the use back.
		switch {
		case cd.ClientID != c.ID:
			return oautherr.InvalidGrant("the authorization code was issued to another client")
		case cd.RedirectURI != redirect:
			return oautherr.InvalidGrant("redirect_uri differs from the one the authorization request sent")
		case !now.Before(cd.ExpiresAt):
			return errCode()
		}
		if oerr := checkPKCE(cd.CodeChallenge, verifier); oerr != nil {
			return oerr
		}
		if err := userActive(ctx, tx, cd.UserID, r.Tenant.ID); err != nil {
			return err
		}
		// The user may have revoked the application since the code was
		// issued: the code then grants nothing.
		approved, err := tx.ConsentScopes(ctx, cd.UserID, c.ID)
		if errors.Is(err, token.ErrNotFound) || err == nil && !covers(approved, cd.Scopes) {
			return oautherr.InvalidGrant("the user has revoked this application's access")
		}
		if err != nil {
			return err
		}
		if err := tx.SetCodeAccess(ctx, hash, jti, accessExp); err != nil {
			return err
		}
		is = userIssue{userID: cd.UserID, scopes: cd.Scopes, authTime: cd.AuthTime, nonce: cd.Nonce, jti: jti}
		if !offersRefresh(c, cd.Scopes) {
			return nil
		}
		value, rt, err := g.newRefresh(c, r.Tenant.ID, cd.FamilyID, cd.UserID, cd.Scopes, cd.AuthTime, now, jti, accessExp)
		if err != nil {
			return err
		}
		is.refresh = value
		return tx.CreateRefreshToken(ctx, rt)
	})
	if err != nil {
		return nil, err
	}
	if is.userID == "" {
		if g.OnRevoke != nil && len(revs) > 0 {
			g.OnRevoke(revs)
		}
		return nil, oautherr.InvalidGrant("the authorization code was already used; the tokens issued for it are revoked")
	}
	return g.respond(ctx, r, is)
}

// offersRefresh reports whether an exchange of a code with these scopes
// issues a refresh token: the client must have the refresh_token grant,
// and an OpenID Connect sign-in must have asked for offline_access, which
// the user approved in words ("stay signed in … when you are not using
// it"). A plain OAuth request, without openid, gets one by the grant alone.
func offersRefresh(c *client.Client, scopes []string) bool {
	if !c.HasGrant(client.GrantRefreshToken) {
		return false
	}
	return !slices.Contains(scopes, ScopeOpenID) || slices.Contains(scopes, ScopeOfflineAccess)
}

// covers reports whether approved holds every scope of asked.
func covers(approved, asked []string) bool {
	for _, s := range asked {
		if !slices.Contains(approved, s) {
			return false
		}
	}
	return true
}
