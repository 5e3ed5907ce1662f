package oauth_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

func TestRefreshRotates(t *testing.T) {
	f := newFlow(t)
	authAt := f.clock.Now()
	first := f.tokens(url.Values{"scope": {"openid read write offline_access"}})
	rt := first.body["refresh_token"].(string)
	f.clock.Advance(time.Minute)

	r := f.refresh(f.web, f.webSecret, rt, nil)
	if r.status != 200 || r.body["scope"] != "openid read write offline_access" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	next := r.body["refresh_token"].(string)
	if next == rt || !strings.HasPrefix(next, "lkrt_") {
		t.Fatalf("refresh token not rotated: %s", r.raw)
	}
	c := f.verifyID(r.body["id_token"].(string), jose.RS256)
	if c.Subject != f.user.ID || c.AuthTime != authAt.Unix() || c.Nonce != "" || c.AtHash != atHash(r.body["access_token"].(string)) {
		t.Fatalf("refreshed ID token %+v", c)
	}
	if f.active(rt, f.web, f.webSecret) || !f.active(next, f.web, f.webSecret) {
		t.Fatal("after rotation the old token must be inactive and the new one active")
	}

	// Narrowing is allowed, and the family keeps its scopes.
	r = f.refresh(f.web, f.webSecret, next, url.Values{"scope": {"read"}})
	if r.status != 200 || r.body["scope"] != "read" {
		t.Fatalf("narrowed %d %s", r.status, r.raw)
	}
	if _, ok := r.body["id_token"]; ok {
		t.Error("an ID token without openid")
	}
	r = f.refresh(f.web, f.webSecret, r.body["refresh_token"].(string), nil)
	if r.status != 200 || r.body["scope"] != "openid read write offline_access" {
		t.Fatalf("after narrowing %d %s", r.status, r.raw)
	}
	in := f.introspect(f.web, f.webSecret, r.body["refresh_token"].(string))
	if in["active"] != true || in["scope"] != "openid read write offline_access" || in["sub"] != f.user.ID || in["client_id"] != f.web {
		t.Fatalf("introspection %v", in)
	}
	if err := f.usage.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cl, _ := f.db.Client(context.Background(), f.web); cl.LastToken.Grant != client.GrantRefreshToken {
		t.Errorf("last token %+v", cl.LastToken)
	}
}

func TestRefreshReuseRevokesTheFamily(t *testing.T) {
	f := newFlow(t)
	first := f.tokens(url.Values{"scope": {offlineScope}})
	at0, rt0 := first.body["access_token"].(string), first.body["refresh_token"].(string)
	r := f.refresh(f.web, f.webSecret, rt0, nil)
	at1, rt1 := r.body["access_token"].(string), r.body["refresh_token"].(string)
	// Another grant of the same user and client is not this family.
	other := f.tokens(url.Values{"scope": {offlineScope}})
	for _, tok := range []string{at0, at1, rt1} {
		if !f.active(tok, f.web, f.webSecret) {
			t.Fatalf("%s... inactive before the reuse", tok[:10])
		}
	}
	r = f.refresh(f.web, f.webSecret, rt0, nil)
	if r.status != 400 || r.body["error"] != "invalid_grant" || !strings.Contains(r.raw, "already used") {
		t.Fatalf("reuse %d %s", r.status, r.raw)
	}
	for _, tok := range []string{at0, at1, rt1} {
		if f.active(tok, f.web, f.webSecret) {
			t.Errorf("%s... still active after the reuse", tok[:10])
		}
	}
	if r := f.refresh(f.web, f.webSecret, rt1, nil); r.status != 400 {
		t.Errorf("the family's live token still refreshes: %d %s", r.status, r.raw)
	}
	if !f.active(other.body["refresh_token"].(string), f.web, f.webSecret) || !f.active(other.body["access_token"].(string), "", "") {
		t.Error("the reuse ended another family")
	}
}

func TestRefreshFailures(t *testing.T) {
	f := newFlow(t)
	ccID, ccSecret := f.create(client.CreateParams{Name: "Machine"})
	tests := []struct {
		name string
		try  func(rt string) response
		code string
		desc string
		// live reports whether the token must still refresh afterwards.
		live bool
	}{
		{"no refresh_token", func(string) response { return f.refresh(f.web, f.webSecret, "", nil) },
			"invalid_request", "refresh_token is required", true},
		{"unknown", func(string) response { return f.refresh(f.web, f.webSecret, "lkrt_nope", nil) },
			"invalid_grant", "invalid, expired or revoked", true},
		{"widened scope", func(rt string) response {
			return f.refresh(f.web, f.webSecret, rt, url.Values{"scope": {"read write"}})
		},
			"invalid_scope", "'write'", true},
		{"malformed scope", func(rt string) response { return f.refresh(f.web, f.webSecret, rt, url.Values{"scope": {"read "}}) },
			"invalid_request", "single spaces", true},
		{"another client", func(rt string) response { return f.refresh(f.strict, f.strictSecret, rt, nil) },
			"invalid_grant", "another client", true},
		{"client without the grant", func(rt string) response { return f.refresh(ccID, ccSecret, rt, nil) },
			"unauthorized_client", "refresh_token", true},
		{"expired", func(rt string) response {
			f.clock.Advance(client.DefaultRefreshTTL)
			defer f.clock.Advance(-client.DefaultRefreshTTL)
			return f.refresh(f.web, f.webSecret, rt, nil)
		}, "invalid_grant", "invalid, expired or revoked", true},
		{"consent revoked", func(rt string) response {
			if err := f.sessions.Revoke(context.Background(), f.user, f.web, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
			return f.refresh(f.web, f.webSecret, rt, nil)
		}, "invalid_grant", "invalid, expired or revoked", false},
		{"user disabled", func(rt string) response {
			u := f.newUser("soon-gone@example.com")
			code := f.authorize(f.signIn(u), f.web, webCB, url.Values{"scope": {"read"}})
			own := f.exchange(f.web, f.webSecret, code, webCB, verifier).body["refresh_token"].(string)
			if _, err := f.users.SetStatus(context.Background(), f.actor, u.ID, account.UserDisabled); err != nil {
				t.Fatal(err)
			}
			return f.refresh(f.web, f.webSecret, own, nil)
		}, "invalid_grant", "invalid, expired or revoked", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := f.tokens(url.Values{"scope": {"read"}, "nonce": {""}}).body["refresh_token"].(string)
			r := tt.try(rt)
			desc, _ := r.body["error_description"].(string)
			if r.status != 400 || r.body["error"] != tt.code || !strings.Contains(desc, tt.desc) {
				t.Fatalf("%d %s; want %s saying %q", r.status, r.raw, tt.code, tt.desc)
			}
			if got := f.refresh(f.web, f.webSecret, rt, nil).status == 200; got != tt.live {
				t.Errorf("the token refreshes afterwards: %v, want %v", got, tt.live)
			}
		})
	}
}

func TestRefreshEndsWithTheClient(t *testing.T) {
	f := newFlow(t)
	inactive, revoked := client.StatusInactive, client.StatusRevoked
	tests := []struct {
		name   string
		change func(id string)
	}{
		{"deactivated", func(id string) {
			if _, err := f.svc.Update(context.Background(), f.actor, id, client.UpdateParams{Status: &inactive}); err != nil {
				t.Fatal(err)
			}
		}},
		{"revoked", func(id string) {
			if _, err := f.svc.Update(context.Background(), f.actor, id, client.UpdateParams{Status: &revoked}); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(id string) {
			if err := f.svc.Delete(context.Background(), f.actor, id); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret := f.create(client.CreateParams{Name: "Doomed", GrantTypes: []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken},
				RedirectURIs: []string{webCB}, Scopes: []string{"read"}})
			code := f.authorize(f.cookie, id, webCB, url.Values{"scope": {"read"}})
			r := f.exchange(id, secret, code, webCB, verifier)
			rt := r.body["refresh_token"].(string)
			tt.change(id)
			if in := f.introspect(f.rs, f.rsSecret, rt); in["active"] != false {
				t.Errorf("introspection after the change: %v", in)
			}
			if r := f.refresh(id, secret, rt, nil); r.status != 401 || r.body["error"] != "invalid_client" {
				t.Errorf("refresh after the change: %d %s", r.status, r.raw)
			}
		})
	}
}

func TestRefreshTokenIntrospectionAndRevocation(t *testing.T) {
	f := newFlow(t)
	r := f.tokens(url.Values{"scope": {offlineScope}})
	at, rt := r.body["access_token"].(string), r.body["refresh_token"].(string)
	auditor, auditorSecret := f.create(client.CreateParams{Name: "Auditor", Roles: []string{authz.OAuthAdmin}})
	tests := []struct {
		name, id, secret string
		active           bool
	}{
		{"its client", f.web, f.webSecret, true},
		{"another client", f.strict, f.strictSecret, false},
		{"a holder of the introspection permission", auditor, auditorSecret, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if in := f.introspect(tt.id, tt.secret, rt); in["active"] != tt.active {
				t.Errorf("active %v, want %v: %v", in["active"], tt.active, in)
			}
		})
	}
	// Another client's revocation is a silent no-op (RFC 7009 §2.2).
	if r := f.do("POST", "/oauth2/revoke", form, url.Values{"token": {rt}}.Encode(), "Authorization", basicAuth(f.strict, f.strictSecret)); r.status != 200 {
		t.Fatalf("revoke by another client: %d %s", r.status, r.raw)
	}
	if !f.active(rt, f.web, f.webSecret) {
		t.Fatal("another client revoked the token")
	}
	if r := f.do("POST", "/oauth2/revoke", form, url.Values{"token": {rt}}.Encode(), "Authorization", basicAuth(f.web, f.webSecret)); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if f.active(rt, f.web, f.webSecret) || f.active(at, "", "") {
		t.Error("revoking the refresh token left its grant active")
	}
	// A public client revokes its own with client_id alone.
	code := f.authorizeApproving(f.user, f.cookie, f.spa, spaCB, url.Values{"scope": {offlineScope}})
	pr := f.exchange(f.spa, "", code, spaCB, verifier)
	if r := f.do("POST", "/oauth2/revoke", form, url.Values{"token": {pr.body["refresh_token"].(string)}, "client_id": {f.spa}}.Encode()); r.status != 200 {
		t.Fatalf("public revoke: %d %s", r.status, r.raw)
	}
	if r := f.refresh(f.spa, "", pr.body["refresh_token"].(string), nil); r.status != 400 {
		t.Errorf("the revoked token refreshes: %d %s", r.status, r.raw)
	}
}

// Tokens no record names (those of a client without refresh tokens) end
// by the cut-off a revoked consent or a disabled user makes.
func TestUserAccessTokensAreCutOff(t *testing.T) {
	f := newFlow(t)
	grant := func(cookie string) string {
		code := f.authorize(cookie, f.noRefresh, webCB, nil)
		return f.exchange(f.noRefresh, f.noRefreshSecret, code, webCB, verifier).body["access_token"].(string)
	}
	other := f.newUser("other@example.com")
	otherCookie := f.signIn(other)
	tests := []struct {
		name string
		cut  func()
		tok  string
	}{
		{"consent revoked", func() {
			if err := f.sessions.Revoke(context.Background(), f.user, f.noRefresh, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}, grant(f.cookie)},
		{"user disabled", func() {
			if _, err := f.users.SetStatus(context.Background(), f.actor, other.ID, account.UserDisabled); err != nil {
				t.Fatal(err)
			}
		}, grant(otherCookie)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !f.active(tt.tok, "", "") {
				t.Fatal("inactive at first")
			}
			tt.cut()
			if f.active(tt.tok, "", "") {
				t.Error("the access token outlived the cut-off")
			}
			if r := f.me(tt.tok); r.status != 401 {
				t.Errorf("/api/v1/me: %d", r.status)
			}
		})
	}
	// A new grant, a second later, is not cut off.
	f.clock.Advance(time.Second)
	if !f.active(grant(f.cookie), "", "") {
		t.Error("a token granted after the cut-off is inactive")
	}
}
