package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestAccountPagesAccessible walks a user through the account pages in
// headless Chromium (sign-in, the sign-in refused, consent, Authorized
// applications, sign-out and signed out) and on each one runs axe-core,
// which must find no serious or critical violation, and checks that the
// page logged no error and broke no CSP rule. The main ones are
// screenshotted at desktop and phone width (account-login,
// account-consent, account-apps).
func TestAccountPagesAccessible(t *testing.T) {
	// Skip (fail in CI) before starting anything when a tool is missing.
	chromium(t)
	readAxe(t, axeFile(t))
	c := newChromium(t)
	s := newSandbox(t)
	srv := startBinary(t, s)
	s.run(oidcUserPassword+"\n", "users", "create", "--email", oidcUserEmail, "--name", oidcUserName,
		"--password-file", "-").expect(t, "users create", 0)
	cb := newCallback(t)
	site := &oidcSite{s: s, srv: srv, issuer: srv.issuer}
	clientID := site.createClient(t, "--name", "Recipe Box", "--description", "Keeps your recipes.",
		"--public", "--require-consent", "--grant-type", "authorization_code", "--redirect-uri", "http://127.0.0.1/cb",
		"--scope", "openid", "--scope", "profile", "--scope", "email").ID

	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, srv.issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: clientID, Endpoint: provider.Endpoint(), RedirectURL: cb.url,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}

	check := func(name string, shots bool) {
		t.Helper()
		c.checkScreen(t, name, shots)
	}

	c.step(t, "opening the authorization URL",
		chromedp.Navigate(authURL(cfg, oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier())),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	check("account-login", true)

	c.step(t, "signing in with the wrong password",
		chromedp.SendKeys(chromedp.ID("email"), oidcUserEmail),
		loadAfter(chromedp.SendKeys(chromedp.ID("password"), "not the password"+kb.Enter)),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	)
	check("account-login-refused", false)

	c.signIn(t, oidcUserEmail, oidcUserPassword)
	c.step(t, "waiting for the consent page", chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)))
	check("account-consent", true)

	c.step(t, "approving",
		loadAfter(chromedp.Click(chromedp.CSS(`button[value="approve"]`))),
		chromedp.WaitVisible(chromedp.ID("done")),
	)
	c.step(t, "opening Authorized applications",
		chromedp.Navigate(srv.issuer+"/account/apps"),
		chromedp.WaitVisible(chromedp.CSS(".app")),
	)
	if apps := stepValue(t, c, "reading the applications", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(apps, "Recipe Box") {
		t.Errorf("Authorized applications does not list the application just approved:\n%s", apps)
	}
	check("account-apps", true)

	c.step(t, "opening Sign out",
		chromedp.Click(chromedp.CSS(`nav a[href$="/account/logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/account/logout"] button`)),
	)
	check("account-logout", false)
	c.step(t, "signing out",
		loadAfter(chromedp.Click(chromedp.CSS(`form[action$="/account/logout"] button`))),
		chromedp.WaitVisible(chromedp.CSS(`main [role="status"]`)),
	)
	check("account-signedout", false)
}

// TestCheckA11yFindsViolations proves the accessibility check can fail:
// on a page with an image without a text alternative, an unlabelled
// field and text too faint to read, served with the pages' strict CSP,
// axe-core runs (the CSP does not stop it, and it breaks no rule of it)
// and reports each as serious or critical, naming the element.
func TestCheckA11yFindsViolations(t *testing.T) {
	chromium(t)
	script := readAxe(t, axeFile(t))
	c := newChromium(t)
	srv := harnessPages(t)

	run := func() []axeViolation {
		t.Helper()
		ctx, cancel := context.WithTimeout(c.ctx, 2*stepTimeout)
		defer cancel()
		vs, err := axeRun(ctx, script)
		if err != nil {
			t.Fatalf("axe-core: %v", err)
		}
		return vs
	}

	c.step(t, "opening the inaccessible page", chromedp.Navigate(srv.URL+"/inaccessible"), chromedp.WaitVisible(chromedp.ID("ready")))
	found := map[string]axeViolation{}
	for _, v := range run() {
		found[v.ID] = v
	}
	for id, html := range map[string]string{
		"image-alt":      `<img src="/pixel.png">`,
		"label":          `<input type="text" name="q">`,
		"color-contrast": `<p class="faint" id="ready">`,
	} {
		v, ok := found[id]
		switch {
		case !ok:
			t.Errorf("axe-core did not report %s; it found %v", id, found)
		case !v.serious():
			t.Errorf("%s is %q, not serious or critical", id, v.Impact)
		case !strings.Contains(v.String(), html) || v.Help == "":
			t.Errorf("the report of %s does not say what and where:\n%s", id, v)
		}
	}
	c.expectQuiet(t, "axe-core on the inaccessible page")

	c.step(t, "opening the quiet page", chromedp.Navigate(srv.URL+"/quiet"), chromedp.WaitVisible(chromedp.ID("ready")))
	for _, v := range run() {
		if v.serious() {
			t.Errorf("on a correct page, axe-core reports %s", v)
		}
	}
	checkA11y(t, c.ctx, "quiet")
	c.expectQuiet(t, "axe-core on the quiet page")
}
