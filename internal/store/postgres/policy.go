package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// Policy returns the tenant's policy, the zero one when none was saved,
// or client.ErrNotFound for an unknown tenant.
func (db *DB) Policy(ctx context.Context, tenantID string) (*client.Policy, error) {
	p, err := readPolicy(ctx, db.pool, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: policy: %w", err)
	}
	return p, nil
}

// Policy reads the tenant's policy in the transaction.
func (t *tx) Policy(ctx context.Context, tenantID string) (*client.Policy, error) {
	p, err := readPolicy(ctx, t.tx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: policy: %w", err)
	}
	return p, nil
}

// LockPolicy reads the tenant's policy holding the tenant's row until the
// transaction ends, so concurrent changes to the policy serialize. The
// lock is taken by a statement of its own: the read after it then sees
// the policy a change that held the lock before committed, which a
// locking join would not (it re-reads only the locked row).
func (t *tx) LockPolicy(ctx context.Context, tenantID string) (*client.Policy, error) {
	var one int
	err := t.tx.QueryRow(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, tenantID).Scan(&one)
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: lock policy: %w", client.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: lock policy: %w", err)
	}
	p, err := readPolicy(ctx, t.tx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: policy: %w", err)
	}
	return p, nil
}

func readPolicy(ctx context.Context, q querier, tenantID string) (*client.Policy, error) {
	var (
		doc       []byte
		updated   *time.Time
		updatedBy *string
		mfa       bool
	)
	err := q.QueryRow(ctx, `SELECT p.policy, p.updated_at, p.updated_by, t.require_admin_mfa
		FROM tenants t LEFT JOIN tenant_policies p ON p.tenant_id = t.id WHERE t.id = $1`, tenantID).
		Scan(&doc, &updated, &updatedBy, &mfa)
	if isNoRows(err) {
		return nil, client.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	p := &client.Policy{}
	if doc != nil {
		if err := json.Unmarshal(doc, p); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
	}
	p.TenantID, p.RequireAdminMFA = tenantID, mfa
	p.UpdatedAt = nullTime(updated)
	p.UpdatedBy = ""
	if updatedBy != nil {
		p.UpdatedBy = *updatedBy
	}
	return p, nil
}

// SavePolicy writes the tenant's policy, and its RequireAdminMFA to the
// tenant, or returns client.ErrNotFound for an unknown tenant.
func (t *tx) SavePolicy(ctx context.Context, p *client.Policy) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("postgres: save policy: %w", err)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE tenants SET require_admin_mfa = $2 WHERE id = $1`, p.TenantID, p.RequireAdminMFA)
	if err == nil {
		err = affected(tag, client.ErrNotFound)
	}
	if err == nil {
		_, err = t.tx.Exec(ctx, `INSERT INTO tenant_policies (tenant_id, policy, updated_at, updated_by)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at,
				updated_by = excluded.updated_by`,
			p.TenantID, doc, ts(p.UpdatedAt), p.UpdatedBy)
	}
	if err != nil {
		return fmt.Errorf("postgres: save policy: %w", err)
	}
	return nil
}
