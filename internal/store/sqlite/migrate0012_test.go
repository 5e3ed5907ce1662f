package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
)

// TestMigration0012 upgrades a database made before sessions knew their
// activity and sign-in methods: a session was last seen when it began and
// was signed in with a password; no user is asked to change theirs.
func TestMigration0012(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, 12, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{
			`INSERT INTO users (id, tenant_id, email, name, password_hash, roles, locale, created_at, updated_at)
				VALUES ('usr_1', 'ten_0', 'a@example.com', 'A', '', '[]', 'en', 0, 0)`,
			`INSERT INTO sessions (id, hash, tenant_id, user_id, auth_time, created_at, expires_at)
				VALUES ('ses_1', 'h1', 'ten_0', 'usr_1', 1000, 2000000, 9000000000)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := db.SessionByHash(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastSeenAt.Equal(s.CreatedAt) || s.CreatedAt.UnixMicro() != 2000000 || !slices.Equal(s.Methods, []string{account.MethodPassword}) {
		t.Errorf("the session after the upgrade: last seen %v, created %v, methods %v", s.LastSeenAt, s.CreatedAt, s.Methods)
	}
	if u, err := db.User(ctx, "usr_1"); err != nil || u.PasswordChangeRequired {
		t.Errorf("the user after the upgrade: %+v, %v", u, err)
	}
}
