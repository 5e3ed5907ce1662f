package oauth

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// userinfo is the UserInfo response (OpenID Connect Core §5.3.2): sub
// always, the profile and email claims when those scopes were granted.
type userinfo struct {
	Subject   string `json:"sub"`
	Name      string `json:"name,omitempty"`
	Locale    string `json:"locale,omitempty"`
	UpdatedAt int64  `json:"updated_at,omitempty"`
	Email     string `json:"email,omitempty"`
	// EmailVerified is always false when email is sent: Latchkey does
	// not verify addresses, an admin types them in. A pointer, so that it
	// is sent exactly when email is.
	EmailVerified *bool `json:"email_verified,omitempty"`
}

// handleUserinfo is GET and POST /userinfo (OpenID Connect Core §5.3).
// The access token is read from the Authorization header alone (RFC 6750
// §2.1), for POST as for GET. It must be an active token of the tenant
// for a user, still active, with the openid scope. Any origin may call it:
// it answers bearer tokens only, never cookies.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
	in := s.bearerToken(w, r, ts)
	if in == nil {
		return
	}
	c := in.claims
	if c.Subject == c.ClientID {
		writeError(w, oautherr.InvalidToken("the access token speaks for a client, not a user"))
		return
	}
	scopes := strings.Fields(c.Scope)
	if !slices.Contains(scopes, "openid") {
		writeError(w, oautherr.InsufficientScope("openid", "the access token was not granted the openid scope"))
		return
	}
	u, err := s.Accounts.User(r.Context(), c.Subject)
	if errors.Is(err, account.ErrNotFound) {
		writeError(w, oautherr.InvalidToken("the access token's user no longer exists"))
		return
	}
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	if !u.Active() || u.TenantID != ts.tenant.ID {
		writeError(w, oautherr.InvalidToken("the access token's user is disabled"))
		return
	}
	resp := userinfo{Subject: u.ID}
	if slices.Contains(scopes, "profile") {
		resp.Name, resp.Locale = u.Name, u.Locale
		if !u.UpdatedAt.IsZero() {
			resp.UpdatedAt = u.UpdatedAt.Unix()
		}
	}
	if slices.Contains(scopes, "email") {
		verified := false
		resp.Email, resp.EmailVerified = u.Email, &verified
	}
	writeJSON(w, http.StatusOK, resp)
}

// userinfoPreflight answers a browser's CORS preflight for /userinfo: a
// single-page app sends its bearer token in the Authorization header.
func userinfoPreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
