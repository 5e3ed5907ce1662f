package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/internal/account"
)

// CreateTenant stores a new tenant. It returns account.ErrConflict when
// its ID or slug is taken, or when it is the default and another tenant
// already is.
func (db *DB) CreateTenant(ctx context.Context, t *account.Tenant) error {
	return createTenant(ctx, db.write, t)
}

// CreateTenant stores a new tenant inside the transaction.
func (t *tx) CreateTenant(ctx context.Context, tn *account.Tenant) error {
	return createTenant(ctx, t.tx, tn)
}

// InAccountTx runs fn in one write transaction, as InTx does for clients:
// the same transaction, seen through account.Tx.
func (db *DB) InAccountTx(ctx context.Context, fn func(account.Tx) error) error {
	return db.writeTx(ctx, func(t *sql.Tx) error { return fn(&tx{t}) })
}

func createTenant(ctx context.Context, q querier, t *account.Tenant) error {
	_, err := q.ExecContext(ctx, `INSERT INTO tenants (id, name, slug, is_default, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, slugOrNull(t.Slug), t.Default, t.CreatedAt.UnixMicro())
	if isUnique(err) {
		return fmt.Errorf("sqlite: create tenant %q: %w", t.ID, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create tenant: %w", err)
	}
	return nil
}

// slugOrNull stores an empty slug as NULL, which the unique index allows
// many of.
func slugOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const tenantColumns = `id, name, COALESCE(slug, ''), is_default, created_at`

func scanTenant(row scanner) (*account.Tenant, error) {
	var (
		t       account.Tenant
		created int64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Default, &created); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// tenantWhere returns the one tenant the condition selects, or
// account.ErrNotFound.
func (db *DB) tenantWhere(ctx context.Context, what, cond string, args ...any) (*account.Tenant, error) {
	t, err := scanTenant(db.read.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE `+cond, args...))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return t, nil
}

// Tenant returns a tenant, or account.ErrNotFound.
func (db *DB) Tenant(ctx context.Context, id string) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "tenant", `id = ?`, id)
}

// TenantBySlug returns the tenant with this slug, or account.ErrNotFound.
func (db *DB) TenantBySlug(ctx context.Context, slug string) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "tenant by slug", `slug = ?`, slug)
}

// DefaultTenant returns the default tenant, or account.ErrNotFound.
func (db *DB) DefaultTenant(ctx context.Context) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "default tenant", `is_default = 1`)
}

// Tenants returns every tenant, oldest first.
func (db *DB) Tenants(ctx context.Context) ([]account.Tenant, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	defer rows.Close()
	var out []account.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: tenants: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	return out, nil
}

const userColumns = `id, tenant_id, email, name, password_hash, roles, locale, created_at, updated_at`

func scanUser(row scanner) (*account.User, error) {
	var (
		u                account.User
		roles            string
		created, updated int64
	)
	if err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.PasswordHash, &roles, &u.Locale,
		&created, &updated); err != nil {
		return nil, err
	}
	var err error
	if u.Roles, err = parseList[string](roles); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// CreateUser stores a new user with its email lower-cased. It returns
// account.ErrConflict when the ID, or the email within the tenant, is
// taken.
func (db *DB) CreateUser(ctx context.Context, u *account.User) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.TenantID, strings.ToLower(u.Email), u.Name, u.PasswordHash, jsonList(u.Roles), u.Locale,
		u.CreatedAt.UnixMicro(), u.UpdatedAt.UnixMicro())
	if isUnique(err) {
		return fmt.Errorf("sqlite: create user: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	return nil
}

// User returns a user in any tenant, or account.ErrNotFound.
func (db *DB) User(ctx context.Context, id string) (*account.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user: %w", err)
	}
	return u, nil
}

// UserByEmail returns the tenant's user with this email, compared
// case-insensitively, or account.ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, tenantID, email string) (*account.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE tenant_id = ? AND email = ?`, tenantID, strings.ToLower(email)))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user by email: %w", err)
	}
	return u, nil
}

// UpdateUser writes a user's email (lower-cased), name, password hash,
// roles, locale and UpdatedAt. It returns account.ErrNotFound for an
// unknown user and account.ErrConflict when the new email is taken.
func (db *DB) UpdateUser(ctx context.Context, u *account.User) error {
	res, err := db.write.ExecContext(ctx, `UPDATE users SET email = ?, name = ?, password_hash = ?, roles = ?,
		locale = ?, updated_at = ? WHERE id = ?`,
		strings.ToLower(u.Email), u.Name, u.PasswordHash, jsonList(u.Roles), u.Locale, u.UpdatedAt.UnixMicro(), u.ID)
	if isUnique(err) {
		return fmt.Errorf("sqlite: update user: %w", account.ErrConflict)
	}
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update user: %w", err)
	}
	return nil
}

// Users returns a tenant's users ordered by email.
func (db *DB) Users(ctx context.Context, tenantID string) ([]account.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? ORDER BY email, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: users: %w", err)
	}
	defer rows.Close()
	var out []account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: users: %w", err)
	}
	return out, nil
}
