package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/audit"
)

// AppendAudit seals e after its tenant's chain head and stores it. The
// transaction holds SQLite's one write lock, so appends serialise.
func (t *tx) AppendAudit(ctx context.Context, e *audit.Event) error {
	var seq int64
	var head string
	err := t.tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = ?`, e.TenantID).Scan(&seq, &head)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: audit head: %w", err)
	}
	audit.Seal(e, seq, head)
	changes, _ := json.Marshal(e.Changes)
	details, _ := json.Marshal(e.Details)
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, seq, at, actor_kind, actor_id,
		actor_name, action, target_type, target_id, result, source_addr, request_id, changes, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.Seq, e.At.UnixMicro(), e.ActorKind, e.ActorID, e.ActorName, e.Action, e.TargetType, e.TargetID,
		e.Result, e.SourceAddr, e.RequestID, string(changes), string(details), e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("sqlite: append audit event: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
		e.TenantID, e.Seq, e.Hash); err != nil {
		return fmt.Errorf("sqlite: advance audit head: %w", err)
	}
	return nil
}

// AuditEvents returns up to limit events of a tenant after seq, in order.
func (db *DB) AuditEvents(ctx context.Context, tenantID string, after int64, limit int) ([]audit.Event, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT tenant_id, seq, at, actor_kind, actor_id, actor_name, action,
		target_type, target_id, result, source_addr, request_id, changes, details, prev_hash, hash
		FROM audit_events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit events: %w", err)
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var at int64
		var changes, details string
		if err := rows.Scan(&e.TenantID, &e.Seq, &at, &e.ActorKind, &e.ActorID, &e.ActorName, &e.Action,
			&e.TargetType, &e.TargetID, &e.Result, &e.SourceAddr, &e.RequestID, &changes, &details,
			&e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("sqlite: audit events: %w", err)
		}
		e.At = fromMicros(at)
		if err := json.Unmarshal([]byte(changes), &e.Changes); err != nil {
			return nil, fmt.Errorf("sqlite: audit event %d: changes: %w", e.Seq, err)
		}
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, fmt.Errorf("sqlite: audit event %d: details: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit events: %w", err)
	}
	return out, nil
}
