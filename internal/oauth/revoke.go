package oauth

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/token"
)

// handleRevoke is POST /oauth2/revoke (RFC 7009). A client may revoke only
// its own tokens; for any other token, or one that is not valid, the answer
// is the same 200, so the endpoint reveals nothing (RFC 7009 §2.2).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	c, tok, ok := s.tokenRequest(w, r, ts, true)
	if !ok {
		return
	}
	now := s.now()
	in, err := s.inspect(r.Context(), ts, tok, now, ts.audience())
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	if in != nil && in.claims.ClientID == c.ID {
		rv := token.Revocation{TokenID: in.claims.ID, ClientID: c.ID, ExpiresAt: in.claims.ExpiresAt}
		if err := s.Tokens.Revoke(r.Context(), rv); err != nil {
			serverError(w, s.Logger, r, err)
			return
		}
		s.Revoked.Add(rv)
		s.Logger.Info("token revoked", "client_id", c.ID, "jti", rv.TokenID)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
