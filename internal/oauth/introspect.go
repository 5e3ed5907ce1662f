package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
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
// token kind), for one of the audiences given, not expired, not revoked,
// its client one of the tenant's, existing and active, and the secret it
// was issued under not revoked. It returns nil for an inactive token; an
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
	c, secrets, err := s.Auth.Current(ctx, claims.ClientID)
	if errors.Is(err, client.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// An opaque token carries no issuer: its client says whose it is.
	if c.Status != client.StatusActive || c.TenantID != ts.tenant.ID {
		return nil, nil
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
	// The tenant's own audience, or the caller as the audience.
	in, err := s.inspect(r.Context(), ts, tok, s.now(), []string{ts.issuer, caller.ID})
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	entitled := false
	if in != nil {
		if entitled, err = s.mayIntrospect(r.Context(), caller, in.claims); err != nil {
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

// mayIntrospect reports whether caller may learn about a token with these
// claims: it is one of the token's audiences, or its roles grant
// authz.TokenIntrospect (capped, like a token's permissions, by its
// owner's roles when it has an owner).
func (s *Server) mayIntrospect(ctx context.Context, caller *client.Client, c *token.Claims) (bool, error) {
	if slices.Contains(c.Audience, caller.ID) {
		return true, nil
	}
	if !authz.Has(caller.Roles, authz.TokenIntrospect) {
		return false, nil
	}
	if caller.OwnerUserID == "" {
		return true, nil
	}
	roles, err := s.ownerRoles(ctx, caller.OwnerUserID)
	return authz.Has(roles, authz.TokenIntrospect), err
}
