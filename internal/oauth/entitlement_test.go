package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/token"
)

// signed signs access-token claims for a client of the default tenant with
// its keys, changed by mutate: tokens the token endpoint would not issue.
func (h *harness) signed(clientID string, mutate func(*token.Claims)) string {
	h.t.Helper()
	now := h.clock.Now()
	c := token.Claims{Issuer: h.issuer, Subject: clientID, Audience: []string{h.issuer}, ClientID: clientID,
		ID: "jti_" + now.Format("150405.000000000"), IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		Extra: map[string]any{"secret_id": h.secretID(clientID)}}
	mutate(&c)
	tok, err := h.tenantKeys("ten_1").SignAccess(c)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func TestIntrospectionNeedsEntitlement(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	id, secret := h.create(client.CreateParams{Scopes: []string{"read"}})
	tok := h.accessToken(id, secret)
	plainID, plainSecret := h.create(client.CreateParams{Name: "No role"})
	adminID, adminSecret := h.create(client.CreateParams{Name: "OAuth admin", Roles: []string{authz.OAuthAdmin}})
	rsID, rsSecret := h.resourceServer()

	viewer := &account.User{ID: "usr_viewer", TenantID: "ten_1", Email: "v@example.com", Roles: []string{authz.Viewer},
		CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()}
	if err := h.db.CreateUser(ctx, viewer); err != nil {
		t.Fatal(err)
	}
	cappedID, cappedSecret := h.create(client.CreateParams{Name: "Owned by a viewer", Roles: []string{authz.ResourceServer},
		OwnerUserID: "usr_viewer"})

	for _, tt := range []struct {
		name, id, secret string
		active           bool
	}{
		{"a client with no role", plainID, plainSecret, false},
		{"the token's own client, not its audience", id, secret, false},
		{"a client whose owner lacks the permission", cappedID, cappedSecret, false},
		{"resource_server", rsID, rsSecret, true},
		{"oauth_admin", adminID, adminSecret, true},
	} {
		in := h.introspect(tt.id, tt.secret, tok)
		if in["active"] != tt.active || (!tt.active && len(in) != 1) {
			t.Errorf("%s: introspection %v, want active=%v", tt.name, in, tt.active)
		}
	}

	// A client named in the token's aud may introspect it without the
	// permission.
	forPlain := h.signed(id, func(c *token.Claims) { c.Audience = []string{plainID} })
	if in := h.introspect(plainID, plainSecret, forPlain); in["active"] != true {
		t.Errorf("the token's audience: %v, want active", in)
	}
	// Other clients see it only with the permission.
	if in := h.introspect(cappedID, cappedSecret, forPlain); in["active"] != false {
		t.Errorf("not the audience, no permission: %v", in)
	}
}

func TestAudienceIsChecked(t *testing.T) {
	h := newHarness(t, 0)
	rsID, rsSecret := h.resourceServer()
	id, _ := h.create(client.CreateParams{})

	good := h.signed(id, func(*token.Claims) {})
	if r := h.me(good); r.status != 200 {
		t.Fatalf("a well-formed token: %d %s", r.status, r.raw)
	}
	for name, mutate := range map[string]func(*token.Claims){
		"another audience": func(c *token.Claims) { c.Audience = []string{"https://api.elsewhere.example"} },
		"no audience":      func(c *token.Claims) { c.Audience = nil },
		"another issuer":   func(c *token.Claims) { c.Issuer = "https://elsewhere.example" },
	} {
		tok := h.signed(id, mutate)
		if in := h.introspect(rsID, rsSecret, tok); in["active"] != false {
			t.Errorf("%s: introspection %v", name, in)
		}
		if r := h.me(tok); r.status != 401 {
			t.Errorf("%s: /api/v1/me %d %s", name, r.status, r.raw)
		}
	}
	// /api/v1/me is the tenant's own resource: a token whose aud names only
	// a resource server is not for it, though introspection answers that
	// resource server.
	forRS := h.signed(id, func(c *token.Claims) { c.Audience = []string{rsID} })
	if r := h.me(forRS); r.status != 401 {
		t.Errorf("a token for another resource at /api/v1/me: %d", r.status)
	}
	if in := h.introspect(rsID, rsSecret, forRS); in["active"] != true {
		t.Errorf("the token's audience introspecting: %v", in)
	}
}

func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	h := newHarness(t, 0)
	rsID, rsSecret := h.resourceServer()
	id, secret := h.create(client.CreateParams{})
	now := h.clock.Now()
	// Everything an access token check could look at is right: the key,
	// the issuer, an audience the callers answer for, a live client.
	for _, aud := range []string{h.issuer, id, rsID} {
		idTok, err := h.tenantKeys("ten_1").SignID(token.IDClaims{Issuer: h.issuer, Subject: id, Audience: aud,
			IssuedAt: now, ExpiresAt: now.Add(time.Hour), Extra: map[string]any{"client_id": id}})
		if err != nil {
			t.Fatal(err)
		}
		if in := h.introspect(rsID, rsSecret, idTok); in["active"] != false {
			t.Errorf("aud %s: an ID token is active at introspection by a resource server: %v", aud, in)
		}
		if in := h.introspect(id, secret, idTok); in["active"] != false {
			t.Errorf("aud %s: an ID token is active at introspection by its client: %v", aud, in)
		}
		if r := h.me(idTok); r.status != 401 {
			t.Errorf("aud %s: an ID token at /api/v1/me: %d %s", aud, r.status, r.raw)
		}
	}
}
