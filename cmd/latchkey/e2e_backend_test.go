package main

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/internal/testpg"
)

// database is where an instance keeps its data, and the environment that
// names it: an SQLite file in a temporary directory, or a PostgreSQL
// database created for one test and dropped after it.
type database struct {
	dir string            // the instance's directory (the SQLite key file lives here)
	env map[string]string // LATCHKEY_DATABASE_URL, and LATCHKEY_SECRET_KEY for PostgreSQL
}

// backends are the databases every end-to-end test runs on.
var backends = []struct {
	name string
	open func(t *testing.T) database
}{
	{"sqlite", sqliteDatabase},
	{"postgres", postgresDatabase},
}

// forEachBackend runs test once per backend, as a subtest.
func forEachBackend(t *testing.T, test func(t *testing.T, db database)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

func sqliteDatabase(t *testing.T) database {
	dir := t.TempDir()
	return database{dir: dir, env: map[string]string{"LATCHKEY_DATABASE_URL": filepath.Join(dir, "latchkey.db")}}
}

// postgresDatabase creates a database on the server
// LATCHKEY_TEST_POSTGRES_URL names, dropped when the test ends. Without
// the variable the test skips, except in CI (CI non-empty), where it
// fails.
func postgresDatabase(t *testing.T) database {
	t.Helper()
	dbURL := testpg.Database(t, "latchkey_e2e_")
	return database{dir: t.TempDir(), env: map[string]string{
		"LATCHKEY_DATABASE_URL": dbURL,
		"LATCHKEY_SECRET_KEY":   base64.StdEncoding.EncodeToString(randomKey(t)),
	}}
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, kekSize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// with returns db's environment with kv added.
func (db database) with(kv map[string]string) map[string]string {
	out := maps.Clone(db.env)
	maps.Copy(out, kv)
	return out
}
