package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/account"
)

// Divisions returns a tenant's divisions, the home division first and the
// others by name.
func (db *DB) Divisions(ctx context.Context, tenantID string) ([]account.Division, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT tenant_id, id, name, created_at FROM divisions
		WHERE tenant_id = ? ORDER BY id <> 'home', name, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: divisions: %w", err)
	}
	defer rows.Close()
	var out []account.Division
	for rows.Next() {
		d, err := scanDivision(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: divisions: %w", err)
		}
		out = append(out, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: divisions: %w", err)
	}
	return out, nil
}

func scanDivision(row scanner) (*account.Division, error) {
	var (
		d       account.Division
		created int64
	)
	if err := row.Scan(&d.TenantID, &d.ID, &d.Name, &created); err != nil {
		return nil, err
	}
	d.CreatedAt = fromMicros(created)
	return &d, nil
}

func createDivision(ctx context.Context, q querier, d *account.Division) error {
	_, err := q.ExecContext(ctx, `INSERT INTO divisions (tenant_id, id, name, created_at) VALUES (?, ?, ?, ?)`,
		d.TenantID, d.ID, d.Name, d.CreatedAt.UnixMicro())
	if isUnique(err) {
		return fmt.Errorf("sqlite: create division %q: %w", d.ID, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create division: %w", err)
	}
	return nil
}

// CreateDivision stores a new division, or returns account.ErrConflict
// when its tenant has one with its ID.
func (t *tx) CreateDivision(ctx context.Context, d *account.Division) error {
	return createDivision(ctx, t.tx, d)
}

// LockDivision returns the division. The transaction already holds the
// database's write lock, so nothing else can change it until it ends.
func (t *tx) LockDivision(ctx context.Context, tenantID, id string) (*account.Division, error) {
	d, err := scanDivision(t.tx.QueryRowContext(ctx, `SELECT tenant_id, id, name, created_at FROM divisions
		WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock division: %w", err)
	}
	return d, nil
}

// UpdateDivision writes a division's name.
func (t *tx) UpdateDivision(ctx context.Context, d *account.Division) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE divisions SET name = ? WHERE tenant_id = ? AND id = ?`, d.Name, d.TenantID, d.ID)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update division: %w", err)
	}
	return nil
}

// DeleteDivision removes a division, or returns account.ErrNotFound.
func (t *tx) DeleteDivision(ctx context.Context, tenantID, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM divisions WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete division: %w", err)
	}
	return nil
}

// DivisionInTenant reports whether the tenant has this division.
func (t *tx) DivisionInTenant(ctx context.Context, tenantID, id string) (bool, error) {
	var ok bool
	err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM divisions WHERE tenant_id = ? AND id = ?)`,
		tenantID, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("sqlite: division in tenant: %w", err)
	}
	return ok, nil
}

// DivisionUse counts the users and clients of the tenant in the division
// or holding a role in it (a grant "role@id").
func (t *tx) DivisionUse(ctx context.Context, tenantID, id string) (account.Use, error) {
	var u account.Use
	const named = `(division_id = ?2 OR EXISTS (SELECT 1 FROM json_each(roles)
		WHERE instr(value, '@') > 0 AND substr(value, instr(value, '@') + 1) = ?2))`
	err := t.tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM users WHERE tenant_id = ?1 AND `+named+`),
		(SELECT count(*) FROM clients WHERE tenant_id = ?1 AND `+named+`)`, tenantID, id).Scan(&u.Users, &u.Clients)
	if err != nil {
		return u, fmt.Errorf("sqlite: division use: %w", err)
	}
	return u, nil
}
