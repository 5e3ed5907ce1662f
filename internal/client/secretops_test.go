package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

func TestAddAndRevokeSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, first, err := f.svc.Create(ctx, f.sys, cc("Overlapping"))
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	added, err := f.svc.AddSecret(ctx, f.sys, c.ID, client.AddSecretParams{Lifetime: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Both work: the first half of a rotation the operator finishes.
	for _, sec := range []string{first.Plaintext, added.Plaintext} {
		if _, _, err := (&client.Authenticator{Repo: f.db, Now: func() time.Time { return f.now }}).Authenticate(ctx, c.ID, sec, true); err != nil {
			t.Errorf("a secret stopped working when another was added: %v", err)
		}
	}
	got, _, _ := f.svc.Get(ctx, f.sys, c.ID)
	if !got.SecretExpiresAt.Equal(added.ExpiresAt) {
		t.Errorf("secret expiry %v, want the newest secret's %v", got.SecretExpiresAt, added.ExpiresAt)
	}
	revoked, err := f.svc.RevokeSecret(ctx, f.sys, c.ID, added.ID, false)
	if err != nil || revoked.Status != client.SecretRevoked || !revoked.RevokedAt.Equal(f.now) {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	if got, _, _ = f.svc.Get(ctx, f.sys, c.ID); !got.SecretExpiresAt.Equal(first.ExpiresAt) {
		t.Errorf("after revoking the newest, expiry %v, want the first's %v", got.SecretExpiresAt, first.ExpiresAt)
	}
	// Revoking again changes nothing; an unknown secret is not found.
	if _, err := f.svc.RevokeSecret(ctx, f.sys, c.ID, added.ID, false); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if _, err := f.svc.RevokeSecret(ctx, f.sys, c.ID, "sec_nope", false); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown secret: %v", err)
	}
	// At most MaxActiveSecrets work at once.
	for range client.MaxActiveSecrets - 1 {
		if _, err := f.svc.AddSecret(ctx, f.sys, c.ID, client.AddSecretParams{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.AddSecret(ctx, f.sys, c.ID, client.AddSecretParams{}); fields(err) != "secrets" {
		t.Errorf("one secret too many: %v", err)
	}
	// A viewer may do neither.
	viewer := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{authz.Viewer}}
	if _, err := f.svc.AddSecret(ctx, viewer, c.ID, client.AddSecretParams{}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a viewer added a secret: %v", err)
	}
	if _, err := f.svc.RevokeSecret(ctx, viewer, c.ID, first.ID, false); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a viewer revoked a secret: %v", err)
	}
	// Another tenant's client is not found.
	other := client.SystemActor("ten_b")
	if _, err := f.svc.RevokeSecret(ctx, other, c.ID, first.ID, false); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("another tenant revoked a secret: %v", err)
	}
	// Each change is audited.
	events, err := f.db.AuditEvents(ctx, "ten_a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range events {
		actions[e.Action]++
	}
	if actions[client.ActionSecretAdded] != client.MaxActiveSecrets || actions[client.ActionSecretRevoked] != 1 {
		t.Errorf("audited actions %v", actions)
	}
}

func TestSecretChangesRefused(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	public, _, err := f.svc.Create(ctx, f.sys, client.CreateParams{Name: "SPA", Type: client.Public,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddSecret(ctx, f.sys, public.ID, client.AddSecretParams{}); fields(err) != "type" {
		t.Errorf("a public client gained a secret: %v", err)
	}
	p := cc("Provisioned")
	p.Protected = true
	prot, sec, err := f.svc.Create(ctx, f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddSecret(ctx, f.sys, prot.ID, client.AddSecretParams{}); !errors.Is(err, client.ErrProtected) {
		t.Errorf("unconfirmed change to a protected client: %v", err)
	}
	if _, err := f.svc.RevokeSecret(ctx, f.sys, prot.ID, sec.ID, true); err != nil {
		t.Errorf("confirmed: %v", err)
	}
	if _, err := f.svc.AddSecret(ctx, f.sys, prot.ID, client.AddSecretParams{Lifetime: time.Minute}); fields(err) != "secret_expires" {
		t.Errorf("a one-minute secret: %v", err)
	}
}
