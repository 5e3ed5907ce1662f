package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/testpg"
)

// A rotation that names the version it was asked from happens once: sent
// again from the same form, it finds the version its first run changed and
// rotates nothing, so no second secret is ever issued, nor the first one
// revoked. Both backends, as the version is read back from each.
func TestRotateIfVersion(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		f := newFixture(t)
		rotateOnce(t, f.svc, f.db, &f.now)
	})
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		db, err := postgres.Open(ctx, testpg.Database(t, "latchkey_rotate_"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTenant(ctx, &account.Tenant{ID: "ten_a", Name: "ten_a", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		now := t0
		rotateOnce(t, &client.Service{Repo: db, Now: func() time.Time { return now }}, db, &now)
	})
}

func rotateOnce(t *testing.T, svc *client.Service, repo client.Repository, now *time.Time) {
	ctx := t.Context()
	sys := client.SystemActor("ten_a")
	c, first, err := svc.Create(ctx, sys, cc("Rotated once"))
	if err != nil {
		t.Fatal(err)
	}
	asked := c.Version()
	*now = now.Add(time.Minute)
	second, err := svc.RotateSecret(ctx, sys, c.ID, client.RotateParams{Grace: time.Hour, IfVersion: asked})
	if err != nil {
		t.Fatalf("rotation at the current version: %v", err)
	}
	*now = now.Add(time.Minute)
	again, err := svc.RotateSecret(ctx, sys, c.ID, client.RotateParams{IfVersion: asked})
	if !errors.Is(err, client.ErrStale) || again != nil {
		t.Fatalf("rotation repeated from the old version: %v, %v; want ErrStale", again, err)
	}
	got, secrets, err := svc.Get(ctx, sys, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 2 {
		t.Fatalf("%d secrets after a refused rotation, want 2", len(secrets))
	}
	auth := &client.Authenticator{Repo: repo, Now: func() time.Time { return *now }, TTL: -1}
	for _, plain := range []string{first.Plaintext, second.Plaintext} {
		if _, _, err := auth.Authenticate(ctx, c.ID, plain, false); err != nil {
			t.Errorf("the refused rotation stopped a secret: %v", err)
		}
	}
	// The version the first rotation left is current: a rotation from it
	// goes through, and no version at all is no precondition.
	if _, err := svc.RotateSecret(ctx, sys, c.ID, client.RotateParams{IfVersion: got.Version()}); err != nil {
		t.Errorf("rotation at the current version: %v", err)
	}
	*now = now.Add(time.Minute)
	if _, err := svc.RotateSecret(ctx, sys, c.ID, client.RotateParams{}); err != nil {
		t.Errorf("rotation without a version: %v", err)
	}
}
