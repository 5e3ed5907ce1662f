package oauth

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// bearer returns the bearer token of the Authorization header (RFC 6750
// §2.1: the only place Latchkey reads one from).
func bearer(r *http.Request) (string, *oautherr.Error) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		e := oautherr.InvalidToken("a bearer token is required")
		if len(h) == 0 {
			// RFC 6750 §3.1: no error code when no credentials were sent.
			e.Challenge = `Bearer realm="latchkey"`
		}
		return "", e
	}
	scheme, tok, _ := strings.Cut(h[0], " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", oautherr.InvalidToken("use the Bearer authorization scheme")
	}
	return tok, nil
}

// bearerToken returns the request's bearer access token, active and for
// the tenant's own audience (its resources, /api/v1/me and /userinfo).
// When there is none it has written the RFC 6750 error and returns nil.
func (s *Server) bearerToken(w http.ResponseWriter, r *http.Request, ts *tenantScope) *inspected {
	tok, oerr := bearer(r)
	if oerr != nil {
		writeError(w, oerr)
		return nil
	}
	in, err := s.inspect(r.Context(), ts, tok, s.now(), ts.audience())
	if err != nil {
		serverError(w, s.Logger, r, err)
		return nil
	}
	if in == nil {
		writeError(w, oautherr.InvalidToken("the access token is invalid, expired or revoked"))
	}
	return in
}

// principal is what /api/v1/me says about the bearer of a token.
type principal struct {
	Subject    string   `json:"sub"`
	Kind       string   `json:"kind"` // "client" or "user"
	ClientID   string   `json:"client_id"`
	ClientName string   `json:"client_name"`
	TenantID   string   `json:"tenant_id"`
	Owner      string   `json:"owner,omitempty"`
	Scopes     []string `json:"scopes"`
	ExpiresAt  int64    `json:"exp"`
}

// handleMe is GET /api/v1/me: who the bearer token speaks for. It is the
// tenant's own resource, so the token must name the tenant's issuer in its
// aud.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	in := s.bearerToken(w, r, ts)
	if in == nil {
		return
	}
	c := in.claims
	p := principal{Subject: c.Subject, Kind: "user", ClientID: c.ClientID, ClientName: in.client.Name,
		TenantID: in.client.TenantID, Owner: in.client.OwnerUserID, Scopes: strings.Fields(c.Scope),
		ExpiresAt: c.ExpiresAt.Unix()}
	if c.Subject == c.ClientID {
		p.Kind = "client"
	}
	writeJSON(w, http.StatusOK, p)
}
