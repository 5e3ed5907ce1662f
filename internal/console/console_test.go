package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A browser with no session is sent to the sign-in page, which brings it
// back to the console page it asked for, query and all.
func TestConsoleSendsStrangersToSignIn(t *testing.T) {
	cf := newConsoleFixture(t)
	b := cf.browser()
	r := b.get("/console/?status=active")
	wantRedirect(t, r, "http://latchkey.test/account/login?next=%2Fconsole%2F%3Fstatus%3Dactive")

	login := b.get("/account/login?next=%2Fconsole%2F%3Fstatus%3Dactive")
	wantStatus(t, login, http.StatusOK)
	wantBody(t, login, `name="next" value="/console/?status=active"`)
	r = b.submit("/account/login", url.Values{"email": {rootEmail}, "password": {password},
		"next": {"/console/?status=active"}})
	wantRedirect(t, r, "http://latchkey.test/console/?status=active")

	// Signed in, the sign-in page sends it straight on.
	wantRedirect(t, b.get("/account/login?next=%2Fconsole%2F"), "http://latchkey.test/console/")
}

// The sign-in continues only to the tenant's own console and account
// pages: anything that could leave the origin, or the tenant, goes to the
// applications page instead.
func TestSignInNextStaysLocal(t *testing.T) {
	cf := newConsoleFixture(t)
	for _, next := range []string{
		"https://evil.example/console/", "//evil.example/console/", "/\\evil.example/console/",
		"/console/../oauth2/token", "/t/beta/console/", "/oauth2/authorize", "javascript:alert(1)",
		"/console/\r\nX: y", "console/", "/consolex",
	} {
		b := cf.browser()
		r := b.submit("/account/login", url.Values{"email": {rootEmail}, "password": {password}, "next": {next}})
		wantRedirect(t, r, "http://latchkey.test/account/apps")
	}
	// Another tenant's pages continue within that tenant only.
	b := cf.browser()
	r := b.submit("/t/beta/account/login", url.Values{"email": {bettyMail}, "password": {password}, "next": {"/t/beta/console/clients"}})
	wantRedirect(t, r, "http://latchkey.test/t/beta/console/clients")
	b = cf.browser()
	r = b.submit("/t/beta/account/login", url.Values{"email": {bettyMail}, "password": {password}, "next": {"/console/clients"}})
	wantRedirect(t, r, "http://latchkey.test/t/beta/account/apps")
}

// A user who holds no admin role is told the console is not theirs, and
// reads nothing of it; an admin of one tenant is nobody in another.
func TestConsoleRefusesUsersWithoutAdminRoles(t *testing.T) {
	cf := newConsoleFixture(t)
	ana := cf.signedIn(anaEmail)
	r := ana.get("/console/")
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "You do not have access to the console")
	if strings.Contains(r.Body, `href="/console/clients"`) {
		t.Error("the refusal links to the client list")
	}

	root := cf.signedIn(rootEmail)
	wantStatus(t, root.get("/console/"), http.StatusOK)
	// Root's session is ten_a's: under /t/beta the browser is signed out.
	r = root.get("/t/beta/console/")
	wantRedirect(t, r, "http://latchkey.test/t/beta/account/login?next=%2Ft%2Fbeta%2Fconsole%2F")
}

// The navigation offers only the sections the admin's roles open.
func TestConsoleNavigationFollowsRoles(t *testing.T) {
	cf := newConsoleFixture(t)
	for _, tc := range []struct {
		email              string
		clients, users, ad bool
	}{
		{rootEmail, true, true, true},
		{opsEmail, true, false, true},
		{viewerEmail, true, false, true},
	} {
		r := cf.signedIn(tc.email).get("/console/")
		wantStatus(t, r, http.StatusOK)
		for link, want := range map[string]bool{`href="/console/clients"`: tc.clients, `href="/console/users"`: tc.users, `href="/console/audit"`: tc.ad} {
			if got := strings.Contains(r.Body, link); got != want {
				t.Errorf("%s: navigation has %s = %v, want %v", tc.email, link, got, want)
			}
		}
		if !strings.Contains(r.Body, `aria-current="page">Dashboard`) {
			t.Errorf("%s: the dashboard is not marked current", tc.email)
		}
	}
}

// Every console page carries the strict policy: scripts and styles from
// the server's own files only, no framing, no caching.
func TestConsoleHeaders(t *testing.T) {
	cf := newConsoleFixture(t)
	r := cf.signedIn(rootEmail).get("/console/")
	wantStatus(t, r, http.StatusOK)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// Redirects to the sign-in carry them too.
	if got := cf.browser().get("/console/").Header.Get("Content-Security-Policy"); got != consoleCSP {
		t.Errorf("redirect CSP = %q", got)
	}
}

// The console's scripts and stylesheets are served from the binary with
// their types; nothing else is.
func TestConsoleStatic(t *testing.T) {
	cf := newConsoleFixture(t)
	b := cf.browser()
	for file, ctype := range map[string]string{"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"} {
		r := b.get("/console/static/" + file)
		wantStatus(t, r, http.StatusOK)
		if got := r.Header.Get("Content-Type"); got != ctype {
			t.Errorf("%s: Content-Type %q, want %q", file, got, ctype)
		}
		if len(r.Body) < 500 {
			t.Errorf("%s: %d bytes", file, len(r.Body))
		}
	}
	for _, bad := range []string{"/console/static/nothing.js", "/console/static/..%2Fpages.go", "/console/static/%2E%2E"} {
		if r := b.get(bad); r.Code != http.StatusNotFound {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
}

// A console form posted without the browser's CSRF token, or from
// another origin, changes nothing and is refused.
func TestConsoleRefusesForgedPosts(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	root.get("/console/")
	// A POST route of the console: the sign-in's own logout form is not
	// one, so exercise the wrapper directly through a test route.
	mux := http.NewServeMux()
	hit := false
	mux.Handle("POST /console/x", cf.pages.page(cf.pages.console(func(w http.ResponseWriter, r *http.Request, d *desk) { hit = true })))
	cf.mux = mux
	r := root.do(http.MethodPost, "/console/x", url.Values{"csrf": {"forged-forged-forged-forged-forged-forged-f"}})
	wantStatus(t, r, http.StatusForbidden)
	r = root.submit("/console/x", url.Values{}, "Origin", "https://evil.example")
	wantStatus(t, r, http.StatusForbidden)
	if hit {
		t.Fatal("a forged post reached the page")
	}
	r = root.submit("/console/x", url.Values{})
	if !hit || r.Code != http.StatusOK {
		t.Fatalf("a genuine post: %d, reached %v", r.Code, hit)
	}
}

// A method a console path does not serve is 405 with Allow.
func TestConsoleMethodNotAllowed(t *testing.T) {
	cf := newConsoleFixture(t)
	r := cf.signedIn(rootEmail).do(http.MethodPost, "/console/", url.Values{})
	wantStatus(t, r, http.StatusMethodNotAllowed)
	if got := r.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q", got)
	}
}

func TestTruncateID(t *testing.T) {
	for in, want := range map[string]string{
		"short":                              "short",
		"lkc_0123456789abcdef":               "lkc_012345…cdef",
		"lkc_3Fz9QmXcWq7Lr2VbTn8Kp4YhJd6Gs1": "lkc_3Fz9Qm…6Gs1",
	} {
		if got := truncateID(in); got != want {
			t.Errorf("truncateID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fmtDate(time.Date(2026, 12, 2, 23, 30, 0, 0, time.FixedZone("x", -3600))); got != "3 Dec 2026" {
		t.Errorf("fmtDate = %q", got)
	}
}
