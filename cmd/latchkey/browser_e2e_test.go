package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// chromiumPath is where Debian's chromium package puts the browser; the
// tests never download one.
const chromiumPath = "/usr/lib/chromium/chromium"

// chromium returns the browser's path, or skips the test (fails it in CI,
// which .ci/run provides the browser for) when it is not installed.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v: CI must run the browser test (.ci/run installs Debian's chromium package)", chromiumPath, err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium to run this test)", chromiumPath)
	}
	return chromiumPath
}

// callback is the application's redirect URI: an httptest server on
// 127.0.0.1 that hands each query it is sent to the test.
type callback struct {
	url  string
	hits chan url.Values
}

func newCallback(t *testing.T) *callback {
	t.Helper()
	cb := &callback{hits: make(chan url.Values, 4)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		select {
		case cb.hits <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><title>Signed in</title><p id="done">Signed in</p>`))
	}))
	t.Cleanup(srv.Close)
	cb.url = srv.URL + "/cb"
	return cb
}

// TestBrowserSignIn signs a user in to a public PKCE application in
// headless Chromium, through the real pages, with the keyboard alone on
// the sign-in page, and exchanges the code the browser brings back with
// golang.org/x/oauth2.
func TestBrowserSignIn(t *testing.T) {
	exe := chromium(t)
	s := newSandbox(t)
	srv := startBinary(t, s)
	s.run(oidcUserPassword+"\n", "users", "create", "--email", oidcUserEmail, "--name", oidcUserName,
		"--password-file", "-").expect(t, "users create", 0)
	cb := newCallback(t)
	// A loopback redirect URI matches on any port (RFC 8252 §7.3), so the
	// application registers it without the httptest server's.
	site := &oidcSite{s: s, srv: srv, issuer: srv.issuer}
	clientID := site.createClient(t, "--name", "Recipe Box", "--public", "--require-consent",
		"--grant-type", "authorization_code", "--redirect-uri", "http://127.0.0.1/cb",
		"--scope", "openid", "--scope", "profile", "--scope", "email").ID

	// The whole test's bound; each step below has a shorter one of its own,
	// so that a failed step still leaves time to read what the page shows.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, srv.issuer)
	if err != nil {
		t.Fatal(err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	cfg := &oauth2.Config{ClientID: clientID, Endpoint: ep, RedirectURL: cb.url,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// Chromium's sandbox cannot start as root, which CI runs as.
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("no-proxy-server", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first Run starts the browser, which lives as long as that
	// call's context: bctx, not a step's.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	step := func() context.Context {
		c, cancel := context.WithTimeout(bctx, 30*time.Second)
		t.Cleanup(cancel)
		return c
	}

	// focused names the element that has the keyboard focus.
	focused := chromedp.Evaluate[string](`(() => { const e = document.activeElement;
		return e ? e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.type ? "[" + e.type + "]" : "") : "" })()`)
	tab := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tg); err != nil {
				return err
			}
			got, err := focused(ctx, tg)
			if err == nil && got != want {
				t.Errorf("Tab moved the focus to %q, want %q", got, want)
			}
			return err
		})
	}
	err = chromedp.Do(step(),
		chromedp.Navigate(authURL(cfg, state, nonce, verifier)),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if err != nil {
		t.Fatalf("opening the authorization URL: %v; the browser shows %s", err, shown(bctx))
	}
	if title, err := chromedp.Run(step(), chromedp.Title()); err != nil || !strings.HasPrefix(title, "Sign in") {
		t.Errorf("the sign-in page's title is %q (%v)", title, err)
	}
	err = chromedp.Do(step(),
		// Keyboard only: from the top of the page, Tab reaches the
		// email, the password and the submit button in that order, and
		// Enter submits.
		tab("input#email[email]"),
		chromedp.KeyEvent(oidcUserEmail),
		tab("input#password[password]"),
		chromedp.KeyEvent(oidcUserPassword),
		tab("button[submit]"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
	)
	if err != nil {
		t.Fatalf("sign-in page: %v; the browser shows %s", err, shown(bctx))
	}
	consent, err := chromedp.Run(step(), chromedp.Text(chromedp.CSS("main")))
	if err != nil || !strings.Contains(consent, "Recipe Box") {
		t.Errorf("the consent page does not name the application (%v):\n%s", err, consent)
	}
	// The consent page too is used by Tab and Enter alone.
	err = chromedp.Do(step(),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for range 10 {
				if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tg); err != nil {
					return err
				}
				approve, err := chromedp.Evaluate[bool](`document.activeElement.value === "approve"`)(ctx, tg)
				if err != nil {
					return err
				}
				if approve {
					_, err := chromedp.KeyEvent(kb.Enter)(ctx, tg)
					return err
				}
			}
			t.Error("ten Tabs did not reach the Approve button")
			_, err := chromedp.Click(chromedp.CSS(`button[value="approve"]`))(ctx, tg)
			return err
		}),
		chromedp.WaitVisible(chromedp.ID("done")),
	)
	if err != nil {
		t.Fatalf("consent page: %v; the browser shows %s", err, shown(bctx))
	}

	var q url.Values
	select {
	case q = <-cb.hits:
	case <-ctx.Done():
		t.Fatal("the browser never reached the redirect URI")
	}
	if q.Get("state") != state || q.Get("iss") != srv.issuer || q.Get("code") == "" {
		t.Fatalf("the redirect URI was sent %s", redact(q))
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if id := verifyIDToken(t, ctx, provider, clientID, nonce, tok); id.Subject == "" {
		t.Error("the ID token has no subject")
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Email != oidcUserEmail {
		t.Errorf("userinfo: %+v %v", info, err)
	}
}

// shown says where the browser is and what its page says, for a failure's
// message.
func shown(bctx context.Context) string {
	ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "nothing readable (" + err.Error() + ")"
	}
	return v
}
