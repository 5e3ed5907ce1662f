package oauth_test

import (
	"context"
	"encoding/json"
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

func (h *harness) accessToken(id, secret string) string {
	h.t.Helper()
	r := h.token(id, secret, nil)
	if r.status != 200 {
		h.t.Fatalf("token: %d %s", r.status, r.raw)
	}
	return r.body["access_token"].(string)
}

func (h *harness) introspect(id, secret, tok string) map[string]any {
	h.t.Helper()
	r := h.do("POST", "/oauth2/introspect", form, url.Values{"token": {tok}}.Encode(), "Authorization", basicAuth(id, secret))
	if r.status != 200 {
		h.t.Fatalf("introspect: %d %s", r.status, r.raw)
	}
	return r.body
}

func (h *harness) me(tok string) response {
	return h.do("GET", "/api/v1/me", "", "", "Authorization", "Bearer "+tok)
}

// resourceServer registers a client with the resource_server role, which
// may introspect the tenant's tokens.
func (h *harness) resourceServer() (string, string) {
	h.t.Helper()
	return h.create(client.CreateParams{Name: "Resource server", Roles: []string{authz.ResourceServer}})
}

func TestJWTVerifiesAgainstJWKS(t *testing.T) {
	h := newHarness(t, 0)
	id, secret := h.create(client.CreateParams{Scopes: []string{"read"}, AccessTokenTTL: 600 * time.Second})
	tok := h.accessToken(id, secret)

	r := h.do("GET", "/.well-known/jwks.json", "", "")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.raw), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v %s", err, r.raw)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := parsed.Headers[0].ExtraHeaders["typ"]; typ != "at+jwt" {
		t.Errorf("typ = %v", typ)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", parsed.Headers[0].KeyID)
	}
	var std jwt.Claims
	var priv struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	}
	if err := parsed.Claims(keys[0].Key, &std, &priv); err != nil {
		t.Fatal(err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: h.issuer, AnyAudience: jwt.Audience{h.issuer}, Subject: id, Time: h.clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	if priv.ClientID != id || priv.Scope != "read" || std.ID == "" || std.Expiry.Time().Sub(std.IssuedAt.Time()) != 600*time.Second {
		t.Errorf("claims %+v %+v", std, priv)
	}
}

func TestIntrospectionAndRevocation(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	rsID, rsSecret := h.resourceServer()
	id, secret := h.create(client.CreateParams{Scopes: []string{"read"}})
	otherID, otherSecret := h.create(client.CreateParams{})

	tok := h.accessToken(id, secret)
	in := h.introspect(rsID, rsSecret, tok)
	if in["active"] != true || in["client_id"] != id || in["sub"] != id || in["scope"] != "read" || in["token_type"] != "Bearer" {
		t.Fatalf("introspection %v", in)
	}
	if r := h.me(tok); r.status != 200 || r.body["client_id"] != id || r.body["kind"] != "client" {
		t.Fatalf("me: %d %s", r.status, r.raw)
	}

	// Another client cannot revoke it; the answer is the same 200.
	r := h.do("POST", "/oauth2/revoke", form, "token="+tok, "Authorization", basicAuth(otherID, otherSecret))
	if r.status != 200 || h.introspect(rsID, rsSecret, tok)["active"] != true {
		t.Fatalf("foreign revoke: %d, active=%v", r.status, h.introspect(rsID, rsSecret, tok)["active"])
	}
	jti := in["jti"].(string)
	r = h.do("POST", "/oauth2/revoke", form, "token="+tok+"&token_type_hint=access_token", "Authorization", basicAuth(id, secret))
	if r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	// The revocation is stored, for other instances and restarts.
	fresh := &token.Revocations{}
	if err := fresh.Load(ctx, h.db, h.clock.Now()); err != nil || !fresh.IsRevoked(jti, h.clock.Now()) {
		t.Fatalf("revocation not stored: %v", err)
	}
	if in := h.introspect(rsID, rsSecret, tok); in["active"] != false || len(in) != 1 {
		t.Fatalf("after revoke: %v", in)
	}
	r = h.me(tok)
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("me after revoke: %d %v", r.status, r.header)
	}
	// Revoking garbage is also 200 (RFC 7009 §2.2).
	if r := h.do("POST", "/oauth2/revoke", form, "token=garbage", "Authorization", basicAuth(id, secret)); r.status != 200 {
		t.Fatalf("revoke garbage: %d", r.status)
	}

	// Rotation without grace revokes the secret: tokens issued under it die.
	tok2 := h.accessToken(id, secret)
	if _, err := h.svc.RotateSecret(ctx, h.actor, id, client.RotateParams{}); err != nil {
		t.Fatal(err)
	}
	if h.introspect(rsID, rsSecret, tok2)["active"] != false {
		t.Fatal("token of a revoked secret is active")
	}

	// Deactivating, revoking and deleting a client end its tokens at once.
	for _, end := range []func(id string) error{
		func(id string) error {
			_, err := h.svc.SetStatus(ctx, h.actor, id, client.StatusInactive, false)
			return err
		},
		func(id string) error { _, err := h.svc.Revoke(ctx, h.actor, id); return err },
		func(id string) error { return h.svc.Delete(ctx, h.actor, id) },
	} {
		cid, csec := h.create(client.CreateParams{})
		tok := h.accessToken(cid, csec)
		if err := end(cid); err != nil {
			t.Fatal(err)
		}
		if h.introspect(rsID, rsSecret, tok)["active"] != false {
			t.Fatal("token of an ended client is active")
		}
	}

	// Expired and forged tokens are inactive.
	tok3 := h.accessToken(otherID, otherSecret)
	forged := tok3[:len(tok3)-4] + "AAAA"
	if h.introspect(rsID, rsSecret, forged)["active"] != false {
		t.Fatal("forged token active")
	}
	h.clock.Advance(time.Hour)
	if h.introspect(rsID, rsSecret, tok3)["active"] != false {
		t.Fatal("expired token active")
	}
}

func TestIntrospectionErrors(t *testing.T) {
	h := newHarness(t, 0)
	id, secret := h.create(client.CreateParams{})
	tests := []struct {
		name   string
		res    response
		status int
		code   string
	}{
		{"no auth", h.do("POST", "/oauth2/introspect", form, "token=x"), 401, "invalid_client"},
		{"wrong secret", h.do("POST", "/oauth2/introspect", form, "token=x", "Authorization", basicAuth(id, "nope")), 401, "invalid_client"},
		{"no token", h.do("POST", "/oauth2/introspect", form, "", "Authorization", basicAuth(id, secret)), 400, "invalid_request"},
		{"repeated token", h.do("POST", "/oauth2/introspect", form, "token=a&token=b", "Authorization", basicAuth(id, secret)), 400, "invalid_request"},
		{"GET", h.do("GET", "/oauth2/introspect", "", ""), 405, "invalid_request"},
		{"revoke no token", h.do("POST", "/oauth2/revoke", form, "", "Authorization", basicAuth(id, secret)), 400, "invalid_request"},
		{"revoke no auth", h.do("POST", "/oauth2/revoke", form, "token=x"), 401, "invalid_client"},
		{"revoke GET", h.do("GET", "/oauth2/revoke", "", ""), 405, "invalid_request"},
	}
	for _, tt := range tests {
		if tt.res.status != tt.status || tt.res.body["error"] != tt.code {
			t.Errorf("%s: %d %s", tt.name, tt.res.status, tt.res.raw)
		}
	}
	for _, hdr := range [][]string{nil, {"Authorization", "Basic abc"}, {"Authorization", "Bearer "}, {"Authorization", "Bearer not-a-token"}} {
		r := h.do("GET", "/api/v1/me", "", "", hdr...)
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("me %v: %d %v", hdr, r.status, r.header)
		}
	}
}

func TestOpaqueTokens(t *testing.T) {
	h := newHarness(t, 0)
	rsID, rsSecret := h.resourceServer()
	id, secret := h.create(client.CreateParams{TokenFormat: client.TokenOpaque, Scopes: []string{"read"}})
	tok := h.accessToken(id, secret)
	if !strings.HasPrefix(tok, "lkat_") {
		t.Fatalf("opaque token %q", tok)
	}
	if in := h.introspect(rsID, rsSecret, tok); in["active"] != true || in["scope"] != "read" || in["client_id"] != id {
		t.Fatalf("introspect %v", in)
	}
	if r := h.me(tok); r.status != 200 {
		t.Fatalf("me %d", r.status)
	}
	h.do("POST", "/oauth2/revoke", form, "token="+tok, "Authorization", basicAuth(id, secret))
	if h.introspect(rsID, rsSecret, tok)["active"] != false {
		t.Fatal("revoked opaque token active")
	}
	tok2 := h.accessToken(id, secret)
	h.clock.Advance(time.Hour)
	if h.introspect(rsID, rsSecret, tok2)["active"] != false {
		t.Fatal("expired opaque token active")
	}
}

func TestSuppliedSecretAndOwnerCap(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	viewer := &account.User{ID: "usr_v", TenantID: "ten_1", Email: "v@example.com", Roles: []string{authz.Viewer},
		CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()}
	if err := h.db.CreateUser(ctx, viewer); err != nil {
		t.Fatal(err)
	}
	supplied := "an-admin-chosen-secret-of-enough-length"
	id, _ := h.create(client.CreateParams{Secret: supplied, Roles: []string{authz.OAuthAdmin}, OwnerUserID: "usr_v",
		Scopes: []string{"oauth:client:view", "oauth:client:add", "read"}})
	for range 2 { // the second check is served by the verified-result cache
		r := h.token(id, supplied, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		// The owner is a viewer: oauth:client:add is beyond them.
		if r.body["scope"] != "oauth:client:view read" {
			t.Fatalf("scope %q", r.body["scope"])
		}
	}
	if r := h.token(id, supplied, url.Values{"scope": {"oauth:client:add"}}); r.status != 400 || r.body["error"] != "invalid_scope" {
		t.Fatalf("beyond the owner: %d %s", r.status, r.raw)
	}
	if r := h.token(id, supplied+"x", nil); r.status != 401 {
		t.Fatalf("wrong supplied secret: %d", r.status)
	}
}

func TestDiscovery(t *testing.T) {
	h := newHarness(t, 0)
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := h.do("GET", p, "", "")
		if r.status != 200 || r.body["issuer"] != h.issuer || r.body["token_endpoint"] != h.issuer+"/oauth2/token" ||
			r.body["jwks_uri"] != h.issuer+"/.well-known/jwks.json" {
			t.Fatalf("%s: %s", p, r.raw)
		}
	}
}

func TestIntrospectionStaysInTenant(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	if err := h.db.CreateTenant(ctx, &account.Tenant{ID: "ten_2", Name: "Other", Slug: "other", CreatedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	id, secret := h.create(client.CreateParams{})
	sameID, sameSecret := h.resourceServer()
	c, sec, err := h.svc.Create(ctx, client.SystemActor("ten_2"), client.CreateParams{Name: "Other RS",
		GrantTypes: []client.GrantType{client.GrantClientCredentials}, Roles: []string{authz.ResourceServer}})
	if err != nil {
		t.Fatal(err)
	}
	tok := h.accessToken(id, secret)
	if h.introspect(sameID, sameSecret, tok)["active"] != true {
		t.Fatal("same tenant: inactive")
	}
	// Another tenant's resource server is not a client here at all.
	r := h.do("POST", "/oauth2/introspect", form, url.Values{"token": {tok}}.Encode(), "Authorization", basicAuth(c.ID, sec.Plaintext))
	if r.status != 401 || r.body["error"] != "invalid_client" {
		t.Fatalf("another tenant's resource server: %d %s", r.status, r.raw)
	}
	// At its own tenant's endpoint, the token is not one of that tenant's.
	r = h.do("POST", "/t/other/oauth2/introspect", form, url.Values{"token": {tok}}.Encode(), "Authorization", basicAuth(c.ID, sec.Plaintext))
	if r.status != 200 || r.body["active"] != false || len(r.body) != 1 {
		t.Fatalf("another tenant's resource server learned %d %s", r.status, r.raw)
	}
}

func TestForeignAndFreshlyRotatedSigners(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	rsID, rsSecret := h.resourceServer()
	id, _ := h.create(client.CreateParams{})
	// A token with this server's key but another issuer is not ours.
	c := token.Claims{Issuer: "https://elsewhere.example", Subject: id, Audience: []string{h.issuer}, ClientID: id,
		ID: "jti_foreign", IssuedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(time.Hour)}
	foreign, err := h.tenantKeys("ten_1").SignAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	if h.introspect(rsID, rsSecret, foreign)["active"] != false {
		t.Fatal("a token of another issuer is active")
	}
	// Another instance rotates the key and signs with the new one at once:
	// this instance learns the key on the unknown kid.
	other := &token.Keys{Tenant: "ten_1", Store: h.db, KEK: h.kek, Now: h.clock.Now}
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	c.Issuer, c.ID = h.issuer, "jti_rotated"
	c.Extra = map[string]any{"secret_id": h.secretID(id)}
	rotated, err := other.SignAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	if h.introspect(rsID, rsSecret, rotated)["active"] != true {
		t.Fatal("a token signed by a freshly rotated key is inactive")
	}
}
