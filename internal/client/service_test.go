package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	svc     *client.Service
	db      *sqlite.DB
	now     time.Time
	changed []string
	sys     client.Actor
}

func newFixture(t *testing.T) *fixture { return newFixtureTB(t) }

func newFixtureTB(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ten_a", "ten_b"} {
		if err := db.CreateTenant(ctx, &account.Tenant{ID: id, Name: id, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateUser(ctx, &account.User{ID: "usr_1", TenantID: "ten_a", Email: "u@example.com", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, now: t0, sys: client.SystemActor("ten_a")}
	f.svc = &client.Service{Repo: db, Now: func() time.Time { return f.now }, OnChange: func(id string) { f.changed = append(f.changed, id) }}
	return f
}

func cc(name string) client.CreateParams {
	return client.CreateParams{Name: name, GrantTypes: []client.GrantType{client.GrantClientCredentials}}
}

func fields(err error) string {
	var ve *client.ValidationError
	if !errors.As(err, &ve) {
		return ""
	}
	var names []string
	for _, f := range ve.Fields {
		names = append(names, f.Field)
	}
	return strings.Join(names, ",")
}

func TestCreateDefaults(t *testing.T) {
	f := newFixture(t)
	c, sec, err := f.svc.Create(context.Background(), f.sys, cc("Billing"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, "lkc_") || c.Type != client.Confidential || c.Status != client.StatusActive ||
		c.AccessTokenTTL != time.Hour || c.TokenFormat != client.TokenJWT || c.CreatedBy != "system" || !c.CreatedAt.Equal(t0) {
		t.Errorf("defaults: %+v", c)
	}
	if !client.IsGeneratedSecret(sec.Plaintext) || !sec.ExpiresAt.Equal(t0.Add(180*24*time.Hour)) || !c.SecretExpiresAt.Equal(sec.ExpiresAt) {
		t.Errorf("secret: %+v", sec.Secret)
	}
	if sec.Hint != sec.Plaintext[len(sec.Plaintext)-4:] || strings.Contains(sec.Hash, sec.Plaintext) {
		t.Errorf("hint %q hash %q", sec.Hint, sec.Hash)
	}
	if len(f.changed) != 1 || f.changed[0] != c.ID {
		t.Errorf("OnChange calls %v", f.changed)
	}
	// Never-expiring and public clients.
	p := cc("Forever")
	p.SecretLifetime = client.NeverExpires
	_, sec, _ = f.svc.Create(context.Background(), f.sys, p)
	if !sec.ExpiresAt.IsZero() {
		t.Errorf("never-expiring secret expires %v", sec.ExpiresAt)
	}
	pub, sec, err := f.svc.Create(context.Background(), f.sys, client.CreateParams{Name: "SPA", Type: client.Public,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	if err != nil || sec != nil || pub.Type != client.Public {
		t.Errorf("public: %v %v %v", pub, sec, err)
	}
}

func TestCreateRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := client.Actor{Kind: authz.KindUser, TenantID: "ten_a", ID: "usr_1", Roles: []string{authz.OAuthAdmin}}
	with := func(edit func(*client.CreateParams)) client.CreateParams { p := cc("x"); edit(&p); return p }
	tests := []struct {
		name  string
		actor client.Actor
		p     client.CreateParams
		field string
	}{
		{"role not held", admin, with(func(p *client.CreateParams) { p.Roles = []string{authz.SuperAdmin} }), "roles"},
		{"star scope by non-super-admin", admin, with(func(p *client.CreateParams) { p.Scopes = []string{"*"} }), "scopes"},
		{"unknown owner", f.sys, with(func(p *client.CreateParams) { p.OwnerUserID = "usr_nobody" }), "owner_user_id"},
		{"short supplied secret", f.sys, with(func(p *client.CreateParams) { p.Secret = "short" }), "client_secret"},
		{"secret for public", f.sys, client.CreateParams{Name: "x", Type: client.Public, Secret: strings.Repeat("a", 40),
			GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://a.example/cb"}}, "client_secret"},
		{"lifetime too short", f.sys, with(func(p *client.CreateParams) { p.SecretLifetime = time.Hour }), "secret_expires"},
		{"created revoked", f.sys, with(func(p *client.CreateParams) { p.Status = client.StatusRevoked }), "status"},
		{"many at once", f.sys, client.CreateParams{Type: "x"}, "name,type,grant_types"},
		{"a user's prefix", f.sys, with(func(p *client.CreateParams) { p.ClientID = "usr_1" }), "client_id"},
		{"a user's prefix in capitals", f.sys, with(func(p *client.CreateParams) { p.ClientID = "USR_x" }), "client_id"},
		{"a secret's prefix", f.sys, with(func(p *client.CreateParams) { p.ClientID = "sec_x" }), "client_id"},
	}
	// A user whose ID has no reserved prefix (imported, say).
	if err := f.db.CreateUser(ctx, &account.User{ID: "alice-account", TenantID: "ten_a", Email: "alice@example.com", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct {
		name  string
		actor client.Actor
		p     client.CreateParams
		field string
	}{"a user's ID", f.sys, with(func(p *client.CreateParams) { p.ClientID = "alice-account" }), "client_id"})
	for _, tt := range tests {
		_, _, err := f.svc.Create(ctx, tt.actor, tt.p)
		if got := fields(err); !strings.HasPrefix(got, tt.field) {
			t.Errorf("%s: fields %q (%v), want %q", tt.name, got, err, tt.field)
		}
	}
	if page, _ := f.svc.List(ctx, f.sys, client.ListQuery{}); page.Total != 0 {
		t.Fatalf("refused creates wrote %d clients", page.Total)
	}
	// The OAuth admin may assign a role it holds; the owner exists.
	p := cc("ok")
	p.Roles, p.OwnerUserID = []string{authz.OAuthAdmin}, "usr_1"
	if _, _, err := f.svc.Create(ctx, admin, p); err != nil {
		t.Fatal(err)
	}
	p.ClientID = "dup-id"
	f.svc.Create(ctx, f.sys, p)
	if _, _, err := f.svc.Create(ctx, f.sys, p); fields(err) != "client_id" {
		t.Fatalf("duplicate id: %v", err)
	}
}

func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, _, _ := f.svc.Create(ctx, f.sys, cc("A's"))
	other := client.SystemActor("ten_b")
	if _, _, err := f.svc.Get(ctx, other, c.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("get across tenants: %v", err)
	}
	if _, err := f.svc.Revoke(ctx, other, c.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("revoke across tenants: %v", err)
	}
	if err := f.svc.Delete(ctx, other, c.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("delete across tenants: %v", err)
	}
	if _, err := f.svc.RotateSecret(ctx, other, c.ID, client.RotateParams{}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("rotate across tenants: %v", err)
	}
	if page, _ := f.svc.List(ctx, other, client.ListQuery{}); page.Total != 0 {
		t.Errorf("list across tenants: %d", page.Total)
	}
}

func TestUpdateAndStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, _, _ := f.svc.Create(ctx, f.sys, cc("Before"))
	f.now = t0.Add(time.Minute)
	name, scopes := "After", []string{"read"}
	got, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Name: &name, Scopes: &scopes})
	if err != nil || got.Name != "After" || got.Scopes[0] != "read" || !got.UpdatedAt.Equal(f.now) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("update: %+v %v", got, err)
	}
	bad := ""
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Name: &bad}); fields(err) != "name" {
		t.Fatalf("empty name: %v", err)
	}
	unknown := client.Status("paused")
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Status: &unknown}); !strings.Contains(fields(err), "status") {
		t.Fatalf("unknown status: %v", err)
	}
	if _, err := f.svc.SetStatus(ctx, f.sys, c.ID, client.StatusInactive, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, f.sys, c.ID); err != nil {
		t.Fatal(err)
	}
	_, secrets, _ := f.svc.Get(ctx, f.sys, c.ID)
	for _, s := range secrets {
		if s.Status != client.SecretRevoked || s.RevokedAt.IsZero() {
			t.Errorf("secret after revoke: %+v", s)
		}
	}
	for _, st := range []client.Status{client.StatusActive, client.StatusInactive} {
		if _, err := f.svc.SetStatus(ctx, f.sys, c.ID, st, false); fields(err) != "status" {
			t.Errorf("revoked → %s: %v", st, err)
		}
	}
	if _, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{}); fields(err) != "status" {
		t.Errorf("rotate revoked: %v", err)
	}
	if err := f.svc.Delete(ctx, f.sys, c.ID); err != nil {
		t.Fatalf("delete revoked: %v", err)
	}
	if _, _, err := f.svc.Get(ctx, f.sys, c.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestProtected(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := cc("Admin")
	p.Protected = true
	c, _, _ := f.svc.Create(ctx, f.sys, p)
	name := "Renamed"
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Name: &name}); !errors.Is(err, client.ErrProtected) {
		t.Errorf("unconfirmed edit: %v", err)
	}
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Name: &name, Confirm: true}); err != nil {
		t.Errorf("confirmed edit: %v", err)
	}
	if _, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{}); !errors.Is(err, client.ErrProtected) {
		t.Errorf("unconfirmed rotation: %v", err)
	}
	if err := f.svc.Delete(ctx, f.sys, c.ID); !errors.Is(err, client.ErrProtected) {
		t.Errorf("delete: %v", err)
	}
	if _, err := f.svc.Revoke(ctx, f.sys, c.ID); !errors.Is(err, client.ErrProtected) {
		t.Errorf("revoke: %v", err)
	}
	if _, err := f.svc.SetStatus(ctx, f.sys, c.ID, client.StatusInactive, false); !errors.Is(err, client.ErrProtected) {
		t.Errorf("unconfirmed deactivation: %v", err)
	}
	if got, err := f.svc.SetStatus(ctx, f.sys, c.ID, client.StatusInactive, true); err != nil || got.Status != client.StatusInactive {
		t.Errorf("confirmed deactivation: %v %v", got, err)
	}
}

func TestIDsThatCannotExist(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"a\x00b", "\xff\xfe", strings.Repeat("x", 70000), ""} {
		if _, _, err := f.svc.Get(ctx, f.sys, id); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("Get(%.20q): %v", id, err)
		}
		if _, err := f.svc.Revoke(ctx, f.sys, id); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("Revoke(%.20q): %v", id, err)
		}
	}
	p := cc("x")
	p.OwnerUserID = "usr\x00"
	if _, _, err := f.svc.Create(ctx, f.sys, p); fields(err) != "owner_user_id" {
		t.Errorf("NUL owner: %v", err)
	}
	for _, q := range []client.ListQuery{
		{OwnerUserID: "a\x00"}, {Search: "a\x00"}, {Search: "a\nb"},
		{After: client.Cursor{Key: "a\x00", ID: "lkc_1"}.Encode()}, {After: client.Cursor{Key: "a", ID: "lkc\x00"}.Encode()},
	} {
		if _, err := f.svc.List(ctx, f.sys, q); fields(err) == "" {
			t.Errorf("List(%+v) accepted", q)
		}
	}
}

func TestRotate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, first, _ := f.svc.Create(ctx, f.sys, cc("R"))
	f.now = t0.Add(time.Hour)
	second, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{Grace: 24 * time.Hour, Lifetime: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got, secrets, _ := f.svc.Get(ctx, f.sys, c.ID)
	if len(secrets) != 2 || secrets[0].ID != second.ID || secrets[1].ID != first.ID {
		t.Fatalf("secrets newest first: %+v", secrets)
	}
	if secrets[1].Status != client.SecretRetiring || !secrets[1].ExpiresAt.Equal(f.now.Add(24*time.Hour)) {
		t.Errorf("old secret in grace: %+v", secrets[1])
	}
	if !got.SecretExpiresAt.Equal(f.now.Add(90 * 24 * time.Hour)) {
		t.Errorf("client secret_expires_at %v", got.SecretExpiresAt)
	}
	third, _ := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{})
	_, secrets, _ = f.svc.Get(ctx, f.sys, c.ID)
	want := map[string]client.SecretStatus{third.ID: client.SecretActive, second.ID: client.SecretRevoked, first.ID: client.SecretRetiring}
	for _, s := range secrets {
		if s.Status != want[s.ID] {
			t.Errorf("secret %s: %s, want %s", s.ID, s.Status, want[s.ID])
		}
	}
	for _, p := range []client.RotateParams{{Grace: -time.Second}, {Grace: 31 * 24 * time.Hour}, {Lifetime: time.Minute}, {Secret: "short"}} {
		if _, err := f.svc.RotateSecret(ctx, f.sys, c.ID, p); fields(err) == "" {
			t.Errorf("rotate %+v accepted", p)
		}
	}
}

func TestRedirectURIsNeedAuthorizationCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := cc("cc with redirects")
	p.RedirectURIs = []string{"https://app.example/cb"}
	_, _, err := f.svc.Create(ctx, f.sys, p)
	if fields(err) != "redirect_uris" || !strings.Contains(err.Error(), "add it to grant_types, or clear the redirect URIs") {
		t.Fatalf("create: %v", err)
	}

	web, _, err := f.svc.Create(ctx, f.sys, client.CreateParams{Name: "web",
		GrantTypes:   []client.GrantType{client.GrantAuthorizationCode, client.GrantClientCredentials},
		RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	ccOnly := []client.GrantType{client.GrantClientCredentials}
	_, err = f.svc.Update(ctx, f.sys, web.ID, client.UpdateParams{GrantTypes: &ccOnly})
	if fields(err) != "redirect_uris" || !strings.Contains(err.Error(), "clear the redirect URIs too") {
		t.Fatalf("removing authorization_code, keeping redirect URIs: %v", err)
	}
	none := []string{}
	got, err := f.svc.Update(ctx, f.sys, web.ID, client.UpdateParams{GrantTypes: &ccOnly, RedirectURIs: &none})
	if err != nil || got.HasGrant(client.GrantAuthorizationCode) || len(got.RedirectURIs) != 0 {
		t.Fatalf("removing both: %v %v", got, err)
	}
}

// A client stored under older rules (redirect URIs without the
// authorization_code grant, a wildcard host) can still be deactivated and
// revoked: the rules judge what an edit changes.
func TestStoredRedirectURIsDoNotBlockStatusChanges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, _, err := f.svc.Create(ctx, f.sys, cc("older"))
	if err != nil {
		t.Fatal(err)
	}
	err = f.db.InTx(ctx, func(tx client.Tx) error {
		old, err := tx.LockClient(ctx, c.ID)
		if err != nil {
			return err
		}
		old.RedirectURIs = []string{"https://*.example.com/cb"}
		return tx.UpdateClient(ctx, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetStatus(ctx, f.sys, c.ID, client.StatusInactive, false); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	name := "renamed"
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Name: &name}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	// Touching the URIs judges them by today's rules.
	uris := []string{"https://*.example.com/cb", "https://app.example/cb"}
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{RedirectURIs: &uris}); fields(err) != "redirect_uris" {
		t.Fatalf("editing the URIs: %v", err)
	}
	if _, err := f.svc.SetStatus(ctx, f.sys, c.ID, client.StatusRevoked, false); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}
