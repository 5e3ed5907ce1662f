package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

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
		actor_name, action, target_type, target_id, result, source_addr, request_id, changes, details,
		before_values, after_values, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		e.TenantID, e.Seq, e.At, string(e.ActorKind), e.ActorID, e.ActorName, e.Action, e.TargetType, e.TargetID,
		e.Result, e.SourceAddr, e.RequestID, textArray(e.Changes), string(details), values(e.Before), values(e.After),
		e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("postgres: append audit event: %w", err)
	}
	if _, err := t.tx.Exec(ctx, `UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1`,
		e.TenantID, e.Seq, e.Hash); err != nil {
		return fmt.Errorf("postgres: advance audit head: %w", err)
	}
	return nil
}

// values is the column of an event's Before or After: a JSON object, or
// NULL for none.
func values(m map[string]string) *string {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m) // strings always encode
	s := string(b)
	return &s
}

const auditColumns = `tenant_id, seq, at, actor_kind, actor_id, actor_name, action, target_type, target_id,
	result, source_addr, request_id, changes, details, before_values, after_values, prev_hash, hash`

// AuditEvents returns up to limit events of a tenant after seq, in order.
func (db *DB) AuditEvents(ctx context.Context, tenantID string, after int64, limit int) ([]audit.Event, error) {
	out, err := db.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit events: %w", err)
	}
	return out, nil
}

// AuditHead returns the seq and hash of a tenant's last event, as recorded
// beside the chain; (0, "") when it has none.
func (db *DB) AuditHead(ctx context.Context, tenantID string) (int64, string, error) {
	var seq int64
	var hash string
	err := db.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1`, tenantID).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("postgres: audit head: %w", err)
	}
	return seq, hash, nil
}

// ListAudit returns one page of a tenant's audit log, by seq. Every filter
// is answered by an index of 0003_audit.sql or 0009_audit.sql that starts
// with the tenant; an action prefix is a range in the "C" collation of
// the action column.
func (db *DB) ListAudit(ctx context.Context, q audit.Query) (*audit.Page, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	where, args := []string{"tenant_id = $1"}, []any{q.TenantID}
	cond := func(c string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(c, "?", "$"+strconv.Itoa(len(args))))
	}
	if !q.Since.IsZero() {
		cond("at >= ?", q.Since)
	}
	if !q.Until.IsZero() {
		cond("at < ?", q.Until)
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
	args = append(args, q.Limit+1)
	events, err := db.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	page := &audit.Page{Events: events}
	if len(events) > q.Limit {
		page.Events = events[:q.Limit]
		page.Next = page.Events[q.Limit-1].Seq
	}
	return page, nil
}

func (db *DB) queryAudit(ctx context.Context, query string, args ...any) ([]audit.Event, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var kind, details string
		var before, after *string
		var changes []string
		if err := rows.Scan(&e.TenantID, &e.Seq, &e.At, &kind, &e.ActorID, &e.ActorName, &e.Action,
			&e.TargetType, &e.TargetID, &e.Result, &e.SourceAddr, &e.RequestID, &changes, &details,
			&before, &after, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.ActorKind, e.At, e.Changes = authz.PrincipalKind(kind), utc(e.At), fromArray[string](changes)
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, fmt.Errorf("event %d: details: %w", e.Seq, err)
		}
		for _, f := range []struct {
			name string
			text *string
			into *map[string]string
		}{{"before", before, &e.Before}, {"after", after, &e.After}} {
			if f.text == nil {
				continue
			}
			if err := json.Unmarshal([]byte(*f.text), f.into); err != nil {
				return nil, fmt.Errorf("event %d: %s: %w", e.Seq, f.name, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
