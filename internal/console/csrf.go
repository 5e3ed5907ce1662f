package console

import (
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
)

// CSRFCookie is the name of the cookie holding the CSRF token, one per
// browser for every tenant, renewed whenever a session starts or ends;
// prefixed like SessionCookie on https.
func CSRFCookie(secure bool) string {
	if secure {
		return "__Host-latchkey-csrf"
	}
	return "latchkey-csrf"
}

// csrfField is the hidden form field that must repeat the cookie.
const csrfField = "csrf"

// csrfLen is the length of a token: 32 random bytes, base64url.
const csrfLen = 43

// csrfToken returns the token for the page's forms: the browser's, when
// it holds a well-formed one, else a new one set as its cookie. Keeping
// the browser's lets pages open in several tabs all be sent.
func (p *Pages) csrfToken(w http.ResponseWriter, r *http.Request, s *site) (string, error) {
	if c, err := r.Cookie(CSRFCookie(s.secure)); err == nil && wellFormedToken(c.Value) {
		return c.Value, nil
	}
	var raw [32]byte
	if _, err := io.ReadFull(p.cfg.Random, raw[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie(s.secure), Value: tok, Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return tok, nil
}

// dropCSRF clears the browser's CSRF token when a session starts or
// ends, so that no token seen before (on the sign-in page, or by the
// browser's previous user) is good for the session after: the next page
// with a form sets a new one. Forms left open in other tabs are refused
// once and work when reloaded.
func dropCSRF(w http.ResponseWriter, s *site) {
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie(s.secure), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// wellFormedToken reports whether v could be a token csrfToken made.
func wellFormedToken(v string) bool {
	if len(v) != csrfLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

// checkCSRF reports whether a POST may act: its Origin, when sent, is
// the issuer's, and its form's token equals its cookie's (compared in
// constant time). A page on another site can make the browser post, but
// can neither read the cookie nor, in a modern browser, hide its origin.
// An Origin of "null" counts as none: browsers send it for every POST
// from a page served with Referrer-Policy: no-referrer, as these pages
// are (Fetch, "append a request Origin header"), so the token alone
// decides. The form must have been parsed.
func (p *Pages) checkCSRF(r *http.Request, s *site) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != s.origin {
		return false
	}
	c, err := r.Cookie(CSRFCookie(s.secure))
	if err != nil || !wellFormedToken(c.Value) {
		return false
	}
	field := r.PostForm.Get(csrfField)
	return subtle.ConstantTimeCompare([]byte(field), []byte(c.Value)) == 1
}

// guard parses a POST's form and checks its CSRF token; on failure it has
// answered (400 or 403).
func (p *Pages) guard(w http.ResponseWriter, r *http.Request, s *site) bool {
	if !p.parseForm(w, r, s) {
		return false
	}
	if !p.checkCSRF(r, s) {
		p.message(w, r, s, http.StatusForbidden, msgForbidden)
		return false
	}
	return true
}

// form renders a page with forms: it adds the CSRF token (setting its
// cookie when new) to v.
func (p *Pages) form(w http.ResponseWriter, r *http.Request, s *site, status int, name string, v view) {
	tok, err := p.csrfToken(w, r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	v.Base, v.CSRF = s.base, tok
	p.render(w, r, status, name, v)
}
