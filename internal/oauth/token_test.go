package oauth_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestTokenSuccess(t *testing.T) {
	h := newHarness(t, 0)
	id, secret := h.create(client.CreateParams{Scopes: []string{"read", "write"}})
	postID, postSecret := h.create(client.CreateParams{Scopes: []string{"read", "write"},
		TokenEndpointAuthMethod: client.AuthSecretPost})

	for _, tc := range []struct {
		name string
		res  func() response
	}{
		{"basic form", func() response { return h.token(id, secret, nil) }},
		{"post form", func() response {
			return h.do("POST", "/oauth2/token", form, url.Values{"grant_type": {"client_credentials"},
				"client_id": {postID}, "client_secret": {postSecret}}.Encode())
		}},
		{"post json", func() response {
			return h.do("POST", "/oauth2/token", "application/json",
				`{"grant_type":"client_credentials","client_id":"`+postID+`","client_secret":"`+postSecret+`"}`)
		}},
		{"basic json", func() response {
			return h.do("POST", "/oauth2/token", "application/json", `{"grant_type":"client_credentials"}`,
				"Authorization", basicAuth(id, secret))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.res()
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("headers %v", r.header)
			}
			if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(3600) || r.body["scope"] != "read write" {
				t.Errorf("body %v", r.body)
			}
			if _, ok := r.body["refresh_token"]; ok {
				t.Error("client_credentials must not return a refresh token")
			}
			if tok, _ := r.body["access_token"].(string); strings.Count(tok, ".") != 2 {
				t.Errorf("access token %q is not a JWT", tok)
			}
		})
	}

	t.Run("subset of scopes", func(t *testing.T) {
		r := h.token(id, secret, url.Values{"scope": {"read"}})
		if r.status != 200 || r.body["scope"] != "read" {
			t.Fatalf("%d %v", r.status, r.body)
		}
	})
}

func TestTokenErrors(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	id, secret := h.create(client.CreateParams{Scopes: []string{"read"}})
	inactiveID, inactiveSecret := h.create(client.CreateParams{Status: client.StatusInactive})
	revokedID, revokedSecret := h.create(client.CreateParams{})
	if _, err := h.svc.Revoke(ctx, h.actor, revokedID); err != nil {
		t.Fatal(err)
	}
	codeOnly, codeSecret := h.create(client.CreateParams{GrantTypes: []client.GrantType{client.GrantAuthorizationCode},
		RedirectURIs: []string{"https://app.example/cb"}})
	public, _ := h.create(client.CreateParams{Type: client.Public, GrantTypes: []client.GrantType{client.GrantAuthorizationCode},
		RedirectURIs: []string{"https://app.example/cb"}})
	// A secret that expired: created in the past with a one-day lifetime.
	past := &client.Service{Repo: h.db, Now: func() time.Time { return h.clock.Now().Add(-48 * time.Hour) }}
	old, oldSec, err := past.Create(ctx, h.actor, client.CreateParams{Name: "Old", SecretLifetime: 24 * time.Hour,
		GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}

	cc := url.Values{"grant_type": {"client_credentials"}}.Encode()
	tests := []struct {
		name   string
		res    response
		status int
		code   string
		desc   string
	}{
		{"unknown client", h.token("lkc_nobody", secret, nil), 401, "invalid_client", "client authentication failed"},
		{"wrong secret", h.token(id, secret+"x", nil), 401, "invalid_client", "client authentication failed"},
		{"empty secret", h.token(id, "", nil), 401, "invalid_client", "client authentication failed"},
		{"expired secret", h.token(old.ID, oldSec.Plaintext, nil), 401, "invalid_client", "expired"},
		{"inactive client", h.token(inactiveID, inactiveSecret, nil), 401, "invalid_client", "inactive"},
		{"revoked client", h.token(revokedID, revokedSecret, nil), 401, "invalid_client", "client authentication failed"},
		{"no credentials", h.do("POST", "/oauth2/token", form, cc), 401, "invalid_client", ""},
		{"public client on client_credentials", h.do("POST", "/oauth2/token", form, cc+"&client_id="+public), 401, "invalid_client", ""},
		{"both methods", h.do("POST", "/oauth2/token", form, cc+"&client_secret="+url.QueryEscape(secret), "Authorization", basicAuth(id, secret)), 400, "invalid_request", "one client authentication method"},
		{"missing grant_type", h.do("POST", "/oauth2/token", form, "scope=read", "Authorization", basicAuth(id, secret)), 400, "invalid_request", "grant_type"},
		{"duplicated grant_type", h.do("POST", "/oauth2/token", form, cc+"&"+cc, "Authorization", basicAuth(id, secret)), 400, "invalid_request", "repeated"},
		{"duplicated json key", h.do("POST", "/oauth2/token", "application/json", `{"grant_type":"client_credentials","grant_type":"client_credentials"}`, "Authorization", basicAuth(id, secret)), 400, "invalid_request", "repeated"},
		{"params in query", h.do("POST", "/oauth2/token?client_secret=x", form, cc, "Authorization", basicAuth(id, secret)), 400, "invalid_request", "body"},
		{"grant not allowed", h.token(codeOnly, codeSecret, nil), 400, "unauthorized_client", ""},
		{"implicit", h.do("POST", "/oauth2/token", form, "grant_type=implicit", "Authorization", basicAuth(id, secret)), 400, "unsupported_grant_type", "implicit"},
		{"password", h.do("POST", "/oauth2/token", form, "grant_type=password&username=a&password=b", "Authorization", basicAuth(id, secret)), 400, "unsupported_grant_type", "password"},
		{"unknown grant", h.do("POST", "/oauth2/token", form, "grant_type=urn:x", "Authorization", basicAuth(id, secret)), 400, "unsupported_grant_type", ""},
		{"scope not allowed", h.token(id, secret, url.Values{"scope": {"write"}}), 400, "invalid_scope", "write"},
		{"malformed scope", h.token(id, secret, url.Values{"scope": {"read  read"}}), 400, "invalid_request", ""},
		{"permission scope without role", h.token(id, secret, url.Values{"scope": {"oauth:client:view"}}), 400, "invalid_scope", ""},
		{"huge body", h.do("POST", "/oauth2/token", form, cc+"&x="+strings.Repeat("a", 70000), "Authorization", basicAuth(id, secret)), 413, "invalid_request", ""},
		{"wrong content type", h.do("POST", "/oauth2/token", "text/plain", cc, "Authorization", basicAuth(id, secret)), 400, "invalid_request", ""},
		{"GET", h.do("GET", "/oauth2/token", "", ""), 405, "invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.res
			if r.status != tt.status || r.body["error"] != tt.code {
				t.Fatalf("got %d %s; want %d %s", r.status, r.raw, tt.status, tt.code)
			}
			if tt.desc != "" && !strings.Contains(r.body["error_description"].(string), tt.desc) {
				t.Errorf("description %q lacks %q", r.body["error_description"], tt.desc)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Error("error response without Cache-Control: no-store")
			}
			if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without WWW-Authenticate: Basic (%q)", r.header.Get("WWW-Authenticate"))
			}
			if tt.status == 405 && r.header.Get("Allow") != "POST" {
				t.Errorf("405 with Allow %q", r.header.Get("Allow"))
			}
			if strings.Contains(r.raw, secret) {
				t.Error("the response contains the secret")
			}
		})
	}

	// An unknown client and a wrong secret are indistinguishable.
	a, b := h.token("lkc_nobody", secret, nil), h.token(id, "wrong", nil)
	if a.raw != b.raw {
		t.Errorf("unknown client %q and wrong secret %q differ", a.raw, b.raw)
	}
}

func TestTokenFailureLimit(t *testing.T) {
	h := newHarness(t, 3)
	id, secret := h.create(client.CreateParams{})
	for range 3 {
		if r := h.token(id, "wrong", nil); r.status != 401 {
			t.Fatalf("status %d", r.status)
		}
	}
	r := h.token(id, "wrong", nil)
	if r.status != 429 || r.header.Get("Retry-After") != "60" || r.body["error"] != "temporarily_unavailable" {
		t.Fatalf("after 3 failures: %d %v %s", r.status, r.header, r.raw)
	}
	// A generated secret cannot be guessed, so its owner is not locked out
	// by someone else's failures.
	if r := h.token(id, secret, nil); r.status != 200 {
		t.Fatalf("the right generated secret while limited: %d %s", r.status, r.raw)
	}

	// An admin-supplied secret could be guessed: past the limit it is not
	// checked at all, unless this exact secret already matched.
	supplied := "an-admin-chosen-secret-of-enough-length"
	sid, _ := h.create(client.CreateParams{Secret: supplied})
	if r := h.token(sid, supplied, nil); r.status != 429 {
		// This address is over the limit from the failures above.
		t.Fatalf("unverified supplied secret while limited: %d %s", r.status, r.raw)
	}
	h.clock.Advance(61 * time.Second)
	if r := h.token(sid, supplied, nil); r.status != 200 {
		t.Fatalf("after the window: %d %s", r.status, r.raw)
	}
	for range 3 {
		h.token(sid, "wrong-but-long-enough-to-be-a-secret-xx", nil)
	}
	if r := h.token(sid, "wrong-but-long-enough-to-be-a-secret-xx", nil); r.status != 429 {
		t.Fatalf("guessing past the limit: %d", r.status)
	}
	if r := h.token(sid, supplied, nil); r.status != 200 {
		t.Fatalf("remembered supplied secret while limited: %d %s", r.status, r.raw)
	}
	// The memory outlives the client cache: after a reload the owner is
	// still let through.
	h.clock.Advance(6 * time.Second)
	h.srv.Auth.InvalidateAll()
	if r := h.token(sid, supplied, nil); r.status != 200 {
		t.Fatalf("remembered supplied secret after a cache reload: %d %s", r.status, r.raw)
	}
}

func TestRotationAndGrace(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	id, first := h.create(client.CreateParams{})
	sec, err := h.svc.RotateSecret(ctx, h.actor, id, client.RotateParams{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{first, sec.Plaintext} {
		if r := h.token(id, s, nil); r.status != 200 {
			t.Fatalf("during grace: %d %s", r.status, r.raw)
		}
	}
	h.clock.Advance(time.Hour)
	if r := h.token(id, first, nil); r.status != 401 {
		t.Fatalf("old secret after grace: %d", r.status)
	}
	third, err := h.svc.RotateSecret(ctx, h.actor, id, client.RotateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.token(id, sec.Plaintext, nil); r.status != 401 {
		t.Fatalf("secret rotated without grace still works: %d", r.status)
	}
	if r := h.token(id, third.Plaintext, nil); r.status != 200 {
		t.Fatalf("new secret: %d", r.status)
	}
}

func TestLastUsedIsCoalesced(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	id, secret := h.create(client.CreateParams{})
	h.token(id, secret, nil)
	h.clock.Advance(time.Minute)
	h.token(id, secret, nil)
	c, _ := h.db.Client(ctx, id)
	if !c.LastUsedAt.IsZero() {
		t.Fatal("a token request wrote last_used_at: the hot path must not write")
	}
	if err := h.srv.Usage.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ = h.db.Client(ctx, id)
	secrets, _ := h.db.Secrets(ctx, id)
	if !c.LastUsedAt.Equal(h.clock.Now()) || !secrets[0].LastUsedAt.Equal(h.clock.Now()) {
		t.Fatalf("after flush: client %v, secret %v, want %v", c.LastUsedAt, secrets[0].LastUsedAt, h.clock.Now())
	}
}

func TestConcurrentGuessesCannotOutrunTheLimit(t *testing.T) {
	h := newHarness(t, 4)
	// Enough argon2id slots that none is refused as busy: every guess
	// that gets past the limit is checked, and counted here.
	h.srv.Auth.SlowChecks = 64
	var mu sync.Mutex
	checked := 0
	h.srv.OnAuthFailure = func(_, _, reason string) {
		if reason == string(client.FailWrongSecret) {
			mu.Lock()
			checked++
			mu.Unlock()
		}
	}
	id, _ := h.create(client.CreateParams{Secret: "an-admin-chosen-secret-of-enough-length"})
	const n = 16
	codes := make(chan int, n)
	for range n {
		go func() { codes <- h.token(id, "a-wrong-guess-that-costs-an-argon2id-run", nil).status }()
	}
	count := map[int]int{}
	for range n {
		count[<-codes]++
	}
	// Every attempt is counted before its secret is checked, so no more
	// than the threshold ever reach argon2id, however many arrive at once.
	if checked != 4 || count[401] != 4 || count[429] != n-4 {
		t.Fatalf("%d secrets checked, statuses %v: want 4 checked, 4×401 and %d×429", checked, count, n-4)
	}
}

func TestSuccessesDoNotCountAgainstTheLimit(t *testing.T) {
	h := newHarness(t, 3)
	id, secret := h.create(client.CreateParams{})
	for range 10 {
		if r := h.token(id, secret, nil); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	if r := h.token(id, "wrong", nil); r.status != 401 {
		t.Fatalf("first failure after successes: %d, want 401", r.status)
	}
}

func TestPublicClientState(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	pub, _ := h.create(client.CreateParams{Type: client.Public, GrantTypes: []client.GrantType{client.GrantAuthorizationCode},
		RedirectURIs: []string{"https://app.example/cb"}})
	revoke := func() response {
		return h.do("POST", "/oauth2/revoke", form, url.Values{"client_id": {pub}, "token": {"x"}}.Encode())
	}
	if r := revoke(); r.status != 200 {
		t.Fatalf("active public client: %d %s", r.status, r.raw)
	}
	if _, err := h.svc.SetStatus(ctx, h.actor, pub, client.StatusInactive, false); err != nil {
		t.Fatal(err)
	}
	r := revoke()
	if r.status != 401 || r.body["error_description"] != "client authentication failed" {
		t.Fatalf("inactive public client: %d %s", r.status, r.raw)
	}
}
