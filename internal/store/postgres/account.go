package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/internal/account"
)

// CreateTenant stores a new tenant, or returns account.ErrConflict when
// its ID is taken.
func (db *DB) CreateTenant(ctx context.Context, t *account.Tenant) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)`,
		t.ID, t.Name, ts(t.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create tenant %q: %w", t.ID, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create tenant: %w", err)
	}
	return nil
}

// Tenant returns a tenant, or account.ErrNotFound.
func (db *DB) Tenant(ctx context.Context, id string) (*account.Tenant, error) {
	var t account.Tenant
	err := db.pool.QueryRow(ctx, `SELECT id, name, created_at FROM tenants WHERE id = $1`, id).
		Scan(&t.ID, &t.Name, &t.CreatedAt)
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: tenant: %w", err)
	}
	t.CreatedAt = utc(t.CreatedAt)
	return &t, nil
}

// Tenants returns every tenant, oldest first.
func (db *DB) Tenants(ctx context.Context) ([]account.Tenant, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, name, created_at FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	defer rows.Close()
	var out []account.Tenant
	for rows.Next() {
		var t account.Tenant
		if err := rows.Scan(&t.ID, &t.Name, &t.CreatedAt); err != nil {
			return nil, fmt.Errorf("postgres: tenants: %w", err)
		}
		t.CreatedAt = utc(t.CreatedAt)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	return out, nil
}

const userColumns = `id, tenant_id, email, name, password_hash, roles, locale, created_at, updated_at`

func scanUser(row scanner) (*account.User, error) {
	var (
		u     account.User
		roles []string
	)
	if err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.PasswordHash, &roles, &u.Locale,
		&u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.Roles = fromArray[string](roles)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return &u, nil
}

// CreateUser stores a new user with its email lower-cased. It returns
// account.ErrConflict when the ID, or the email within the tenant, is
// taken.
func (db *DB) CreateUser(ctx context.Context, u *account.User) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, u.TenantID, strings.ToLower(u.Email), u.Name, u.PasswordHash, textArray(u.Roles), u.Locale,
		ts(u.CreatedAt), ts(u.UpdatedAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create user: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create user: %w", err)
	}
	return nil
}

// User returns a user in any tenant, or account.ErrNotFound.
func (db *DB) User(ctx context.Context, id string) (*account.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user: %w", err)
	}
	return u, nil
}

// UserByEmail returns the tenant's user with this email, compared
// case-insensitively, or account.ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, tenantID, email string) (*account.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE tenant_id = $1 AND email = $2`, tenantID, strings.ToLower(email)))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user by email: %w", err)
	}
	return u, nil
}

// UpdateUser writes a user's email (lower-cased), name, password hash,
// roles, locale and UpdatedAt. It returns account.ErrNotFound for an
// unknown user and account.ErrConflict when the new email is taken.
func (db *DB) UpdateUser(ctx context.Context, u *account.User) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET email = $1, name = $2, password_hash = $3, roles = $4,
		locale = $5, updated_at = $6 WHERE id = $7`,
		strings.ToLower(u.Email), u.Name, u.PasswordHash, textArray(u.Roles), u.Locale, ts(u.UpdatedAt), u.ID)
	if isUnique(err) {
		return fmt.Errorf("postgres: update user: %w", account.ErrConflict)
	}
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update user: %w", err)
	}
	return nil
}

// Users returns a tenant's users ordered by email.
func (db *DB) Users(ctx context.Context, tenantID string) ([]account.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 ORDER BY email, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	defer rows.Close()
	var out []account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	return out, nil
}
