package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

func TestLoginContinuesTheRequest(t *testing.T) {
	f := newFixture(t, "http://id.test")
	req := f.request("app", "openid")
	b := f.browser()

	r := b.get("/account/login?req=" + url.QueryEscape(req))
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, `value="ana@example.com"`, `name="req" value="`+req+`"`, `autocomplete="current-password"`)
	checkAccessible(t, r.Body)

	r = b.submit("/account/login", url.Values{"email": {" ANA@Example.com "}, "password": {password}, "req": {req}})
	wantRedirect(t, r, "http://id.test"+authreq.ResumePath+"?req="+url.QueryEscape(req))
	value := b.jar[b.sessionName("ten_a")]
	sess, u, err := f.sessions.Find(context.Background(), "ten_a", value)
	if err != nil || sess == nil || u.ID != anaID {
		t.Fatalf("the new session: %v %v %v", sess, u, err)
	}
}

func TestLoginWithoutRequest(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	r := b.get("/account/login")
	wantCode(t, r, http.StatusOK)
	if strings.Contains(r.Body, `name="req"`) {
		t.Error("a sign-in without a request carries a req field")
	}
	r = b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}})
	wantRedirect(t, r, "http://id.test"+authreq.AppsPath)
	// Signed in, the form has nothing to offer.
	wantRedirect(t, b.get("/account/login"), "http://id.test"+authreq.AppsPath)
	// With a request (prompt=login, say) it is shown again.
	wantCode(t, b.get("/account/login?req="+url.QueryEscape(f.request("app"))), http.StatusOK)
}

func TestLoginFailuresLookAlike(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	bodies := map[string]string{}
	for name, try := range map[string]url.Values{
		"unknown email":  {"email": {"nobody@example.com"}, "password": {password}},
		"wrong password": {"email": {anaEmail}, "password": {"not the password at all"}},
		"disabled user":  {"email": {disEmail}, "password": {password}},
	} {
		r := b.submit("/account/login", try)
		if r.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", name, r.Code)
		}
		if r.cookie(b.sessionName("ten_a")) != nil {
			t.Errorf("%s: a session cookie was set", name)
		}
		wantBody(t, r, `role="alert"`, msgBadCredentials, `aria-describedby="login-error"`, `aria-invalid="true"`)
		checkAccessible(t, r.Body)
		bodies[name] = strings.ReplaceAll(r.Body, `value="`+try.Get("email")+`"`, `value="EMAIL"`)
	}
	if bodies["unknown email"] != bodies["wrong password"] || bodies["wrong password"] != bodies["disabled user"] {
		t.Errorf("the answers differ:\n%s\n---\n%s\n---\n%s", bodies["unknown email"], bodies["wrong password"], bodies["disabled user"])
	}
	if strings.Contains(bodies["wrong password"], "not the password") {
		t.Error("the password was shown back")
	}
}

func TestLoginEmptyFields(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	for _, form := range []url.Values{{"email": {anaEmail}}, {"password": {password}}, {"email": {"  "}, "password": {password}}} {
		r := b.submit("/account/login", form)
		wantCode(t, r, http.StatusBadRequest)
		wantBody(t, r, "Enter your email and your password.")
	}
	if n := f.repo.count(); n != 0 {
		t.Errorf("%d password lookups for empty forms", n)
	}
}

func TestLoginLockoutPerAccount(t *testing.T) {
	f := newFixture(t, "http://id.test", func(c *Config) { c.LoginFailures = 3; c.AddressFailures = 100 })
	b := f.browser()
	wrong := url.Values{"email": {anaEmail}, "password": {"wrong password, wrong"}}
	for i := range 3 {
		if r := b.submit("/account/login", wrong); r.Code != http.StatusBadRequest {
			t.Fatalf("failure %d: status %d", i+1, r.Code)
		}
	}
	looked := f.repo.count()
	// Past the limit, even the right password is not checked.
	r := b.submit("/account/login", url.Values{"email": {"Ana@example.com"}, "password": {password}})
	wantCode(t, r, http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != "900" {
		t.Errorf("Retry-After = %q, want 900", got)
	}
	wantBody(t, r, "Wait 15 minutes", `role="alert"`)
	if r.cookie(b.sessionName("ten_a")) != nil {
		t.Error("a locked account was signed in")
	}
	if f.repo.count() != looked {
		t.Error("the password of a locked account was checked")
	}
	// Another account from the same address is not locked.
	wantCode(t, b.submit("/account/login", url.Values{"email": {disEmail}, "password": {"wrong"}}), http.StatusBadRequest)

	f.now = f.now.Add(DefaultLoginWindow)
	if r := b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}}); r.Code != http.StatusSeeOther {
		t.Fatalf("after the window: %d %s", r.Code, r.Body)
	}
}

// Failing on purpose from one address cannot lock a user out of their
// own account elsewhere: the limit of LoginFailures counts per account
// and address.
func TestLoginLockoutIsPerAddress(t *testing.T) {
	f := newFixture(t, "http://id.test", func(c *Config) { c.AddressFailures = 100 })
	attacker := f.browser()
	attacker.addr = "203.0.113.66:4000"
	wrong := url.Values{"email": {anaEmail}, "password": {"wrong password, wrong"}}
	for i := range DefaultLoginFailures {
		if r := attacker.submit("/account/login", wrong); r.Code != http.StatusBadRequest {
			t.Fatalf("failure %d: status %d", i+1, r.Code)
		}
	}
	// From the attacker's address the account is locked, right password
	// or not.
	wantCode(t, attacker.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}}), http.StatusTooManyRequests)
	// Ana, at her own address, signs in.
	ana := f.browser()
	ana.addr = "192.0.2.10:4711"
	ana.signIn(anaEmail)
	if ana.jar[ana.sessionName("ten_a")] == "" {
		t.Fatal("no session for Ana")
	}
	wantCode(t, attacker.submit("/account/login", wrong), http.StatusTooManyRequests)
}

// Guessing spread over many addresses meets the account-wide limit,
// AccountFactor times LoginFailures; past it the password is not checked
// from any address.
func TestLoginLockoutAccountWide(t *testing.T) {
	const perAddress = 2
	f := newFixture(t, "http://id.test", func(c *Config) { c.LoginFailures, c.AddressFailures = perAddress, 100 })
	wrong := url.Values{"email": {anaEmail}, "password": {"wrong password, wrong"}}
	for i := range AccountFactor {
		b := f.browser()
		b.addr = fmt.Sprintf("198.51.100.%d:1", i+1)
		for j := range perAddress {
			if r := b.submit("/account/login", wrong); r.Code != http.StatusBadRequest {
				t.Fatalf("address %d, failure %d: status %d", i+1, j+1, r.Code)
			}
		}
	}
	looked := f.repo.count()
	fresh := f.browser()
	fresh.addr = "192.0.2.99:1"
	r := fresh.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}})
	wantCode(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || f.repo.count() != looked || r.cookie(fresh.sessionName("ten_a")) != nil {
		t.Error("a locked account's password was checked")
	}
	// Another account is not locked, from that address either.
	wantCode(t, fresh.submit("/account/login", url.Values{"email": {disEmail}, "password": {"wrong"}}), http.StatusBadRequest)
	if f.repo.count() != looked+1 {
		t.Error("another account's password was not checked")
	}
	f.now = f.now.Add(DefaultLoginWindow)
	fresh.signIn(anaEmail)
}

func TestLoginSuccessIsRefunded(t *testing.T) {
	f := newFixture(t, "http://id.test", func(c *Config) { c.LoginFailures = 2 })
	b := f.browser()
	for range 4 {
		b.signIn(anaEmail) // successes never add up to a lockout
	}
	wantCode(t, b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {"wrong"}}), http.StatusBadRequest)
	b.signIn(anaEmail)
}

func TestLoginAddressRefunds(t *testing.T) {
	f := newFixture(t, "http://id.test", func(c *Config) { c.LoginFailures, c.AddressFailures = 1, 2 })
	b := f.browser()
	for range 3 {
		b.signIn(anaEmail) // a success is no failure of the address
	}
	wantCode(t, b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {"wrong"}}), http.StatusBadRequest)
	for range 3 {
		// A locked account is not tried, so the address is not charged.
		wantCode(t, b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {"wrong"}}), http.StatusTooManyRequests)
	}
	wantCode(t, b.submit("/account/login", url.Values{"email": {disEmail}, "password": {"wrong"}}), http.StatusBadRequest)
	wantCode(t, b.submit("/account/login", url.Values{"email": {bettyMail}, "password": {"wrong"}}), http.StatusTooManyRequests)
}

func TestLoginLockoutPerAddress(t *testing.T) {
	f := newFixture(t, "http://id.test", func(c *Config) {
		c.LoginFailures, c.AddressFailures = 100, 2
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	b := f.browser()
	for _, email := range []string{anaEmail, disEmail} {
		wantCode(t, b.submit("/account/login", url.Values{"email": {email}, "password": {"wrong"}}), http.StatusBadRequest)
	}
	looked := f.repo.count()
	r := b.submit("/account/login", url.Values{"email": {"third@example.com"}, "password": {"wrong"}})
	wantCode(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || f.repo.count() != looked {
		t.Error("a limited address was not refused before the check")
	}
	other := f.browser()
	other.addr = "198.51.100.7:1"
	other.signIn(anaEmail)

	// Behind a trusted proxy each forwarded address counts alone.
	proxied := f.browser()
	proxied.addr = "10.0.0.1:80"
	for _, client := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.2"} {
		proxied.header.Set("X-Forwarded-For", client)
		wantCode(t, proxied.submit("/account/login", url.Values{"email": {anaEmail}, "password": {"wrong"}}), http.StatusBadRequest)
	}
	proxied.header.Set("X-Forwarded-For", "203.0.113.1")
	wantCode(t, proxied.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}}), http.StatusTooManyRequests)
}

func TestLoginOverlongEmail(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	long := strings.Repeat("a", 400) + "@example.com"
	r := b.submit("/account/login", url.Values{"email": {long}, "password": {password}})
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, msgBadCredentials)
	if strings.Contains(r.Body, long) {
		t.Error("an overlong email was shown back whole")
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		issuer, session, csrf string
		secure                bool
	}{
		{"http://id.test", "latchkey-ten_a", "latchkey-csrf", false},
		{"https://id.test", "__Host-latchkey-ten_a", "__Host-latchkey-csrf", true},
	} {
		t.Run(tc.issuer, func(t *testing.T) {
			f := newFixture(t, tc.issuer)
			b := f.browser()
			r := b.get("/account/login")
			csrf := r.cookie(tc.csrf)
			if csrf == nil {
				t.Fatalf("no %s cookie in %v", tc.csrf, r.Cookies)
			}
			r = b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}})
			wantCode(t, r, http.StatusSeeOther)
			sess := r.cookie(tc.session)
			if sess == nil {
				t.Fatalf("no %s cookie in %v", tc.session, r.Cookies)
			}
			for _, c := range []*http.Cookie{csrf, sess} {
				if !c.HttpOnly || c.Secure != tc.secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
					t.Errorf("cookie %s: %+v", c.Name, c)
				}
			}
			if sess.MaxAge != int(account.DefaultSessionTTL/time.Second) {
				t.Errorf("session MaxAge = %d", sess.MaxAge)
			}
		})
	}
}

func TestSessionRotatedAtLogin(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	first := b.jar[b.sessionName("ten_a")]
	b.signIn(anaEmail)
	second := b.jar[b.sessionName("ten_a")]
	if first == "" || first == second {
		t.Fatalf("session values %q then %q", first, second)
	}
	ctx := context.Background()
	if s, _, err := f.sessions.Find(ctx, "ten_a", first); s != nil || err != nil {
		t.Errorf("the old value still finds a session: %v %v", s, err)
	}
	if s, _, err := f.sessions.Find(ctx, "ten_a", second); s == nil || err != nil {
		t.Errorf("the new value finds none: %v", err)
	}
}

func TestSessionsPerTenant(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	wantRedirect(t, b.get("/t/beta/account/apps"), "http://id.test/t/beta"+authreq.LoginPath)

	r := b.get("/t/beta/account/login")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, `action="/t/beta/account/login"`, `href="/t/beta/account/static/style.css"`)
	// Ana is no user of tenant beta.
	wantCode(t, b.submit("/t/beta/account/login", url.Values{"email": {anaEmail}, "password": {password}}), http.StatusBadRequest)
	r = b.submit("/t/beta/account/login", url.Values{"email": {bettyMail}, "password": {password}})
	wantRedirect(t, r, "http://id.test/t/beta"+authreq.AppsPath)
	if r.cookie("latchkey-ten_b") == nil {
		t.Fatal("no cookie for tenant beta")
	}
	wantCode(t, b.get("/t/beta/account/apps"), http.StatusOK)
	wantCode(t, b.get("/account/apps"), http.StatusOK) // still signed in at the root

	// A request of another tenant is not this tenant's to finish.
	wantCode(t, b.get("/account/login?req="+url.QueryEscape(f.requestIn("ten_b", "bee"))), http.StatusBadRequest)
	wantCode(t, b.get("/t/nope/account/login"), http.StatusNotFound)
}

func TestCurrentAndEnd(t *testing.T) {
	f := newFixture(t, "https://id.test")
	if err := f.db.CreateTenant(context.Background(), &account.Tenant{ID: "ten_c", Name: "C", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var s oauth.Sessions = f.pages
	b := f.browser()
	b.signIn(anaEmail)
	value := b.jar["__Host-latchkey-ten_a"]
	r := httptest.NewRequest(http.MethodGet, "https://id.test/oauth2/authorize", nil)
	r.AddCookie(&http.Cookie{Name: "__Host-latchkey-ten_a", Value: value})

	sess, u, err := s.Current(r, "ten_a")
	if err != nil || sess == nil || u.ID != anaID {
		t.Fatalf("Current: %v %v %v", sess, u, err)
	}
	for _, tenant := range []string{"ten_b", "ten_c", "ten_missing"} {
		if sess, u, err := s.Current(r, tenant); sess != nil || u != nil || err != nil {
			t.Errorf("Current in %s: %v %v %v", tenant, sess, u, err)
		}
	}
	// On https only the prefixed cookie counts: an unprefixed one could be
	// planted by a subdomain or plain http.
	planted := httptest.NewRequest(http.MethodGet, "https://id.test/oauth2/authorize", nil)
	planted.AddCookie(&http.Cookie{Name: "latchkey-ten_a", Value: value})
	if sess, _, _ := s.Current(planted, "ten_a"); sess != nil {
		t.Error("an unprefixed cookie was believed on https")
	}

	w := httptest.NewRecorder()
	if err := s.End(httptest.NewRecorder(), planted, "ten_missing"); err != nil {
		t.Fatal(err)
	}
	if err := s.End(w, r, "ten_a"); err != nil {
		t.Fatal(err)
	}
	cleared := false
	for _, c := range w.Result().Cookies() {
		cleared = cleared || (c.Name == "__Host-latchkey-ten_a" && c.MaxAge < 0 && c.Secure)
	}
	if !cleared {
		t.Errorf("End did not clear the cookie: %v", w.Result().Cookies())
	}
	if sess, _, _ := s.Current(r, "ten_a"); sess != nil {
		t.Error("the session outlived End")
	}
	w = httptest.NewRecorder()
	if err := s.End(w, httptest.NewRequest(http.MethodGet, "/", nil), "ten_a"); err != nil || len(w.Result().Cookies()) != 0 {
		t.Errorf("End without a session: %v %v", err, w.Result().Cookies())
	}

	f.db.Close()
	if _, _, err := s.Current(r, "ten_a"); err == nil {
		t.Error("Current hid a store failure")
	}
	f.pages.sites.Delete("ten_b")
	if _, _, err := s.Current(r, "ten_b"); err == nil {
		t.Error("Current hid a failed tenant lookup")
	}
}

func TestSourceAddr(t *testing.T) {
	p := &Pages{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}}
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:1234", nil, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"}, // untrusted peer: its header is ignored
		{"10.0.0.1:1234", []string{"203.0.113.9"}, "203.0.113.9"},
		{"10.0.0.1:1234", []string{"198.51.100.1, 203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"10.0.0.1:1234", []string{"198.51.100.1", "203.0.113.9"}, "203.0.113.9"},
		{"10.0.0.1:1234", []string{"junk"}, "10.0.0.1"},
		{"10.0.0.1:1234", []string{"10.0.0.3"}, "10.0.0.1"},
		{"[fd00::1]:443", []string{"::ffff:203.0.113.4"}, "203.0.113.4"},
		{"pipe", nil, "pipe"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := p.sourceAddr(r); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestWaitText(t *testing.T) {
	for secs, want := range map[int]string{0: "a second", 1: "a second", 30: "30 seconds", 60: "a minute", 61: "2 minutes", 900: "15 minutes"} {
		if got := waitText(secs); got != want {
			t.Errorf("waitText(%d) = %q, want %q", secs, got, want)
		}
	}
}
