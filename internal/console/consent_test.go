package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// resumed opens the request a redirect to the resume endpoint carries.
func resumed(t *testing.T, f *fixture, r *response) *authreq.Request {
	t.Helper()
	wantCode(t, r, http.StatusSeeOther)
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != f.issuer+authreq.ResumePath {
		t.Fatalf("Location = %q, want the resume endpoint", r.Header.Get("Location"))
	}
	req, err := f.sealer.Open(loc.Query().Get(authreq.Param))
	if err != nil {
		t.Fatalf("the resumed request: %v", err)
	}
	return req
}

func TestConsentPage(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	req := f.request("app", "openid", "profile", "email", "offline_access", "docs:read")
	r := b.get("/account/consent?req=" + url.QueryEscape(req))
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Allow Project Manager Pro to use your account?</h1>", "Plans your projects",
		"Confirm your identity (your account ID)", "Your name and language", "Your email address",
		"Stay signed in to the app when you are not using it", "Access: docs:read",
		`value="approve">Approve</button>`, `value="deny" class="secondary">Deny</button>`, `name="csrf" value="`+b.token()+`"`)
	checkAccessible(t, r.Body)

	// A client's name is shown, never interpreted.
	r = b.get("/account/consent?req=" + url.QueryEscape(f.request("cal")))
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "Calendar &lt;Sync&gt;", "asks for no access beyond")
	if strings.Contains(r.Body, "<Sync>") {
		t.Error("a client name reached the page unescaped")
	}
}

func TestConsentApprove(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	req := f.request("app", "openid", "email")
	got := resumed(t, f, b.submit("/account/consent", url.Values{"req": {req}, "decision": {"approve"}}))
	if got.DecidedBy != anaID || !got.Approved || got.ClientID != "app" || got.State != "st" || !got.Started.Equal(t0) {
		t.Errorf("resumed %+v", got)
	}
	c, err := f.db.Consent(context.Background(), anaID, "app")
	if err != nil || !slices.Equal(c.Scopes, []string{"email", "openid"}) {
		t.Fatalf("consent %+v %v", c, err)
	}
}

func TestConsentDeny(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	got := resumed(t, f, b.submit("/account/consent", url.Values{"req": {f.request("app", "openid")}, "decision": {"deny"}}))
	if got.DecidedBy != anaID || got.Approved {
		t.Errorf("resumed %+v", got)
	}
	if _, err := f.db.Consent(context.Background(), anaID, "app"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a denial was remembered: %v", err)
	}
}

func TestConsentNeedsSignIn(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	req := f.request("app", "openid")
	login := "http://id.test" + authreq.LoginPath + "?req=" + url.QueryEscape(req)
	wantRedirect(t, b.get("/account/consent?req="+url.QueryEscape(req)), login)
	wantRedirect(t, b.submit("/account/consent", url.Values{"req": {req}, "decision": {"approve"}}), login)
	if _, err := f.db.Consent(context.Background(), anaID, "app"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("approved without a session: %v", err)
	}
	// A disabled user's session counts for nothing.
	b.signIn(anaEmail)
	ctx := context.Background()
	u, _ := f.db.User(ctx, anaID)
	u.Status = account.UserDisabled
	if err := f.db.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, b.get("/account/consent?req="+url.QueryEscape(req)), login)
}

func TestConsentBadDecision(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	for _, d := range []string{"", "maybe"} {
		r := b.submit("/account/consent", url.Values{"req": {f.request("app")}, "decision": {d}})
		wantCode(t, r, http.StatusBadRequest)
		if r.Header.Get("Location") != "" {
			t.Error("a bad decision was redirected")
		}
	}
}

func TestConsentDeletedClient(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	for _, id := range []string{"gone", "bee"} { // deleted; of another tenant
		req := f.request(id, "openid")
		wantCode(t, b.get("/account/consent?req="+url.QueryEscape(req)), http.StatusBadRequest)
		wantCode(t, b.submit("/account/consent", url.Values{"req": {req}, "decision": {"approve"}}), http.StatusBadRequest)
	}
}

func TestInvalidRequestPage(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	valid := f.request("app", "openid")
	tampered := []byte(valid)
	tampered[len(tampered)/2] ^= 1
	expired := f.request("app")
	f.now = f.now.Add(authreq.Lifetime)
	valid = f.request("app", "openid")
	for name, req := range map[string]string{
		"garbage":      "not-a-request",
		"tampered":     string(tampered),
		"expired":      expired,
		"other tenant": f.requestIn("ten_b", "bee"),
	} {
		for _, r := range []*response{
			b.get("/account/consent?req=" + url.QueryEscape(req)),
			b.submit("/account/consent", url.Values{"req": {req}, "decision": {"approve"}}),
			b.get("/account/login?req=" + url.QueryEscape(req)),
			b.submit("/account/login", url.Values{"req": {req}, "email": {anaEmail}, "password": {password}}),
		} {
			if r.Code != http.StatusBadRequest || r.Header.Get("Location") != "" {
				t.Errorf("%s: %d to %q", name, r.Code, r.Header.Get("Location"))
			}
			wantBody(t, r, "This sign-in link has expired or is not valid; go back to the application and start again.")
		}
	}
	// No req at all is as invalid on the consent page.
	wantCode(t, b.get("/account/consent"), http.StatusBadRequest)
	wantCode(t, b.get("/account/consent?req="+url.QueryEscape(valid)), http.StatusOK)
}

func TestScopeTextsOrder(t *testing.T) {
	got := scopeTexts([]string{"docs:read", "email", "a:b", "openid", "offline_access", "profile"})
	want := []string{ScopeText("openid"), ScopeText("profile"), ScopeText("email"), ScopeText("offline_access"), "Access: docs:read", "Access: a:b"}
	if !slices.Equal(got, want) {
		t.Errorf("scopeTexts = %q, want %q", got, want)
	}
}

func TestScopeText(t *testing.T) {
	for scope, want := range map[string]string{
		"openid":         "Confirm your identity (your account ID)",
		"profile":        "Your name and language",
		"email":          "Your email address",
		"offline_access": "Stay signed in to the app when you are not using it",
		"docs:write":     "Access: docs:write",
	} {
		if got := ScopeText(scope); got != want {
			t.Errorf("ScopeText(%q) = %q, want %q", scope, got, want)
		}
	}
}
