package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
)

var _ authz.GrantRefs = (*tx)(nil)

const roleColumns = `name, description, permissions, created_at, updated_at`

func scanRole(row scanner) (*authz.Role, error) {
	var (
		r                authz.Role
		perms            string
		created, updated int64
	)
	if err := row.Scan(&r.Name, &r.Description, &perms, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if r.Permissions, err = parseList[authz.Permission](perms); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &r, nil
}

func customRoles(ctx context.Context, q querier, tenantID string) ([]authz.Role, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE tenant_id = ? ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: custom roles: %w", err)
	}
	defer rows.Close()
	var out []authz.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: custom roles: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: custom roles: %w", err)
	}
	return out, nil
}

// CustomRoles returns the tenant's custom roles, by name.
func (db *DB) CustomRoles(ctx context.Context, tenantID string) ([]authz.Role, error) {
	return customRoles(ctx, db.read, tenantID)
}

// CustomRoles returns the tenant's custom roles inside the transaction,
// whose write lock keeps them as read until it ends.
func (t *tx) CustomRoles(ctx context.Context, tenantID string) ([]authz.Role, error) {
	return customRoles(ctx, t.tx, tenantID)
}

// CreateRole stores a new custom role, or returns account.ErrConflict when
// the tenant has one of its name.
func (t *tx) CreateRole(ctx context.Context, tenantID string, r *authz.Role) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO roles (tenant_id, `+roleColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		tenantID, r.Name, r.Description, jsonList(r.Permissions), r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro())
	if isUnique(err) {
		return fmt.Errorf("sqlite: create role %q: %w", r.Name, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create role: %w", err)
	}
	return nil
}

// LockRole returns the custom role. The transaction already holds the
// database's write lock.
func (t *tx) LockRole(ctx context.Context, tenantID, name string) (*authz.Role, error) {
	r, err := scanRole(t.tx.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE tenant_id = ? AND name = ?`,
		tenantID, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock role: %w", err)
	}
	return r, nil
}

// UpdateRole writes a custom role's description, permissions and
// UpdatedAt.
func (t *tx) UpdateRole(ctx context.Context, tenantID string, r *authz.Role) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE roles SET description = ?, permissions = ?, updated_at = ?
		WHERE tenant_id = ? AND name = ?`, r.Description, jsonList(r.Permissions), r.UpdatedAt.UnixMicro(), tenantID, r.Name)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update role: %w", err)
	}
	return nil
}

// DeleteRole removes a custom role, or returns account.ErrNotFound.
func (t *tx) DeleteRole(ctx context.Context, tenantID, name string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM roles WHERE tenant_id = ? AND name = ?`, tenantID, name)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete role: %w", err)
	}
	return nil
}

// RoleUse counts the users and clients of the tenant holding the role,
// tenant-wide ("name") or in a division ("name@…").
func (t *tx) RoleUse(ctx context.Context, tenantID, name string) (account.Use, error) {
	var u account.Use
	const holds = `EXISTS (SELECT 1 FROM json_each(roles)
		WHERE value = ?2 OR substr(value, 1, length(?2) + 1) = ?2 || '@')`
	err := t.tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM users WHERE tenant_id = ?1 AND `+holds+`),
		(SELECT count(*) FROM clients WHERE tenant_id = ?1 AND `+holds+`)`, tenantID, name).Scan(&u.Users, &u.Clients)
	if err != nil {
		return u, fmt.Errorf("sqlite: role use: %w", err)
	}
	return u, nil
}
