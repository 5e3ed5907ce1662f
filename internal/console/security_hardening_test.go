package console

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/account/passkeytest"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// passwordOnly returns a browser holding a session of userID begun on the
// password alone, as one begun while the user's first factor was being
// set up would be: the sign-in page starts none for a user with a factor.
func (f *mfaFixture) passwordOnly(userID string) *browser {
	f.t.Helper()
	ctx := context.Background()
	u, err := f.db.User(ctx, userID)
	if err != nil {
		f.t.Fatal(err)
	}
	value, _, err := f.sessions.Start(ctx, u, "", "192.0.2.10")
	if err != nil {
		f.t.Fatal(err)
	}
	b := f.browser()
	b.jar[b.sessionName("ten_a")] = value
	return b
}

// signInWithCode signs b in as email with the password and the
// authenticator app's code now, going on to next, and checks it landed
// there.
func (f *mfaFixture) signInWithCode(b *browser, email, secret, next string) {
	f.t.Helper()
	wantRedirect(f.t, b.submit("/account/login", url.Values{"email": {email}, "password": {password}, nextParam: {next}}),
		f.issuer+MFAPath+"?"+url.Values{nextParam: {next}}.Encode())
	wantRedirect(f.t, b.submit(MFAPath, url.Values{nextParam: {next}, "method": {"totp"}, "code": {totpCode(f.t, secret, f.now)}}),
		f.issuer+next)
}

var signInAgainRE = regexp.MustCompile(`<a href="([^"]+)">Sign in again</a>`)

// The password page, like the security page, sends a session that has
// not proved the user's second factor to prove it first: a change of
// password ends the user's other sessions, so a password-only session
// could otherwise take the account over.
func TestPasswordPageAsksForTheSecondFactor(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	f.now = f.now.Add(time.Minute)
	old := f.passwordOnly(anaID)

	wantRedirect(t, old.get(SecurityPath), f.issuer+MFAPath+"?next=%2Faccount%2Fsecurity")
	wantRedirect(t, old.get(PasswordPath), f.issuer+MFAPath+"?next=%2Faccount%2Fpassword")
	fresh := "an entirely new passphrase 42"
	r := old.submit(PasswordPath, url.Values{fieldCurrent: {password}, fieldNew: {fresh}, fieldConfirm: {fresh}})
	wantRedirect(t, r, f.issuer+MFAPath+"?next=%2Faccount%2Fpassword")
	if _, err := f.sessions.CheckPassword(ctx, "ten_a", anaEmail, password); err != nil {
		t.Errorf("the password changed from a password-only session: %v", err)
	}
	if f.storedSession(b) == nil {
		t.Error("the session that proved the factor was ended")
	}

	// Once the factor is proved, the page is the user's.
	wantRedirect(t, old.submit(MFAPath, url.Values{nextParam: {PasswordPath}, "method": {"totp"},
		"code": {totpCode(t, secret, f.now)}}), f.issuer+PasswordPath)
	wantCode(t, old.get(PasswordPath), http.StatusOK)
}

// Setting up a first second factor ends the user's other sessions, all
// begun on the password alone, and keeps the one that set it up; a later
// factor leaves the sessions that proved the first alone.
func TestFirstFactorEndsOtherSessions(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	other := f.browser()
	other.signIn(anaEmail)
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)

	if s := f.storedSession(other); s != nil {
		t.Errorf("a password-only session outlived the first factor: %+v", s)
	}
	wantRedirect(t, other.get(SecurityPath), f.issuer+authreq.LoginPath+"?next=%2Faccount%2Fsecurity")
	if f.storedSession(b) == nil {
		t.Fatal("the session that set up the factor was ended")
	}

	f.now = f.now.Add(time.Minute)
	proved := f.browser()
	f.signInWithCode(proved, anaEmail, secret, authreq.AppsPath)
	wantRedirect(t, addPasskey(t, b, passkeytest.New("http://id.test"), "Phone"), f.issuer+SecurityPath+"?done=passkey")
	if f.storedSession(proved) == nil {
		t.Error("a second factor ended a session that had proved the first")
	}
}

// The security and password pages hold a session of a user who may use
// the console to the console's idle limit: idle past it, the session ends
// there as in the console, and nothing is changed. Their requests count
// as activity; a user without console access is not held to it.
func TestIdleAdminSessionCannotChangeSignIn(t *testing.T) {
	ctx := context.Background()
	cf, f := consoleWithMFA(t)
	b := cf.signedIn(rootEmail)
	secret, _ := f.enrolTOTP(b)
	cf.now = cf.now.Add(time.Minute)
	c := cf.browser()
	f.signInWithCode(c, rootEmail, secret, "/console/")
	ana := cf.signedIn(anaEmail)

	// Ten minutes on the account pages, then the console: still active.
	cf.now = cf.now.Add(10 * time.Minute)
	wantCode(t, b.get(SecurityPath), http.StatusOK)
	wantCode(t, c.get(PasswordPath), http.StatusOK)
	cf.now = cf.now.Add(10 * time.Minute)
	wantCode(t, b.get("/console/"), http.StatusOK)
	wantCode(t, c.get("/console/"), http.StatusOK)

	cf.now = cf.now.Add(DefaultConsoleIdle + 5*time.Minute) // the admin walked away
	r := b.submit(SecurityPath, url.Values{"action": {"codes-regenerate"}})
	wantRedirect(t, r, cf.issuer+"/account/login?next=%2Faccount%2Fsecurity&reason=idle")
	if codeRE.MatchString(r.Body) {
		t.Error("an idle session was shown new recovery codes")
	}
	if f.storedSession(b) != nil {
		t.Error("the idle session is still stored")
	}
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-remove"}}),
		cf.issuer+authreq.LoginPath+"?next=%2Faccount%2Fsecurity")
	if has, _ := f.mfa.HasFactor(ctx, rootID); !has {
		t.Error("a session idle past the console's limit removed the admin's authenticator app")
	}
	wantRedirect(t, c.get(PasswordPath), cf.issuer+"/account/login?next=%2Faccount%2Fpassword&reason=idle")

	wantCode(t, ana.get(SecurityPath), http.StatusOK)
}

// Removing the authenticator app or a passkey, or making new recovery
// codes, needs a session begun less than RecentSignIn ago. An older one
// ends, and the page says to sign in again, with a link back to the
// security page; the factor and the codes stay. Cancelling a setup never
// confirmed needs no recent sign-in.
func TestRemovingAFactorNeedsARecentSignIn(t *testing.T) {
	ctx := context.Background()
	for _, action := range []string{"totp-remove", "passkey-remove", "codes-regenerate"} {
		t.Run(action, func(t *testing.T) {
			f := newMFAFixture(t, "http://id.test")
			b := f.browser()
			b.signIn(anaEmail)
			f.enrolTOTP(b)
			f.now = f.now.Add(time.Second)
			wantRedirect(t, addPasskey(t, b, passkeytest.New("http://id.test"), "Phone"), f.issuer+SecurityPath+"?done=passkey")
			passkeys, err := f.db.Passkeys(ctx, anaID)
			if err != nil || len(passkeys) != 1 {
				t.Fatalf("passkeys %v %v", passkeys, err)
			}

			f.now = f.now.Add(11 * time.Hour) // the session is still alive
			r := b.submit(SecurityPath, url.Values{"action": {action}, "id": {passkeys[0].ID}})
			wantCode(t, r, http.StatusForbidden)
			wantBody(t, r, "<h1>Sign in again to go on</h1>", "less than 15 minutes old",
				`<a href="/account/login?next=%2Faccount%2Fsecurity">Sign in again</a>`)
			checkAccessible(t, r.Body)
			if codeRE.MatchString(r.Body) {
				t.Error("new recovery codes were shown")
			}
			if c := r.cookie(b.sessionName("ten_a")); c == nil || c.MaxAge >= 0 {
				t.Errorf("the session cookie was not cleared: %+v", c)
			}
			if f.storedSession(b) != nil {
				t.Error("the session is still stored")
			}
			fs, err := f.mfa.Factors(ctx, anaID)
			if err != nil {
				t.Fatal(err)
			}
			if !fs.TOTP.Active() || len(fs.Passkeys) != 1 || fs.RecoveryCodesLeft != account.RecoveryCodeCount {
				t.Errorf("a session begun 11 hours ago changed the factors: %+v", fs)
			}
		})
	}

	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-begin"}}), f.issuer+SecurityPath)
	f.now = f.now.Add(time.Hour)
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-remove"}}), f.issuer+SecurityPath+"?done=totp-removed")
}

// An admin whose session is kept active is still asked to sign in again
// once the sign-in is older than RecentSignIn.
func TestActiveAdminNeedsARecentSignIn(t *testing.T) {
	cf, f := consoleWithMFA(t)
	b := cf.signedIn(rootEmail)
	f.enrolTOTP(b)
	for range 3 {
		cf.now = cf.now.Add(10 * time.Minute)
		wantCode(t, b.get("/console/"), http.StatusOK)
	}
	wantCode(t, b.submit(SecurityPath, url.Values{"action": {"totp-remove"}}), http.StatusForbidden)
	if has, _ := f.mfa.HasFactor(context.Background(), rootID); !has {
		t.Error("a sign-in 30 minutes old removed the admin's authenticator app")
	}
}

// Signing in again from the link of that page, with the second factor,
// comes back to the security page with a new session, which may then
// remove the factor.
func TestSignInAgainThenRemoveFactor(t *testing.T) {
	f := newMFAFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	secret, _ := f.enrolTOTP(b)
	f.now = f.now.Add(time.Hour)
	r := b.submit(SecurityPath, url.Values{"action": {"totp-remove"}})
	m := signInAgainRE.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no link to sign in again: %d\n%s", r.Code, r.Body)
	}

	login := b.get(html.UnescapeString(m[1]))
	wantCode(t, login, http.StatusOK)
	wantBody(t, login, `name="next" value="/account/security"`)
	f.signInWithCode(b, anaEmail, secret, SecurityPath)
	if s := f.storedSession(b); s == nil || !s.AuthTime.Equal(f.now) {
		t.Fatalf("the session after signing in again: %+v", s)
	}
	wantRedirect(t, b.submit(SecurityPath, url.Values{"action": {"totp-remove"}}), f.issuer+SecurityPath+"?done=totp-removed")
	if has, _ := f.mfa.HasFactor(context.Background(), anaID); has {
		t.Error("a fresh sign-in could not remove the authenticator app")
	}
}
