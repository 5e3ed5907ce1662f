package sqlite

import (
	"context"
	"database/sql"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
)

// TestMigration0004 upgrades a database made before tenants had issuers of
// their own: the oldest tenant becomes the default, every tenant gets a
// slug (the default "default", the others "tenant-N" by age, as on
// PostgreSQL), and the signing keys become the default tenant's.
func TestMigration0004(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, 4, func(ctx context.Context, tx *sql.Tx) error {
		// Names that would collide if slugs were derived from them, or with
		// a numbered fallback ("Tenant 2"), or that make no slug at all.
		for i, name := range []string{"Default", "Acme Corp.", "acme corp", "日本", "Tenant 2"} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
				[]string{"ten_0", "ten_1", "ten_2", "ten_3", "ten_4"}[i], name, i); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, public_key, sealed_private_key, created_at)
			VALUES ('k1', 'ES256', x'00', x'00', 1)`)
		return err
	})
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	list, err := db.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		slug string
		def  bool
	}{{"default", true}, {"tenant-1", false}, {"tenant-2", false}, {"tenant-3", false}, {"tenant-4", false}}
	for i, tn := range list {
		if tn.Slug != want[i].slug || tn.Default != want[i].def || account.ValidateSlug(tn.Slug) != nil {
			t.Errorf("tenant %s (%q): slug %q default %v; want %q %v", tn.ID, tn.Name, tn.Slug, tn.Default, want[i].slug, want[i].def)
		}
	}
	if d, err := db.DefaultTenant(ctx); err != nil || d.ID != "ten_0" {
		t.Errorf("DefaultTenant: %+v, %v", d, err)
	}
	if ks, err := db.SigningKeys(ctx, "ten_0"); err != nil || len(ks) != 1 || ks[0].ID != "k1" {
		t.Errorf("the default tenant's keys: %+v, %v", ks, err)
	}
	if ks, err := db.SigningKeys(ctx, "ten_1"); err != nil || len(ks) != 0 {
		t.Errorf("another tenant's keys: %+v, %v", ks, err)
	}
}
