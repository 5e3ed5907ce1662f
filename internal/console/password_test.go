package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
)

// gateSession returns the stored session of the browser's cookie in
// ten_a, or nil when there is none.
func gateSession(t *testing.T, b *browser) *account.Session {
	t.Helper()
	value := b.jar[b.sessionName("ten_a")]
	if value == "" {
		return nil
	}
	s, err := b.f.db.SessionByHash(context.Background(), account.HashValue(value))
	if err != nil {
		return nil
	}
	return s
}

// gateRepo fails what a test sets, over the repository it wraps.
type gateRepo struct {
	account.Repository
	touch, tx, user error
	// beforeTx, when set, runs once before the next transaction.
	beforeTx func()
}

func (r *gateRepo) TouchSession(ctx context.Context, id string, at time.Time) error {
	if r.touch != nil {
		return r.touch
	}
	return r.Repository.TouchSession(ctx, id, at)
}

func (r *gateRepo) InAccountTx(ctx context.Context, fn func(account.Tx) error) error {
	if hook := r.beforeTx; hook != nil {
		r.beforeTx = nil
		hook()
	}
	if r.tx != nil {
		return r.tx
	}
	return r.Repository.InAccountTx(ctx, fn)
}

func (r *gateRepo) User(ctx context.Context, id string) (*account.User, error) {
	if r.user != nil {
		return nil, r.user
	}
	return r.Repository.User(ctx, id)
}

func withoutText(t *testing.T, r *response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(r.Body, p) {
			t.Errorf("body holds %q:\n%s", p, r.Body)
		}
	}
}

// A console session idle for more than 15 minutes ends: the next console
// request clears its cookie, ends it in the store, and sends the browser
// to sign in with a notice, to come back to the page it asked for. A
// request within the limit keeps it alive, and counts as activity.
func TestConsoleIdleTimeout(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	start := cf.now

	cf.now = start.Add(15*time.Minute - time.Second)
	wantStatus(t, root.get("/console/clients"), http.StatusOK)
	if s := gateSession(t, root); s == nil || !s.LastSeenAt.Equal(cf.now) {
		t.Fatalf("the session after a request at 14m59s: %+v", s)
	}
	// Within a minute of the last write, a request writes nothing.
	seen := cf.now
	cf.now = seen.Add(30 * time.Second)
	wantStatus(t, root.get("/console/"), http.StatusOK)
	if s := gateSession(t, root); s == nil || !s.LastSeenAt.Equal(seen) {
		t.Fatalf("a request 30s after the last write moved it: %+v", s)
	}

	// 15 minutes and a second after the last recorded activity: signed out.
	value := root.jar[root.sessionName("ten_a")]
	cf.now = seen.Add(15*time.Minute + time.Second)
	r := root.get("/console/clients?status=active")
	wantRedirect(t, r, cf.issuer+"/account/login?next=%2Fconsole%2Fclients%3Fstatus%3Dactive&reason=idle")
	if c := r.cookie(root.sessionName("ten_a")); c == nil || c.MaxAge >= 0 {
		t.Errorf("the session cookie was not cleared: %+v", c)
	}
	if _, err := cf.db.SessionByHash(context.Background(), account.HashValue(value)); err == nil {
		t.Error("the idle session is still stored")
	}
	login := root.get(r.Header.Get("Location")[len(cf.issuer):])
	wantStatus(t, login, http.StatusOK)
	wantBody(t, login, `<p class="notice" role="status">You were signed out after 15 minutes without activity.</p>`,
		`name="next" value="/console/clients?status=active"`)
	checkAccessible(t, login.Body)
	// Only the idle sign-out shows it.
	withoutText(t, cf.browser().get("/account/login"), "without activity")

	// Signing in again brings the browser back to where it was.
	r = root.submit("/account/login", url.Values{"email": {rootEmail}, "password": {password},
		"next": {"/console/clients?status=active"}})
	wantRedirect(t, r, "http://latchkey.test/console/clients?status=active")
	wantStatus(t, root.get("/console/clients?status=active"), http.StatusOK)

	// A form posted after the limit goes to sign in, to the console's start.
	cf.now = cf.now.Add(16 * time.Minute)
	r = root.post("/console/audit/verify", nil)
	wantRedirect(t, r, cf.issuer+"/account/login?next=%2Fconsole%2F&reason=idle")
	if gateSession(t, root) != nil {
		t.Error("an idle POST left the session")
	}
}

// The account pages keep only a session's absolute expiry: however long
// idle, they still know the browser.
func TestAccountPagesHaveNoIdleTimeout(t *testing.T) {
	cf := newConsoleFixture(t)
	ana := cf.signedIn(anaEmail)
	cf.now = cf.now.Add(3 * time.Hour)
	wantStatus(t, ana.get("/account/apps"), http.StatusOK)
	if gateSession(t, ana) == nil {
		t.Error("an account page ended an idle session")
	}
}

// The idle limit is a setting: a longer one keeps a session a quarter of
// an hour idle, and the notice names its minutes; New refuses one too
// short to be kept to.
func TestConsoleIdleSetting(t *testing.T) {
	cf := newConsoleFixture(t, func(c *Config) { c.ConsoleIdle = 20 * time.Minute })
	root := cf.signedIn(rootEmail)
	cf.now = cf.now.Add(15*time.Minute + time.Second)
	wantStatus(t, root.get("/console/"), http.StatusOK)
	cf.now = cf.now.Add(20*time.Minute + time.Second)
	r := root.get("/console/")
	wantRedirect(t, r, cf.issuer+"/account/login?next=%2Fconsole%2F&reason=idle")
	wantBody(t, root.get(r.Header.Get("Location")[len(cf.issuer):]), "signed out after 20 minutes without activity")

	for _, d := range []time.Duration{time.Minute, -time.Second} {
		if _, err := New(Config{Sessions: cf.sessions, Accounts: cf.repo, Requests: cf.sealer, ConsoleIdle: d,
			Client: cf.pages.cfg.Client, Tenant: cf.pages.cfg.Tenant}); err == nil {
			t.Errorf("New took a console idle limit of %v", d)
		}
	}
	for limit, want := range map[time.Duration]string{time.Hour: "60 minutes", 2 * time.Minute: "2 minutes",
		90 * time.Second: "2 minutes", time.Minute: "1 minute"} {
		if got := idleNotice(limit); !strings.Contains(got, "after "+want+" without") {
			t.Errorf("idleNotice(%v) = %q, want %s", limit, got, want)
		}
	}
}

// A store failing while the gate records a session's activity, or ends
// an idle one, is the 500 page, never a way in.
func TestConsoleGateStoreFailures(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	wantStatus(t, root.get("/console/"), http.StatusOK)
	fail := &gateRepo{Repository: cf.sessions.Repo, touch: errStore}
	cf.sessions.Repo = fail
	cf.now = cf.now.Add(2 * time.Minute) // a touch is due
	r := root.get("/console/")
	wantStatus(t, r, http.StatusInternalServerError)
	withoutText(t, r, "errStore", errStore.Error())

	fail.touch, fail.tx = nil, errStore
	cf.now = cf.now.Add(time.Hour)
	wantStatus(t, root.get("/console/"), http.StatusInternalServerError)
	fail.tx = nil
	if gateSession(t, root) == nil {
		t.Fatal("the session ended though the store failed")
	}
	wantRedirect(t, root.get("/console/"), cf.issuer+"/account/login?next=%2Fconsole%2F&reason=idle")
}

// requirePasswordChange marks root as given a password by someone else,
// as an admin setting it does.
func requirePasswordChange(t *testing.T, cf *consoleFixture) {
	t.Helper()
	if err := cf.admin.Users.SetPassword(context.Background(), system, rootID, password); err != nil {
		t.Fatal(err)
	}
}

const chosenPassword = "a passphrase of my very own"

// A user whose password someone else chose is sent to change it before
// any console page, and comes back to the page they asked for after; the
// browser that changed it stays signed in, the user's other sessions end.
func TestForcedPasswordChange(t *testing.T) {
	cf := newConsoleFixture(t)
	requirePasswordChange(t, cf)
	root := cf.signedIn(rootEmail)
	other := cf.signedIn(rootEmail)

	r := root.get("/console/clients?q=billing")
	wantRedirect(t, r, cf.issuer+"/account/password?next=%2Fconsole%2Fclients%3Fq%3Dbilling")
	wantRedirect(t, root.post("/console/audit/verify", nil), cf.issuer+"/account/password?next=%2Fconsole%2F")
	page := root.get("/account/password?next=%2Fconsole%2Fclients%3Fq%3Dbilling")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "<h1>Change your password</h1>", "Your password was set for you",
		`name="next" value="/console/clients?q=billing"`, `autocomplete="current-password"`, `autocomplete="new-password"`)
	checkAccessible(t, page.Body)

	r = root.submit("/account/password", url.Values{"current_password": {password}, "new_password": {chosenPassword},
		"confirm_password": {chosenPassword}, "next": {"/console/clients?q=billing"}})
	wantRedirect(t, r, "http://latchkey.test/console/clients?q=billing")
	wantStatus(t, root.get("/console/clients?q=billing"), http.StatusOK)
	if gateSession(t, other) != nil {
		t.Error("the user's other session survived the change")
	}
	u, err := cf.db.UserByEmail(context.Background(), "ten_a", rootEmail)
	if err != nil || u.PasswordChangeRequired {
		t.Fatalf("root after the change: %+v, %v", u, err)
	}
	if _, err := cf.sessions.CheckPassword(context.Background(), "ten_a", rootEmail, chosenPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	es := cf.fixture.events("ten_a", 0)
	if e := es[len(es)-1]; e.Action != account.ActionPasswordChanged || e.ActorID != rootID || e.SourceAddr != "192.0.2.10" {
		t.Errorf("the last event: %+v", e)
	}
	noText(t, es, chosenPassword, password)
	// Without the flag, the form says nothing of it.
	withoutText(t, root.get("/account/password"), "was set for you")
}

// After a change, only a local console or account page is followed;
// anything else goes to the console's start.
func TestPasswordChangeNext(t *testing.T) {
	for _, next := range []string{"", "//evil.example/console/", "https://evil.example/console/", "/other", "/console/../admin",
		"/t/beta/console/", "javascript:alert(1)"} {
		t.Run(next, func(t *testing.T) {
			cf := newConsoleFixture(t)
			requirePasswordChange(t, cf)
			root := cf.signedIn(rootEmail)
			r := root.submit("/account/password", url.Values{"current_password": {password}, "new_password": {chosenPassword},
				"confirm_password": {chosenPassword}, "next": {next}})
			wantRedirect(t, r, cf.issuer+"/console/")
		})
	}
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	r := root.submit("/account/password", url.Values{"current_password": {password}, "new_password": {chosenPassword},
		"confirm_password": {chosenPassword}, "next": {"/account/apps"}})
	wantRedirect(t, r, "http://latchkey.test/account/apps")
}

// The password form's refusals: each names its field, keeps where to go
// next, shows back no password, and changes nothing.
func TestPasswordChangeRefusals(t *testing.T) {
	cf := newConsoleFixture(t)
	requirePasswordChange(t, cf)
	root := cf.signedIn(rootEmail)
	post := func(current, fresh, confirm string) *response {
		t.Helper()
		return root.submit("/account/password", url.Values{"current_password": {current}, "new_password": {fresh},
			"confirm_password": {confirm}, "next": {"/console/users"}})
	}
	cases := []struct {
		name                  string
		current, fresh, again string
		want                  []string
	}{
		{"wrong current password", "not my password at all", chosenPassword, chosenPassword,
			[]string{`id="current_password-error">This is not your current password.`, `aria-describedby="current_password-error"`}},
		{"the new ones differ", password, chosenPassword, chosenPassword + "!",
			[]string{`id="confirm_password-error">The two new passwords differ`, `aria-describedby="confirm_password-error"`}},
		{"a short new password", password, "short", "short", []string{`id="new_password-error">The new password must be at least 12 characters.`}},
		{"the same password", password, password, password, []string{`must differ from your current password`}},
		{"nothing typed", "", "", "", []string{"Enter your current password.", "Enter a new password."}},
	}
	for _, tc := range cases {
		r := post(tc.current, tc.fresh, tc.again)
		wantStatus(t, r, http.StatusBadRequest)
		wantBody(t, r, append(tc.want, `name="next" value="/console/users"`, "The password was not changed")...)
		withoutText(t, r, `value="`+chosenPassword, `value="`+password, `value="not my password`)
		checkAccessible(t, r.Body)
	}
	u, err := cf.db.UserByEmail(context.Background(), "ten_a", rootEmail)
	if err != nil || !u.PasswordChangeRequired {
		t.Fatalf("a refused change changed root: %+v, %v", u, err)
	}
	wantRedirect(t, root.get("/console/"), cf.issuer+"/account/password?next=%2Fconsole%2F")

	// Without the form's token, or from another site: refused.
	form := url.Values{"current_password": {password}, "new_password": {chosenPassword}, "confirm_password": {chosenPassword}}
	wantStatus(t, root.do(http.MethodPost, "/account/password", form), http.StatusForbidden)
	form.Set(csrfField, root.token())
	wantStatus(t, root.do(http.MethodPost, "/account/password", form, "Origin", "https://evil.example"), http.StatusForbidden)
	if u, _ := cf.db.UserByEmail(context.Background(), "ten_a", rootEmail); !u.PasswordChangeRequired {
		t.Error("a forged change went through")
	}

	// Signed out: the form sends the browser to sign in, to come back.
	anon := cf.browser()
	wantRedirect(t, anon.get("/account/password?next=%2Fconsole%2Fusers"),
		cf.issuer+"/account/login?next=%2Faccount%2Fpassword%3Fnext%3D%252Fconsole%252Fusers")
	wantRedirect(t, anon.submit("/account/password", form), cf.issuer+"/account/login?next=%2Faccount%2Fpassword")
	wantStatus(t, root.do(http.MethodPut, "/account/password", nil), http.StatusMethodNotAllowed)
}

// Wrong current passwords count against the sign-in's limits: past
// them the form answers 429 without checking, and the right password
// waits for the window to pass.
func TestPasswordChangeRateLimited(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	wrong := url.Values{"current_password": {"not my password at all"}, "new_password": {chosenPassword}, "confirm_password": {chosenPassword}}
	for range DefaultLoginFailures {
		wantStatus(t, root.submit("/account/password", wrong), http.StatusBadRequest)
	}
	right := url.Values{"current_password": {password}, "new_password": {chosenPassword}, "confirm_password": {chosenPassword}}
	r := root.submit("/account/password", right)
	wantStatus(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Too many wrong passwords")
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// A mistake in the new password alone costs no try.
	cf.now = cf.now.Add(DefaultLoginWindow + time.Second)
	root = cf.signedIn(rootEmail)
	for range DefaultLoginFailures + 1 {
		wantStatus(t, root.submit("/account/password", url.Values{"current_password": {password}, "new_password": {password},
			"confirm_password": {password}}), http.StatusBadRequest)
	}
	wantRedirect(t, root.submit("/account/password", right), cf.issuer+"/console/")
}

// A store failing under the form is the 500 page, a password changed
// meanwhile is asked for again, and a user removed meanwhile is sent to
// sign in; none changes the password.
func TestPasswordChangeFailures(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	form := func() url.Values {
		return url.Values{"current_password": {password}, "new_password": {chosenPassword}, "confirm_password": {chosenPassword}}
	}
	fail := &gateRepo{Repository: cf.admin.Users.Repo, tx: errStore}
	cf.admin.Users.Repo = fail
	r := root.submit("/account/password", form())
	wantStatus(t, r, http.StatusInternalServerError)
	withoutText(t, r, errStore.Error())

	fail.tx, fail.user = nil, account.ErrNotFound
	wantRedirect(t, root.submit("/account/password", form()), cf.issuer+"/account/login")

	fail.user = nil
	fail.beforeTx = func() {
		// The same password again, set by the system: a new hash.
		other := &account.Users{Repo: cf.db, Now: cf.admin.Users.Now, Hash: cheap}
		if err := other.SetPassword(context.Background(), system, rootID, password); err != nil {
			t.Error(err)
		}
	}
	r = root.submit("/account/password", form())
	wantStatus(t, r, http.StatusConflict)
	wantBody(t, r, "Your password was changed while you typed.")
	if _, err := cf.sessions.CheckPassword(context.Background(), "ten_a", rootEmail, password); err != nil {
		t.Errorf("a failed change changed the password: %v", err)
	}
}
