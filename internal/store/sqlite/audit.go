package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
		actor_name, action, target_type, target_id, result, source_addr, request_id, changes, details,
		before_values, after_values, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.Seq, e.At.UnixMicro(), e.ActorKind, e.ActorID, e.ActorName, e.Action, e.TargetType, e.TargetID,
		e.Result, e.SourceAddr, e.RequestID, string(changes), string(details), values(e.Before), values(e.After),
		e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("sqlite: append audit event: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
		e.TenantID, e.Seq, e.Hash); err != nil {
		return fmt.Errorf("sqlite: advance audit head: %w", err)
	}
	return nil
}

// values is the column of an event's Before or After: a JSON object, or
// NULL for none.
func values(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m) // strings always encode
	return string(b)
}

const auditColumns = `tenant_id, seq, at, actor_kind, actor_id, actor_name, action, target_type, target_id,
	result, source_addr, request_id, changes, details, before_values, after_values, prev_hash, hash`

// AuditEvents returns up to limit events of a tenant after seq, in order.
func (db *DB) AuditEvents(ctx context.Context, tenantID string, after int64, limit int) ([]audit.Event, error) {
	out, err := db.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit events: %w", err)
	}
	return out, nil
}

// AuditHead returns the seq and hash of a tenant's last event, as recorded
// beside the chain; (0, "") when it has none.
func (db *DB) AuditHead(ctx context.Context, tenantID string) (int64, string, error) {
	var seq int64
	var hash string
	err := db.read.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = ?`, tenantID).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("sqlite: audit head: %w", err)
	}
	return seq, hash, nil
}

// ListAudit returns one page of a tenant's audit log, by seq. Every filter
// is answered by an index of 0003_audit.sql or 0009_audit.sql that starts
// with the tenant.
func (db *DB) ListAudit(ctx context.Context, q audit.Query) (*audit.Page, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	where, args := []string{"tenant_id = ?"}, []any{q.TenantID}
	cond := func(c string, v any) { where, args = append(where, c), append(args, v) }
	if !q.Since.IsZero() {
		cond("at >= ?", q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		cond("at < ?", q.Until.UnixMicro())
	}
	if lo, hi := q.ActionRange(); hi != "" {
		cond("action >= ?", lo)
		cond("action < ?", hi)
	} else if lo != "" {
		cond("action = ?", lo)
	}
	for _, f := range []struct{ col, v string }{{"actor_id", q.ActorID}, {"target_type", q.TargetType}, {"target_id", q.TargetID}} {
		if f.v != "" {
			cond(f.col+" = ?", f.v)
		}
	}
	if q.After > 0 {
		cond("seq > ?", q.After)
	}
	if q.Before > 0 {
		cond("seq < ?", q.Before)
	}
	order := "seq"
	if q.Desc {
		order = "seq DESC"
	}
	// One more than the page, to learn whether another follows.
	events, err := db.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT ?`, append(args, q.Limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	page := &audit.Page{Events: events}
	if len(events) > q.Limit {
		page.Events = events[:q.Limit]
		page.Next = page.Events[q.Limit-1].Seq
	}
	return page, nil
}

func (db *DB) queryAudit(ctx context.Context, query string, args ...any) ([]audit.Event, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var at int64
		var changes, details string
		var before, after sql.NullString
		if err := rows.Scan(&e.TenantID, &e.Seq, &at, &e.ActorKind, &e.ActorID, &e.ActorName, &e.Action,
			&e.TargetType, &e.TargetID, &e.Result, &e.SourceAddr, &e.RequestID, &changes, &details,
			&before, &after, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		for _, f := range []struct {
			name string
			text string
			into any
		}{
			{"changes", changes, &e.Changes}, {"details", details, &e.Details},
			{"before", before.String, &e.Before}, {"after", after.String, &e.After},
		} {
			if f.text == "" {
				continue
			}
			if err := json.Unmarshal([]byte(f.text), f.into); err != nil {
				return nil, fmt.Errorf("event %d: %s: %w", e.Seq, f.name, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
