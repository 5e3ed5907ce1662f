package postgres

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store/migration"
	"github.com/latchkey/latchkey/internal/testpg"
	"github.com/latchkey/latchkey/internal/token"
)

// TestUpgradeFromTheFirstSchema takes a database made by migrations 1 and
// 2, with tenants and signing keys in it, through every later migration:
// tenants get the same slugs as on SQLite (the default "default", the
// others "tenant-N" by age, whatever their names would make), the keys
// become the default tenant's with their states, and the upgraded store
// takes a next key and promotes it.
func TestUpgradeFromTheFirstSchema(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, testpg.Database(t, "latchkey_upgrade_"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
			return err
		}
		for _, m := range ms {
			if m.Version >= 3 {
				break
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, now())`, m.Version); err != nil {
				return err
			}
		}
		for i, name := range []string{"Default", "Acme Corp.", "acme corp", "日本", "Tenant 2"} {
			if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)`,
				[]string{"ten_0", "ten_1", "ten_2", "ten_3", "ten_4"}[i], name, t0.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, public_key, sealed_private_key, created_at, retired_at, publish_until)
			VALUES ('old', 'ES256', '\x01', '\x02', $1, $2, $3), ('cur', 'ES256', '\x03', '\x04', $2, NULL, NULL)`,
			t0, t0.Add(time.Hour), t0.Add(50*time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != len(ms)-2 {
		t.Fatalf("Migrate: applied %d, %v; want %d", n, err, len(ms)-2)
	}

	list, err := db.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"default", "tenant-1", "tenant-2", "tenant-3", "tenant-4"}
	if len(list) != len(want) {
		t.Fatalf("%d tenants, want %d", len(list), len(want))
	}
	for i, tn := range list {
		if tn.Slug != want[i] || tn.Default != (i == 0) || account.ValidateSlug(tn.Slug) != nil {
			t.Errorf("tenant %s (%q): slug %q default %v; want %q", tn.ID, tn.Name, tn.Slug, tn.Default, want[i])
		}
	}
	ks, err := db.SigningKeys(ctx, "ten_0")
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].ID != "cur" || ks[0].State != token.KeyCurrent || !ks[0].ActivatedAt.Equal(t0.Add(time.Hour)) ||
		ks[1].ID != "old" || ks[1].State != token.KeyRetired || !ks[1].PublishUntil.Equal(t0.Add(50*time.Hour)) {
		t.Fatalf("the default tenant's keys after the upgrade: %+v", ks)
	}
	if err := db.AddSigningKey(ctx, "ten_0", &token.SigningKey{ID: "next", Algorithm: "ES256", PublicKey: []byte{5},
		SealedPrivateKey: []byte{6}, State: token.KeyNext, CreatedAt: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PromoteSigningKey(ctx, "ten_0", "next", "cur", t0.Add(3*time.Hour), t0.Add(60*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.AddSigningKey(ctx, "ten_1", &token.SigningKey{ID: "other", Algorithm: "ES256", PublicKey: []byte{7},
		SealedPrivateKey: []byte{8}, State: token.KeyCurrent, CreatedAt: t0, ActivatedAt: t0}); err != nil {
		t.Fatalf("another tenant's first key beside the default's: %v", err)
	}
}
