package console

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/account"
)

// SessionCookie is the name of a tenant's session cookie: with the
// __Host- prefix on an https issuer (so no subdomain and no plain-http
// page can set it), without on http, where browsers refuse the prefix.
// Sessions are per tenant, so the name carries the tenant's ID.
func SessionCookie(tenantID string, secure bool) string {
	if secure {
		return "__Host-latchkey-" + tenantID
	}
	return "latchkey-" + tenantID
}

// maxCookieValue bounds a session cookie value worth looking up; the
// values Sessions.Start makes are 43 characters.
const maxCookieValue = 64

// cookieValue returns the value of the named cookie, or "".
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > maxCookieValue {
		return ""
	}
	return c.Value
}

// session returns the request's live session in the site's tenant and
// its user, or nils when the browser is not signed in.
func (p *Pages) session(r *http.Request, s *site) (*account.Session, *account.User, error) {
	return p.cfg.Sessions.Find(r.Context(), s.tenant.ID, cookieValue(r, SessionCookie(s.tenant.ID, s.secure)))
}

// setSession gives the browser its session cookie, kept until the session
// expires, and drops its CSRF token: the new session's forms get a new
// one (see dropCSRF). The response must not render a form.
func (p *Pages) setSession(w http.ResponseWriter, s *site, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie(s.tenant.ID, s.secure), Value: value, Path: "/",
		MaxAge: max(1, int(expires.Sub(p.now())/time.Second)), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	dropCSRF(w, s)
}

// endSession ends the request's session in the tenant, if any, and
// clears its cookie and the CSRF token. The response must not render a
// form.
func (p *Pages) endSession(w http.ResponseWriter, r *http.Request, s *site) error {
	name := SessionCookie(s.tenant.ID, s.secure)
	value := cookieValue(r, name)
	if value == "" {
		return nil
	}
	if err := p.cfg.Sessions.End(r.Context(), value); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	dropCSRF(w, s)
	return nil
}

// Current returns the request's live session in the tenant and its
// active user, or nil, nil, nil when the browser is not signed in there
// (or the tenant is served at no path).
func (p *Pages) Current(r *http.Request, tenantID string) (*account.Session, *account.User, error) {
	s, err := p.siteByID(r.Context(), tenantID)
	if err != nil || s == nil {
		return nil, nil, err
	}
	return p.session(r, s)
}

// End signs the browser out of the tenant: it ends the session and clears
// the cookie. Without a session it does nothing.
func (p *Pages) End(w http.ResponseWriter, r *http.Request, tenantID string) error {
	s, err := p.siteByID(r.Context(), tenantID)
	if err != nil || s == nil {
		return err
	}
	return p.endSession(w, r, s)
}
