package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/testpg"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

var _ store.Store = (*postgres.DB)(nil)

// adminURL returns the server the tests may create databases on (see
// package testpg: skipped without it, except in CI).
func adminURL(t *testing.T) string { return testpg.AdminURL(t) }

// testDatabase is one database per test run, created on first use and
// dropped by TestMain; each test gets a schema of its own in it, which is
// much faster to make and drop than a database.
var testDatabase struct {
	once       sync.Once
	admin, url string
	name       string
	err        error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testDatabase.name != "" {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, testDatabase.admin)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+testDatabase.name+" WITH (FORCE)")
			conn.Close(ctx)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "drop database %s: %v\n", testDatabase.name, err)
		}
	}
	os.Exit(code)
}

// randomName returns prefix followed by random hex.
func randomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// setUpDatabase creates the run's database, with pg_trgm installed in its
// public schema where every test schema finds it.
func setUpDatabase(admin string) (string, error) {
	ctx := context.Background()
	name := randomName("latchkey_test_")
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect to LATCHKEY_TEST_POSTGRES_URL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	testDatabase.name = name
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("LATCHKEY_TEST_POSTGRES_URL: %w", err)
	}
	u.Path = "/" + name
	db, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return "", err
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"); err != nil {
		return "", err
	}
	return u.String(), nil
}

// freshSchema creates an empty schema for one test, dropped when the test
// ends, and returns a URL whose search_path puts it first.
func freshSchema(t *testing.T) string {
	t.Helper()
	admin := adminURL(t)
	testDatabase.once.Do(func() {
		testDatabase.admin = admin
		testDatabase.url, testDatabase.err = setUpDatabase(admin)
	})
	if testDatabase.err != nil {
		t.Fatal(testDatabase.err)
	}
	ctx := context.Background()
	schema := randomName("t_")
	conn, err := pgx.Connect(ctx, testDatabase.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testDatabase.url)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, _ := url.Parse(testDatabase.url)
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}

// open returns a migrated store in a fresh database.
func open(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), freshSchema(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestPostgres(t *testing.T) {
	adminURL(t)
	storetest.RunTests(t, func(t *testing.T) store.Store { return open(t) })
}

// TestConcurrentMigrate starts several instances on one empty database at
// once: each migration is applied exactly once.
func TestConcurrentMigrate(t *testing.T) {
	dbURL := freshSchema(t)
	const instances = 4
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range instances {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), dbURL)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			defer db.Close()
			n, err := db.Migrate(t.Context())
			if err != nil {
				t.Errorf("Migrate: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()

	db, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	n, err := db.Migrate(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("Migrate after the others: applied %d, %v; want 0", n, err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var recorded int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if total != recorded || recorded == 0 {
		t.Errorf("instances applied %d migrations in all; schema_migrations records %d", total, recorded)
	}
}

// TestSecretNotStored checks that a secret's plaintext appears in no
// column of any table, only its hash.
func TestSecretNotStored(t *testing.T) {
	dbURL := freshSchema(t)
	db, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	clientID, plaintexts := storetest.WriteSecrets(t, db)

	// Every row of every table, each rendered whole as text.
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, table := range tables {
		rows, err := conn.Query(t.Context(), `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			dump.WriteString(s + "\n")
		}
	}
	if !strings.Contains(dump.String(), clientID) {
		t.Fatalf("the dump does not even contain the client ID: %.200s", dump.String())
	}
	for _, plain := range plaintexts {
		if strings.Contains(dump.String(), plain) {
			t.Errorf("the database contains the plaintext secret %q", plain)
		}
	}
}

// TestAuditAppendOnly: the database itself refuses to change or remove an
// audit event, whatever SQL a later bug might send.
func TestAuditAppendOnly(t *testing.T) {
	dbURL := freshSchema(t)
	db, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.AppendOneEvent(t, db)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{"UPDATE audit_events SET action = 'nothing'", "DELETE FROM audit_events"} {
		if _, err := conn.Exec(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want the append-only refusal", q, err)
		}
	}
}

// TestLoggedColumns: the change-log triggers watch a client's
// configuration columns and a revocation's expiry and cut-off, not its
// usage and activity columns.
func TestLoggedColumns(t *testing.T) {
	dbURL := freshSchema(t)
	db, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	storetest.CheckLoggedColumns(t, db, func(ctx context.Context, query string) error {
		_, err := conn.Exec(ctx, query)
		return err
	})
}
