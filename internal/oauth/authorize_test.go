package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/token"
)

// checkPage asserts an HTML error page: never a redirect, and the headers
// that keep it out of frames, caches and referrers.
func checkPage(t *testing.T, p page, status int, reason string) {
	t.Helper()
	if p.status != status || p.location != nil {
		t.Fatalf("want the error page (%d), got %d Location %v: %s", status, p.status, p.location, p.body)
	}
	if !strings.Contains(p.body, reason) {
		t.Errorf("page does not say %q: %s", reason, p.body)
	}
	want := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
	}
	for k, v := range want {
		if got := p.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// checkRedirectError asserts an error redirected to the client: to its
// redirect URI (keeping the URI's own query), with the error, a
// description, the state and the issuer.
func checkRedirectError(t *testing.T, h *harness, p page, redirectURI, code, reason, state string) {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther || p.location == nil {
		t.Fatalf("want a redirect with %s, got %d %v %s", code, p.status, p.location, p.body)
	}
	want, _ := url.Parse(redirectURI)
	q := p.location.Query()
	for k, vs := range want.Query() {
		if !slices.Equal(q[k], vs) {
			t.Errorf("the redirect URI's own %s was lost: %v", k, p.location)
		}
	}
	if target(p.location) != target(want) {
		t.Errorf("redirected to %s, want %s", target(p.location), target(want))
	}
	if q.Get("error") != code || !strings.Contains(q.Get("error_description"), reason) {
		t.Errorf("error %q %q, want %s saying %q", q.Get("error"), q.Get("error_description"), code, reason)
	}
	if q.Get("iss") != h.issuer || q.Get("state") != state || q.Has("code") {
		t.Errorf("iss %q state %q code %q; want iss %s, state %q and no code", q.Get("iss"), q.Get("state"), q.Get("code"), h.issuer, state)
	}
}

func TestAuthorizeErrorPages(t *testing.T) {
	f := newFlow(t)
	cc, _ := f.create(client.CreateParams{Name: "Machine"})
	beta := client.SystemActor("ten_2")
	if err := f.db.CreateTenant(context.Background(), tenantBeta(f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	other, _, err := f.svc.Create(context.Background(), beta, client.CreateParams{Name: "Beta web",
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB}})
	if err != nil {
		t.Fatal(err)
	}
	// An inactive or revoked client is never redirected to: the server
	// must not serve as a redirector to its site.
	inactive, _ := f.create(client.CreateParams{Name: "Paused", Status: client.StatusInactive,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB}})
	revoked, _ := f.create(client.CreateParams{Name: "Abusive",
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB}})
	st := client.StatusRevoked
	if _, err := f.svc.Update(context.Background(), f.actor, revoked, client.UpdateParams{Status: &st}); err != nil {
		t.Fatal(err)
	}
	ok := func(extra url.Values) url.Values { return authParams(f.web, webCB, extra) }
	tests := []struct {
		name   string
		method string
		query  string // raw query, when params will not do
		params url.Values
		ctype  string
		status int
		reason string
	}{
		{"no client_id", "GET", "", ok(url.Values{"client_id": {""}}), "", 400, "client_id is missing"},
		{"client_id repeated", "GET", "", ok(url.Values{"client_id": {f.web, f.web}}), "", 400, "more than once"},
		{"unknown client", "GET", "", ok(url.Values{"client_id": {"lkc_nosuchclient"}}), "", 400, "not known"},
		{"not a client ID", "GET", "", ok(url.Values{"client_id": {"<script>"}}), "", 400, "not known"},
		{"another tenant's client", "GET", "", authParams(other.ID, webCB, nil), "", 400, "not known"},
		{"no redirect_uri", "GET", "", ok(url.Values{"redirect_uri": {""}}), "", 400, "redirect_uri is missing"},
		{"redirect_uri repeated", "GET", "", ok(url.Values{"redirect_uri": {webCB, webCB}}), "", 400, "redirect_uri is repeated"},
		{"unregistered redirect_uri", "GET", "", ok(url.Values{"redirect_uri": {"https://evil.example/cb"}}), "", 400, "not registered"},
		{"redirect_uri of another case", "GET", "", ok(url.Values{"redirect_uri": {"https://APP.example/cb"}}), "", 400, "not registered"},
		{"redirect_uri with a suffix", "GET", "", ok(url.Values{"redirect_uri": {webCB + "/x"}}), "", 400, "not registered"},
		{"client without redirect URIs", "GET", "", authParams(cc, webCB, nil), "", 400, "not registered"},
		{"a loopback redirect_uri with an empty fragment", "GET", "", authParams(f.spa, "http://127.0.0.1:5000/cb#", nil), "", 400, "not registered"},
		{"inactive client", "GET", "", authParams(inactive, webCB, nil), "", 400, "inactive"},
		{"inactive client, POST", "POST", "", authParams(inactive, webCB, nil), form, 400, "inactive"},
		{"revoked client", "GET", "", authParams(revoked, webCB, nil), "", 400, "revoked"},
		{"revoked client with an invalid request", "GET", "", authParams(revoked, webCB, url.Values{"response_type": {"token"}}), "", 400, "revoked"},
		{"malformed query", "GET", "client_id=%zz", nil, "", 400, "malformed"},
		{"POST with a query", "POST", "client_id=" + f.web, ok(nil), form, 400, "one place only"},
		{"POST not a form", "POST", "", ok(nil), "application/json", 400, "x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := f.ts.URL + "/oauth2/authorize"
			var body string
			switch {
			case tt.method == "GET" && tt.query != "":
				u += "?" + tt.query
			case tt.method == "GET":
				u += "?" + tt.params.Encode()
			default:
				if tt.query != "" {
					u += "?" + tt.query
				}
				body = tt.params.Encode()
			}
			req, _ := http.NewRequest(tt.method, u, strings.NewReader(body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			req.AddCookie(&http.Cookie{Name: testCookie, Value: f.cookie})
			checkPage(t, f.send(req), tt.status, tt.reason)
		})
	}
}

func TestAuthorizeErrorRedirects(t *testing.T) {
	f := newFlow(t)
	star, _ := f.create(client.CreateParams{Name: "Anything", Scopes: []string{"*"},
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB}})
	ok := func(extra url.Values) url.Values { return authParams(f.web, webCB, extra) }
	long := strings.Repeat("x", 513)
	tests := []struct {
		name     string
		params   url.Values
		cookie   string // "" for the signed-in user; "-" for none
		redirect string
		code     string
		reason   string
		state    string
	}{
		{"no response_type", ok(url.Values{"response_type": {""}}), "", webCB, "invalid_request", "response_type is required", "st-1"},
		{"implicit", ok(url.Values{"response_type": {"token"}}), "", webCB, "unsupported_response_type", "RFC 9700", "st-1"},
		{"id_token", ok(url.Values{"response_type": {"id_token"}}), "", webCB, "unsupported_response_type", "use code", "st-1"},
		{"hybrid", ok(url.Values{"response_type": {"code id_token"}}), "", webCB, "unsupported_response_type", "use code", "st-1"},
		{"response_mode fragment", ok(url.Values{"response_mode": {"fragment"}}), "", webCB, "invalid_request", "response_mode", "st-1"},
		{"response_mode form_post", ok(url.Values{"response_mode": {"form_post"}}), "", webCB, "invalid_request", "response_mode", "st-1"},
		{"request object", ok(url.Values{"request": {"eyJ.e30."}}), "", webCB, "request_not_supported", "request objects", "st-1"},
		{"request_uri", ok(url.Values{"request_uri": {"https://app.example/r"}}), "", webCB, "request_uri_not_supported", "request_uri", "st-1"},
		{"scope repeated", ok(url.Values{"scope": {"read", "write"}}), "", webCB, "invalid_request", "'scope' is repeated", "st-1"},
		{"state repeated", ok(url.Values{"state": {"a", "b"}}), "", webCB, "invalid_request", "'state' is repeated", ""},
		{"state too long", ok(url.Values{"state": {long}}), "", webCB, "invalid_request", "state must be at most", ""},
		{"nonce too long", ok(url.Values{"nonce": {long}}), "", webCB, "invalid_request", "nonce must be at most", "st-1"},
		{"login_hint too long", ok(url.Values{"login_hint": {long}}), "", webCB, "invalid_request", "login_hint", "st-1"},
		{"not UTF-8", ok(url.Values{"nonce": {"\xff"}}), "", webCB, "invalid_request", "UTF-8", "st-1"},
		{"scope not allowed", ok(url.Values{"scope": {"openid admin"}}), "", webCB, "invalid_scope", "'admin'", "st-1"},
		{"admin permission not registered", ok(url.Values{"scope": {"oauth:client:add"}}), "", webCB, "invalid_scope", "permission", "st-1"},
		// Registered, but not by one of Latchkey's own clients: a link
		// could otherwise borrow a signed-in admin's permissions.
		{"admin permission of another application", ok(url.Values{"scope": {"oauth:client:view"}}), "", webCB, "invalid_scope", "console and CLI", "st-1"},
		{"star asked for a user", authParams(star, webCB, url.Values{"scope": {"openid *"}}), "", webCB, "invalid_scope", "'*'", "st-1"},
		{"malformed scope", ok(url.Values{"scope": {"read  write"}}), "", webCB, "invalid_request", "single spaces", "st-1"},
		{"plain PKCE", ok(url.Values{"code_challenge_method": {"plain"}, "code_challenge": {verifier}}), "", webCB, "invalid_request", "plain is not accepted", "st-1"},
		{"unknown PKCE method", ok(url.Values{"code_challenge_method": {"S512"}}), "", webCB, "invalid_request", "'S512'", "st-1"},
		{"challenge without method", ok(url.Values{"code_challenge_method": {""}}), "", webCB, "invalid_request", "means plain", "st-1"},
		{"method without challenge", ok(url.Values{"code_challenge": {""}}), "", webCB, "invalid_request", "without a code_challenge", "st-1"},
		{"challenge too short", ok(url.Values{"code_challenge": {"abc"}}), "", webCB, "invalid_request", "43-character", "st-1"},
		{"challenge not base64url", ok(url.Values{"code_challenge": {strings.Repeat("+", 43)}}), "", webCB, "invalid_request", "43-character", "st-1"},
		{"public client without PKCE", authParams(f.spa, spaCB, url.Values{"code_challenge": {""}, "code_challenge_method": {""}}), "", spaCB, "invalid_request", "public client must use PKCE", "st-1"},
		{"prompt none with login", ok(url.Values{"prompt": {"none login"}}), "", webCB, "invalid_request", "cannot be combined", "st-1"},
		{"prompt select_account", ok(url.Values{"prompt": {"select_account"}}), "", webCB, "invalid_request", "'select_account'", "st-1"},
		{"negative max_age", ok(url.Values{"max_age": {"-1"}}), "", webCB, "invalid_request", "max_age", "st-1"},
		{"max_age not a number", ok(url.Values{"max_age": {"1h"}}), "", webCB, "invalid_request", "max_age", "st-1"},
		{"max_age with a sign", ok(url.Values{"max_age": {"+5"}}), "", webCB, "invalid_request", "max_age", "st-1"},
		{"prompt none, signed out", ok(url.Values{"prompt": {"none"}}), "-", webCB, "login_required", "sign in", "st-1"},
		{"prompt none, consent needed", authParams(f.strict, webCB, url.Values{"prompt": {"none"}}), "", webCB, "consent_required", "approve", "st-1"},
		{"prompt none, a public client not yet approved", authParams(f.spa, spaCB, url.Values{"prompt": {"none"}}), "", spaCB, "consent_required", "approve", "st-1"},
		{"prompt none, offline_access not yet approved", ok(url.Values{"prompt": {"none"}, "scope": {"openid read offline_access"}}), "", webCB, "consent_required", "approve", "st-1"},
		{"prompt none, max_age passed", ok(url.Values{"prompt": {"none"}, "max_age": {"0"}}), "", webCB, "login_required", "sign in", "st-1"},
		{"the redirect URI's query is kept", authParams(f.web, webCBQ, url.Values{"response_type": {"token"}}), "", webCBQ, "unsupported_response_type", "use code", "st-1"},
		{"a loopback port is any port", authParams(f.spa, "http://127.0.0.1:53117/cb", url.Values{"response_type": {"token"}}), "", "http://127.0.0.1:53117/cb", "unsupported_response_type", "use code", "st-1"},
	}
	f.clock.Advance(time.Second) // for max_age=0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie := f.cookie
			if tt.cookie == "-" {
				cookie = ""
			}
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				p := f.browse(method, "/oauth2/authorize", cookie, tt.params)
				checkRedirectError(t, f.harness, p, tt.redirect, tt.code, tt.reason, tt.state)
				want := map[string]int{http.MethodGet: http.StatusFound, http.MethodPost: http.StatusSeeOther}[method]
				if p.status != want {
					t.Errorf("%s answered %d, want %d", method, p.status, want)
				}
			}
		})
	}
}

func TestAuthorizeSignInAndConsent(t *testing.T) {
	f := newFlow(t)
	other := f.newUser("grace@example.com")
	otherCookie := f.signIn(other)

	t.Run("signed out goes to the login page and back", func(t *testing.T) {
		p := f.browse(http.MethodGet, "/oauth2/authorize", "", authParams(f.web, webCB, nil))
		sealed := f.sealedReq(p, authreq.LoginPath)
		if strings.Contains(sealed, "app.example") {
			t.Error("the sealed request shows the redirect URI")
		}
		// Still signed out: the login page again.
		f.sealedReq(f.resume("", sealed), authreq.LoginPath)
		f.codeFrom(f.resume(f.cookie, sealed), webCB, "st-1")
	})
	t.Run("a POSTed request goes to the login page with 303", func(t *testing.T) {
		f.sealedReq(f.browse(http.MethodPost, "/oauth2/authorize", "", authParams(f.web, webCB, nil)), authreq.LoginPath)
	})
	t.Run("signed in, no consent needed: a code, and the authorization recorded", func(t *testing.T) {
		f.authorize(f.cookie, f.web, webCB, nil)
		c, err := f.db.Consent(context.Background(), f.user.ID, f.web)
		if err != nil || !slices.Equal(c.Scopes, []string{"openid", "read"}) || !c.LastAt.Equal(f.clock.Now()) {
			t.Fatalf("consent %+v, %v", c, err)
		}
	})
	t.Run("a POSTed request gets its code with 303", func(t *testing.T) {
		p := f.browse(http.MethodPost, "/oauth2/authorize", f.cookie, authParams(f.web, webCB, nil))
		if p.status != http.StatusSeeOther {
			t.Fatalf("status %d", p.status)
		}
		f.codeFrom(p, webCB, "st-1")
	})
	t.Run("the code joins the redirect URI's query", func(t *testing.T) {
		p := f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, authParams(f.web, webCBQ, nil))
		f.codeFrom(p, "https://app.example/cb2?tab=1&", "st-1")
	})
	t.Run("native and loopback redirects", func(t *testing.T) {
		// A public client asks for consent the first time.
		f.authorizeApproving(f.user, f.cookie, f.spa, nativeCB, nil)
		f.authorize(f.cookie, f.spa, "http://127.0.0.1:40123/cb", nil)
	})
	t.Run("consent required: the page, then approve", func(t *testing.T) {
		p := f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, authParams(f.strict, webCB, nil))
		sealed := f.sealedReq(p, authreq.ConsentPath)
		// Resuming without a decision asks again.
		f.sealedReq(f.resume(f.cookie, sealed), authreq.ConsentPath)
		f.codeFrom(f.resume(f.cookie, f.decideAs(f.user, sealed, true)), webCB, "st-1")
		// Remembered: the next request needs no page.
		f.authorize(f.cookie, f.strict, webCB, nil)
		// A new scope is asked again.
		p = f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, authParams(f.strict, webCB, url.Values{"scope": {"openid read write"}}))
		f.sealedReq(p, authreq.ConsentPath)
	})
	t.Run("consent denied", func(t *testing.T) {
		p := f.browse(http.MethodGet, "/oauth2/authorize", otherCookie, authParams(f.strict, webCB, nil))
		sealed := f.decideAs(other, f.sealedReq(p, authreq.ConsentPath), false)
		checkRedirectError(t, f.harness, f.resume(otherCookie, sealed), webCB, "access_denied", "denied", "st-1")
	})
	t.Run("prompt=consent is satisfied only by this user's decision", func(t *testing.T) {
		p := f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, authParams(f.web, webCB, url.Values{"prompt": {"consent"}}))
		sealed := f.sealedReq(p, authreq.ConsentPath)
		// The stored consent covers the scopes; prompt=consent asks anyway.
		f.sealedReq(f.resume(f.cookie, sealed), authreq.ConsentPath)
		// Another user's decision does not carry over to this user.
		f.sealedReq(f.resume(f.cookie, f.decideAs(other, sealed, true)), authreq.ConsentPath)
		f.codeFrom(f.resume(f.cookie, f.decideAs(f.user, sealed, true)), webCB, "st-1")
	})
	t.Run("prompt=login needs a sign-in after the request", func(t *testing.T) {
		f.clock.Advance(time.Second)
		p := f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, authParams(f.web, webCB, url.Values{"prompt": {"login"}}))
		sealed := f.sealedReq(p, authreq.LoginPath)
		f.sealedReq(f.resume(f.cookie, sealed), authreq.LoginPath)
		f.clock.Advance(time.Second)
		fresh := f.signIn(f.user)
		f.codeFrom(f.resume(fresh, sealed), webCB, "st-1")
	})
	t.Run("max_age", func(t *testing.T) {
		u := f.newUser("max@example.com")
		cookie := f.signIn(u)
		f.clock.Advance(10 * time.Minute)
		f.authorize(cookie, f.web, webCB, url.Values{"max_age": {"600"}})
		p := f.browse(http.MethodGet, "/oauth2/authorize", cookie, authParams(f.web, webCB, url.Values{"max_age": {"599"}}))
		sealed := f.sealedReq(p, authreq.LoginPath)
		f.clock.Advance(time.Second)
		f.codeFrom(f.resume(f.signIn(u), sealed), webCB, "st-1")
	})
}

func TestAuthorizeResume(t *testing.T) {
	f := newFlow(t)
	p := f.browse(http.MethodGet, "/oauth2/authorize", "", authParams(f.web, webCB, nil))
	sealed := f.sealedReq(p, authreq.LoginPath)
	t.Run("tampered", func(t *testing.T) {
		b := []byte(sealed)
		b[len(b)/2] ^= 1
		checkPage(t, f.resume(f.cookie, string(b)), 400, "expired or is not valid")
	})
	t.Run("missing", func(t *testing.T) {
		checkPage(t, f.browse(http.MethodGet, authreq.ResumePath, f.cookie, nil), 400, "missing")
	})
	t.Run("repeated", func(t *testing.T) {
		checkPage(t, f.browse(http.MethodGet, authreq.ResumePath, f.cookie, url.Values{authreq.Param: {sealed, sealed}}), 400, "missing")
	})
	t.Run("at another tenant", func(t *testing.T) {
		if err := f.db.CreateTenant(context.Background(), tenantBeta(f.clock.Now())); err != nil {
			t.Fatal(err)
		}
		checkPage(t, f.browse(http.MethodGet, "/t/beta"+authreq.ResumePath, f.cookie, url.Values{authreq.Param: {sealed}}), 400, "not valid")
	})
	t.Run("client deactivated meanwhile", func(t *testing.T) {
		p := f.browse(http.MethodGet, "/oauth2/authorize", "", authParams(f.noRefresh, webCB, nil))
		sealed := f.sealedReq(p, authreq.LoginPath)
		st := client.StatusInactive
		if _, err := f.svc.Update(context.Background(), f.actor, f.noRefresh, client.UpdateParams{Status: &st}); err != nil {
			t.Fatal(err)
		}
		checkPage(t, f.resume(f.cookie, sealed), 400, "inactive")
	})
	t.Run("client revoked meanwhile", func(t *testing.T) {
		id, _ := f.create(client.CreateParams{Name: "Soon revoked", Scopes: []string{"read"},
			GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB}})
		p := f.browse(http.MethodGet, "/oauth2/authorize", "", authParams(id, webCB, nil))
		sealed := f.sealedReq(p, authreq.LoginPath)
		st := client.StatusRevoked
		if _, err := f.svc.Update(context.Background(), f.actor, id, client.UpdateParams{Status: &st}); err != nil {
			t.Fatal(err)
		}
		checkPage(t, f.resume(f.cookie, sealed), 400, "revoked")
	})
	t.Run("expired", func(t *testing.T) {
		f.clock.Advance(authreq.Lifetime)
		checkPage(t, f.resume(f.cookie, sealed), 400, "expired")
	})
}

// failingSessions fails as a broken session store would.
type failingSessions struct{}

func (failingSessions) Current(*http.Request, string) (*account.Session, *account.User, error) {
	return nil, nil, errors.New("session store down")
}
func (failingSessions) End(http.ResponseWriter, *http.Request, string) error {
	return errors.New("session store down")
}

// failingConsents fails to record an authorization.
type failingConsents struct{}

func (failingConsents) Authorized(context.Context, *account.User, string, []string) (*account.Consent, error) {
	return nil, errors.New("consent store down")
}

// The browser endpoints fail with a page or, once the redirect URI is
// trusted, a server_error redirect: never a panic, never a JSON body.
func TestBrowserEndpointsFailCleanly(t *testing.T) {
	f := newFlow(t)
	bare := f.bare()
	sealer := f.sealer()
	brokenSessions := f.serverWith(func(c *oauth.Config) {
		c.Sessions, c.Requests, c.GrantStore, c.Consents = failingSessions{}, sealer, f.db, f.sessions
	})
	brokenConsents := f.serverWith(func(c *oauth.Config) {
		c.Sessions, c.Requests, c.GrantStore, c.Consents = testSessions{f.sessions}, sealer, f.db, failingConsents{}
	})
	get := func(base, path string, params url.Values) page {
		req, _ := http.NewRequest("GET", base+path+"?"+params.Encode(), nil)
		req.AddCookie(&http.Cookie{Name: testCookie, Value: f.cookie})
		return f.send(req)
	}
	valid := authParams(f.web, webCB, nil)
	t.Run("not configured: authorize", func(t *testing.T) {
		checkPage(t, get(bare, "/oauth2/authorize", valid), 500, "not available")
	})
	t.Run("not configured: resume", func(t *testing.T) {
		checkPage(t, get(bare, authreq.ResumePath, url.Values{authreq.Param: {"x"}}), 500, "not available")
	})
	t.Run("not configured: logout", func(t *testing.T) {
		checkPage(t, get(bare, "/oauth2/logout", nil), 500, "not available")
	})
	t.Run("unknown tenant", func(t *testing.T) {
		checkPage(t, get(f.ts.URL, "/t/nope/oauth2/authorize", valid), 404, "No organisation")
	})
	t.Run("sessions fail at authorize", func(t *testing.T) {
		p := get(brokenSessions, "/oauth2/authorize", valid)
		q := p.location.Query()
		if p.status != http.StatusFound || target(p.location) != webCB || q.Get("error") != "server_error" ||
			q.Get("state") != "st-1" || q.Get("iss") != brokenSessions {
			t.Fatalf("%d %v", p.status, p.location)
		}
	})
	t.Run("sessions fail at logout", func(t *testing.T) {
		now := f.clock.Now()
		hint, err := f.keys.SignID(context.Background(), "ten_1", "", token.IDClaims{Issuer: brokenSessions,
			Subject: f.user.ID, Audience: f.web, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, get(brokenSessions, "/oauth2/logout", url.Values{"id_token_hint": {hint}}), 500, "could not finish")
	})
	t.Run("consents fail", func(t *testing.T) {
		p := get(brokenConsents, "/oauth2/authorize", valid)
		if p.status != http.StatusFound || p.location.Query().Get("error") != "server_error" {
			t.Fatalf("%d %v", p.status, p.location)
		}
	})
}

// max_age is checked at every step of the flow, in whole seconds: a
// sign-in made for the request that grows older than max_age while the
// user reads the consent page asks for a sign-in again, and max_age=0 is
// met by the sign-in just made.
func TestMaxAgeAtEveryStep(t *testing.T) {
	// signedOut starts a request of the strict app (which asks for
	// consent) without a session, signs u in for it and returns the
	// request sealed for the consent page, with u's cookie.
	signedOut := func(f *signedInFlow, u *account.User, maxAge string) (string, string) {
		p := f.browse(http.MethodGet, "/oauth2/authorize", "", authParams(f.strict, webCB, url.Values{"max_age": {maxAge}}))
		sealed := f.sealedReq(p, authreq.LoginPath)
		cookie := f.signIn(u)
		return f.sealedReq(f.resume(cookie, sealed), authreq.ConsentPath), cookie
	}
	t.Run("too old on the consent page", func(t *testing.T) {
		f := newFlow(t)
		u := f.newUser("slow@example.com")
		sealed, cookie := signedOut(f, u, "60")
		f.clock.Advance(61 * time.Second)
		approved := f.decideAs(u, sealed, true)
		f.sealedReq(f.resume(cookie, approved), authreq.LoginPath)
		// Signed in again, the approved request goes on: no loop.
		f.codeFrom(f.resume(f.signIn(u), approved), webCB, "st-1")
	})
	t.Run("exactly max_age old", func(t *testing.T) {
		f := newFlow(t)
		u := f.newUser("timely@example.com")
		sealed, cookie := signedOut(f, u, "60")
		f.clock.Advance(60 * time.Second)
		f.codeFrom(f.resume(cookie, f.decideAs(u, sealed, true)), webCB, "st-1")
	})
	t.Run("max_age=0 right after the sign-in", func(t *testing.T) {
		f := newFlow(t)
		u := f.newUser("quick@example.com")
		sealed, cookie := signedOut(f, u, "0")
		f.clock.Advance(500 * time.Millisecond) // under a second: none in whole seconds
		f.codeFrom(f.resume(cookie, f.decideAs(u, sealed, true)), webCB, "st-1")
		// Without a page in between, too.
		p := f.browse(http.MethodGet, "/oauth2/authorize", "", authParams(f.web, webCB, url.Values{"max_age": {"0"}}))
		sealed = f.sealedReq(p, authreq.LoginPath)
		cookie = f.signIn(u)
		f.clock.Advance(999 * time.Millisecond)
		f.codeFrom(f.resume(cookie, sealed), webCB, "st-1")
		// A second later the same sign-in is too old for max_age=0.
		f.clock.Advance(time.Millisecond)
		f.sealedReq(f.resume(cookie, sealed), authreq.LoginPath)
	})
}
