package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

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
// the sign-in and consent pages, and exchanges the code the browser
// brings back with golang.org/x/oauth2.
func TestBrowserSignIn(t *testing.T) {
	c := newChromium(t)
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

	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
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

	c.step(t, "opening the authorization URL",
		chromedp.Navigate(authURL(cfg, state, nonce, verifier)),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if title := stepValue(t, c, "reading the title", chromedp.Title()); !strings.HasPrefix(title, "Sign in") {
		t.Errorf("the sign-in page's title is %q", title)
	}
	c.signInWithKeyboard(t, oidcUserEmail, oidcUserPassword)
	c.step(t, "waiting for the consent page", chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)))
	if consent := stepValue(t, c, "reading the consent page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(consent, "Recipe Box") {
		t.Errorf("the consent page does not name the application:\n%s", consent)
	}
	// The consent page too is used by Tab and Enter alone.
	c.step(t, "approving with the keyboard",
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
	c.expectQuiet(t, "the sign-in and consent pages")

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
