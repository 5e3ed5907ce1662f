package console

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

func wantSecurityHeaders(t *testing.T, what string, r *response) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
	if strings.Contains(r.Header.Get("Content-Security-Policy"), "form-action") {
		t.Errorf("%s: form-action would block the redirect back to the application", what)
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	f := newFixture(t, "https://id.test")
	b := f.browser()
	anon := f.browser()
	req := f.request("app", "openid")
	responses := map[string]*response{
		"login":              anon.get("/account/login"),
		"login with req":     anon.get("/account/login?req=" + url.QueryEscape(req)),
		"failed login":       anon.submit("/account/login", url.Values{"email": {anaEmail}, "password": {"wrong"}}),
		"consent signed out": anon.get("/account/consent?req=" + url.QueryEscape(req)),
		"invalid req":        anon.get("/account/consent?req=junk"),
		"csrf refused":       anon.do(http.MethodPost, "/account/login", url.Values{}),
		"no tenant":          anon.get("/t/nope/account/login"),
		"405":                anon.do(http.MethodPut, "/account/login", nil),
		"index":              anon.get("/account/"),
		"signed out":         anon.get("/account/logout?done=1"),
	}
	b.signIn(anaEmail)
	f.approve(anaID, "app", "openid")
	responses["consent"] = b.get("/account/consent?req=" + url.QueryEscape(req))
	responses["consent decided"] = b.submit("/account/consent", url.Values{"req": {req}, "decision": {"deny"}})
	responses["apps"] = b.get("/account/apps")
	responses["revoke"] = b.submit("/account/apps/revoke", url.Values{"client_id": {"app"}})
	responses["logout form"] = b.get("/account/logout")
	responses["logout"] = b.submit("/account/logout", url.Values{})
	for what, r := range responses {
		wantSecurityHeaders(t, what, r)
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q", what, got)
		}
		if r.Code != http.StatusSeeOther && r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type = %q", what, r.Header.Get("Content-Type"))
		}
	}
	css := anon.get("/account/static/style.css")
	wantCode(t, css, http.StatusOK)
	wantSecurityHeaders(t, "stylesheet", css)
	if css.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css.Body, ":focus-visible") {
		t.Errorf("stylesheet: %q %.80s", css.Header.Get("Content-Type"), css.Body)
	}
	wantCode(t, anon.get("/t/beta/account/static/style.css"), http.StatusOK)
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPut, "/account/login", "GET, HEAD, POST"},
		{http.MethodDelete, "/account/logout", "GET, HEAD, POST"},
		{http.MethodPatch, "/account/consent", "GET, HEAD, POST"},
		{http.MethodPost, "/account/apps", "GET, HEAD"},
		{http.MethodGet, "/account/apps/revoke", "POST"},
		{http.MethodPost, "/account/", "GET, HEAD"},
		{http.MethodPost, "/account/static/style.css", "GET, HEAD"},
		{http.MethodPut, "/t/beta/account/login", "GET, HEAD, POST"},
	} {
		r := b.do(tc.method, tc.path, nil)
		if r.Code != http.StatusMethodNotAllowed || r.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q", tc.method, tc.path, r.Code, r.Header.Get("Allow"))
		}
		wantSecurityHeaders(t, tc.method+" "+tc.path, r)
	}
	if r := b.do(http.MethodPut, "/t/nope/account/login", nil); r.Code != http.StatusNotFound {
		t.Errorf("405 of no tenant: %d", r.Code)
	}
}

func TestHeadHasNoBody(t *testing.T) {
	f := newFixture(t, "http://id.test")
	r := f.browser().do(http.MethodHead, "/account/login", nil)
	wantCode(t, r, http.StatusOK)
	if r.Body != "" {
		t.Errorf("HEAD body: %q", r.Body)
	}
}

func TestCSRFRefused(t *testing.T) {
	f := newFixture(t, "https://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	f.approve(anaID, "app", "openid")
	tok := b.token()
	req := f.request("app", "openid")
	forms := map[string]url.Values{
		"/account/login":       {"email": {anaEmail}, "password": {password}},
		"/account/consent":     {"req": {req}, "decision": {"approve"}},
		"/account/apps/revoke": {"client_id": {"app"}},
		"/account/logout":      {},
	}
	for path, form := range forms {
		for name, try := range map[string]func() *response{
			"missing token": func() *response { return b.do(http.MethodPost, path, form) },
			"wrong token": func() *response {
				v := cloneForm(form)
				v.Set(csrfField, strings.Repeat("A", csrfLen))
				return b.do(http.MethodPost, path, v)
			},
			"no cookie": func() *response {
				v := cloneForm(form)
				v.Set(csrfField, tok)
				saved := b.jar[b.csrfName()]
				delete(b.jar, b.csrfName())
				defer func() { b.jar[b.csrfName()] = saved }()
				return b.do(http.MethodPost, path, v)
			},
			"cross origin": func() *response { return b.submit(path, cloneForm(form), "Origin", "https://evil.example") },
			"other scheme": func() *response { return b.submit(path, cloneForm(form), "Origin", "http://id.test") },
		} {
			r := try()
			if r.Code != http.StatusForbidden {
				t.Errorf("%s %s: %d", path, name, r.Code)
			}
			wantBody(t, r, "sent from another site")
		}
	}
	if _, err := f.db.Consent(context.Background(), anaID, "app"); err != nil {
		t.Errorf("a refused revocation revoked: %v", err)
	}
	// The issuer's own origin passes, with or without the default port.
	wantCode(t, b.submit("/account/consent", cloneForm(forms["/account/consent"]), "Origin", "https://id.test"), http.StatusSeeOther)
	// So does "null", which browsers send from a page with
	// Referrer-Policy: no-referrer: the token decides.
	wantCode(t, b.submit("/account/consent", cloneForm(forms["/account/consent"]), "Origin", "null"), http.StatusSeeOther)
	if s, err := newSite(&account.Tenant{ID: "t"}, "https://ID.test:443/"); err != nil || s.origin != "https://id.test" || s.base != "" {
		t.Errorf("site %+v %v", s, err)
	}
	if s, err := newSite(&account.Tenant{ID: "t"}, "http://[::1]:80/t/x"); err != nil || s.origin != "http://[::1]" || s.base != "/t/x" {
		t.Errorf("site %+v %v", s, err)
	}
	if _, err := newSite(&account.Tenant{ID: "t"}, "ftp://id.test"); err == nil {
		t.Error("an ftp issuer was accepted")
	}
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func TestOversizedForm(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	r := b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {strings.Repeat("p", maxForm)}})
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, "The form was incomplete or too large.")
}

func TestNewFailsFast(t *testing.T) {
	f := newFixture(t, "http://id.test")
	good := f.pages.cfg
	full := fstest.MapFS{}
	for _, name := range append([]string{"layout"}, pageNames...) {
		b, err := templateFS.ReadFile("templates/" + name + ".html")
		if err != nil {
			t.Fatal(err)
		}
		full["templates/"+name+".html"] = &fstest.MapFile{Data: b}
	}
	consoleFiles, err := fs.Glob(templateFS, "templates/console/*.html")
	if err != nil || len(consoleFiles) < 2 {
		t.Fatalf("console templates: %v %v", consoleFiles, err)
	}
	for _, file := range consoleFiles {
		b, err := templateFS.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		full[file] = &fstest.MapFile{Data: b}
	}
	with := func(edit func(fstest.MapFS)) fstest.MapFS {
		m := fstest.MapFS{}
		for k, v := range full {
			m[k] = v
		}
		edit(m)
		return m
	}
	c := good
	c.templates = full
	if _, err := New(c); err != nil {
		t.Fatalf("the embedded templates from a map: %v", err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"missing page":            with(func(m fstest.MapFS) { delete(m, "templates/consent.html") }),
		"missing layout":          with(func(m fstest.MapFS) { delete(m, "templates/layout.html") }),
		"missing console layout":  with(func(m fstest.MapFS) { delete(m, "templates/console/layout.html") }),
		"missing console message": with(func(m fstest.MapFS) { delete(m, "templates/console/message.html") }),
		"broken console page": with(func(m fstest.MapFS) {
			m["templates/console/dashboard.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}x{{end}}{{define "main"}}{{nofunc}}{{end}}`)}
		}),
		"broken": with(func(m fstest.MapFS) {
			m["templates/apps.html"] = &fstest.MapFile{Data: []byte(`{{define "main"}}{{.Page.Apps`)}
		}),
		"no main": with(func(m fstest.MapFS) {
			m["templates/login.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}x{{end}}`)}
		}),
	} {
		c := good
		c.templates = fsys
		if p, err := New(c); err == nil || p != nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	for name, edit := range map[string]func(*Config){
		"no sessions": func(c *Config) { c.Sessions = nil },
		"no accounts": func(c *Config) { c.Accounts = nil },
		"no requests": func(c *Config) { c.Requests = nil },
		"no client":   func(c *Config) { c.Client = nil },
		"no tenant":   func(c *Config) { c.Tenant = nil },
	} {
		c := good
		edit(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestRenderFailureIsA500(t *testing.T) {
	f := newFixture(t, "http://id.test")
	// A template that fails while executing (not while parsing).
	bad := f.pages.pages["login"]
	if _, err := bad.New("main").Parse(`{{.Page.NoSuchField}}`); err != nil {
		t.Fatal(err)
	}
	r := f.browser().get("/account/login")
	wantCode(t, r, http.StatusInternalServerError)
	wantBody(t, r, "Something went wrong on our side.")
	if strings.Contains(r.Body, "NoSuchField") {
		t.Error("the template error reached the page")
	}
}

func TestMessageRenderFailure(t *testing.T) {
	f := newFixture(t, "http://id.test")
	for _, name := range []string{"login", "message"} {
		if _, err := f.pages.pages[name].New("main").Parse(`{{.Page.NoSuchField}}`); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/account/login", "/account/consent?req=junk"} {
		r := f.browser().get(path)
		wantCode(t, r, http.StatusInternalServerError)
		if r.Body != msgServerError.Text+"\n" {
			t.Errorf("%s: body %q", path, r.Body)
		}
		wantSecurityHeaders(t, path, r)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy gone") }

func TestServerErrors(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		f := newFixture(t, "http://id.test")
		b := f.browser()
		b.signIn(anaEmail)
		tok := b.token()
		req := f.request("app", "openid")
		f.db.Close()
		for what, r := range map[string]*response{
			"login":      b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}}),
			"login form": b.get("/account/login"),
			"consent":    b.get("/account/consent?req=" + url.QueryEscape(req)),
			"decide":     b.submit("/account/consent", url.Values{"req": {req}, "decision": {"approve"}}),
			"apps":       b.get("/account/apps"),
			"revoke":     b.submit("/account/apps/revoke", url.Values{"client_id": {"app"}}),
			"logout":     b.get("/account/logout"),
			"end":        b.submit("/account/logout", url.Values{}),
		} {
			if r.Code != http.StatusInternalServerError {
				t.Errorf("%s: %d", what, r.Code)
			}
			wantBody(t, r, "Something went wrong on our side. Try again in a moment.")
			if strings.Contains(strings.ToLower(r.Body), "sql") || strings.Contains(r.Body, "closed") {
				t.Errorf("%s: the error reached the page:\n%s", what, r.Body)
			}
		}
		logs := f.logs.String()
		for _, secret := range []string{password, tok, b.jar[b.sessionName("ten_a")]} {
			if strings.Contains(logs, secret) {
				t.Errorf("a secret reached the log: %s", logs)
			}
		}
		if !strings.Contains(logs, "level=ERROR") {
			t.Error("the failures were not logged")
		}
	})
	t.Run("writes and lists", func(t *testing.T) {
		f := newFixture(t, "http://id.test")
		f.approve(anaID, "app", "openid")
		b := f.browser()
		b.signIn(anaEmail)
		req := f.request("app", "openid")
		f.failing("consents", "consent")
		wantCode(t, b.get("/account/apps"), http.StatusInternalServerError)
		wantCode(t, b.submit("/account/apps/revoke", url.Values{"client_id": {"app"}}), http.StatusInternalServerError)
		f.repo.fail = map[string]bool{"tx": true}
		for what, r := range map[string]*response{
			"sign-in": b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}}),
			"approve": b.submit("/account/consent", url.Values{"req": {req}, "decision": {"approve"}}),
			"revoke":  b.submit("/account/apps/revoke", url.Values{"client_id": {"app"}}),
			"logout":  b.submit("/account/logout", url.Values{}),
		} {
			if r.Code != http.StatusInternalServerError {
				t.Errorf("%s: %d", what, r.Code)
			}
			if strings.Contains(r.Body, errStore.Error()) {
				t.Errorf("%s: the error reached the page", what)
			}
			if c := r.cookie(b.sessionName("ten_a")); c != nil {
				t.Errorf("%s: the session cookie changed: %+v", what, c)
			}
		}
		if !strings.Contains(f.logs.String(), errStore.Error()) {
			t.Error("the store failures were not logged")
		}
	})
	t.Run("client lookup", func(t *testing.T) {
		f := newFixture(t, "http://id.test")
		f.approve(anaID, "app", "openid")
		b := f.browser()
		b.signIn(anaEmail)
		f.clientErr = errors.New("cache down")
		wantCode(t, b.get("/account/consent?req="+url.QueryEscape(f.request("app"))), http.StatusInternalServerError)
		wantCode(t, b.get("/account/apps"), http.StatusInternalServerError)
		f.clientErr = nil
		f.pages.cfg.Client = func(ctx context.Context, id string) (*client.Client, error) {
			if id == "app" {
				return f.clients["app"], nil
			}
			return nil, errors.New("cache down")
		}
		wantCode(t, b.get("/account/apps?revoked=cal"), http.StatusInternalServerError)
	})
	t.Run("tenant lookup", func(t *testing.T) {
		f := newFixture(t, "http://id.test")
		f.tenantErr = errors.New("db down")
		wantCode(t, f.browser().get("/account/login"), http.StatusInternalServerError)
		f.tenantErr = nil
		f.pages.cfg.Tenant = func(ctx context.Context, slug string) (*account.Tenant, string, error) {
			return &account.Tenant{ID: "ten_a"}, "not a url", nil
		}
		wantCode(t, f.browser().get("/account/login"), http.StatusInternalServerError)
	})
	t.Run("randomness", func(t *testing.T) {
		f := newFixture(t, "http://id.test", func(c *Config) { c.Random = failingReader{} })
		r := f.browser().get("/account/login")
		wantCode(t, r, http.StatusInternalServerError)
		if r.cookie("latchkey-csrf") != nil {
			t.Error("a CSRF cookie without a token")
		}
	})
	t.Run("sealing", func(t *testing.T) {
		f := newFixture(t, "http://id.test")
		b := f.browser()
		b.signIn(anaEmail)
		// The same key opens the request, but no nonce can be had to seal
		// the decision.
		sealer, err := authreq.NewSealer(bytes.Repeat([]byte{9}, 32), func() time.Time { return f.now }, failingReader{})
		if err != nil {
			t.Fatal(err)
		}
		req := f.request("app", "openid")
		f.pages.cfg.Requests = sealer
		wantCode(t, b.submit("/account/consent", url.Values{"req": {req}, "decision": {"deny"}}), http.StatusInternalServerError)
	})
	t.Run("panic", func(t *testing.T) {
		f := newFixture(t, "http://id.test")
		b := f.browser()
		b.signIn(anaEmail)
		f.pages.cfg.Client = func(context.Context, string) (*client.Client, error) { panic("boom") }
		r := b.get("/account/consent?req=" + url.QueryEscape(f.request("app")))
		wantCode(t, r, http.StatusInternalServerError)
		wantBody(t, r, "Something went wrong on our side.")
		if strings.Contains(r.Body, "boom") {
			t.Error("the panic reached the page")
		}
	})
}

func TestAccessibility(t *testing.T) {
	f := newFixture(t, "http://id.test")
	f.approve(anaID, "app", "openid", "docs:read")
	b := f.browser()
	anon := f.browser()
	pages := map[string]*response{
		"login":       anon.get("/account/login"),
		"login error": anon.submit("/account/login", url.Values{"email": {anaEmail}, "password": {"wrong"}}),
		"message":     anon.get("/account/consent?req=junk"),
		"405":         anon.do(http.MethodPut, "/account/login", nil),
		"not found":   anon.get("/t/nope/account/login"),
		"signed out":  anon.get("/account/logout?done=1"),
	}
	b.signIn(anaEmail)
	pages["consent"] = b.get("/account/consent?req=" + url.QueryEscape(f.request("app", "openid", "email")))
	pages["apps"] = b.get("/account/apps")
	pages["logout"] = b.get("/account/logout")
	for name, r := range pages {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(r.Body, `<html lang="en">`) {
				t.Error("no lang")
			}
			checkAccessible(t, r.Body)
		})
	}
	// The checker itself must catch what it looks for.
	for name, bad := range map[string]string{
		"no lang":         `<html><body><h1>x</h1></body></html>`,
		"two h1":          `<html lang="en"><body><h1>x</h1><h1>y</h1></body></html>`,
		"unlabelled":      `<html lang="en"><body><h1>x</h1><input id="a" name="a"></body></html>`,
		"label elsewhere": `<html lang="en"><body><h1>x</h1><label for="b">B</label><input id="a" name="a"></body></html>`,
		"dangling ref":    `<html lang="en"><body><h1>x</h1><label for="a">A</label><input id="a" aria-describedby="e"></body></html>`,
		"tabindex":        `<html lang="en"><body><h1 tabindex="1">x</h1></body></html>`,
		"duplicate id":    `<html lang="en"><body><h1 id="a">x</h1><p id="a">y</p></body></html>`,
	} {
		if len(accessibilityProblems(bad)) == 0 {
			t.Errorf("the checker passed %s", name)
		}
	}
}
