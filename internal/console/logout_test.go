package console

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

func TestLogout(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	value := b.jar[b.sessionName("ten_a")]

	r := b.get("/account/logout")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, `<button type="submit">Sign out</button>`, "ana@example.com")
	checkAccessible(t, r.Body)
	if s, _, _ := f.sessions.Find(context.Background(), "ten_a", value); s == nil {
		t.Fatal("showing the form signed out")
	}

	r = b.submit("/account/logout", url.Values{})
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "You are signed out.")
	checkAccessible(t, r.Body)
	c := r.cookie(b.sessionName("ten_a"))
	if c == nil || c.MaxAge >= 0 || !c.HttpOnly || c.Path != "/" {
		t.Errorf("the cookie was not cleared: %+v", c)
	}
	if s, _, _ := f.sessions.Find(context.Background(), "ten_a", value); s != nil {
		t.Error("the session outlived sign-out")
	}
	wantRedirect(t, b.get("/account/apps"), "http://id.test/account/login")
	// Not signed in, there is nothing to confirm.
	wantBody(t, b.get("/account/logout"), "You are signed out.")
	// Signing out twice is no error.
	wantCode(t, b.submit("/account/logout", url.Values{}), http.StatusOK)
}

func TestLogoutDone(t *testing.T) {
	f := newFixture(t, "http://id.test")
	b := f.browser()
	b.signIn(anaEmail)
	r := b.get("/account/logout?done=1")
	wantCode(t, r, http.StatusOK)
	wantBody(t, r, "You are signed out.", `href="/account/login"`)
	if r.Header.Get("Set-Cookie") != "" {
		t.Error("the signed-out page set a cookie")
	}
}
