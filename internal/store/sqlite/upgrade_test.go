package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/migration"
	"github.com/latchkey/latchkey/internal/token"
)

// TestUpgradeKeepsSigningKeys migrates a database made before signing
// keys had states: its current key stays current, its retired key
// retired, and both keep the time they started signing.
func TestUpgradeKeepsSigningKeys(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	db := openAt(t, 5, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, public_key, sealed_private_key, created_at, retired_at, publish_until)
			VALUES ('old', 'ES256', x'01', x'02', ?, ?, ?), ('cur', 'ES256', x'03', x'04', ?, NULL, NULL)`,
			t0.UnixMicro(), t0.Add(time.Hour).UnixMicro(), t0.Add(50*time.Hour).UnixMicro(), t0.Add(time.Hour).UnixMicro())
		return err
	})
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ks, err := db.SigningKeys(ctx, "") // made before tenants had keys: no default tenant here
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].ID != "cur" || ks[0].State != token.KeyCurrent || !ks[0].ActivatedAt.Equal(t0.Add(time.Hour)) ||
		ks[1].ID != "old" || ks[1].State != token.KeyRetired || !ks[1].PublishUntil.Equal(t0.Add(50*time.Hour)) {
		t.Fatalf("keys after the upgrade: %+v", ks)
	}
	// The upgraded store takes a next key and promotes it.
	if err := db.AddSigningKey(ctx, "", &token.SigningKey{ID: "next", Algorithm: "ES256", PublicKey: []byte{5}, SealedPrivateKey: []byte{6},
		State: token.KeyNext, CreatedAt: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PromoteSigningKey(ctx, "", "next", "cur", t0.Add(3*time.Hour), t0.Add(60*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// openAt returns a database in a new file whose schema stops before
// migration version, with seed run in the same transaction: a database
// as an older release left it.
func openAt(t *testing.T, version int, seed func(ctx context.Context, tx *sql.Tx) error) *DB {
	t.Helper()
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		for _, m := range ms {
			if m.Version >= version {
				break
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, m.Version); err != nil {
				return err
			}
		}
		return seed(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
