package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

var _ store.Store = (*sqlite.DB)(nil)

// open returns a migrated store in a new file, closed when the test ends.
func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestSQLite(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "latchkey.db"))
	})
}

func TestSQLiteInMemory(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store { return open(t, ":memory:") })
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	n, err := db.Migrate(t.Context())
	if err != nil || n == 0 {
		t.Fatalf("first Migrate: applied %d, %v; want some applied", n, err)
	}
	if n, err := db.Migrate(t.Context()); err != nil || n != 0 {
		t.Fatalf("second Migrate: applied %d, %v; want 0", n, err)
	}
}

// TestSharedFile is two processes on one file, say the server and the CLI,
// rotating one client's secret at once: their write transactions
// serialize (BEGIN IMMEDIATE, then busy_timeout), none fails, and one
// secret is left active.
func TestSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	services := []*client.Service{{Repo: open(t, path), Now: now}, {Repo: open(t, path), Now: now}}
	actor := client.SystemActor("ten_a")
	c, _, err := services[0].Create(t.Context(), actor, client.CreateParams{
		Name: "Shared", GrantTypes: []client.GrantType{client.GrantClientCredentials},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	const rotations = 16
	var wg sync.WaitGroup
	for i := range rotations {
		wg.Go(func() {
			if _, err := services[i%2].RotateSecret(t.Context(), actor, c.ID, client.RotateParams{}); err != nil {
				t.Errorf("RotateSecret %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	secrets, err := services[1].Repo.Secrets(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, s := range secrets {
		if s.Status == client.SecretActive {
			active++
		}
	}
	if active != 1 || len(secrets) != rotations+1 {
		t.Errorf("after %d rotations through two handles: %d secrets, %d active; want %d, 1", rotations, len(secrets), active, rotations+1)
	}
}

// TestSecretNotStored checks that a secret's plaintext appears nowhere in
// the database files, only its hash.
func TestSecretNotStored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latchkey.db")
	db := open(t, path)
	_, plaintexts := storetest.WriteSecrets(t, db)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, plain := range plaintexts {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(plain)) {
				t.Errorf("%s contains the plaintext secret %q", filepath.Base(f), plain)
			}
		}
	}
}

// TestAuditAppendOnly: the database itself refuses to change or remove an
// audit event, whatever SQL a later bug might send.
func TestAuditAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	storetest.AppendOneEvent(t, open(t, path))
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{"UPDATE audit_events SET action = 'nothing'", "DELETE FROM audit_events"} {
		if _, err := raw.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want the append-only refusal", q, err)
		}
	}
}

// TestLoggedColumns: the change-log triggers watch a client's
// configuration columns and a revocation's expiry and cut-off, not its
// usage and activity columns.
func TestLoggedColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db := open(t, path)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	storetest.CheckLoggedColumns(t, db, func(ctx context.Context, query string) error {
		_, err := raw.ExecContext(ctx, query)
		return err
	})
}
