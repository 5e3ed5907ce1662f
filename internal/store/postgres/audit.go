package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
)

// AppendAudit seals e after its tenant's chain head and stores it. The
// head row is created if missing and locked FOR UPDATE, so appends to one
// chain serialise until the transaction ends.
func (t *tx) AppendAudit(ctx context.Context, e *audit.Event) error {
	if _, err := t.tx.Exec(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, '')
		ON CONFLICT (tenant_id) DO NOTHING`, e.TenantID); err != nil {
		return fmt.Errorf("postgres: audit head: %w", err)
	}
	var seq int64
	var head string
	if err := t.tx.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1 FOR UPDATE`,
		e.TenantID).Scan(&seq, &head); err != nil {
		return fmt.Errorf("postgres: audit head: %w", err)
	}
	audit.Seal(e, seq, head)
	details, _ := json.Marshal(e.Details)
	if _, err := t.tx.Exec(ctx, `INSERT INTO audit_events (tenant_id, seq, at, actor_kind, actor_id,
		actor_name, action, target_type, target_id, result, source_addr, request_id, changes, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		e.TenantID, e.Seq, e.At, string(e.ActorKind), e.ActorID, e.ActorName, e.Action, e.TargetType, e.TargetID,
		e.Result, e.SourceAddr, e.RequestID, textArray(e.Changes), string(details), e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("postgres: append audit event: %w", err)
	}
	if _, err := t.tx.Exec(ctx, `UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1`,
		e.TenantID, e.Seq, e.Hash); err != nil {
		return fmt.Errorf("postgres: advance audit head: %w", err)
	}
	return nil
}

// AuditEvents returns up to limit events of a tenant after seq, in order.
func (db *DB) AuditEvents(ctx context.Context, tenantID string, after int64, limit int) ([]audit.Event, error) {
	rows, err := db.pool.Query(ctx, `SELECT tenant_id, seq, at, actor_kind, actor_id, actor_name, action,
		target_type, target_id, result, source_addr, request_id, changes, details, prev_hash, hash
		FROM audit_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit events: %w", err)
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var kind, details string
		var changes []string
		if err := rows.Scan(&e.TenantID, &e.Seq, &e.At, &kind, &e.ActorID, &e.ActorName, &e.Action,
			&e.TargetType, &e.TargetID, &e.Result, &e.SourceAddr, &e.RequestID, &changes, &details,
			&e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("postgres: audit events: %w", err)
		}
		e.ActorKind, e.At, e.Changes = authz.PrincipalKind(kind), utc(e.At), fromArray[string](changes)
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, fmt.Errorf("postgres: audit event %d: details: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: audit events: %w", err)
	}
	return out, nil
}
