package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// The fleet's statistics, from the daily counters and the counts by
// status and expiry day of 0011_token_days.sql.

const microsPerDay = 86400 * 1_000_000

// AddTokenCounts adds the counts to client_token_days and
// tenant_token_days in one transaction. A client that no longer exists
// gets no row; its tenant's still counts its tokens.
func (db *DB) AddTokenCounts(ctx context.Context, counts []client.TokenCount) error {
	if len(counts) == 0 {
		return nil
	}
	type tenantDay struct {
		tenant, division string
		day              int64
	}
	tenants := map[tenantDay]int64{}
	for _, c := range counts {
		tenants[tenantDay{c.TenantID, c.DivisionID, c.Day.UnixMicro()}] += c.Tokens
	}
	err := db.writeTx(ctx, func(t *sql.Tx) error {
		// An INSERT ... SELECT needs its WHERE before ON CONFLICT, which
		// the existence check gives it.
		perClient, err := t.PrepareContext(ctx, `INSERT INTO client_token_days (client_id, day, tokens)
			SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM clients WHERE id = ?1)
			ON CONFLICT (client_id, day) DO UPDATE SET tokens = tokens + excluded.tokens`)
		if err != nil {
			return err
		}
		defer perClient.Close()
		for _, c := range counts {
			if _, err := perClient.ExecContext(ctx, c.ClientID, c.Day.UnixMicro(), c.Tokens); err != nil {
				return err
			}
		}
		for k, n := range tenants {
			if _, err := t.ExecContext(ctx, `INSERT INTO tenant_token_days (tenant_id, day, division_id, tokens)
				VALUES (?, ?, ?, ?)
				ON CONFLICT (tenant_id, day, division_id) DO UPDATE SET tokens = tokens + excluded.tokens`,
				k.tenant, k.day, k.division, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: add token counts: %w", err)
	}
	return nil
}

// FleetCounts counts in one read transaction. A bound's expiry count is
// the whole days before its own from client_counts, plus its own day up
// to it from clients_active_by_expiry.
func (db *DB) FleetCounts(ctx context.Context, q client.FleetQuery) (*client.FleetCounts, error) {
	rtx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fleet counts: %w", err)
	}
	defer rtx.Rollback()
	fc, err := fleetCounts(ctx, rtx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fleet counts: %w", err)
	}
	return fc, nil
}

func fleetCounts(ctx context.Context, rtx *sql.Tx, q client.FleetQuery) (*client.FleetCounts, error) {
	inDivisions, divArgs := divisionsIn(q.Divisions)
	args := func(more ...any) []any { return append(append([]any{q.TenantID}, more...), divArgs...) }
	fc := &client.FleetCounts{ByStatus: map[client.Status]int64{}}

	rows, err := rtx.QueryContext(ctx, `SELECT status, SUM(clients) FROM client_counts
		WHERE tenant_id = ?`+inDivisions+` GROUP BY status`, args()...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			rows.Close()
			return nil, err
		}
		fc.ByStatus[client.Status(status)] = n
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}

	// Bounds are stored microseconds: one is before b when it is before b
	// rounded up to the microsecond.
	bounds := make([]int64, len(q.ExpiresBefore))
	for i, b := range q.ExpiresBefore {
		bounds[i] = (b.UnixNano() + 999) / 1000
	}
	var lastDay int64 = -1
	for _, b := range bounds {
		lastDay = max(lastDay, b/microsPerDay)
	}
	byDay := map[int64]int64{}
	if len(bounds) > 0 {
		rows, err := rtx.QueryContext(ctx, `SELECT expiry_day, SUM(clients) FROM client_counts
			WHERE tenant_id = ? AND status = 'active' AND expiry_day >= 0 AND expiry_day < ?`+inDivisions+`
			GROUP BY expiry_day`, args(lastDay)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var d, n int64
			if err := rows.Scan(&d, &n); err != nil {
				rows.Close()
				return nil, err
			}
			byDay[d] = n
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	days := slices.Sorted(maps.Keys(byDay))
	part, err := rtx.PrepareContext(ctx, `SELECT COUNT(*) FROM clients
		WHERE tenant_id = ? AND status = 'active' AND secret_expires_at IS NOT NULL
		AND secret_expires_at >= ? AND secret_expires_at < ?`+inDivisions)
	if err != nil {
		return nil, err
	}
	defer part.Close()
	for _, b := range bounds {
		d := b / microsPerDay
		var n int64
		for _, e := range days {
			if e >= d {
				break
			}
			n += byDay[e]
		}
		var partial int64
		if err := part.QueryRowContext(ctx, args(d*microsPerDay, b)...).Scan(&partial); err != nil {
			return nil, err
		}
		fc.ExpiringBefore = append(fc.ExpiringBefore, n+partial)
	}

	rows, err = rtx.QueryContext(ctx, `SELECT day, SUM(tokens) FROM tenant_token_days
		WHERE tenant_id = ? AND day >= ? AND day < ?`+inDivisions+` GROUP BY day ORDER BY day`,
		args(q.TokensFrom.UnixMicro(), q.TokensTo.UnixMicro())...)
	if err != nil {
		return nil, err
	}
	fc.Tokens, err = scanDays(rows)
	return fc, err
}

// ClientTokenDays reads client_token_days by its primary key.
func (db *DB) ClientTokenDays(ctx context.Context, clientID string, from, to time.Time) ([]client.DayCount, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT day, tokens FROM client_token_days
		WHERE client_id = ? AND day >= ? AND day < ? ORDER BY day`, clientID, from.UnixMicro(), to.UnixMicro())
	if err == nil {
		var out []client.DayCount
		if out, err = scanDays(rows); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("sqlite: client token days: %w", err)
}

// pruneTokenDays deletes the daily token counts of days before
// client.TokenHistoryDays before t. A day of a million clients' counts is
// deleted some thousands of rows to a transaction, so that other writers
// wait for none of them long.
func (db *DB) pruneTokenDays(ctx context.Context, t time.Time) error {
	const batch = 5000
	cutoff := t.UTC().AddDate(0, 0, -client.TokenHistoryDays).UnixMicro() / microsPerDay * microsPerDay
	for {
		var deleted int64
		err := db.writeTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM client_token_days WHERE (client_id, day) IN
				(SELECT client_id, day FROM client_token_days WHERE day < ? LIMIT ?)`, cutoff, batch)
			if err != nil {
				return err
			}
			if deleted, err = res.RowsAffected(); err != nil || deleted == batch {
				return err
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM tenant_token_days WHERE day < ?`, cutoff)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: prune token days: %w", err)
		}
		if deleted < batch {
			return nil
		}
	}
}

// divisionsIn returns the condition that division_id is one of divisions,
// with its arguments; nothing for nil (every division).
func divisionsIn(divisions []string) (string, []any) {
	if divisions == nil {
		return "", nil
	}
	if len(divisions) == 0 {
		return " AND 0", nil
	}
	args := make([]any, len(divisions))
	for i, d := range divisions {
		args[i] = d
	}
	return " AND division_id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(divisions)), ", ") + ")", args
}

// scanDays reads (day, tokens) rows, closing them.
func scanDays(rows *sql.Rows) ([]client.DayCount, error) {
	var out []client.DayCount
	for rows.Next() {
		var day, n int64
		if err := rows.Scan(&day, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, client.DayCount{Day: fromMicros(day), Tokens: n})
	}
	return out, closeRows(rows)
}

// closeRows closes rows and returns the error that ended them, if any.
func closeRows(rows *sql.Rows) error {
	return cmp.Or(rows.Err(), rows.Close())
}
