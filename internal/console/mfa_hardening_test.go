package console

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/account/passkeytest"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

// consoleWithMFA is the console fixture with second factors on.
func consoleWithMFA(t *testing.T) (*consoleFixture, *mfaFixture) {
	t.Helper()
	var m *account.MFA
	cf := newConsoleFixture(t, func(c *Config) {
		m = &account.MFA{Repo: c.Accounts, Key: bytes.Repeat([]byte{0x5a}, 32), Now: c.Now}
		c.MFA = m
	})
	return cf, &mfaFixture{fixture: cf.fixture, mfa: m}
}

// requireMFAOfAdmins turns on ten_a's requirement of a second factor of
// its admins, as "latchkey tenants update --require-admin-mfa=true" does.
func requireMFAOfAdmins(t *testing.T, f *fixture) {
	t.Helper()
	tenants := &account.Tenants{Repo: f.db, Now: func() time.Time { return f.now }}
	if _, err := tenants.SetRequireAdminMFA(context.Background(), authz.OperatorActor("ten_a", "op"), "ten_a", true); err != nil {
		t.Fatal(err)
	}
}

// TestRequireAdminMFACoversDivisionAdmins: a tenant that requires a
// second factor of its admins requires it of an admin whose role is
// limited to one division (oauth_admin@emea), as of a tenant-wide one.
func TestRequireAdminMFACoversDivisionAdmins(t *testing.T) {
	cf, _ := consoleWithMFA(t)
	ctx := context.Background()
	if _, err := cf.admin.Divisions.Create(ctx, system, account.NewDivision{ID: "emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.admin.Users.Create(ctx, system, account.NewUser{Email: "emea@example.com", Name: "Emea",
		Password: password, Roles: []string{"oauth_admin@emea"}}); err != nil {
		t.Fatal(err)
	}
	requireMFAOfAdmins(t, cf.fixture)

	wantRedirect(t, cf.signedIn(opsEmail).get("/console/"), cf.issuer+SecurityPath+"?next=%2Fconsole%2F")
	r := cf.signedIn("emea@example.com").get("/console/clients/new")
	if r.Code == http.StatusOK {
		t.Fatalf("a division admin without a second factor opened the console of a tenant that requires one")
	}
	wantRedirect(t, r, cf.issuer+SecurityPath+"?next=%2Fconsole%2Fclients%2Fnew")
}

// TestConsoleEntryByRole: the console lets in the holders of each
// built-in role with a console permission, tenant-wide or in one
// division, and no one else; the second-factor requirement counts the
// same users as admins.
func TestConsoleEntryByRole(t *testing.T) {
	ctx := context.Background()
	want := map[string]bool{authz.SuperAdmin: true, "oauth_admin": true, "viewer": true, "resource_server": false}
	for _, r := range (*authz.Catalog)(nil).Roles() {
		w, known := want[r.Name]
		if !known {
			t.Errorf("built-in role %s: say whether it opens the console", r.Name)
			continue
		}
		for _, grant := range []string{r.Name, r.Name + "@emea"} {
			a := authz.Actor{Kind: authz.KindUser, ID: "usr_x", TenantID: "ten_a", Roles: []string{grant}}
			if got := mayUseConsole(a); got != w {
				t.Errorf("%s: the console lets in %v, want %v", grant, got, w)
			}
			admin, err := account.IsAdmin(ctx, nil, &account.User{ID: "usr_x", TenantID: "ten_a", Roles: []string{grant}})
			if err != nil {
				t.Fatal(err)
			}
			if admin != w {
				t.Errorf("%s: counted as an admin %v, want %v", grant, admin, w)
			}
		}
	}
}

// wrongCode is a six-digit code that secret does not give within two
// time steps of at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222"} {
		ok := true
		for d := -2; d <= 2; d++ {
			if totpCode(t, secret, at.Add(time.Duration(d)*30*time.Second)) == c {
				ok = false
			}
		}
		if ok {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// TestWrongCodesLockTheUsersCodes: one user's wrong second-factor codes
// are limited across every address to MFACodeFailures per MFACodeWindow.
// Past the limit even the right code is refused, with an audited
// failure, until the window ends; then it signs in.
func TestWrongCodesLockTheUsersCodes(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	wrong := wrongCode(t, secret, f.now)
	attacker := f.browser()
	f.passwordStep(attacker, url.Values{}, f.issuer+MFAPath)
	checked := 0
	for addr := range 20 {
		attacker.addr = fmt.Sprintf("198.51.100.%d:1", addr+1)
		for range DefaultLoginFailures {
			r := attacker.submit(MFAPath, url.Values{"method": {"totp"}, "code": {wrong}})
			switch r.Code {
			case http.StatusBadRequest:
				checked++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("a wrong code: %d", r.Code)
			}
		}
	}
	if checked != MFACodeFailures {
		t.Errorf("%d wrong codes were checked, want %d", checked, MFACodeFailures)
	}

	// Once the sign-in limits have passed, the user's own right code,
	// from elsewhere, is still refused.
	f.now = f.now.Add(DefaultLoginWindow + time.Second)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	r := b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantCode(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Too many wrong codes were entered for your account. Wait 24 hours before entering a code again.")
	checkAccessible(t, r.Body)
	if r.Header.Get("Retry-After") == "" || f.storedSession(b) != nil {
		t.Errorf("a locked code: Retry-After %q, session %v", r.Header.Get("Retry-After"), f.storedSession(b))
	}
	es, _ := f.db.AuditEvents(ctx, "ten_a", 0, 1000)
	refused := 0
	for _, e := range es {
		if e.Action == account.ActionMFAFailed && e.Details["reason"] == "too_many_failures" {
			refused++
			if e.TargetID != anaID || e.Details["method"] != "totp" || e.SourceAddr == "" {
				t.Errorf("refusal event %+v", e)
			}
		}
	}
	if refused == 0 {
		t.Error("no refusal was audited")
	}

	f.now = f.now.Add(MFACodeWindow + time.Second)
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	wantRedirect(t, b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}}), f.issuer+authreq.AppsPath)
}

// TestRightCodeClearsWrongCodes: a right code clears the user's count of
// wrong ones, so mistakes spread over days do not add up to a lockout.
func TestRightCodeClearsWrongCodes(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wrong := wrongCode(t, secret, f.now)
	for round := range 2 {
		f.now = f.now.Add(time.Minute)
		wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
		f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
		for i := range MFACodeFailures - 1 {
			b.addr = fmt.Sprintf("198.51.100.%d:1", i+1) // past the per-address limit
			wantCode(t, b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {wrong}}), http.StatusBadRequest)
		}
		r := b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
		if r.Code != http.StatusSeeOther {
			t.Fatalf("round %d: the right code after %d wrong ones: %d", round, MFACodeFailures-1, r.Code)
		}
	}
}

// TestPasskeyWorksWhileCodesAreLocked: wrong codes do not take the
// user's passkey away, and the page says to use it.
func TestPasskeyWorksWhileCodesAreLocked(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	a := passkeytest.New("http://id.test")
	wantRedirect(t, addPasskey(t, b, a, "Laptop"), f.issuer+SecurityPath+"?done=passkey")
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
	f.now = f.now.Add(time.Minute)

	attacker := f.browser()
	f.passwordStep(attacker, url.Values{}, f.issuer+MFAPath)
	for i := range MFACodeFailures + 1 {
		attacker.addr = fmt.Sprintf("198.51.100.%d:1", i+1)
		attacker.submit(MFAPath, url.Values{"method": {"recovery"}, "code": {"aaaa-bbbb-cccc"}})
	}
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	r := b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantCode(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Use your passkey, or wait 24 hours before entering a code again.")
	answer, err := a.Get(optionsOf(t, r.Body))
	if err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, b.submit(MFAPath, url.Values{"method": {"passkey"}, "credential": {string(answer)}}), f.issuer+authreq.AppsPath)
}

// TestStepUpRenewsTheSession: proving the second factor on a signed-in
// session replaces it with a new session, so a copy of the cookie taken
// while the session was password-only gains nothing.
func TestStepUpRenewsTheSession(t *testing.T) {
	cf, f := consoleWithMFA(t)
	b := cf.signedIn(rootEmail)
	secret, _ := f.enrolTOTP(b)
	// A session begun with the password alone after the enrolment (one
	// begun before it ended then).
	old := f.passwordOnly(rootID)
	stolen := old.jar[old.sessionName("ten_a")]
	requireMFAOfAdmins(t, cf.fixture)
	cf.now = cf.now.Add(time.Minute)
	wantRedirect(t, old.get("/console/"), cf.issuer+MFAPath+"?next=%2Fconsole%2F")
	wantRedirect(t, old.submit(MFAPath, url.Values{"next": {"/console/"}, "method": {"totp"},
		"code": {totpCode(t, secret, cf.now)}}), cf.issuer+"/console/")
	if s := f.storedSession(old); s == nil || !slices.Equal(s.Methods, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("the session after the step-up: %+v", s)
	}
	wantCode(t, old.get("/console/"), http.StatusOK)
	thief := cf.browser()
	thief.jar[thief.sessionName("ten_a")] = stolen
	if r := thief.get("/console/"); r.Code == http.StatusOK {
		t.Errorf("the cookie copied before the step-up opens the console after it")
	}
}

// TestWrongCodesCountWithOtherInstances: the wrong codes other instances
// counted for the user, in the database they share, use up the same
// limit. Past it this instance refuses at once, and the right code too.
func TestWrongCodesCountWithOtherInstances(t *testing.T) {
	ctx := context.Background()
	var shared ratelimit.Shared
	f := newMFAFixture(t, "http://id.test", func(c *Config) {
		shared = c.Accounts.(*countingRepo).Repository.(ratelimit.Shared)
		c.SharedFailures = &ratelimit.Pool{Store: shared}
	})
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)

	// Another instance saw all but one of the wrong codes allowed.
	key := ratelimit.SharedKey("mfa_code", "mfa-code:ten_a:"+anaID)
	for range MFACodeFailures - 1 {
		if _, _, err := shared.CountFailure(ctx, key, f.now, MFACodeWindow); err != nil {
			t.Fatal(err)
		}
	}
	attacker := f.browser()
	f.passwordStep(attacker, url.Values{}, f.issuer+MFAPath)
	wrong := wrongCode(t, secret, f.now)
	// The last one allowed is checked here; the next is past the total.
	wantCode(t, attacker.submit(MFAPath, url.Values{"method": {"totp"}, "code": {wrong}}), http.StatusBadRequest)
	attacker.addr = "198.51.100.9:1"
	r := attacker.submit(MFAPath, url.Values{"method": {"totp"}, "code": {wrong}})
	wantCode(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Too many wrong codes were entered for your account.")

	// Refused here from now on without a check, though this instance saw
	// only two wrong codes: the right code as well.
	f.passwordStep(b, url.Values{}, f.issuer+MFAPath)
	r = b.submit(MFAPath, url.Values{"method": {"totp"}, "code": {totpCode(t, secret, f.now)}})
	wantCode(t, r, http.StatusTooManyRequests)
	if f.storedSession(b) != nil {
		t.Error("the right code signed in past the limit the instances share")
	}
}
