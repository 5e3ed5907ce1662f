package console

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// mfaFixture is the pages' fixture with second factors.
type mfaFixture struct {
	*fixture
	mfa *account.MFA
}

func newMFAFixture(t *testing.T, issuer string, tweak ...func(*Config)) *mfaFixture {
	t.Helper()
	var m *account.MFA
	f := newFixture(t, issuer, append([]func(*Config){func(c *Config) {
		m = &account.MFA{Repo: c.Accounts, Key: bytes.Repeat([]byte{0x5a}, 32), Now: c.Now}
		c.MFA = m
	}}, tweak...)...)
	return &mfaFixture{fixture: f, mfa: m}
}

// totpCode is the app's code for secret at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	secretRE  = regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`)
	codeRE    = regexp.MustCompile(`<li><code>([0-9a-z-]+)</code></li>`)
	optionsRE = regexp.MustCompile(`data-options="([^"]*)"`)
)

// enrolTOTP sets up an authenticator app for the signed-in browser
// through the security page, and returns its secret and the recovery
// codes the page showed.
func (f *mfaFixture) enrolTOTP(b *browser) (string, []string) {
	t := f.t
	t.Helper()
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-begin"}}), f.issuer+SecurityPath)
	r := b.get(SecurityPath)
	wantCode(t, r, http.StatusOK)
	m := secretRE.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no key on the setup page:\n%s", r.Body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	r = b.submit(SecurityPath, url.Values{"action": {"totp-confirm"}, "code": {totpCode(t, secret, f.now)}})
	wantCode(t, r, http.StatusOK)
	var codes []string
	for _, m := range codeRE.FindAllStringSubmatch(r.Body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != account.RecoveryCodeCount {
		t.Fatalf("%d recovery codes shown, want %d:\n%s", len(codes), account.RecoveryCodeCount, r.Body)
	}
	return secret, codes
}

// session returns the browser's stored session in ten_a, or nil.
func (f *mfaFixture) storedSession(b *browser) *account.Session {
	f.t.Helper()
	v := b.jar[b.sessionName("ten_a")]
	if v == "" {
		return nil
	}
	s, err := f.db.SessionByHash(context.Background(), account.HashValue(v))
	if err != nil {
		return nil
	}
	return s
}

// passwordStep signs in with the password and checks it led to the
// second-factor page, with a pending sign-in and no session.
func (f *mfaFixture) passwordStep(b *browser, form url.Values, wantLocation string) {
	t := f.t
	t.Helper()
	form.Set("email", anaEmail)
	form.Set("password", password)
	r := b.submit("/account/login", form)
	wantRedirect(t, r, wantLocation)
	if r.cookie(PendingCookie("ten_a", false)) == nil {
		t.Fatal("no pending sign-in cookie")
	}
	if c := r.cookie(b.sessionName("ten_a")); c != nil && c.MaxAge >= 0 {
		t.Fatal("a session cookie before the second factor")
	}
}

func TestMFAEnrolAndSignIn(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	r := b.get(SecurityPath)
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Sign-in security</h1>", `value="totp-begin">Set up an authenticator app</button>`,
		"You have no passkeys.", "You get recovery codes when you set up your first second factor.")
	checkAccessible(t, r.Body)
	if before := f.storedSession(b); !slices.Equal(before.Methods, []string{"pwd"}) {
		t.Fatalf("methods before enrolment: %v", before.Methods)
	}
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-begin"}}), f.issuer+SecurityPath)
	r = b.get(SecurityPath)
	wantBody(t, r, `<svg xmlns="http://www.w3.org/2000/svg" class="qr"`, `role="img" aria-label="QR code for your authenticator app"`,
		`value="totp-confirm">Turn on</button>`)
	checkAccessible(t, r.Body)
	if strings.Contains(r.Body, "data:") || strings.Contains(r.Body, "<img") {
		t.Error("the QR code is an image the CSP does not allow")
	}
	secret := strings.ReplaceAll(secretRE.FindStringSubmatch(r.Body)[1], " ", "")

	r = b.submit(SecurityPath, url.Values{"action": {"totp-confirm"}, "code": {"000000"}})
	if totpCode(t, secret, f.now) != "000000" {
		wantCode(t, r, http.StatusBadRequest)
		wantBody(t, r, msgWrongCode, `aria-invalid="true" aria-describedby="security-error"`)
	}
	r = b.submit(SecurityPath, url.Values{"action": {"totp-confirm"}, "code": {totpCode(t, secret, f.now)}})
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "Your recovery codes", "These codes are shown only this once.")
	checkAccessible(t, r.Body)
	codes := codeRE.FindAllStringSubmatch(r.Body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d codes shown", len(codes))
	}
	// The enrolment proved the factor: the session says so, and the page
	// does not show the codes again.
	if after := f.storedSession(b); !slices.Equal(after.Methods, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("methods after enrolment: %v", after.Methods)
	}
	r = b.get(SecurityPath)
	wantBody(t, r, "10 of 10 recovery codes left.", `value="totp-remove" class="danger">Remove authenticator app</button>`)
	if strings.Contains(r.Body, codes[0][1]) {
		t.Error("the recovery codes were shown twice")
	}

	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	r = b.get(MFAPath)
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Confirm it’s you</h1>", `value="totp">Verify</button>`, "Use a recovery code")
	checkAccessible(t, r.Body)
	if strings.Contains(r.Body, "passkey.js") {
		t.Error("the page loads the passkey script for a user without passkeys")
	}
	r = b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantRedirect(t, r, f.issuer+authreq.AppsPath)
	if c := r.cookie(PendingCookie("ten_a", false)); c == nil || c.MaxAge >= 0 {
		t.Error("the pending sign-in was not cleared")
	}
	sess := f.storedSession(b)
	if sess == nil || !slices.Equal(sess.Methods, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("session %+v", sess)
	}
	wantCode(t, b.get(authreq.AppsPath), http.StatusOK)
	es, _ := f.db.AuditEvents(context.Background(), "ten_a", 0, 100)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{account.ActionMFAEnrolled, account.ActionMFAVerified, account.ActionLogin} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %s event in %v", want, actions)
		}
	}
	if strings.Contains(f.logs.String(), secret) {
		t.Error("the seed reached the log")
	}
}

func TestMFAWrongCodeCountsAndAudits(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	wrong := "000000"
	for _, c := range []string{"000000", "111111", "222222"} {
		if c != totpCode(t, secret, f.now) && c != totpCode(t, secret, f.now.Add(-30*time.Second)) &&
			c != totpCode(t, secret, f.now.Add(30*time.Second)) {
			wrong = c
			break
		}
	}
	for i := range DefaultLoginFailures {
		r := b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {wrong}})
		wantCode(t, r, http.StatusBadRequest)
		wantBody(t, r, msgWrongCode, `aria-describedby="mfa-error"`)
		if i == 0 {
			checkAccessible(t, r.Body)
		}
	}
	// Past the limit even the right code is not checked, and the
	// password is locked out too: the limits are the same.
	r := b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantCode(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || f.storedSession(b) != nil {
		t.Errorf("a limited second factor: Retry-After %q, session %v", r.Header.Get("Retry-After"), f.storedSession(b))
	}
	r = b.submit("/account/login", url.Values{"email": {anaEmail}, "password": {password}})
	wantCode(t, r, http.StatusTooManyRequests)
	es, _ := f.db.AuditEvents(context.Background(), "ten_a", 0, 100)
	failed := 0
	for _, e := range es {
		if e.Action == account.ActionMFAFailed {
			failed++
			if e.Result != audit.ResultFailure || e.TargetID != anaID || e.Details["method"] != "totp" || e.SourceAddr == "" {
				t.Errorf("failure event %+v", e)
			}
			if strings.Contains(e.Details["reason"], wrong) {
				t.Error("the code reached the trail")
			}
		}
	}
	if failed != DefaultLoginFailures {
		t.Errorf("%d failure events, want %d", failed, DefaultLoginFailures)
	}
	// After the window, the right code signs in.
	f.now = f.now.Add(DefaultLoginWindow + time.Second)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	wantRedirect(t, b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}}), f.issuer+authreq.AppsPath)
}

func TestMFAReplayedCode(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	// The code that turned the app on, within its step, does not sign in.
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	r := b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, msgReplayedCode)
}

func TestMFARecoveryCodeWorksOnce(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	_, codes := f.enrolTOTP(b)
	for round := range 2 {
		wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
		f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
		r := b.submit(MFAPath, url.Values{"method": {"recovery"}, "code": {strings.ToUpper(codes[3])}})
		if round == 1 {
			wantCode(t, r, http.StatusBadRequest)
			wantBody(t, r, msgWrongRecovery, "<details class=\"factor\" open>")
			continue
		}
		wantRedirect(t, r, f.issuer+authreq.AppsPath)
		if s := f.storedSession(b); s == nil || !slices.Equal(s.Methods, []string{"pwd", "otp", "mfa"}) {
			t.Fatalf("session %+v", s)
		}
		wantBody(t, b.get(SecurityPath), "9 of 10 recovery codes left.")
	}
}

// TestMFAPendingIsNoSession: between the password and the second factor
// the browser is signed in nowhere: its pending sign-in opens no page
// but the second factor's, whatever cookie it is put in.
func TestMFAPendingIsNoSession(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	pending := b.jar[PendingCookie("ten_a", false)]
	wantRedirect(t, b.get(authreq.AppsPath), f.issuer+authreq.LoginPath)
	wantRedirect(t, b.get(SecurityPath), f.issuer+authreq.LoginPath+"?next=%2Faccount%2Fsecurity")
	req := f.request("app", "openid")
	wantRedirect(t, b.get("/account/consent?req="+url.QueryEscape(req)), f.issuer+authreq.LoginPath+"?req="+url.QueryEscape(req))
	httpReq := httptestRequest(f, b)
	if sess, u, err := f.pages.Current(httpReq, "ten_a"); sess != nil || u != nil || err != nil {
		t.Errorf("Current with a pending sign-in: %v %v %v", sess, u, err)
	}
	// Put in the session cookie, it is no session either.
	b.jar[b.sessionName("ten_a")] = pending
	wantRedirect(t, b.get(authreq.AppsPath), f.issuer+authreq.LoginPath)
	// And of another tenant it opens nothing there.
	other := f.browser()
	other.jar[PendingCookie("ten_b", false)] = pending
	wantRedirect(t, other.get("/t/beta"+MFAPath), f.issuer+"/t/beta"+authreq.LoginPath)
	// It expires.
	f.now = f.now.Add(account.PendingLifetime)
	r := b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {"123456"}})
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, msgPendingGone, `id="password"`)
	wantRedirect(t, b.get(MFAPath), f.issuer+authreq.LoginPath)
}

// httptestRequest is a request carrying the browser's cookies.
func httptestRequest(f *mfaFixture, b *browser) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, f.issuer+authreq.AppsPath, nil)
	for name, v := range b.jar {
		r.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	return r
}

func TestMFACSRF(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	good := totpCode(t, secret, f.now)
	for name, send := range map[string]func() *response{
		"no token": func() *response {
			return b.do(http.MethodPost, MFAPath, url.Values{"method": {"totp"}, "code": {good}})
		},
		"wrong token": func() *response {
			return b.do(http.MethodPost, MFAPath, url.Values{"method": {"totp"}, "code": {good}, csrfField: {strings.Repeat("A", csrfLen)}})
		},
		"another origin": func() *response {
			return b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {good}}, "Origin", "https://evil.example")
		},
		"security page, no token": func() *response {
			return b.do(http.MethodPost, SecurityPath, url.Values{"action": {"totp-remove"}})
		},
	} {
		if r := send(); r.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.Code)
		}
	}
	if f.storedSession(b) != nil {
		t.Fatal("a refused post signed in")
	}
	wantRedirect(t, b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {good}}), f.issuer+authreq.AppsPath)
	if has, _ := f.mfa.HasFactor(context.Background(), anaID); !has {
		t.Error("a refused post removed the factor")
	}
}

func TestMFAKeepsTheAuthorizationRequest(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	req := f.request("app", "openid", "email")
	f.passwordStep(b, url.Values{"req": {req}}, f.issuer+MFAPath+"?req="+url.QueryEscape(req))
	r := b.get(MFAPath + "?req=" + url.QueryEscape(req))
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, `<input type="hidden" name="req" value="`+req+`">`)
	// A wrong code keeps it too.
	r = b.submit(MFAPath, url.Values{"req": {req}, "method": {"recovery"}, "code": {"nope"}})
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, `name="req" value="`+req+`"`)
	got := resumed(t, f.fixture, b.submit(MFAPath, url.Values{"req": {req}, "method": {"totp"}, "code": {totpCode(t, secret, f.now)}}))
	if got.ClientID != "app" || got.State != "st" || !slices.Equal(got.Scopes, []string{"openid", "email"}) {
		t.Errorf("resumed %+v", got)
	}
	// A request that is not one is refused before anything is checked.
	r = b.submit(MFAPath, url.Values{"req": {"forged"}, "method": {"totp"}, "code": {"123456"}})
	wantCode(t, r, http.StatusBadRequest)
	wantBody(t, r, msgInvalidRequest.Heading)
}

func TestMFAKeepsNext(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{"next": {"/console/clients"}}, f.issuer+MFAPath+"?next=%2Fconsole%2Fclients")
	wantBody(t, b.get(MFAPath+"?next=%2Fconsole%2Fclients"), `name="next" value="/console/clients"`)
	r := b.submit(MFAPath, url.Values{"next": {"/console/clients"}, "method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantRedirect(t, r, "http://id.test/console/clients")
	// A next that leaves the site is dropped.
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{"next": {"//evil.example/x"}}, f.issuer+MFAPath)
	r = b.submit(MFAPath, url.Values{"next": {"//evil.example/x"}, "method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantRedirect(t, r, f.issuer+authreq.AppsPath)
}

func TestMFABadMethodAndNoMFA(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	wantCode(t, b.submit(MFAPath, url.Values{"method": {"sms"}, "code": {"1"}}), http.StatusBadRequest)

	// Pages built without second factors serve neither page, and sign in
	// with the password alone.
	plain := newFixture(t, "http://id.test")
	pb := plain.browser()
	wantCode(t, pb.get(MFAPath), http.StatusNotFound)
	pb.signIn(anaEmail)
	wantCode(t, pb.get(SecurityPath), http.StatusNotFound)
}

// TestMFAStepUp: a session that did not prove the user's second factor
// (it began before the factor did) is asked for it before the security
// page; proving it replaces the session with one that holds "mfa",
// without a new sign-in.
func TestMFAStepUp(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	// A session begun with the password alone, after the enrolment (the
	// enrolment ended those begun before it).
	old := f.passwordOnly(anaID)
	f.now = f.now.Add(time.Minute)

	wantRedirect(t, old.get(SecurityPath), f.issuer+MFAPath+"?next=%2Faccount%2Fsecurity")
	wantRedirect(t, old.submit(SecurityPath, url.Values{"action": {"totp-remove"}}), f.issuer+MFAPath+"?next=%2Faccount%2Fsecurity")
	if has, _ := f.mfa.HasFactor(ctx, anaID); !has {
		t.Fatal("a password-only session removed the factor")
	}
	r := old.get(MFAPath + "?next=%2Faccount%2Fsecurity")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "This page needs your second factor", "Signed in as "+anaEmail)
	before := f.storedSession(old)
	r = old.submit(MFAPath, url.Values{"next": {"/account/security"}, "method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantRedirect(t, r, "http://id.test/account/security")
	// The step-up begins a new session and ends the password-only one.
	after := f.storedSession(old)
	if after == nil || after.ID == before.ID || !slices.Equal(after.Methods, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("after the step-up: %+v (was %+v)", after, before)
	}
	if s, err := f.db.SessionByHash(ctx, before.Hash); err == nil {
		t.Errorf("the password-only session is still stored: %+v", s)
	}
	wantCode(t, old.get(SecurityPath), http.StatusOK)
	// Signed in with "mfa", nobody is asked again.
	wantRedirect(t, b.get(MFAPath), f.issuer+authreq.LoginPath)
}

// TestMFARequired: the console's gate is told where an admin of a tenant
// that requires a second factor must go first.
func TestMFARequired(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t, "http://id.test")
	u, err := f.db.User(ctx, anaID)
	if err != nil {
		t.Fatal(err)
	}
	u.Roles = []string{authz.Viewer}
	if err := f.db.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.signIn(anaEmail)
	s, err := f.pages.siteBySlug(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	where := func() string {
		t.Helper()
		sess, u, err := f.pages.session(httptestRequest(f, b), s)
		if err != nil || u == nil {
			t.Fatalf("session: %v %v", u, err)
		}
		to, err := f.pages.mfaRequired(ctx, s, u, sess, "/console/clients?q=1")
		if err != nil {
			t.Fatal(err)
		}
		return to
	}
	if to := where(); to != "" {
		t.Errorf("a tenant that does not require it sends the admin to %q", to)
	}
	tenants := &account.Tenants{Repo: f.db, Now: func() time.Time { return f.now }}
	if _, err := tenants.SetRequireAdminMFA(ctx, authz.OperatorActor("ten_a", "op"), "ten_a", true); err != nil {
		t.Fatal(err)
	}
	want := f.issuer + SecurityPath + "?next=%2Fconsole%2Fclients%3Fq%3D1"
	if to := where(); to != want {
		t.Errorf("an admin without a factor goes to %q, want %q", to, want)
	}
	r := b.get(SecurityPath + "?next=%2Fconsole%2Fclients%3Fq%3D1")
	wantBody(t, r, "Your organisation requires a second factor for the admin console.")
	f.enrolTOTP(b) // the session proves it while enrolling
	if to := where(); to != "" {
		t.Errorf("after enrolling, the admin is sent to %q", to)
	}
	other := f.browser()
	other.signIn(anaEmail) // no: the password alone does not sign in now
	if s := f.storedSession(other); s != nil {
		t.Fatal("a password alone started a session")
	}
	if to, err := f.pages.mfaRequired(ctx, s, u, &account.Session{Methods: []string{"pwd"}}, "//evil"); err != nil ||
		to != f.issuer+MFAPath {
		t.Errorf("a session without the factor: %q %v", to, err)
	}
	plain := newFixture(t, "http://id.test")
	ps, _ := plain.pages.siteBySlug(ctx, "")
	if to, err := plain.pages.mfaRequired(ctx, ps, u, &account.Session{}, ""); to != "" || err != nil {
		t.Errorf("pages without MFA: %q %v", to, err)
	}
}

// optionsOf returns the passkey options a page's form carries.
func optionsOf(t *testing.T, body string) []byte {
	t.Helper()
	m := optionsRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no passkey options on the page:\n%s", body)
	}
	return []byte(html.UnescapeString(m[1]))
}

// TestMFAStoreFailure: a store that fails during the check is the
// server's error (500, logged), not the user's: nothing counts against
// the limits, and once it works again the code signs in.
func TestMFAStoreFailure(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	f.failing("tx")
	for range DefaultLoginFailures + 1 {
		wantCode(t, b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}}), http.StatusInternalServerError)
	}
	if !strings.Contains(f.logs.String(), errStore.Error()) {
		t.Error("the store's failure was not logged")
	}
	f.repo.mu.Lock()
	delete(f.repo.fail, "tx")
	f.repo.mu.Unlock()
	wantRedirect(t, b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}}), f.issuer+authreq.AppsPath)
}
