package oauth_test

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/token"
)

// withDivisions gives the default tenant the divisions named.
func (h *harness) withDivisions(ids ...string) {
	h.t.Helper()
	divs := &account.Divisions{Repo: h.db, Now: h.clock.Now}
	for _, id := range ids {
		if _, err := divs.Create(context.Background(), h.actor, account.NewDivision{ID: id, Name: id}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// withRole gives the default tenant a custom role.
func (h *harness) withRole(name string, perms ...authz.Permission) {
	h.t.Helper()
	roles := &account.Roles{Repo: h.db, Now: h.clock.Now}
	if _, err := roles.Create(context.Background(), h.actor, account.NewRole{Name: name, Permissions: perms}); err != nil {
		h.t.Fatal(err)
	}
}

// withUser adds a user of the default tenant with these grants.
func (h *harness) withUser(email string, roles ...string) string {
	h.t.Helper()
	u, err := h.users.Create(context.Background(), h.actor, account.NewUser{Email: email, Roles: roles})
	if err != nil {
		h.t.Fatal(err)
	}
	return u.ID
}

// claims verifies a JWT access token of the default tenant.
func (h *harness) claims(tok string) *token.Claims {
	h.t.Helper()
	c, err := h.tenantKeys("ten_1").VerifyAccess(tok, h.clock.Now(), token.Expect{Issuer: h.issuer, Audience: []string{h.issuer}})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// rolesClaim returns the token's roles claim, nil when it has none.
func rolesClaim(c *token.Claims) []string {
	raw, ok := c.Extra["roles"].([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		out[i], _ = r.(string)
	}
	return out
}

func TestClientCredentialsCarryDivisionRoles(t *testing.T) {
	h := newHarness(t, 0)
	h.withDivisions("d1", "d2")
	scopes := []string{"oauth:client:view", "oauth:client:add", "read"}
	owned := func(owner string, roles ...string) (string, string) {
		return h.create(client.CreateParams{Roles: roles, Scopes: scopes, OwnerUserID: owner})
	}
	inD1 := h.withUser("d1@example.com", "viewer@d1")
	inD2 := h.withUser("d2@example.com", "viewer@d2")
	tests := []struct {
		name, owner string
		roles       []string
		scope       string
		claim       []string
	}{
		{"a division admin", "", []string{"oauth_admin@d1"}, "oauth:client:view oauth:client:add read", []string{"oauth_admin@d1"}},
		{"tenant-wide and in a division", "", []string{"viewer", "oauth_admin@d2"}, "oauth:client:view oauth:client:add read",
			[]string{"viewer", "oauth_admin@d2"}},
		{"no roles", "", nil, "read", nil},
		// The owner caps the client division by division.
		{"owned where the owner views", inD1, []string{"oauth_admin@d1"}, "oauth:client:view read", []string{"oauth_admin@d1"}},
		{"owned where the owner is not", inD2, []string{"oauth_admin@d1"}, "read", nil},
		{"owned tenant-wide, owner in d2", inD2, []string{authz.OAuthAdmin}, "oauth:client:view read", []string{"oauth_admin@d2"}},
	}
	for _, tt := range tests {
		id, secret := owned(tt.owner, tt.roles...)
		r := h.token(id, secret, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", tt.name, r.status, r.raw)
		}
		if r.body["scope"] != tt.scope {
			t.Errorf("%s: scope %q, want %q", tt.name, r.body["scope"], tt.scope)
		}
		c := h.claims(r.body["access_token"].(string))
		if got := rolesClaim(c); !equalStrings(got, tt.claim) {
			t.Errorf("%s: roles claim %v, want %v", tt.name, got, tt.claim)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestClientCredentialsResolveCustomRoles(t *testing.T) {
	h := newHarness(t, 0)
	h.withRole("auditor", authz.AuditView)
	id, secret := h.create(client.CreateParams{Roles: []string{"auditor"}, Scopes: []string{"audit:view", "oauth:client:view"}})
	r := h.token(id, secret, nil)
	if r.status != 200 || r.body["scope"] != "audit:view" {
		t.Fatalf("default scope: %d %s", r.status, r.raw)
	}
	if got := rolesClaim(h.claims(r.body["access_token"].(string))); !equalStrings(got, []string{"auditor"}) {
		t.Errorf("roles claim %v", got)
	}
	if r := h.token(id, secret, map[string][]string{"scope": {"oauth:client:view"}}); r.status != 400 || r.body["error"] != "invalid_scope" {
		t.Errorf("a permission the custom role lacks: %d %s", r.status, r.raw)
	}
}

func TestIntrospectionByDivision(t *testing.T) {
	h := newHarness(t, 0)
	h.withDivisions("d1")
	h.withRole("introspector", authz.TokenIntrospect)
	ctx := context.Background()
	mk := func(name, division string, roles ...string) (string, string) {
		c, sec, err := h.svc.Create(ctx, h.actor, client.CreateParams{Name: name, DivisionID: division, Roles: roles,
			GrantTypes: []client.GrantType{client.GrantClientCredentials}})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID, sec.Plaintext
	}
	d1ID, d1Secret := mk("In d1", "d1")
	homeID, homeSecret := mk("At home", "")
	inD1 := h.accessToken(d1ID, d1Secret)
	atHome := h.accessToken(homeID, homeSecret)
	rsID, rsSecret := mk("d1's resource server", "d1", "resource_server@d1")
	customID, customSecret := mk("Custom", "", "introspector")
	for _, tt := range []struct {
		name, id, secret, tok string
		active                bool
	}{
		{"resource_server@d1 on d1's token", rsID, rsSecret, inD1, true},
		{"resource_server@d1 on home's token", rsID, rsSecret, atHome, false},
		{"a custom role, tenant-wide", customID, customSecret, atHome, true},
		{"a custom role on d1's token", customID, customSecret, inD1, true},
	} {
		if got := h.introspect(tt.id, tt.secret, tt.tok)["active"]; got != tt.active {
			t.Errorf("%s: active %v, want %v", tt.name, got, tt.active)
		}
	}
}
