package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/token"
)

func (f *fixture) approve(userID, clientID string, scopes ...string) {
	f.t.Helper()
	u, err := f.db.User(context.Background(), userID)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.sessions.Approve(context.Background(), u, clientID, scopes, "192.0.2.1"); err != nil {
		f.t.Fatal(err)
	}
}

func TestAppsNeedSignIn(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	wantRedirect(t, b.get("/account/apps"), "http://id.test"+authreq.LoginPath)
	wantRedirect(t, b.get("/account/"), "http://id.test"+authreq.LoginPath)
	wantRedirect(t, b.submit("/account/apps/revoke", url.Values{"client_id": {"app"}}), "http://id.test"+authreq.LoginPath)
	b.signIn(anaEmail)
	wantRedirect(t, b.get("/account/"), "http://id.test"+authreq.AppsPath)
}

func TestAppsEmpty(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	r := b.get("/account/apps")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Authorized applications</h1>", "You have not authorized any applications.", "Signed in as ana@example.com")
	checkAccessible(t, r.Body)
}

func TestAppsListAndRevoke(t *testing.T) {
	f := newFixture(t, "http://id.test")
	f.approve(anaID, "app", "openid", "profile")
	f.now = t0.Add(26 * time.Hour)
	f.approve(anaID, "cal", "calendar:read")
	f.approve(anaID, "ghost", "openid") // a client deleted since
	f.now = t0.Add(50*time.Hour + 5*time.Minute)
	f.approve(anaID, "app", "email")
	b := f.browser()
	b.signIn(anaEmail)

	r := b.get("/account/apps")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "<h2>Project Manager Pro</h2>", "<h2>Calendar &lt;Sync&gt;</h2>",
		"Confirm your identity (your account ID)", "Your name and language", "Your email address", "Access: calendar:read",
		`<time datetime="2026-03-01T12:00:00Z">1 March 2026, 12:00 UTC</time>`,
		`<time datetime="2026-03-03T14:05:00Z">3 March 2026, 14:05 UTC</time>`,
		`<time datetime="2026-03-02T14:00:00Z">2 March 2026, 14:00 UTC</time>`,
		`name="client_id" value="app"`, `name="client_id" value="cal"`, `aria-label="Revoke access for Project Manager Pro"`)
	if strings.Contains(r.Body, "ghost") {
		t.Error("a deleted client's consent was listed")
	}
	if strings.Index(r.Body, "Project Manager Pro") > strings.Index(r.Body, "Calendar") {
		t.Error("not latest authorization first")
	}
	checkAccessible(t, r.Body)

	r = b.submit("/account/apps/revoke", url.Values{"client_id": {"app"}})
	wantRedirect(t, r, "http://id.test"+authreq.AppsPath+"?revoked=app")
	ctx := context.Background()
	if _, err := f.db.Consent(ctx, anaID, "app"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("the consent survived its revocation: %v", err)
	}
	revs, err := f.db.RevocationsByID(ctx, []string{token.CutOffKey(anaID, "app")})
	if err != nil || len(revs) != 1 || !revs[0].IssuedBefore.Equal(f.now) || revs[0].ClientID != "app" {
		t.Fatalf("the cut-off: %+v %v", revs, err)
	}

	r = b.get("/account/apps?revoked=app")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, `role="status">Access for Project Manager Pro was revoked.</p>`)
	if strings.Contains(r.Body, `value="app"`) {
		t.Error("a revoked application is still listed")
	}
	// A notice is believed only when true.
	for _, q := range []string{"cal", "nonesuch", "bee", "%3Cscript%3E"} {
		if r := b.get("/account/apps?revoked=" + q); strings.Contains(r.Body, "was revoked") {
			t.Errorf("?revoked=%s: a false notice", q)
		}
	}
	r = b.submit("/account/apps/revoke", url.Values{"client_id": {"cal"}})
	r = b.get(strings.TrimPrefix(r.Header.Get("Location"), f.issuer))
	wantBody(t, r, "Access for Calendar &lt;Sync&gt; was revoked.", "You have not authorized any applications.")
}

func TestRevokeWhatWasNeverApproved(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	wantRedirect(t, b.submit("/account/apps/revoke", url.Values{"client_id": {"app"}}), "http://id.test"+authreq.AppsPath+"?revoked=app")
	revs, err := f.db.RevocationsByID(context.Background(), []string{token.CutOffKey(anaID, "app")})
	if err != nil || len(revs) != 0 {
		t.Errorf("a revocation of nothing left %v %v", revs, err)
	}
	for _, id := range []string{"", strings.Repeat("x", maxClientID+1)} {
		wantCode(t, b.submit("/account/apps/revoke", url.Values{"client_id": {id}}), http.StatusBadRequest)
	}
}

func TestRevokeOnlyOwnConsent(t *testing.T) {
	f := newFixture(t, "http://id.test")
	f.approve(bettyID, "bee", "openid")
	b := f.browser()
	b.signIn(anaEmail)
	b.submit("/account/apps/revoke", url.Values{"client_id": {"bee"}})
	if _, err := f.db.Consent(context.Background(), bettyID, "bee"); err != nil {
		t.Errorf("another user's consent was revoked: %v", err)
	}
}
