package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/token"
)

// inspected is an access token found valid, with the client it was issued to.
type inspected struct {
	claims *token.Claims
	client *client.Client
}

// inspect decides whether an access token is active at now: genuine, not
// expired, not revoked, its client existing and active, and the secret it
// was issued under not revoked. It returns nil for an inactive token; an
// error only when the server failed.
func (s *Server) inspect(ctx context.Context, tok string, now time.Time) (*inspected, error) {
	var claims *token.Claims
	switch {
	case token.LooksLikeJWT(tok):
		c, err := s.Keys.VerifyJWT(tok, now)
		if errors.Is(err, token.ErrUnknownKey) && s.reloadKeys(ctx, now) {
			// Another instance may have rotated the key moments ago.
			c, err = s.Keys.VerifyJWT(tok, now)
		}
		if err != nil || c.Issuer != s.Issuer {
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
		if !now.Before(rec.ExpiresAt) {
			return nil, nil
		}
		claims = &token.Claims{Issuer: s.Issuer, Subject: rec.Subject, Audience: rec.Audience, ClientID: rec.ClientID,
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
	if c.Status != client.StatusActive {
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

// reloadKeys re-reads the signing keys, at most once every 10 seconds so
// tokens with made-up key IDs cannot make every request a database read.
// It reports whether it reloaded.
func (s *Server) reloadKeys(ctx context.Context, now time.Time) bool {
	last := s.keysReloaded.Load()
	if now.UnixNano()-last < int64(10*time.Second) || !s.keysReloaded.CompareAndSwap(last, now.UnixNano()) {
		return false
	}
	if err := s.Keys.Load(ctx); err != nil {
		level := slog.LevelWarn
		if ctx.Err() != nil {
			level = slog.LevelDebug // the request was cancelled, not the store broken
		}
		s.Logger.Log(ctx, level, "reload signing keys", "err", err)
		return false
	}
	return true
}

// tokenRequest reads the parameters of an introspection or revocation
// request, authenticates its client and returns the client and the token
// parameter. On failure it has written the error response.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request, allowPublic bool) (*client.Client, string, bool) {
	p, oerr := readParams(w, r)
	if oerr == nil {
		var c *client.Client
		if c, _, oerr = s.authenticate(r.Context(), r, p, allowPublic); oerr == nil {
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
// authenticate as a confidential client.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	caller, tok, ok := s.tokenRequest(w, r, false)
	if !ok {
		return
	}
	in, err := s.inspect(r.Context(), tok, s.now())
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	// Nothing crosses tenants: another tenant's token is simply inactive.
	if in == nil || in.client.TenantID != caller.TenantID {
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	c := in.claims
	resp := introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer",
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer,
		Jti: c.ID, Owner: in.client.OwnerUserID}
	writeJSON(w, http.StatusOK, resp)
}
