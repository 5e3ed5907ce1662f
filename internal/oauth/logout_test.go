package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

func TestEndSession(t *testing.T) {
	f := newFlow(t)
	const bye = "https://app.example/bye"
	// hint returns an ID token of the web app for the signed-in user.
	hint := func() string {
		return f.tokens(nil).body["id_token"].(string)
	}
	confirm := f.issuer + authreq.LogoutPath
	tests := []struct {
		name   string
		method string
		params func(cookie string) url.Values
		// other signs a second user in instead of the flow's user.
		other bool
		// to is where the browser is sent; "" for the error page.
		to     string
		query  url.Values
		ended  bool
		reason string
	}{
		{"hint and a registered return", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}, "post_logout_redirect_uri": {bye}, "state": {"s1"}}
		}, false, bye, url.Values{"state": {"s1"}}, true, ""},
		{"by POST", "POST", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}, "post_logout_redirect_uri": {bye}}
		}, false, bye, url.Values{}, true, ""},
		{"hint without a return", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}}
		}, false, confirm, url.Values{"done": {"1"}}, true, ""},
		{"hint with its client_id", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}, "client_id": {f.web}, "post_logout_redirect_uri": {bye}}
		}, false, bye, url.Values{}, true, ""},
		{"an expired hint", "GET", func(string) url.Values {
			h := hint()
			f.clock.Advance(2 * time.Hour)
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {bye}}
		}, false, bye, url.Values{}, true, ""},
		{"no hint: confirm first", "GET", func(string) url.Values { return url.Values{} }, false, confirm, url.Values{}, false, ""},
		{"no hint, a return is not honoured", "GET", func(string) url.Values {
			return url.Values{"client_id": {f.web}, "post_logout_redirect_uri": {bye}, "state": {"s"}}
		}, false, confirm, url.Values{}, false, ""},
		{"a forged hint", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {"eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln"}}
		}, false, confirm, url.Values{}, false, ""},
		{"another user's hint", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}, "post_logout_redirect_uri": {bye}}
		}, true, confirm, url.Values{}, false, ""},
		{"unregistered return", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}, "post_logout_redirect_uri": {"https://evil.example/"}}
		}, false, "", nil, false, "not registered"},
		{"return registered for redirects only", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}, "post_logout_redirect_uri": {webCB}}
		}, false, "", nil, false, "not registered"},
		{"a return without a client", "GET", func(string) url.Values {
			return url.Values{"post_logout_redirect_uri": {bye}}
		}, false, "", nil, false, "which application"},
		{"client_id differs from the hint's", "GET", func(string) url.Values {
			return url.Values{"id_token_hint": {hint()}, "client_id": {f.strict}}
		}, false, "", nil, false, "not the application"},
		{"a repeated parameter", "GET", func(string) url.Values {
			return url.Values{"state": {"a", "b"}}
		}, false, "", nil, false, "repeats"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie := f.signIn(f.user)
			params := tt.params(cookie)
			if tt.other {
				cookie = f.signIn(f.newUser(fmt.Sprintf("other-%d@example.com", i)))
			}
			p := f.browse(tt.method, "/oauth2/logout", cookie, params)
			if tt.to == "" {
				checkPage(t, p, 400, tt.reason)
			} else {
				want := map[string]int{"GET": http.StatusFound, "POST": http.StatusSeeOther}[tt.method]
				if p.status != want || target(p.location) != tt.to {
					t.Fatalf("want %d to %s, got %d %v %s", want, tt.to, p.status, p.location, p.body)
				}
				if got := p.location.Query(); got.Encode() != tt.query.Encode() {
					t.Errorf("query %v, want %v", got, tt.query)
				}
			}
			sess, _, err := f.sessions.Find(context.Background(), "ten_1", cookie)
			if err != nil {
				t.Fatal(err)
			}
			if ended := sess == nil; ended != tt.ended {
				t.Errorf("session ended: %v, want %v", ended, tt.ended)
			}
		})
	}
}

// An inactive or revoked client's post_logout_redirect_uri is not
// followed, whatever the hint: the error page answers, and nobody is
// signed out.
func TestEndSessionRefusesAnInactiveClient(t *testing.T) {
	f := newFlow(t)
	ctx := context.Background()
	const bye = "https://app.example/bye"
	for _, st := range []client.Status{client.StatusInactive, client.StatusRevoked} {
		t.Run(string(st), func(t *testing.T) {
			id, secret := f.create(client.CreateParams{Name: "Leaving", Scopes: []string{"read"},
				GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB},
				PostLogoutRedirectURIs: []string{bye}})
			cookie := f.signIn(f.user)
			r := f.exchange(id, secret, f.authorize(cookie, id, webCB, nil), webCB, verifier)
			hint, _ := r.body["id_token"].(string)
			if hint == "" {
				t.Fatalf("no ID token: %d %s", r.status, r.raw)
			}
			if _, err := f.svc.Update(ctx, f.actor, id, client.UpdateParams{Status: &st}); err != nil {
				t.Fatal(err)
			}
			p := f.browse(http.MethodGet, "/oauth2/logout", cookie,
				url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {bye}, "state": {"s1"}})
			checkPage(t, p, 400, string(st))
			if sess, _, err := f.sessions.Find(ctx, "ten_1", cookie); err != nil || sess == nil {
				t.Errorf("the session ended: %v", err)
			}
		})
	}
}
