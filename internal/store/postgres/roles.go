package postgres

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
)

var _ authz.GrantRefs = (*tx)(nil)

const roleColumns = `name, description, permissions, created_at, updated_at`

func scanRole(row scanner) (*authz.Role, error) {
	var (
		r     authz.Role
		perms []string
	)
	if err := row.Scan(&r.Name, &r.Description, &perms, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	r.Permissions = fromArray[authz.Permission](perms)
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	return &r, nil
}

// customRoles reads a tenant's custom roles; lock is "" or a locking
// clause.
func customRoles(ctx context.Context, q querier, tenantID, lock string) ([]authz.Role, error) {
	rows, err := q.Query(ctx, `SELECT `+roleColumns+` FROM roles WHERE tenant_id = $1 ORDER BY name`+lock, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: custom roles: %w", err)
	}
	defer rows.Close()
	var out []authz.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: custom roles: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: custom roles: %w", err)
	}
	return out, nil
}

// CustomRoles returns the tenant's custom roles, by name.
func (db *DB) CustomRoles(ctx context.Context, tenantID string) ([]authz.Role, error) {
	return customRoles(ctx, db.pool, tenantID, "")
}

// CustomRoles returns the tenant's custom roles inside the transaction,
// holding a share lock on each until it ends: a concurrent DeleteRole,
// which locks the role first, either waits for this transaction and then
// counts the grant it wrote, or has deleted the role before it is read.
func (t *tx) CustomRoles(ctx context.Context, tenantID string) ([]authz.Role, error) {
	return customRoles(ctx, t.tx, tenantID, " FOR SHARE")
}

// CreateRole stores a new custom role, or returns account.ErrConflict when
// the tenant has one of its name.
func (t *tx) CreateRole(ctx context.Context, tenantID string, r *authz.Role) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO roles (tenant_id, `+roleColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		tenantID, r.Name, r.Description, textArray(r.Permissions), ts(r.CreatedAt), ts(r.UpdatedAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create role %q: %w", r.Name, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create role: %w", err)
	}
	return nil
}

// LockRole returns the custom role and holds its row lock (FOR UPDATE)
// until the transaction ends.
func (t *tx) LockRole(ctx context.Context, tenantID, name string) (*authz.Role, error) {
	r, err := scanRole(t.tx.QueryRow(ctx, `SELECT `+roleColumns+` FROM roles WHERE tenant_id = $1 AND name = $2 FOR UPDATE`,
		tenantID, name))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: lock role: %w", err)
	}
	return r, nil
}

// UpdateRole writes a custom role's description, permissions and
// UpdatedAt.
func (t *tx) UpdateRole(ctx context.Context, tenantID string, r *authz.Role) error {
	tag, err := t.tx.Exec(ctx, `UPDATE roles SET description = $1, permissions = $2, updated_at = $3
		WHERE tenant_id = $4 AND name = $5`, r.Description, textArray(r.Permissions), ts(r.UpdatedAt), tenantID, r.Name)
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update role: %w", err)
	}
	return nil
}

// DeleteRole removes a custom role, or returns account.ErrNotFound.
func (t *tx) DeleteRole(ctx context.Context, tenantID, name string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM roles WHERE tenant_id = $1 AND name = $2`, tenantID, name)
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete role: %w", err)
	}
	return nil
}

// RoleUse counts the users and clients of the tenant holding the role,
// tenant-wide ("name") or in a division ("name@…").
func (t *tx) RoleUse(ctx context.Context, tenantID, name string) (account.Use, error) {
	var u account.Use
	const holds = `EXISTS (SELECT 1 FROM unnest(roles) AS g WHERE split_part(g, '@', 1) = $2)`
	err := t.tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE tenant_id = $1 AND `+holds+`),
		(SELECT count(*) FROM clients WHERE tenant_id = $1 AND `+holds+`)`, tenantID, name).Scan(&u.Users, &u.Clients)
	if err != nil {
		return u, fmt.Errorf("postgres: role use: %w", err)
	}
	return u, nil
}
