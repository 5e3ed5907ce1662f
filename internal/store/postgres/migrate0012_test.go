package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/account"
)

// TestMigration0012 upgrades a database made before sessions knew their
// activity and sign-in methods, as the SQLite test of the same name does:
// a session was last seen when it began and was signed in with a
// password; no user is asked to change theirs.
func TestMigration0012(t *testing.T) {
	ctx := t.Context()
	created := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	db := openAt(t, 12, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, tenant_id, email, name, password_hash, roles, locale, created_at, updated_at)
			VALUES ('usr_1', 'ten_0', 'a@example.com', 'A', '', '{}', 'en', now(), now())`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (id, hash, tenant_id, user_id, auth_time, created_at, expires_at)
			VALUES ('ses_1', 'h1', 'ten_0', 'usr_1', $1, $1, $2)`, created, created.Add(time.Hour))
		return err
	})
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := db.SessionByHash(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastSeenAt.Equal(created) || !slices.Equal(s.Methods, []string{account.MethodPassword}) {
		t.Errorf("the session after the upgrade: last seen %v, want %v; methods %v", s.LastSeenAt, created, s.Methods)
	}
	if u, err := db.User(ctx, "usr_1"); err != nil || u.PasswordChangeRequired {
		t.Errorf("the user after the upgrade: %+v, %v", u, err)
	}
}
