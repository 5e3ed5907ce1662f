package oauth

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/account"
)

// Sessions is how the protocol endpoints see the account pages' browser
// sessions: the authorize endpoint asks who is signed in, RP-initiated
// logout signs the browser out. The account pages implement it; the
// session cookie is theirs alone.
type Sessions interface {
	// Current returns the request's live session in the tenant and its
	// (active) user, or nil, nil, nil when the browser is not signed in.
	Current(r *http.Request, tenantID string) (*account.Session, *account.User, error)
	// End signs the browser out of the tenant: it ends the session and
	// clears the cookie. Without a session it does nothing.
	End(w http.ResponseWriter, r *http.Request, tenantID string) error
}
