package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/client"
)

// Policy returns the tenant's policy, the zero one when none was saved,
// or client.ErrNotFound for an unknown tenant.
func (db *DB) Policy(ctx context.Context, tenantID string) (*client.Policy, error) {
	p, err := readPolicy(ctx, db.read, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: policy: %w", err)
	}
	return p, nil
}

// Policy reads the tenant's policy in the transaction.
func (t *tx) Policy(ctx context.Context, tenantID string) (*client.Policy, error) {
	p, err := readPolicy(ctx, t.tx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: policy: %w", err)
	}
	return p, nil
}

// LockPolicy reads the tenant's policy in the transaction; SQLite's write
// transactions serialize, so it is held until the transaction ends.
func (t *tx) LockPolicy(ctx context.Context, tenantID string) (*client.Policy, error) {
	return t.Policy(ctx, tenantID)
}

func readPolicy(ctx context.Context, q querier, tenantID string) (*client.Policy, error) {
	var (
		doc       sql.NullString
		updated   sql.NullInt64
		updatedBy sql.NullString
		mfa       bool
	)
	err := q.QueryRowContext(ctx, `SELECT p.policy, p.updated_at, p.updated_by, t.require_admin_mfa
		FROM tenants t LEFT JOIN tenant_policies p ON p.tenant_id = t.id WHERE t.id = ?`, tenantID).
		Scan(&doc, &updated, &updatedBy, &mfa)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, client.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	p := &client.Policy{}
	if doc.Valid {
		if err := json.Unmarshal([]byte(doc.String), p); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
	}
	p.TenantID, p.RequireAdminMFA = tenantID, mfa
	p.UpdatedAt, p.UpdatedBy = nullTime(updated), updatedBy.String
	return p, nil
}

// SavePolicy writes the tenant's policy, and its RequireAdminMFA to the
// tenant, or returns client.ErrNotFound for an unknown tenant.
func (t *tx) SavePolicy(ctx context.Context, p *client.Policy) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("sqlite: save policy: %w", err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE tenants SET require_admin_mfa = ? WHERE id = ?`, p.RequireAdminMFA, p.TenantID)
	if err == nil {
		err = affected(res, client.ErrNotFound)
	}
	if err == nil {
		_, err = t.tx.ExecContext(ctx, `INSERT INTO tenant_policies (tenant_id, policy, updated_at, updated_by)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at,
				updated_by = excluded.updated_by`,
			p.TenantID, string(doc), p.UpdatedAt.UnixMicro(), p.UpdatedBy)
	}
	if err != nil {
		return fmt.Errorf("sqlite: save policy: %w", err)
	}
	return nil
}
