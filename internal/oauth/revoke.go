package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/token"
)

// handleRevoke is POST /oauth2/revoke (RFC 7009). A client may revoke only
// its own tokens; for any other token, or one that is not valid, the answer
// is the same 200, so the endpoint reveals nothing (RFC 7009 §2.2).
// Revoking a refresh token ends its whole grant: every refresh token of
// its family and the access tokens issued with them (§2.1).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	c, tok, ok := s.tokenRequest(w, r, ts, true)
	if !ok {
		return
	}
	now := s.now()
	var err error
	if strings.HasPrefix(tok, grant.RefreshPrefix) {
		err = s.revokeRefresh(r.Context(), ts, c, tok, now)
	} else {
		err = s.revokeAccess(r.Context(), ts, c, tok, now)
	}
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeAccess revokes an access token of client c, if tok is one.
func (s *Server) revokeAccess(ctx context.Context, ts *tenantScope, c *client.Client, tok string, now time.Time) error {
	in, err := s.inspect(ctx, ts, tok, now, ts.audience())
	if err != nil || in == nil || in.claims.ClientID != c.ID {
		return err
	}
	rv := token.Revocation{TokenID: in.claims.ID, ClientID: c.ID, ExpiresAt: in.claims.ExpiresAt}
	if err := s.Tokens.Revoke(ctx, rv); err != nil {
		return err
	}
	s.Revoked.Add(rv)
	s.Logger.InfoContext(ctx, "token revoked", "client_id", c.ID, "jti", rv.TokenID)
	return nil
}

// revokeRefresh revokes the family of a refresh token of client c, used
// or not, if tok is one, with the family's access tokens, in one
// transaction.
func (s *Server) revokeRefresh(ctx context.Context, ts *tenantScope, c *client.Client, tok string, now time.Time) error {
	if s.GrantStore == nil {
		return nil
	}
	rt, err := s.GrantStore.RefreshTokenByHash(ctx, token.HashOpaque(tok))
	if errors.Is(err, token.ErrNotFound) {
		return nil
	}
	if err != nil || rt.TenantID != ts.tenant.ID || rt.ClientID != c.ID {
		return err
	}
	var revs []token.Revocation
	err = s.GrantStore.InGrantTx(ctx, func(tx token.GrantTx) error {
		var err error
		if revs, err = tx.RevokeRefreshTokens(ctx, token.RefreshFilter{FamilyID: rt.FamilyID}, now); err != nil {
			return err
		}
		for _, rv := range revs {
			if err := tx.AddRevocation(ctx, rv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.addRevocations(revs)
	s.Logger.InfoContext(ctx, "refresh token revoked", "client_id", c.ID, "refresh_token_id", rt.ID, "access_tokens", len(revs))
	return nil
}
