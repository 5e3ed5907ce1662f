package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The console's admin in the browser tests.
const (
	consoleAdminEmail    = "ops@example.com"
	consoleAdminPassword = "a console passphrase, long enough"
)

// xssName is a client name that would run as script wherever the console
// failed to escape it.
const xssName = `<script>alert(1)</script>`

// TestConsoleScreens drives the console in headless Chromium as an admin
// would, against the binary: signing in, the dashboard, the client list
// (search, the status filter, sorting, paging and a hostile name shown
// as text), creating a service client from its template, copying the
// secret from the secret panel (whose Close works only once the box is
// ticked, and which a reload never shows again), using that secret at
// the token endpoint with golang.org/x/oauth2, rotating with a grace
// period (both secrets work, then the old one, revoked, does not),
// revoking the client, the users and audit pages, and the admin's own
// security and password pages. Every screen is
// checked with axe-core and for console errors and CSP breaches; the
// main ones are screenshotted at desktop and phone width.
func TestConsoleScreens(t *testing.T) {
	chromium(t)
	readAxe(t, axeFile(t))
	c := newChromium(t)
	s := newSandbox(t)
	srv := startBinary(t, s)
	s.run(consoleAdminPassword+"\n", "users", "create", "--email", consoleAdminEmail, "--name", "Olivia Ops",
		"--role", "super_admin", "--password-file", "-").expect(t, "users create", 0)
	site := &oidcSite{s: s, srv: srv, issuer: srv.issuer}
	for _, name := range []string{"Billing Export", "Reports Nightly", "Audit Shipper", xssName} {
		site.createClient(t, "--name", name, "--grant-type", "client_credentials", "--description", "Made for the console's test.")
	}
	site.createClient(t, "--name", "Legacy Sync", "--grant-type", "client_credentials", "--inactive")
	site.createClient(t, "--name", "Partner Feed", "--grant-type", "client_credentials", "--secret-expires", "20d")

	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, srv.issuer)
	if err != nil {
		t.Fatal(err)
	}
	tokenURL := provider.Endpoint().TokenURL
	console := srv.issuer + "/console"

	check := func(name string, shots bool) {
		t.Helper()
		c.checkScreen(t, name, shots)
	}

	// Signing in: the console sends a signed-out admin to the account
	// sign-in, which brings them back.
	c.step(t, "opening the console signed out", chromedp.Navigate(console+"/"), chromedp.WaitVisible(chromedp.CSS(signInPage)))
	c.signIn(t, consoleAdminEmail, consoleAdminPassword)
	c.step(t, "waiting for the dashboard", chromedp.WaitVisible(chromedp.ID("status-cards")))
	if got := stepValue(t, c, "reading the address", chromedp.Location()); got != console+"/" {
		t.Errorf("signing in led to %s, want the console's start %s/", got, console)
	}
	cards := c.text(t, "#status-cards")
	if n := c.count(t, "svg"); n < 2 {
		t.Errorf("the dashboard draws %d charts, want the two", n)
	}
	if got := c.text(t, "#expiry-banner"); got != "1 client secret expires within 30 days." {
		t.Errorf("the dashboard's banner reads %q", got)
	}
	check("console-dashboard", true)
	c.step(t, "following the banner", loadAfter(chromedp.Click(chromedp.CSS("#expiry-banner a"))), chromedp.WaitVisible(chromedp.ID("clients-table")))
	if got := c.names(t); !slices.Equal(got, []string{"Partner Feed"}) {
		t.Errorf("the banner's list shows %q, want the client whose secret expires soon", got)
	}

	// The list, and a name that is script anywhere it is not escaped.
	c.step(t, "opening the client list", chromedp.Navigate(console+"/clients"), chromedp.WaitVisible(chromedp.ID("clients-table")))
	// The fleet: the six made here and the ones Latchkey made itself.
	all := c.names(t)
	for _, want := range []string{"Billing Export", "Reports Nightly", "Audit Shipper", xssName, "Legacy Sync", "Partner Feed"} {
		if !slices.Contains(all, want) {
			t.Errorf("the list %q does not show %q", all, want)
		}
	}
	// One of them inactive, the others active.
	if want := fmt.Sprintf("%d\nAll clients\n%d\nActive\n1\nInactive\n0\nRevoked", len(all), len(all)-1); cards != want {
		t.Errorf("the dashboard's counts read %q, want %q", cards, want)
	}
	if n := c.count(t, "script:not([src])"); n != 0 {
		t.Errorf("the list has %d inline scripts: a name was not escaped", n)
	}
	check("console-clients", true)

	// Live search: typing narrows the list without a submit.
	c.step(t, "searching by name",
		chromedp.SendKeys(chromedp.ID("q"), "nightly"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#clients-table tbody tr").length === 1`),
	)
	if got := c.names(t); len(got) != 1 || got[0] != "Reports Nightly" {
		t.Errorf("searching for %q shows %q", "nightly", got)
	}
	if loc := stepValue(t, c, "reading the address", chromedp.Location()); !strings.Contains(loc, "q=nightly") {
		t.Errorf("the address %s does not keep the search", loc)
	}
	// The status filter (a change applies it).
	c.step(t, "filtering by status",
		chromedp.Navigate(console+"/clients"), chromedp.WaitVisible(chromedp.ID("clients-table")),
		chromedp.SetValue(chromedp.ID("status"), "inactive"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("status").dispatchEvent(new Event("change", {bubbles: true}))`),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#clients-table tbody tr").length === 1`),
	)
	if got := c.names(t); len(got) != 1 || got[0] != "Legacy Sync" {
		t.Errorf("the Inactive filter shows %q", got)
	}
	// Sorting by name, one way and the other, by the column's header.
	c.step(t, "sorting by name",
		chromedp.Navigate(console+"/clients"), chromedp.WaitVisible(chromedp.ID("clients-table")),
		loadAfter(chromedp.Click(chromedp.CSS(`a[data-sort="name"]`))),
		chromedp.WaitVisible(chromedp.ID("clients-table")),
	)
	byName := slices.Clone(all)
	slices.SortFunc(byName, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if got := c.names(t); strings.Join(got, "|") != strings.Join(byName, "|") {
		t.Errorf("sorted by name: %q, want %q", got, byName)
	}
	c.step(t, "sorting by name the other way",
		loadAfter(chromedp.Click(chromedp.CSS(`a[data-sort="name"]`))),
		chromedp.WaitVisible(chromedp.ID("clients-table")),
	)
	backward := slices.Clone(byName)
	slices.Reverse(backward)
	if got := c.names(t); !slices.Equal(got, backward) {
		t.Errorf("sorted by name descending: %q, want %q", got, backward)
	}
	// Paging two at a time, forward by the pager's links and back.
	c.step(t, "paging", chromedp.Navigate(console+"/clients?sort=name&limit=2"), chromedp.WaitVisible(chromedp.ID("clients-table")))
	var paged []string
	for page := 1; ; page++ {
		paged = append(paged, c.names(t)...)
		if c.count(t, "#next-page") == 0 || page > len(all) {
			break
		}
		c.step(t, "following Next", loadAfter(chromedp.Click(chromedp.ID("next-page"))), chromedp.WaitVisible(chromedp.ID("clients-table")))
	}
	if strings.Join(paged, "|") != strings.Join(byName, "|") {
		t.Errorf("two a page, the pages show %q, want %q", paged, byName)
	}
	c.step(t, "going back a page", loadAfter(chromedp.Click(chromedp.ID("prev-page"))), chromedp.WaitVisible(chromedp.ID("clients-table")))
	last := (len(byName) - 1) / 2 * 2 // the first name of the last page
	if got := c.names(t); !slices.Equal(got, byName[last-2:last]) {
		t.Errorf("the page before the last shows %q, want %q", got, byName[last-2:last])
	}
	c.step(t, "showing all", loadAfter(chromedp.Click(chromedp.ID("show-all"))), chromedp.WaitVisible(chromedp.ID("clients-table")))
	if got := c.names(t); !slices.Equal(got, byName) {
		t.Errorf("Show all shows %q, want %q", got, byName)
	}

	// Creating a service client from its template.
	c.step(t, "opening the create form",
		chromedp.Navigate(console+"/clients"), chromedp.WaitVisible(chromedp.ID("create-client-head")),
		loadAfter(chromedp.Click(chromedp.ID("create-client-head"))),
		loadAfter(chromedp.Click(chromedp.CSS(`a[data-template="service"]`))),
		chromedp.WaitVisible(chromedp.ID("name")),
	)
	check("console-client-new", true)
	// The server's field errors, past the browser's own checks.
	c.step(t, "submitting the form without a name",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("client-form").noValidate = true`),
		loadAfter(chromedp.Click(chromedp.ID("create"))),
		chromedp.WaitVisible(chromedp.ID("name-error")),
	)
	check("console-client-new-errors", false)
	c.step(t, "creating the client",
		chromedp.SendKeys(chromedp.ID("name"), "Invoice Robot"),
		chromedp.SendKeys(chromedp.ID("description"), "Sends the monthly invoices."),
		loadAfter(chromedp.Click(chromedp.ID("create"))),
		chromedp.WaitVisible(chromedp.ID("secret-value")),
	)
	check("console-client-secret", true)
	clientID, secret := c.text(t, "#client-id-value"), c.text(t, "#secret-value")
	if clientID == "" || len(secret) < 32 {
		t.Fatalf("the secret panel shows client ID %q and secret %q", clientID, secret)
	}
	if warning := c.text(t, "#secret-warning"); !strings.Contains(warning, "This secret will only be shown once") {
		t.Errorf("the warning says %q", warning)
	}
	// Copy, as the admin would: the button puts the secret on the clipboard.
	c.step(t, "allowing the clipboard", grantClipboard(srv.issuer))
	c.step(t, "copying the secret", chromedp.Click(chromedp.ID("copy-secret")),
		chromedp.Poll[chromedp.Void](`document.getElementById("copy-secret").textContent === "Copied"`))
	if got := stepValue(t, c, "reading the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); got != secret {
		t.Errorf("the clipboard holds %q, want the secret", got)
	}
	// Close works only once the box is ticked.
	if !c.disabled(t, "close-secret") {
		t.Error("Close works before the secret is said to be saved")
	}
	c.step(t, "pressing Close unticked", chromedp.Evaluate[chromedp.Void](`document.getElementById("close-secret").click()`))
	if c.count(t, "#secret-value") != 1 {
		t.Error("Close left the secret panel before the box was ticked")
	}
	c.step(t, "ticking the box", chromedp.Click(chromedp.ID("saved")))
	if c.disabled(t, "close-secret") {
		t.Error("Close stays disabled with the box ticked")
	}
	c.step(t, "closing the secret panel", loadAfter(chromedp.Click(chromedp.ID("close-secret"))), chromedp.WaitVisible(chromedp.ID("secrets")))
	// Back and reload never show the secret again.
	// Back finds nothing kept (the panel is not stored: the browser
	// would have to post the form again); reloading posts it again, and
	// the console says the client exists.
	bctx, cancelBack := context.WithTimeout(c.ctx, stepTimeout)
	_, err = chromedp.Run(bctx, chromedp.NavigateBack())
	cancelBack()
	if err != nil && !strings.Contains(err.Error(), "ERR_CACHE_MISS") {
		t.Fatalf("going back to the secret panel: %v", err)
	}
	if page := shown(c.ctx); strings.Contains(page, secret) {
		t.Errorf("going back shows the secret again:\n%s", page)
	}
	c.step(t, "reloading the secret panel", chromedp.Reload())
	if page := shown(c.ctx); strings.Contains(page, secret) || !strings.Contains(page, "already created") {
		t.Errorf("reloading the secret panel shows:\n%s", page)
	}
	c.pageProblems(t) // the refused resubmission logs its 409

	// The secret works at the token endpoint, for golang.org/x/oauth2.
	credentials := func(secret string) error {
		cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
		_, err := cc.Token(ctx)
		return err
	}
	if err := credentials(secret); err != nil {
		t.Fatalf("the console's secret at the token endpoint: %v", err)
	}

	// The detail panel, then rotating with a grace period.
	detail := console + "/clients/" + url.PathEscape(clientID)
	c.step(t, "opening the client", chromedp.Navigate(detail), chromedp.WaitVisible(chromedp.ID("secrets")))
	check("console-client-detail", true)
	c.step(t, "opening the edit form", chromedp.Navigate(detail+"/edit"), chromedp.WaitVisible(chromedp.ID("save")))
	check("console-client-edit", false)
	// The confirmation page a browser without script gets for a dialog.
	c.step(t, "opening the rotation's confirmation page", chromedp.Navigate(detail+"/rotate"), chromedp.WaitVisible(chromedp.ID("rotate-form")))
	check("console-client-rotate-page", false)
	c.step(t, "opening a page that is not there", chromedp.Navigate(console+"/nope"), chromedp.WaitVisible(chromedp.ID("main")))
	check("console-not-found", false)
	c.pageProblems(t) // its 404 is logged
	c.step(t, "back to the client", chromedp.Navigate(detail), chromedp.WaitVisible(chromedp.ID("secrets")))
	c.step(t, "opening the rotate dialog", chromedp.Click(chromedp.ID("rotate")), chromedp.WaitVisible(chromedp.ID("rotate-dialog")))
	if f := stepValue(t, c, "reading the focus", focusedIn("rotate-dialog")); !f {
		t.Error("the rotate dialog opened without the focus inside it")
	}
	check("console-client-rotate", false)
	c.step(t, "closing the dialog with Escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("rotate-dialog")))
	if got := stepValue(t, c, "reading the focus", focused); got != "a#rotate" {
		t.Errorf("closing the dialog left the focus on %q, want back on a#rotate", got)
	}
	c.step(t, "rotating with a grace period of an hour",
		chromedp.Click(chromedp.ID("rotate")), chromedp.WaitVisible(chromedp.ID("rotate-dialog")),
		chromedp.SetValue(chromedp.CSS("#rotate-dialog #grace"), "3600"),
		loadAfter(chromedp.Click(chromedp.CSS("#rotate-dialog #rotate-confirm"))),
		chromedp.WaitVisible(chromedp.ID("secret-value")),
	)
	rotated := c.text(t, "#secret-value")
	if rotated == "" || rotated == secret {
		t.Fatalf("the rotation showed %q", rotated)
	}
	for name, s := range map[string]string{"the old secret during its grace period": secret, "the new secret": rotated} {
		if err := credentials(s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	c.step(t, "closing the new secret", chromedp.Click(chromedp.ID("saved")),
		loadAfter(chromedp.Click(chromedp.ID("close-secret"))), chromedp.WaitVisible(chromedp.ID("secrets")))
	if rows := c.count(t, "#secrets tbody tr"); rows != 2 {
		t.Errorf("the client lists %d secrets, want the new one and the one in its grace period", rows)
	}
	// Finishing the rotation, the old secret revoked: it fails, the new
	// one works.
	oldRow := stepValue(t, c, "finding the old secret", chromedp.Evaluate[string](
		`[...document.querySelectorAll("#secrets tbody tr")].find(r => r.querySelector(".badge.grace")).dataset.secretId`))
	c.step(t, "finishing the rotation",
		chromedp.Click(chromedp.ID("revoke-secret-"+oldRow)), chromedp.WaitVisible(chromedp.ID("revoke-secret-"+oldRow+"-dialog")),
		loadAfter(chromedp.Click(chromedp.ID("revoke-secret-"+oldRow+"-confirm"))),
		chromedp.WaitVisible(chromedp.ID("secrets")),
	)
	var re *oauth2.RetrieveError
	if err := credentials(secret); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("the old secret after its revocation: %v, want invalid_client", err)
	}
	if err := credentials(rotated); err != nil {
		t.Errorf("the new secret after the old one's revocation: %v", err)
	}

	// Revoking the client: confirmed, marked Revoked, its secret refused.
	c.step(t, "revoking the client",
		chromedp.Click(chromedp.ID("revoke")), chromedp.WaitVisible(chromedp.ID("revoke-dialog")),
		loadAfter(chromedp.Click(chromedp.CSS("#revoke-dialog #revoke-confirm"))),
		chromedp.WaitVisible(chromedp.ID("secrets")),
	)
	if got := c.text(t, ".badges .badge"); got != "Revoked" {
		t.Errorf("the revoked client's badge says %q", got)
	}
	if err := credentials(rotated); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("a revoked client's secret: %v, want invalid_client", err)
	}
	c.step(t, "filtering the revoked", chromedp.Navigate(console+"/clients?status=revoked"), chromedp.WaitVisible(chromedp.ID("clients-table")))
	if got := c.names(t); len(got) != 1 || got[0] != "Invoice Robot" {
		t.Errorf("the Revoked filter shows %q", got)
	}

	// The other screens: the XSS name's own page, users, a user, audit.
	c.step(t, "opening the hostile client", chromedp.Navigate(console+"/clients?q="+url.QueryEscape("<script>")),
		chromedp.WaitVisible(chromedp.ID("clients-table")),
		loadAfter(chromedp.Click(chromedp.CSS("#clients-table tbody th a"))),
		chromedp.WaitVisible(chromedp.ID("secrets")),
	)
	if h := c.text(t, "h1"); h != xssName {
		t.Errorf("the hostile client's heading reads %q", h)
	}
	if n := c.count(t, "script:not([src])"); n != 0 {
		t.Errorf("the client's page has %d inline scripts: its name was not escaped", n)
	}
	c.step(t, "opening the users", chromedp.Navigate(console+"/users"), chromedp.WaitVisible(chromedp.ID("users-table")))
	check("console-users", true)
	c.step(t, "opening a user", loadAfter(chromedp.Click(chromedp.CSS("#users-table tbody a"))), chromedp.WaitVisible(chromedp.ID("main")))
	check("console-user", false)
	c.step(t, "opening the user's edit form", chromedp.Navigate(stepValue(t, c, "reading the address", chromedp.Location())+"/edit"),
		chromedp.WaitVisible(chromedp.ID("f-name")))
	check("console-user-edit", false)
	c.step(t, "opening Add user", chromedp.Navigate(console+"/users/new"), chromedp.WaitVisible(chromedp.ID("f-email")))
	check("console-user-new", false)
	c.step(t, "adding a user", chromedp.SendKeys(chromedp.ID("f-email"), "new.admin@example.com"),
		chromedp.SendKeys(chromedp.ID("f-name"), "New Admin"),
		loadAfter(chromedp.Submit(chromedp.ID("f-email"))), chromedp.WaitVisible(chromedp.ID("new-password")))
	check("console-user-created", false)

	// The admin's own sign-in security: the second factors, an
	// authenticator app's enrolment with its QR code, the password.
	c.step(t, "opening Security", chromedp.Navigate(srv.issuer+"/account/security"),
		chromedp.WaitVisible(chromedp.CSS(`button[value="totp-begin"]`)))
	check("account-security", true)
	c.step(t, "setting up an authenticator app", loadAfter(chromedp.Click(chromedp.CSS(`button[value="totp-begin"]`))),
		chromedp.WaitVisible(chromedp.CSS(`input[name="code"]`)))
	check("account-security-totp", true)
	c.step(t, "opening the password page", chromedp.Navigate(srv.issuer+"/account/password"),
		chromedp.WaitVisible(chromedp.ID("current_password")))
	check("account-password", false)
	c.step(t, "opening the audit log", chromedp.Navigate(console+"/audit"), chromedp.WaitVisible(chromedp.ID("verify-chain")))
	c.step(t, "verifying the chain", loadAfter(chromedp.Click(chromedp.ID("verify-chain"))), chromedp.WaitVisible(chromedp.ID("chain-status")))
	if got := c.text(t, "#chain-status"); !strings.Contains(strings.ToLower(got), "intact") {
		t.Errorf("the chain's status reads %q", got)
	}
	check("console-audit", true)
}

// text is the text of the first element sel (a CSS selector) matches, as
// shown; "" when none does.
func (c *chromiumTab) text(t testing.TB, sel string) string {
	t.Helper()
	return stepValue(t, c, "reading "+sel, chromedp.Evaluate[string](
		`((e) => e ? e.innerText.trim() : "")(document.querySelector(`+jsString(sel)+`))`))
}

// count is how many elements sel matches.
func (c *chromiumTab) count(t testing.TB, sel string) int {
	t.Helper()
	return stepValue(t, c, "counting "+sel, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
}

// disabled says whether the button id is disabled.
func (c *chromiumTab) disabled(t testing.TB, id string) bool {
	t.Helper()
	return stepValue(t, c, "reading #"+id, chromedp.Evaluate[bool](`document.getElementById(`+jsString(id)+`).disabled`))
}

// names are the client names the list shows, top to bottom.
func (c *chromiumTab) names(t testing.TB) []string {
	t.Helper()
	return stepValue(t, c, "reading the list", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#clients-table tbody tr th")].map((e) => e.innerText.trim())`))
}

// focusedIn says whether the keyboard focus is inside the element id.
func focusedIn(id string) chromedp.Action[bool] {
	return chromedp.Evaluate[bool](`document.getElementById(` + jsString(id) + `).contains(document.activeElement)`)
}

// grantClipboard lets the pages of origin read and write the clipboard,
// as a person allows a site to.
func grantClipboard(origin string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			if _, err := cdp.Call(ctx, tg, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin}); err != nil {
				return err
			}
		}
		return nil
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "<", `\u003c`)
	return `"` + r.Replace(s) + `"`
}
