package console

import (
	"net/http"
	"net/url"
	"testing"
)

// A CSRF token is good for one session only: signing in and signing out
// each drop it, so a token read before (on the sign-in page, or by the
// browser's previous user) cannot post for the session after.
func TestCSRFTokenRenewedWithTheSession(t *testing.T) {
	cf := newConsoleFixture(t)
	b := cf.browser()
	before := b.token()
	b.signIn(viewerEmail)
	if got := b.jar[b.csrfName()]; got != "" {
		t.Errorf("signing in kept the token read on the sign-in page")
	}
	during := b.token()
	if during == before {
		t.Errorf("the signed-in pages use the token of the sign-in page")
	}
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	if got := b.jar[b.csrfName()]; got != "" {
		t.Errorf("signing out kept the session's token")
	}
	b.signIn(rootEmail)
	for name, tok := range map[string]string{"the sign-in page's": before, "the previous user's": during} {
		form := url.Values{"email": {"x@example.com"}, "csrf": {tok}}
		if r := b.do(http.MethodPost, "/console/users/new", form); r.Code != http.StatusForbidden {
			t.Errorf("a POST with %s token was answered %d, want 403", name, r.Code)
		}
	}
	// The session's own token works.
	if r := b.submit("/console/users/new", url.Values{"email": {"new@example.com"}, "name": {"New"}}); r.Code == http.StatusForbidden {
		t.Errorf("a POST with the session's own token was refused: %d %s", r.Code, r.Body)
	}
}

// A path under the console that names no page is the console's own 404:
// behind its sign-in, with its headers; the prefix without its slash is
// sent to the start page.
func TestConsoleUnknownPaths(t *testing.T) {
	cf := newConsoleFixture(t)
	for _, path := range []string{"/console/nope", "/t/beta/console/x/y"} {
		if r := cf.browser().get(path); r.Code != http.StatusSeeOther || r.Header.Get("Content-Security-Policy") != consoleCSP {
			t.Errorf("GET %s, signed out: %d, want the sign-in's 303 with the console's headers", path, r.Code)
		}
	}
	b := cf.signedIn(rootEmail)
	for _, path := range []string{"/console/nope", "/console/clients/abc/nope", "/console/static/x/y"} {
		r := b.get(path)
		if r.Code != http.StatusNotFound || r.Header.Get("Content-Security-Policy") != consoleCSP ||
			r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d with CSP %q and Cache-Control %q, want the console's 404", path, r.Code,
				r.Header.Get("Content-Security-Policy"), r.Header.Get("Cache-Control"))
		}
	}
	for path, want := range map[string]string{"/console": "/console/", "/t/beta/console": "/t/beta/console/"} {
		r := b.get(path)
		if r.Code != http.StatusMovedPermanently || r.Header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 301 to %s", path, r.Code, r.Header.Get("Location"), want)
		}
	}
}
