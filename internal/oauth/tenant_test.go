package oauth_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// twoTenants is the harness's default tenant (served at the root) and a
// second one, "beta", served at /t/beta, each with a client and a
// resource server.
type twoTenants struct {
	*harness
	id, secret, rs, rsSecret             string // the default tenant's
	betaID, betaSecret, betaRS, betaRSSc string
}

func newTwoTenants(t *testing.T) *twoTenants {
	h := newHarness(t, 0)
	ctx := context.Background()
	if err := h.db.CreateTenant(ctx, &account.Tenant{ID: "ten_2", Name: "Beta", Slug: "beta", CreatedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	tt := &twoTenants{harness: h}
	tt.id, tt.secret = h.create(client.CreateParams{Scopes: []string{"read"}})
	tt.rs, tt.rsSecret = h.resourceServer()
	beta := client.SystemActor("ten_2")
	mk := func(p client.CreateParams) (string, string) {
		p.GrantTypes = []client.GrantType{client.GrantClientCredentials}
		c, sec, err := h.svc.Create(ctx, beta, p)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID, sec.Plaintext
	}
	tt.betaID, tt.betaSecret = mk(client.CreateParams{Name: "Beta app", Scopes: []string{"read"}})
	tt.betaRS, tt.betaRSSc = mk(client.CreateParams{Name: "Beta RS", Roles: []string{authz.ResourceServer}})
	return tt
}

func (h *harness) tokenAt(base, id, secret string) response {
	h.t.Helper()
	return h.do("POST", base+"/oauth2/token", form, "grant_type=client_credentials", "Authorization", basicAuth(id, secret))
}

func (h *harness) introspectAt(base, id, secret, tok string) map[string]any {
	h.t.Helper()
	r := h.do("POST", base+"/oauth2/introspect", form, url.Values{"token": {tok}}.Encode(), "Authorization", basicAuth(id, secret))
	if r.status != 200 {
		h.t.Fatalf("introspect at %q: %d %s", base, r.status, r.raw)
	}
	return r.body
}

func (h *harness) meAt(base, tok string) response {
	return h.do("GET", base+"/api/v1/me", "", "", "Authorization", "Bearer "+tok)
}

func TestTenantIssuers(t *testing.T) {
	tt := newTwoTenants(t)
	betaIssuer := tt.issuer + "/t/beta"

	// Discovery: each tenant's own issuer and endpoints; the beta document
	// is also found by RFC 8414 path insertion.
	for base, iss := range map[string]string{
		"/.well-known/oauth-authorization-server":        tt.issuer,
		"/t/beta/.well-known/oauth-authorization-server": betaIssuer,
		"/.well-known/oauth-authorization-server/t/beta": betaIssuer,
	} {
		r := tt.do("GET", base, "", "")
		if r.status != 200 || r.body["issuer"] != iss || r.body["token_endpoint"] != iss+"/oauth2/token" ||
			r.body["jwks_uri"] != iss+"/.well-known/jwks.json" || r.body["introspection_endpoint"] != iss+"/oauth2/introspect" ||
			r.body["revocation_endpoint"] != iss+"/oauth2/revoke" {
			t.Errorf("%s: %d %s", base, r.status, r.raw)
		}
	}

	// Tokens: each tenant's client gets one from its own endpoint, with its
	// tenant's issuer as iss and aud, signed by its tenant's key.
	r := tt.tokenAt("", tt.id, tt.secret)
	betaR := tt.tokenAt("/t/beta", tt.betaID, tt.betaSecret)
	if r.status != 200 || betaR.status != 200 {
		t.Fatalf("tokens: %d %s / %d %s", r.status, r.raw, betaR.status, betaR.raw)
	}
	rootTok, betaTok := r.body["access_token"].(string), betaR.body["access_token"].(string)
	rootJWKS, betaJWKS := tt.jwks(""), tt.jwks("/t/beta")
	checkSigned(t, rootTok, rootJWKS, tt.issuer)
	checkSigned(t, betaTok, betaJWKS, betaIssuer)
	for _, k := range betaJWKS.Keys {
		if len(rootJWKS.Key(k.KeyID)) != 0 {
			t.Errorf("key %s is published by both tenants", k.KeyID)
		}
	}
	// Neither JWKS verifies the other tenant's token.
	for tok, set := range map[string]jose.JSONWebKeySet{rootTok: betaJWKS, betaTok: rootJWKS} {
		parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		var c jwt.Claims
		if err := parsed.Claims(set, &c); err == nil {
			t.Errorf("a token of %s verified against the other tenant's JWKS", c.Issuer)
		}
	}

	// Each token works at its own tenant's endpoints.
	if in := tt.introspectAt("", tt.rs, tt.rsSecret, rootTok); in["active"] != true || in["iss"] != tt.issuer {
		t.Errorf("root token at root introspection: %v", in)
	}
	if in := tt.introspectAt("/t/beta", tt.betaRS, tt.betaRSSc, betaTok); in["active"] != true || in["iss"] != betaIssuer {
		t.Errorf("beta token at beta introspection: %v", in)
	}
	if r := tt.meAt("", rootTok); r.status != 200 || r.body["tenant_id"] != "ten_1" {
		t.Errorf("root token at root /api/v1/me: %d %s", r.status, r.raw)
	}
	if r := tt.meAt("/t/beta", betaTok); r.status != 200 || r.body["tenant_id"] != "ten_2" {
		t.Errorf("beta token at beta /api/v1/me: %d %s", r.status, r.raw)
	}
}

func TestTenantRefusesAnotherTenantsTokens(t *testing.T) {
	tt := newTwoTenants(t)
	rootTok := tt.accessToken(tt.id, tt.secret)
	betaR := tt.tokenAt("/t/beta", tt.betaID, tt.betaSecret)
	betaTok := betaR.body["access_token"].(string)

	for _, c := range []struct {
		name, base, tok, rs, rsSecret string
	}{
		{"beta token at the root", "", betaTok, tt.rs, tt.rsSecret},
		{"root token at beta", "/t/beta", rootTok, tt.betaRS, tt.betaRSSc},
	} {
		if in := tt.introspectAt(c.base, c.rs, c.rsSecret, c.tok); in["active"] != false || len(in) != 1 {
			t.Errorf("%s: introspection %v", c.name, in)
		}
		if r := tt.meAt(c.base, c.tok); r.status != 401 {
			t.Errorf("%s: /api/v1/me %d %s", c.name, r.status, r.raw)
		}
	}
	// An opaque token carries no issuer; its client's tenant decides.
	c, sec, err := tt.svc.Create(context.Background(), client.SystemActor("ten_2"), client.CreateParams{Name: "Beta opaque",
		GrantTypes: []client.GrantType{client.GrantClientCredentials}, TokenFormat: client.TokenOpaque})
	if err != nil {
		t.Fatal(err)
	}
	opaque := tt.tokenAt("/t/beta", c.ID, sec.Plaintext).body["access_token"].(string)
	if r := tt.meAt("/t/beta", opaque); r.status != 200 {
		t.Errorf("beta opaque token at beta: %d %s", r.status, r.raw)
	}
	if r := tt.meAt("", opaque); r.status != 401 {
		t.Errorf("beta opaque token at the root: %d %s", r.status, r.raw)
	}
	if in := tt.introspectAt("", tt.rs, tt.rsSecret, opaque); in["active"] != false {
		t.Errorf("beta opaque token at root introspection: %v", in)
	}

	// Revoking at the wrong tenant does nothing, even as the token's own
	// client could (it cannot authenticate there).
	r := tt.do("POST", "/oauth2/revoke", form, "token="+betaTok, "Authorization", basicAuth(tt.id, tt.secret))
	if r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if in := tt.introspectAt("/t/beta", tt.betaRS, tt.betaRSSc, betaTok); in["active"] != true {
		t.Errorf("another tenant's revocation ended the token: %v", in)
	}
}

func TestClientOfAnotherTenantIsUnknown(t *testing.T) {
	tt := newTwoTenants(t)
	unknown := tt.tokenAt("/t/beta", "lkc_0000000000000000000000", "lks_nope")
	for _, c := range []struct {
		name, base, id, secret string
	}{
		{"root client at beta", "/t/beta", tt.id, tt.secret},
		{"beta client at the root", "", tt.betaID, tt.betaSecret},
	} {
		r := tt.tokenAt(c.base, c.id, c.secret)
		if r.status != 401 || r.body["error"] != "invalid_client" ||
			r.body["error_description"] != unknown.body["error_description"] ||
			r.header.Get("WWW-Authenticate") != unknown.header.Get("WWW-Authenticate") {
			t.Errorf("%s with its right secret: %d %s; an unknown client gets %d %s", c.name, r.status, r.raw, unknown.status, unknown.raw)
		}
		r = tt.do("POST", c.base+"/oauth2/introspect", form, "token=x", "Authorization", basicAuth(c.id, c.secret))
		if r.status != 401 || r.body["error_description"] != unknown.body["error_description"] {
			t.Errorf("%s at introspection: %d %s", c.name, r.status, r.raw)
		}
	}
	// An inactive client of another tenant still reads as unknown, though
	// at its own tenant its right secret earns the precise reason.
	if _, err := tt.svc.SetStatus(context.Background(), tt.actor, tt.id, client.StatusInactive, false); err != nil {
		t.Fatal(err)
	}
	if r := tt.tokenAt("/t/beta", tt.id, tt.secret); r.body["error_description"] != unknown.body["error_description"] {
		t.Errorf("inactive root client at beta: %s", r.raw)
	}
	if r := tt.tokenAt("", tt.id, tt.secret); r.body["error_description"] == unknown.body["error_description"] {
		t.Errorf("inactive root client at the root: %s", r.raw)
	}
}

func TestUnknownTenantIs404(t *testing.T) {
	tt := newTwoTenants(t)
	ctx := context.Background()
	tenantsBefore, err := tt.db.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loaded := tt.keys.Len()
	for _, path := range []string{
		"/t/nope/.well-known/oauth-authorization-server",
		"/.well-known/oauth-authorization-server/t/nope",
		"/t/nope/.well-known/jwks.json",
		"/t/Beta/.well-known/jwks.json",
		"/t/-x-/.well-known/jwks.json",
		"/t/acme/.well-known/jwks.json", // the default tenant's slug: it lives at the root
	} {
		if r := tt.do("GET", path, "", ""); r.status != 404 {
			t.Errorf("GET %s: %d %s", path, r.status, r.raw)
		}
	}
	if r := tt.tokenAt("/t/nope", tt.id, tt.secret); r.status != 404 {
		t.Errorf("token at an unknown tenant: %d %s", r.status, r.raw)
	}
	if r := tt.meAt("/t/nope", "x"); r.status != 404 {
		t.Errorf("me at an unknown tenant: %d", r.status)
	}
	tenantsAfter, err := tt.db.Tenants(ctx)
	if err != nil || len(tenantsAfter) != len(tenantsBefore) {
		t.Errorf("tenants %d → %d (%v)", len(tenantsBefore), len(tenantsAfter), err)
	}
	if tt.keys.Len() != loaded {
		t.Errorf("unknown tenants loaded keys: %d → %d", loaded, tt.keys.Len())
	}
	for _, id := range []string{"nope", "Beta", "acme"} {
		if ks, err := tt.db.SigningKeys(ctx, id); err != nil || len(ks) != 0 {
			t.Errorf("signing keys made for %q: %d, %v", id, len(ks), err)
		}
	}
}

func TestTenantKeysLoadLazily(t *testing.T) {
	tt := newTwoTenants(t)
	ctx := context.Background()
	// Beta has no keys until its first use; then it keeps one key of each
	// lineage (access tokens, ID tokens).
	if ks, _ := tt.db.SigningKeys(ctx, "ten_2"); len(ks) != 0 {
		t.Fatalf("beta has %d keys before its first use", len(ks))
	}
	for range 3 {
		if r := tt.tokenAt("/t/beta", tt.betaID, tt.betaSecret); r.status != 200 {
			t.Fatalf("token: %d %s", r.status, r.raw)
		}
	}
	if ks, _ := tt.db.SigningKeys(ctx, "ten_2"); len(ks) != 2 {
		t.Fatalf("beta has %d keys after use, want 2", len(ks))
	}
	// A rotation at one tenant leaves the other's key alone.
	root, _ := tt.tenantKeys("ten_1").Current()
	tt.clock.Advance(time.Minute)
	if err := tt.tenantKeys("ten_2").Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if now, _ := tt.tenantKeys("ten_1").Current(); now != root {
		t.Errorf("rotating beta changed the root key")
	}
}

func (h *harness) jwks(base string) jose.JSONWebKeySet {
	h.t.Helper()
	r := h.do("GET", base+"/.well-known/jwks.json", "", "")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.raw), &set); err != nil || len(set.Keys) == 0 {
		h.t.Fatalf("jwks at %q: %d %v %s", base, r.status, err, r.raw)
	}
	return set
}

// checkSigned verifies tok against set with go-jose and checks its
// issuer and audience.
func checkSigned(t *testing.T, tok string, set jose.JSONWebKeySet, issuer string) {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := parsed.Claims(set, &c); err != nil {
		t.Fatalf("token of %s: %v", issuer, err)
	}
	if c.Issuer != issuer || len(c.Audience) != 1 || c.Audience[0] != issuer {
		t.Errorf("iss %q aud %v, want both %s", c.Issuer, c.Audience, issuer)
	}
}
