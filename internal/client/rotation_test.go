package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// Finishing a rotation revokes the old secret early, keeps the new one,
// and is one audit event naming the revoked secrets.
func TestFinishRotation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, first, err := f.svc.Create(ctx, f.sys, cc("Rotating"))
	if err != nil {
		t.Fatal(err)
	}
	auth := &client.Authenticator{Repo: f.db, Now: func() time.Time { return f.now }, TTL: -1}
	works := func(secret string) bool {
		_, _, err := auth.Authenticate(ctx, c.ID, secret, true)
		return err == nil
	}
	// No rotation yet: nothing to finish.
	if _, err := f.svc.FinishRotation(ctx, f.sys, c.ID, false); fields(err) != "secrets" {
		t.Fatalf("finishing without a rotation: %v, want a secrets field error", err)
	}
	f.now = f.now.Add(time.Hour)
	second, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{Grace: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !works(first.Plaintext) || !works(second.Plaintext) {
		t.Fatal("both secrets should work during the grace period")
	}
	viewer := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{authz.Viewer}}
	if _, err := f.svc.FinishRotation(ctx, viewer, c.ID, false); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a viewer finished a rotation: %v", err)
	}
	if _, err := f.svc.FinishRotation(ctx, client.SystemActor("ten_b"), c.ID, false); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("another tenant finished a rotation: %v", err)
	}
	f.now = f.now.Add(time.Minute)
	f.changed = nil
	revoked, err := f.svc.FinishRotation(ctx, f.sys, c.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 || revoked[0].ID != first.ID || revoked[0].Status != client.SecretRevoked || !revoked[0].RevokedAt.Equal(f.now) {
		t.Fatalf("revoked %+v, want the first secret, revoked now", revoked)
	}
	if works(first.Plaintext) {
		t.Error("the old secret still works after the rotation was finished")
	}
	if !works(second.Plaintext) {
		t.Error("the new secret stopped working")
	}
	if len(f.changed) != 1 || f.changed[0] != c.ID {
		t.Errorf("changes announced %v, want the client", f.changed)
	}
	got, _, _ := f.svc.Get(ctx, f.sys, c.ID)
	if !got.SecretExpiresAt.Equal(second.ExpiresAt) {
		t.Errorf("secret expiry %v, want the new secret's %v", got.SecretExpiresAt, second.ExpiresAt)
	}
	// Finished: a second time there is nothing left to finish.
	if _, err := f.svc.FinishRotation(ctx, f.sys, c.ID, false); fields(err) != "secrets" {
		t.Errorf("finishing twice: %v", err)
	}
	events, err := f.db.AuditEvents(ctx, "ten_a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var finished int
	for _, e := range events {
		if e.Action == client.ActionRotationFinished {
			finished++
			if e.Details["secret_ids"] != first.ID || e.TargetID != c.ID {
				t.Errorf("audit event %+v, want the client and the old secret named", e)
			}
		}
	}
	if finished != 1 {
		t.Errorf("%d rotation_finished events, want 1", finished)
	}
}

// A protected client's rotation is finished only when confirmed.
func TestFinishRotationOfAProtectedClient(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	p := cc("Provisioned")
	p.Protected = true
	c, _, err := f.svc.Create(ctx, f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{Grace: time.Hour, Confirm: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.FinishRotation(ctx, f.sys, c.ID, false); !errors.Is(err, client.ErrProtected) {
		t.Errorf("unconfirmed: %v, want ErrProtected", err)
	}
	if got, err := f.svc.FinishRotation(ctx, f.sys, c.ID, true); err != nil || len(got) != 1 {
		t.Errorf("confirmed: %v, %v", got, err)
	}
}

// An old secret still used in the last hour of its grace is warned of
// exactly once: not before that hour, once in it, and not again from a
// second instance (or after a restart) on the same store.
func TestRetiringSecretInUseWarnedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, first, err := f.svc.Create(ctx, f.sys, cc("Late mover"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{Grace: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	auth := &client.Authenticator{Repo: f.db, Now: func() time.Time { return f.now }, TTL: -1}
	use := func(w *client.RetiringUseWarner) bool {
		t.Helper()
		got, sec, err := auth.Authenticate(ctx, c.ID, first.Plaintext, true)
		if err != nil {
			t.Fatalf("the old secret in its grace: %v", err)
		}
		warned, err := w.Observe(ctx, got, sec, "203.0.113.9", f.now)
		if err != nil {
			t.Fatal(err)
		}
		return warned
	}
	one, two := &client.RetiringUseWarner{Repo: f.db}, &client.RetiringUseWarner{Repo: f.db}
	start := f.now
	f.now = start.Add(22 * time.Hour) // two hours left: not yet
	if use(one) {
		t.Error("warned two hours before the grace ends")
	}
	f.now = start.Add(23*time.Hour + time.Minute)
	if !use(one) {
		t.Error("not warned in the last hour")
	}
	f.now = f.now.Add(time.Minute)
	if use(one) || use(two) {
		t.Error("warned twice")
	}
	events, err := f.db.AuditEvents(ctx, "ten_a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, e := range events {
		if e.Action == client.ActionRetiringSecretInUse {
			n++
			if e.Details["secret_id"] != first.ID || e.Details["source_addr"] != "203.0.113.9" || e.TargetID != c.ID {
				t.Errorf("event %+v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d %s events, want 1", n, client.ActionRetiringSecretInUse)
	}
}

// The stale report: clients last used before the cut-off, or never used
// and made before it.
func TestStaleClients(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	used, _, _ := f.svc.Create(ctx, f.sys, cc("Used long ago"))
	never, _, _ := f.svc.Create(ctx, f.sys, cc("Never used"))
	f.now = f.now.Add(100 * 24 * time.Hour)
	young, _, _ := f.svc.Create(ctx, f.sys, cc("Made yesterday"))
	recent, _, _ := f.svc.Create(ctx, f.sys, cc("Used today"))
	if err := f.db.RecordUse(ctx, []client.Use{{ClientID: used.ID, At: t0.Add(time.Hour)}, {ClientID: recent.ID, At: f.now}}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(24 * time.Hour)
	p, err := f.svc.Stale(ctx, f.sys, 90, client.ListQuery{Sort: client.SortName})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Clients {
		got = append(got, c.ID)
	}
	if len(got) != 2 || got[0] != never.ID || got[1] != used.ID {
		t.Errorf("stale after 90 days: %v, want %s and %s (not %s nor %s)", got, never.ID, used.ID, young.ID, recent.ID)
	}
	for _, days := range []int{0, -1, client.MaxStaleDays + 1} {
		if _, err := f.svc.Stale(ctx, f.sys, days, client.ListQuery{}); fields(err) != "days" {
			t.Errorf("days %d: %v", days, err)
		}
	}
}
