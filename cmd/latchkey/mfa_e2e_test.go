package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestTenantsRequireAdminMFA sets and clears a tenant's admin MFA
// requirement from the command line, and finds the change in the
// tenant's audit trail: on SQLite, and on PostgreSQL when it is given.
func TestTenantsRequireAdminMFA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db database) {
		in := start(t, db, nil)
		out, code := in.cli(t, "tenants", "create", "--name", "Strict Corp", "--json")
		if code != 0 {
			t.Fatalf("tenants create: %d %s", code, out)
		}
		var strict tenantJSON
		if err := json.Unmarshal([]byte(out), &strict); err != nil || strict.RequireAdminMFA {
			t.Fatalf("tenants create printed %s (%v)", out, err)
		}
		out, code = in.cli(t, "tenants", "update", "strict-corp", "--require-admin-mfa=true", "--json")
		var got tenantJSON
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil || !got.RequireAdminMFA || got.ID != strict.ID {
			t.Fatalf("tenants update: %d %s", code, out)
		}
		out, code = in.cli(t, "tenants", "list", "--json")
		var list []tenantJSON
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].RequireAdminMFA || !list[1].RequireAdminMFA {
			t.Fatalf("tenants list: %d %s", code, out)
		}
		out, code = in.cli(t, "tenants", "update", strict.ID, "--require-admin-mfa=false")
		if code != 0 || !strings.Contains(out, "no longer require a second factor") {
			t.Errorf("turning it off by ID: %d %s", code, out)
		}
		for _, bad := range [][]string{
			{"tenants", "update", "strict-corp"},                                // nothing to change
			{"tenants", "update", "--require-admin-mfa=true"},                   // no tenant
			{"tenants", "update", "strict-corp", "--require-admin-mfa=perhaps"}, // not a bool
		} {
			if out, code := in.cli(t, bad...); code != 2 {
				t.Errorf("%v: exit %d, want 2 (%s)", bad, code, out)
			}
		}
		if out, code := in.cli(t, "tenants", "update", "nobody", "--require-admin-mfa=true"); code == 0 || !strings.Contains(out, `no tenant "nobody"`) {
			t.Errorf("an unknown tenant: %d %s", code, out)
		}
		out, code = in.cli(t, "audit", "export", "--since", "1h", "--tenant", "strict-corp")
		if code != 0 {
			t.Fatalf("audit export: %d %s", code, out)
		}
		var changes []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e struct {
				Action    string            `json:"action"`
				ActorKind string            `json:"actor_kind"`
				After     map[string]string `json:"after"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Action == "tenant.updated" {
				changes = append(changes, e.ActorKind+":"+e.After["require_admin_mfa"])
			}
		}
		if strings.Join(changes, ",") != "cli:true,cli:false" {
			t.Errorf("tenant.updated events in the tenant's trail: %v\n%s", changes, out)
		}
	})
}

// freeLoopbackPort returns a port free on 127.0.0.1 a moment ago. The
// passkey test needs the issuer's host to be a name (WebAuthn refuses IP
// addresses), so the issuer is set before the server listens.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestBrowserPasskey registers a passkey on the security page in
// headless Chromium, with the DevTools virtual authenticator, then signs
// out and in again with the password and the passkey: through the real
// binary, the real pages and their script, under the pages' CSP.
func TestBrowserPasskey(t *testing.T) {
	exe := chromium(t)
	s := newSandbox(t)
	port := freeLoopbackPort(t)
	issuer := "http://localhost:" + port
	srv := startBinary(t, s, "--addr", "127.0.0.1:"+port, "--issuer", issuer)
	if srv.issuer != issuer {
		t.Fatalf("the server's issuer is %q, want %q", srv.issuer, issuer)
	}
	const email, pw = "pat@example.com", "a passkey and a password"
	s.run(pw+"\n", "users", "create", "--email", email, "--name", "Pat", "--password-file", "-").expect(t, "users create", 0)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("no-proxy-server", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v; the browser shows %s", what, err, shown(bctx))
		}
	}
	var authenticator webauthn.AuthenticatorID
	step("adding a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{EnableUI: new(bool)}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true,
			}})
		authenticator = res.AuthenticatorID
		return err
	}))
	signIn := func() {
		t.Helper()
		step("signing in with the password",
			chromedp.Navigate(issuer+"/account/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Submit(chromedp.ID("password")),
		)
	}
	signIn()
	step("adding a passkey",
		chromedp.WaitVisible(chromedp.CSS("main h1")),
		chromedp.Navigate(issuer+"/account/security"),
		chromedp.WaitVisible(chromedp.ID("passkey-name")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Chromium"),
		chromedp.Click(chromedp.CSS(`button[value="passkey-begin"]`)),
		chromedp.WaitVisible(chromedp.ID("create-passkey")),
		chromedp.Click(chromedp.ID("create-passkey")),
		chromedp.WaitVisible(chromedp.CSS("ul.codes")),
	)
	checkA11y(t, bctx, "account-security-codes")
	page, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil || !strings.Contains(page, "Your passkey was added.") || !strings.Contains(page, "shown only this once") {
		t.Fatalf("after adding the passkey the page says (%v):\n%s", err, page)
	}
	step("reading the authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authenticator})
		if err != nil {
			return err
		}
		if len(res.Credentials) != 1 || res.Credentials[0].RpID != "localhost" {
			t.Errorf("the authenticator holds %+v, want one credential for localhost", res.Credentials)
		}
		return nil
	}))
	step("listing the passkey",
		chromedp.Navigate(issuer+"/account/security"),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Remove the passkey Chromium"]`)),
	)

	step("signing out",
		chromedp.Navigate(issuer+"/account/logout"),
		chromedp.WaitVisible(chromedp.CSS(`main button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`main button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main p[role="status"]`)),
	)
	signIn()
	step("waiting for the second factor", chromedp.WaitVisible(chromedp.ID("use-passkey")))
	checkA11y(t, bctx, "account-mfa")
	step("signing in with the passkey",
		chromedp.Click(chromedp.ID("use-passkey")),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Account"]`)),
	)
	where, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil || where != "/account/apps" {
		t.Errorf("after the passkey the browser is at %q (%v)", where, err)
	}

	// The session proved the password and the passkey; the passkey was
	// used once.
	dbh, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "latchkey.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer dbh.Close()
	var methods string
	if err := dbh.QueryRow(`SELECT methods FROM sessions ORDER BY created_at DESC LIMIT 1`).Scan(&methods); err != nil {
		t.Fatal(err)
	}
	if methods != `["pwd","hwk","mfa"]` {
		t.Errorf("the session's methods are %s", methods)
	}
	var used sql.NullInt64
	var count int64
	if err := dbh.QueryRow(`SELECT sign_count, last_used_at FROM passkeys WHERE name = 'Chromium'`).Scan(&count, &used); err != nil {
		t.Fatal(err)
	}
	if !used.Valid {
		t.Error("the passkey's last use was not recorded")
	}
}
