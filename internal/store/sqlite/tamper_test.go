package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

// TestAuditTampering alters stored audit events through a second handle
// on the file, with the append-only triggers dropped, as someone with the
// file could: the chain's verification names the first broken link.
func TestAuditTampering(t *testing.T) {
	storetest.CheckAuditTampering(t, func(t *testing.T) (store.Store, storetest.RawSQL) {
		path := filepath.Join(t.TempDir(), "latchkey.db")
		db := open(t, path)
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		for _, q := range []string{"DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"} {
			if _, err := raw.ExecContext(t.Context(), q); err != nil {
				t.Fatal(err)
			}
		}
		return db, func(ctx context.Context, query string) error {
			_, err := raw.ExecContext(ctx, query)
			return err
		}
	})
}
