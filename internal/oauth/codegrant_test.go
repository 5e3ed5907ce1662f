package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/token"
)

// idClaims are the ID token claims the tests check.
type idClaims struct {
	jwt.Claims
	Nonce    string `json:"nonce"`
	AuthTime int64  `json:"auth_time"`
	AtHash   string `json:"at_hash"`
}

// verifyID checks an ID token against the tenant's JWKS with go-jose, as
// a relying party would, and returns its claims.
func (h *harness) verifyID(tok string, alg jose.SignatureAlgorithm) idClaims {
	h.t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{alg})
	if err != nil {
		h.t.Fatalf("ID token: %v", err)
	}
	var c idClaims
	if err := parsed.Claims(h.jwks(""), &c); err != nil {
		h.t.Fatalf("ID token: %v", err)
	}
	return c
}

// atHash is OpenID Connect Core §3.1.3.6's at_hash for SHA-256 algorithms.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func TestCodeExchange(t *testing.T) {
	f := newFlow(t)
	authAt := f.clock.Now()
	f.clock.Advance(5 * time.Second)

	t.Run("confidential client", func(t *testing.T) {
		r := f.tokens(url.Values{"scope": {offlineScope}})
		at, _ := r.body["access_token"].(string)
		rt, _ := r.body["refresh_token"].(string)
		if r.body["token_type"] != "Bearer" || r.body["scope"] != offlineScope || !strings.HasPrefix(rt, "lkrt_") ||
			r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token response %s %v", r.raw, r.header)
		}
		c := f.verifyID(r.body["id_token"].(string), jose.RS256)
		if c.Issuer != f.issuer || c.Subject != f.user.ID || len(c.Audience) != 1 || c.Audience[0] != f.web ||
			c.Nonce != "n-0S6" || c.AuthTime != authAt.Unix() || c.AtHash != atHash(at) || c.Expiry == nil || c.IssuedAt == nil {
			t.Fatalf("ID token claims %+v", c)
		}
		in := f.introspect(f.rs, f.rsSecret, at)
		if in["active"] != true || in["sub"] != f.user.ID || in["client_id"] != f.web || in["scope"] != offlineScope {
			t.Fatalf("introspection %v", in)
		}
		me := f.me(at)
		if me.status != 200 || me.body["kind"] != "user" || me.body["sub"] != f.user.ID {
			t.Fatalf("/api/v1/me %d %s", me.status, me.raw)
		}
	})
	t.Run("public client with PKCE and ES256 ID tokens", func(t *testing.T) {
		code := f.authorizeApproving(f.user, f.cookie, f.spa, spaCB, nil)
		r := f.exchange(f.spa, "", code, spaCB, verifier)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		c := f.verifyID(r.body["id_token"].(string), jose.ES256)
		if c.Audience[0] != f.spa || c.AtHash != atHash(r.body["access_token"].(string)) {
			t.Fatalf("claims %+v", c)
		}
	})
	t.Run("without openid, no ID token", func(t *testing.T) {
		r := f.tokens(url.Values{"scope": {"read"}, "nonce": {""}})
		if _, ok := r.body["id_token"]; ok {
			t.Fatalf("ID token without openid: %s", r.raw)
		}
	})
	t.Run("without the refresh grant, no refresh token", func(t *testing.T) {
		code := f.authorize(f.cookie, f.noRefresh, webCB, nil)
		r := f.exchange(f.noRefresh, f.noRefreshSecret, code, webCB, verifier)
		if _, ok := r.body["refresh_token"]; r.status != 200 || ok {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("a confidential client may skip PKCE", func(t *testing.T) {
		code := f.authorize(f.cookie, f.web, webCB, url.Values{"code_challenge": {""}, "code_challenge_method": {""}})
		if r := f.exchange(f.web, f.webSecret, code, webCB, ""); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("the last authorization and token are recorded", func(t *testing.T) {
		if err := f.usage.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		c, err := f.db.Client(context.Background(), f.web)
		if err != nil {
			t.Fatal(err)
		}
		if c.LastAuthorization.UserID != f.user.ID || c.LastAuthorization.RedirectURI != webCB ||
			c.LastToken.Grant != client.GrantAuthorizationCode || c.LastToken.At.IsZero() {
			t.Fatalf("last authorization %+v, last token %+v", c.LastAuthorization, c.LastToken)
		}
	})
}

func TestCodeExchangeFailures(t *testing.T) {
	f := newFlow(t)
	disabled := f.newUser("gone@example.com")
	disabledCookie := f.signIn(disabled)
	ccID, ccSecret := f.create(client.CreateParams{Name: "Machine"})
	noChallenge := url.Values{"code_challenge": {""}, "code_challenge_method": {""}}
	web := func() string { return f.authorize(f.cookie, f.web, webCB, nil) }
	// The public client asks for consent once; then its codes need no page.
	f.authorizeApproving(f.user, f.cookie, f.spa, spaCB, nil)
	// webOwner and spaOwner redeem a code as its owner would.
	webOwner := func(code string) response { return f.exchange(f.web, f.webSecret, code, webCB, verifier) }
	spaOwner := func(uri string) func(string) response {
		return func(code string) response { return f.exchange(f.spa, "", code, uri, verifier) }
	}
	tests := []struct {
		name  string
		setup func() string // returns the code
		try   func(code string) response
		code  string
		desc  string
		// owner redeems the code after the refusal, which must have left
		// it unused; nil when the refusal rightly burnt it.
		owner func(code string) response
	}{
		{"no code", web, func(string) response { return f.exchange(f.web, f.webSecret, "", webCB, verifier) },
			"invalid_request", "code is required", webOwner},
		{"no redirect_uri", web, func(code string) response { return f.exchange(f.web, f.webSecret, code, "", verifier) },
			"invalid_request", "redirect_uri is required", webOwner},
		{"unknown code", web, func(string) response { return f.exchange(f.web, f.webSecret, "lkac_nope", webCB, verifier) },
			"invalid_grant", "invalid or expired", webOwner},
		{"another redirect_uri", web, func(code string) response { return f.exchange(f.web, f.webSecret, code, webCBQ, verifier) },
			"invalid_grant", "redirect_uri differs", webOwner},
		{"another loopback port", func() string { return f.authorize(f.cookie, f.spa, "http://127.0.0.1:5000/cb", nil) },
			func(code string) response { return f.exchange(f.spa, "", code, "http://127.0.0.1:5001/cb", verifier) },
			"invalid_grant", "redirect_uri differs", spaOwner("http://127.0.0.1:5000/cb")},
		{"another client", web, func(code string) response { return f.exchange(f.strict, f.strictSecret, code, webCB, verifier) },
			"invalid_grant", "another client", webOwner},
		{"wrong verifier", web, func(code string) response {
			return f.exchange(f.web, f.webSecret, code, webCB, strings.Repeat("a", 43))
		},
			"invalid_grant", "does not match", webOwner},
		{"no verifier", func() string { return f.authorize(f.cookie, f.spa, spaCB, nil) },
			func(code string) response { return f.exchange(f.spa, "", code, spaCB, "") },
			"invalid_grant", "code_verifier is required", spaOwner(spaCB)},
		{"verifier without challenge", func() string { return f.authorize(f.cookie, f.web, webCB, noChallenge) },
			func(code string) response { return f.exchange(f.web, f.webSecret, code, webCB, verifier) },
			"invalid_grant", "had no code_challenge",
			func(code string) response { return f.exchange(f.web, f.webSecret, code, webCB, "") }},
		{"malformed verifier", web, func(code string) response { return f.exchange(f.web, f.webSecret, code, webCB, "short") },
			"invalid_request", "43 to 128", webOwner},
		{"client without the grant", web, func(code string) response { return f.exchange(ccID, ccSecret, code, webCB, verifier) },
			"unauthorized_client", "authorization_code", webOwner},
		{"expired", web, func(code string) response {
			f.clock.Advance(61 * time.Second)
			return f.exchange(f.web, f.webSecret, code, webCB, verifier)
		}, "invalid_grant", "invalid or expired", nil},
		{"user disabled", func() string { return f.authorize(disabledCookie, f.web, webCB, nil) }, func(code string) response {
			if _, err := f.users.SetStatus(context.Background(), f.actor, disabled.ID, account.UserDisabled); err != nil {
				t.Fatal(err)
			}
			return f.exchange(f.web, f.webSecret, code, webCB, verifier)
		}, "invalid_grant", "disabled", nil},
		{"replayed", web, func(code string) response {
			if r := webOwner(code); r.status != 200 {
				t.Fatalf("first exchange %d %s", r.status, r.raw)
			}
			return webOwner(code)
		}, "invalid_grant", "already used", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := tt.setup()
			r := tt.try(code)
			desc, _ := r.body["error_description"].(string)
			if r.status != 400 || r.body["error"] != tt.code || !strings.Contains(desc, tt.desc) {
				t.Fatalf("%d %s; want %s saying %q", r.status, r.raw, tt.code, tt.desc)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			if tt.owner == nil {
				return
			}
			if ok := tt.owner(code); ok.status != 200 {
				t.Fatalf("after the refusal the owner's exchange failed: %d %s", ok.status, ok.raw)
			}
		})
	}
}

func TestReplayedCodeRevokesItsTokens(t *testing.T) {
	f := newFlow(t)
	code := f.authorizeApproving(f.user, f.cookie, f.web, webCB, url.Values{"scope": {offlineScope}})
	first := f.exchange(f.web, f.webSecret, code, webCB, verifier)
	if first.status != 200 {
		t.Fatalf("%d %s", first.status, first.raw)
	}
	at, rt := first.body["access_token"].(string), first.body["refresh_token"].(string)
	// The first refresh token rotated: the replay must end its successor too.
	second := f.refresh(f.web, f.webSecret, rt, nil)
	if second.status != 200 {
		t.Fatalf("refresh %d %s", second.status, second.raw)
	}
	at2, rt2 := second.body["access_token"].(string), second.body["refresh_token"].(string)
	for _, tok := range []string{at, at2, rt2} {
		if !f.active(tok, f.web, f.webSecret) {
			t.Fatalf("before the replay %s... is inactive", tok[:10])
		}
	}
	if r := f.exchange(f.web, f.webSecret, code, webCB, verifier); r.status != 400 || r.body["error"] != "invalid_grant" {
		t.Fatalf("replay %d %s", r.status, r.raw)
	}
	for _, tok := range []string{at, at2, rt, rt2} {
		if f.active(tok, f.web, f.webSecret) {
			t.Errorf("after the replay %s... is still active", tok[:10])
		}
	}
	if r := f.refresh(f.web, f.webSecret, rt2, nil); r.status != 400 {
		t.Errorf("the family's live token still refreshes: %d %s", r.status, r.raw)
	}
}

// codeUsedAt returns when a code was exchanged, zero while it is unused,
// reading it in a grant transaction that is rolled back.
func (h *harness) codeUsedAt(code string) time.Time {
	h.t.Helper()
	ctx := context.Background()
	errLook := errors.New("only looking")
	var used time.Time
	err := h.db.InGrantTx(ctx, func(tx token.GrantTx) error {
		c, err := tx.UseCode(ctx, token.HashOpaque(code), h.clock.Now())
		if err != nil {
			return err
		}
		used = c.UsedAt
		return errLook
	})
	if !errors.Is(err, errLook) {
		h.t.Fatalf("reading code: %v", err)
	}
	return used
}

// A code issued before the user revoked the application grants nothing,
// and its refused exchange leaves it unused.
func TestCodeExchangeAfterTheUserRevoked(t *testing.T) {
	f := newFlow(t)
	ctx := context.Background()
	spent := f.authorize(f.cookie, f.web, webCB, nil)
	if r := f.exchange(f.web, f.webSecret, spent, webCB, verifier); r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	if f.codeUsedAt(spent).IsZero() {
		t.Fatal("an exchanged code reads as unused")
	}
	tests := []struct {
		name   string
		revoke func()
	}{
		{"consent revoked", func() {
			if err := f.sessions.Revoke(ctx, f.user, f.web, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"approved again for less", func() {
			if err := f.sessions.Revoke(ctx, f.user, f.web, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.sessions.Approve(ctx, f.user, f.web, []string{"openid"}, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := f.authorize(f.cookie, f.web, webCB, nil) // openid read
			tt.revoke()
			for range 2 { // refused the same way again: not as a replay
				r := f.exchange(f.web, f.webSecret, code, webCB, verifier)
				desc, _ := r.body["error_description"].(string)
				if r.status != 400 || r.body["error"] != "invalid_grant" || !strings.Contains(desc, "revoked this application's access") {
					t.Fatalf("%d %s; want invalid_grant saying the access was revoked", r.status, r.raw)
				}
				if _, ok := r.body["access_token"]; ok {
					t.Fatalf("tokens issued: %s", r.raw)
				}
				if used := f.codeUsedAt(code); !used.IsZero() {
					t.Fatalf("the refused exchange used the code at %v", used)
				}
			}
		})
	}
}

// An OpenID Connect sign-in gets a refresh token only when offline_access
// was granted; a plain OAuth request gets one by the client's grant
// alone; and no request gets one without the grant.
func TestRefreshTokenOffered(t *testing.T) {
	f := newFlow(t)
	tests := []struct {
		name  string
		app   string // "web" has the refresh grant, "noRefresh" not
		scope string
		want  bool
	}{
		{"openid without offline_access", "web", "openid read", false},
		{"openid with offline_access", "web", "openid read offline_access", true},
		{"no openid", "web", "read", true},
		{"offline_access without openid", "web", "read offline_access", true},
		{"without the grant, offline_access", "noRefresh", "openid read offline_access", false},
		{"without the grant, no openid", "noRefresh", "read", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret := f.web, f.webSecret
			if tt.app == "noRefresh" {
				id, secret = f.noRefresh, f.noRefreshSecret
			}
			extra := url.Values{"scope": {tt.scope}}
			if !strings.Contains(tt.scope, "openid") {
				extra.Set("nonce", "")
			}
			r := f.exchange(id, secret, f.codeApproving(id, webCB, extra), webCB, verifier)
			rt, got := r.body["refresh_token"].(string)
			if r.status != 200 || r.body["scope"] != tt.scope || got != tt.want {
				t.Fatalf("refresh token %v, want %v: %d %s", got, tt.want, r.status, r.raw)
			}
			if got {
				if rr := f.refresh(id, secret, rt, nil); rr.status != 200 {
					t.Fatalf("refresh: %d %s", rr.status, rr.raw)
				}
			}
		})
	}
}

// A code of one of Latchkey's own clients carries an admin permission
// scope only when the user holds that permission somewhere in the
// tenant: a user without roles gets the rest of the scope, a viewer gets
// the permission.
func TestCodeCarriesHeldPermissionsOnly(t *testing.T) {
	f := newFlow(t)
	// Latchkey's own console and CLI clients are protected.
	f.web, f.webSecret = f.create(client.CreateParams{Name: "Console", Protected: true,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB},
		Scopes: []string{"read", "oauth:client:view"}})
	extra := url.Values{"scope": {"read oauth:client:view"}}
	if r := f.tokens(extra); r.body["scope"] != "read" {
		t.Errorf("a user without roles: scope %q, want read", r.body["scope"])
	}
	viewer, err := f.users.Create(context.Background(), authz.SystemActor("ten_1"),
		account.NewUser{Email: "viewer@example.com", Roles: []string{authz.Viewer}})
	if err != nil {
		t.Fatal(err)
	}
	f.user, f.cookie = viewer, f.signIn(viewer)
	if r := f.tokens(extra); r.body["scope"] != "read oauth:client:view" {
		t.Errorf("a viewer: scope %q, want read oauth:client:view", r.body["scope"])
	}
}
