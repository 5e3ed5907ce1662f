package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

// TestAuditTampering alters stored audit events through a connection of
// the table's owner, with the append-only trigger disabled, as someone
// with the database's credentials could: the chain's verification names
// the first broken link.
func TestAuditTampering(t *testing.T) {
	adminURL(t)
	storetest.CheckAuditTampering(t, func(t *testing.T) (store.Store, storetest.RawSQL) {
		dbURL := freshSchema(t)
		db, err := postgres.Open(t.Context(), dbURL)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		conn, err := pgx.Connect(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		if _, err := conn.Exec(t.Context(), "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"); err != nil {
			t.Fatal(err)
		}
		return db, func(ctx context.Context, query string) error {
			_, err := conn.Exec(ctx, query)
			return err
		}
	})
}
