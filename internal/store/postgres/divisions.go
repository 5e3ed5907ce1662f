package postgres

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/account"
)

// Divisions returns a tenant's divisions, the home division first and the
// others by name.
func (db *DB) Divisions(ctx context.Context, tenantID string) ([]account.Division, error) {
	rows, err := db.pool.Query(ctx, `SELECT tenant_id, id, name, created_at FROM divisions
		WHERE tenant_id = $1 ORDER BY id <> 'home', name, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: divisions: %w", err)
	}
	defer rows.Close()
	var out []account.Division
	for rows.Next() {
		d, err := scanDivision(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: divisions: %w", err)
		}
		out = append(out, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: divisions: %w", err)
	}
	return out, nil
}

func scanDivision(row scanner) (*account.Division, error) {
	var d account.Division
	if err := row.Scan(&d.TenantID, &d.ID, &d.Name, &d.CreatedAt); err != nil {
		return nil, err
	}
	d.CreatedAt = utc(d.CreatedAt)
	return &d, nil
}

func createDivision(ctx context.Context, q querier, d *account.Division) error {
	_, err := q.Exec(ctx, `INSERT INTO divisions (tenant_id, id, name, created_at) VALUES ($1, $2, $3, $4)`,
		d.TenantID, d.ID, d.Name, ts(d.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create division %q: %w", d.ID, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create division: %w", err)
	}
	return nil
}

// CreateDivision stores a new division, or returns account.ErrConflict
// when its tenant has one with its ID.
func (t *tx) CreateDivision(ctx context.Context, d *account.Division) error {
	return createDivision(ctx, t.tx, d)
}

// LockDivision returns the division and holds its row lock (FOR UPDATE)
// until the transaction ends: a client or user being put in it waits, and
// then finds it gone.
func (t *tx) LockDivision(ctx context.Context, tenantID, id string) (*account.Division, error) {
	d, err := scanDivision(t.tx.QueryRow(ctx, `SELECT tenant_id, id, name, created_at FROM divisions
		WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: lock division: %w", err)
	}
	return d, nil
}

// UpdateDivision writes a division's name.
func (t *tx) UpdateDivision(ctx context.Context, d *account.Division) error {
	tag, err := t.tx.Exec(ctx, `UPDATE divisions SET name = $1 WHERE tenant_id = $2 AND id = $3`, d.Name, d.TenantID, d.ID)
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update division: %w", err)
	}
	return nil
}

// DeleteDivision removes a division, or returns account.ErrNotFound.
func (t *tx) DeleteDivision(ctx context.Context, tenantID, id string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM divisions WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete division: %w", err)
	}
	return nil
}

// DivisionInTenant reports whether the tenant has this division, holding
// a share lock on it until the transaction ends, so that a concurrent
// DeleteDivision waits for the record that names it and then counts it.
func (t *tx) DivisionInTenant(ctx context.Context, tenantID, id string) (bool, error) {
	var one int
	err := t.tx.QueryRow(ctx, `SELECT 1 FROM divisions WHERE tenant_id = $1 AND id = $2 FOR SHARE`, tenantID, id).Scan(&one)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: division in tenant: %w", err)
	}
	return true, nil
}

// DivisionUse counts the users and clients of the tenant in the division
// or holding a role in it (a grant "role@id").
func (t *tx) DivisionUse(ctx context.Context, tenantID, id string) (account.Use, error) {
	var u account.Use
	const named = `(division_id = $2 OR EXISTS (SELECT 1 FROM unnest(roles) AS g WHERE split_part(g, '@', 2) = $2))`
	err := t.tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE tenant_id = $1 AND `+named+`),
		(SELECT count(*) FROM clients WHERE tenant_id = $1 AND `+named+`)`, tenantID, id).Scan(&u.Users, &u.Clients)
	if err != nil {
		return u, fmt.Errorf("postgres: division use: %w", err)
	}
	return u, nil
}
