package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testpg"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
)

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		filepath.Join(dir, "plain.db"),
		"sqlite:" + filepath.Join(dir, "prefixed.db"),
		"sqlite://" + filepath.Join(dir, "slashes.db"),
		"file:" + filepath.Join(dir, "uri.db"),
		":memory:",
	} {
		t.Run(url, func(t *testing.T) {
			s, err := store.Open(t.Context(), url)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			// Migrated: the schema is there.
			if err := s.CreateTenant(t.Context(), &account.Tenant{ID: "ten_a", Name: "A"}); err != nil {
				t.Fatalf("CreateTenant: %v", err)
			}
		})
	}
	for _, name := range []string{"plain.db", "prefixed.db", "slashes.db", "uri.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s was not created: %v", name, err)
		}
	}
}

func TestMigrate(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "latchkey.db")
	n, err := store.Migrate(t.Context(), url)
	if err != nil || n == 0 {
		t.Fatalf("first Migrate: applied %d, %v; want some applied", n, err)
	}
	if n, err := store.Migrate(t.Context(), url); err != nil || n != 0 {
		t.Fatalf("second Migrate: applied %d, %v; want 0", n, err)
	}
	s, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open after Migrate: %v", err)
	}
	s.Close()
}

func TestOpenPostgres(t *testing.T) {
	ctx := t.Context()
	dbURL := testpg.Database(t, "latchkey_test_open_")

	s, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, ok := s.(*postgres.DB); !ok {
		t.Fatalf("Open returned a %T", s)
	}
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_a", Name: "A"}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if n, err := store.Migrate(ctx, dbURL); err != nil || n != 0 {
		t.Fatalf("Migrate after Open: applied %d, %v; want 0", n, err)
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	for _, scheme := range []string{"postgres", "postgresql"} {
		_, err := store.Open(t.Context(), scheme+"://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
		if err == nil || !strings.HasPrefix(err.Error(), "postgres: ") {
			t.Errorf("Open(%s://...) against a closed port: got %v, want a postgres error", scheme, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, url := range []string{"", "sqlite:", "sqlite://"} {
		if s, err := store.Open(t.Context(), url); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}

// OpenExisting never creates a database, whichever way the SQLite file is
// named, and names where it looked.
func TestOpenExistingCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		filepath.Join(dir, "plain.db"),
		"sqlite:" + filepath.Join(dir, "prefixed.db"),
		"file:" + filepath.Join(dir, "uri.db"),
		"file:" + filepath.Join(dir, "query.db") + "?_pragma=busy_timeout(5000)",
		"file://" + filepath.Join(dir, "authority.db"),
	} {
		s, err := store.OpenExisting(t.Context(), url)
		if err == nil {
			s.Close()
			t.Errorf("%s: opened a database that does not exist", url)
		} else if !errors.Is(err, store.ErrNoDatabase) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: %v, want ErrNoDatabase naming the path", url, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("OpenExisting wrote %v", entries)
	}
	if _, err := store.OpenExisting(t.Context(), ""); !errors.Is(err, store.ErrNoDatabase) {
		t.Errorf("an empty setting: %v", err)
	}
}
