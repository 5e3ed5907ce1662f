package oauth

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/token"
)

// inspected is an access token found valid, with the client it was issued to.
type inspected struct {
	claims *token.Claims
	client *client.Client
}

// inspect decides whether an access token of tenant ts is active at now:
// genuine (signed by the tenant's keys, with its issuer, of the access
// token kind), for one of the audiences given, not expired, not revoked
// (nor, for a user's token, cut off), its client one of the tenant's,
// existing and active, and the secret it was issued under not revoked. It returns nil for an inactive token; an
// error only when the server failed.
func (s *Server) inspect(ctx context.Context, ts *tenantScope, tok string, now time.Time, audiences []string) (*inspected, error) {
	want := token.Expect{Issuer: ts.issuer, Audience: audiences}
	var claims *token.Claims
	switch {
	case token.LooksLikeJWT(tok):
		c, err := ts.keys.VerifyAccess(tok, now, want)
		if errors.Is(err, token.ErrUnknownKey) && s.reloadKeys(ctx, ts, now) {
			// Another instance may have rotated the key moments ago.
			c, err = ts.keys.VerifyAccess(tok, now, want)
		}
		if err != nil {
			if !errors.Is(err, token.ErrInvalidToken) {
				return nil, err
			}
			return nil, nil
		}
		claims = c
	case strings.HasPrefix(tok, token.OpaquePrefix):
		rec, err := s.Tokens.TokenByHash(ctx, token.HashOpaque(tok))
		if errors.Is(err, token.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !now.Before(rec.ExpiresAt) || !slices.ContainsFunc(rec.Audience, func(a string) bool { return slices.Contains(audiences, a) }) {
			return nil, nil
		}
		claims = &token.Claims{Issuer: ts.issuer, Subject: rec.Subject, Audience: rec.Audience, ClientID: rec.ClientID,
			Scope: strings.Join(rec.Scopes, " "), ID: rec.ID, IssuedAt: rec.IssuedAt, ExpiresAt: rec.ExpiresAt}
		if rec.SecretID != "" {
			claims.Extra = map[string]any{claimSecretID: rec.SecretID}
		}
	default:
		return nil, nil
	}
	if s.Revoked.IsRevoked(claims.ID, now) {
		return nil, nil
	}
	// A user's tokens end together when the user is disabled or revokes
	// the application: by a cut-off, as nobody kept their IDs.
	if claims.Subject != claims.ClientID && s.Revoked.CutOff(claims.Subject, claims.ClientID, claims.IssuedAt, now) {
		return nil, nil
	}
	// An opaque token carries no issuer: its client says whose it is.
	c, secrets, err := s.activeClient(ctx, ts, claims.ClientID)
	if c == nil || err != nil {
		return nil, err
	}
	if sid, _ := claims.Extra[claimSecretID].(string); sid != "" {
		revoked := true
		for _, sec := range secrets {
			if sec.ID == sid {
				revoked = sec.Status == client.SecretRevoked
				break
			}
		}
		if revoked {
			return nil, nil
		}
	}
	return &inspected{claims: claims, client: c}, nil
}

// tokenRequest reads the parameters of an introspection or revocation
// request, authenticates its client and returns the client and the token
// parameter. On failure it has written the error response.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request, ts *tenantScope, allowPublic bool) (*client.Client, string, bool) {
	p, oerr := readParams(w, r)
	if oerr == nil {
		var c *client.Client
		if c, _, oerr = s.authenticate(r.Context(), r, p, allowPublic, ts.tenant.ID); oerr == nil {
			if tok := p.Get("token"); tok != "" {
				return c, tok, true
			}
			oerr = oautherr.InvalidRequest("token is required")
		}
	}
	writeError(w, oerr)
	return nil, "", false
}

// introspection is an RFC 7662 §2.2 response.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	Owner     string   `json:"owner,omitempty"`
}

// handleIntrospect is POST /oauth2/introspect (RFC 7662). The caller must
// authenticate as a confidential client of the tenant, and is told about
// a token only when it is entitled to (RFC 7662 §4): it is an audience of
// the token, or holds the introspection permission. Anyone else reads
// {"active":false}, as for a token that is not valid.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	caller, tok, ok := s.tokenRequest(w, r, ts, false)
	if !ok {
		return
	}
	if strings.HasPrefix(tok, grant.RefreshPrefix) {
		s.introspectRefresh(w, r, ts, caller, tok)
		return
	}
	// The tenant's own audience, or the caller as the audience.
	in, err := s.inspect(r.Context(), ts, tok, s.now(), []string{ts.issuer, caller.ID})
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	entitled := false
	if in != nil {
		if entitled, err = s.mayIntrospect(r.Context(), caller, in.claims.Audience, in.client); err != nil {
			serverError(w, s.Logger, r, err)
			return
		}
	}
	// Nothing crosses tenants: another tenant's token is simply inactive.
	if !entitled || in.client.TenantID != caller.TenantID {
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	c := in.claims
	resp := introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer",
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer,
		Jti: c.ID, Owner: in.client.OwnerUserID}
	writeJSON(w, http.StatusOK, resp)
}

// mayIntrospect reports whether caller may learn about a token meant for
// these audiences and issued to the client of: caller is one of the
// audiences, or its roles (built in or custom) grant
// authz.TokenIntrospect tenant-wide or in of's division (capped, like a
// token's permissions, by its owner's roles there when it has an owner).
func (s *Server) mayIntrospect(ctx context.Context, caller *client.Client, audience []string, of *client.Client) (bool, error) {
	if slices.Contains(audience, caller.ID) {
		return true, nil
	}
	if len(caller.Roles) == 0 || of.TenantID != caller.TenantID {
		return false, nil
	}
	cat, err := s.catalog(ctx, caller.TenantID)
	if err != nil {
		return false, err
	}
	division := cmp.Or(of.DivisionID, authz.HomeDivision)
	if !cat.HasIn(caller.Roles, authz.TokenIntrospect, division) {
		return false, nil
	}
	if caller.OwnerUserID == "" {
		return true, nil
	}
	roles, err := s.ownerRoles(ctx, caller.OwnerUserID)
	return cat.HasIn(roles, authz.TokenIntrospect, division), err
}

// inspectRefresh returns the refresh token tok, with its client, when it
// is active at now: stored, of tenant ts, neither used, revoked nor
// expired, its client an active client of the tenant and its user an
// active user. It returns nil for an inactive token; an error only when
// the server failed.
func (s *Server) inspectRefresh(ctx context.Context, ts *tenantScope, tok string, now time.Time) (*token.RefreshToken, *client.Client, error) {
	if s.GrantStore == nil {
		return nil, nil, nil
	}
	rt, err := s.GrantStore.RefreshTokenByHash(ctx, token.HashOpaque(tok))
	if errors.Is(err, token.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if rt.TenantID != ts.tenant.ID || !rt.Active(now) {
		return nil, nil, nil
	}
	c, _, err := s.activeClient(ctx, ts, rt.ClientID)
	if c == nil || err != nil {
		return nil, nil, err
	}
	u, err := s.Accounts.User(ctx, rt.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !u.Active() || u.TenantID != ts.tenant.ID {
		return nil, nil, nil
	}
	return rt, c, nil
}

// introspectRefresh answers the introspection of a refresh token: only
// the client it was issued to, or a holder of the introspection
// permission, learns that it is active.
func (s *Server) introspectRefresh(w http.ResponseWriter, r *http.Request, ts *tenantScope, caller *client.Client, tok string) {
	rt, of, err := s.inspectRefresh(r.Context(), ts, tok, s.now())
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	entitled := false
	if rt != nil {
		if entitled, err = s.mayIntrospect(r.Context(), caller, []string{rt.ClientID}, of); err != nil {
			serverError(w, s.Logger, r, err)
			return
		}
	}
	if !entitled {
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	// No token_type: RFC 7662 means the access token's type by it.
	writeJSON(w, http.StatusOK, introspection{Active: true, Scope: strings.Join(rt.Scopes, " "), ClientID: rt.ClientID,
		Exp: rt.ExpiresAt.Unix(), Iat: rt.IssuedAt.Unix(), Sub: rt.UserID, Iss: ts.issuer, Jti: rt.ID})
}

// activeClient returns the client with its secrets when it exists, is one
// of the tenant's and is active; nil with no error when it is not.
func (s *Server) activeClient(ctx context.Context, ts *tenantScope, id string) (*client.Client, []client.Secret, error) {
	c, secrets, err := s.Auth.Current(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if c.Status != client.StatusActive || c.TenantID != ts.tenant.ID {
		return nil, nil, nil
	}
	return c, secrets, nil
}
