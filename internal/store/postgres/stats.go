package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/client"
)

// The fleet's statistics, from the daily counters and the counts by
// status and expiry day of 0011_token_days.sql.

const secondsPerDay = 86400

// AddTokenCounts adds the counts to client_token_days and
// tenant_token_days in one transaction, one statement each. A client
// that no longer exists gets no row; its tenant's still counts its
// tokens. Rows are written in key order, so that instances flushing at
// once take their row locks in one order and never deadlock.
func (db *DB) AddTokenCounts(ctx context.Context, counts []client.TokenCount) error {
	if len(counts) == 0 {
		return nil
	}
	type clientDay struct {
		client string
		day    time.Time
	}
	type tenantDay struct {
		tenant, division string
		day              time.Time
	}
	clients, tenants := map[clientDay]int64{}, map[tenantDay]int64{}
	for _, c := range counts {
		d := c.Day.UTC()
		clients[clientDay{c.ClientID, d}] += c.Tokens
		tenants[tenantDay{c.TenantID, c.DivisionID, d}] += c.Tokens
	}
	ck := slices.SortedFunc(maps.Keys(clients), func(a, b clientDay) int {
		return cmp.Or(cmp.Compare(a.client, b.client), a.day.Compare(b.day))
	})
	tk := slices.SortedFunc(maps.Keys(tenants), func(a, b tenantDay) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), a.day.Compare(b.day), cmp.Compare(a.division, b.division))
	})
	var cIDs []string
	var cDays []time.Time
	var cTokens []int64
	for _, k := range ck {
		cIDs, cDays, cTokens = append(cIDs, k.client), append(cDays, k.day), append(cTokens, clients[k])
	}
	var tIDs, tDivs []string
	var tDays []time.Time
	var tTokens []int64
	for _, k := range tk {
		tIDs, tDivs, tDays, tTokens = append(tIDs, k.tenant), append(tDivs, k.division), append(tDays, k.day), append(tTokens, tenants[k])
	}
	err := db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error {
		// WITH ORDINALITY keeps the sorted order through the existence
		// check.
		if _, err := t.Exec(ctx, `INSERT INTO client_token_days AS d (client_id, day, tokens)
			SELECT u.client_id, u.day, u.tokens
			FROM unnest($1::text[], $2::date[], $3::bigint[]) WITH ORDINALITY AS u (client_id, day, tokens, i)
			WHERE EXISTS (SELECT 1 FROM clients WHERE id = u.client_id)
			ORDER BY u.i
			ON CONFLICT (client_id, day) DO UPDATE SET tokens = d.tokens + excluded.tokens`,
			cIDs, cDays, cTokens); err != nil {
			return err
		}
		_, err := t.Exec(ctx, `INSERT INTO tenant_token_days AS d (tenant_id, day, division_id, tokens)
			SELECT u.tenant_id, u.day, u.division_id, u.tokens
			FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u (tenant_id, day, division_id, tokens, i)
			ORDER BY u.i
			ON CONFLICT (tenant_id, day, division_id) DO UPDATE SET tokens = d.tokens + excluded.tokens`,
			tIDs, tDays, tDivs, tTokens)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: add token counts: %w", err)
	}
	return nil
}

// FleetCounts counts in one read-only REPEATABLE READ transaction. A
// bound's expiry count is the whole days before its own from
// client_counts, plus its own day up to it from clients_active_by_expiry.
func (db *DB) FleetCounts(ctx context.Context, q client.FleetQuery) (*client.FleetCounts, error) {
	var fc *client.FleetCounts
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		fc, err = fleetCounts(ctx, tx, q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: fleet counts: %w", err)
	}
	return fc, nil
}

func fleetCounts(ctx context.Context, tx pgx.Tx, q client.FleetQuery) (*client.FleetCounts, error) {
	// The division condition takes the argument after the others.
	inDivisions := func(n int) string {
		if q.Divisions == nil {
			return ""
		}
		return " AND division_id = ANY($" + strconv.Itoa(n) + ")"
	}
	args := func(more ...any) []any {
		args := append([]any{q.TenantID}, more...)
		if q.Divisions != nil {
			args = append(args, q.Divisions)
		}
		return args
	}
	fc := &client.FleetCounts{ByStatus: map[client.Status]int64{}}

	rows, err := tx.Query(ctx, `SELECT status, sum(clients)::bigint FROM client_counts
		WHERE tenant_id = $1`+inDivisions(2)+` GROUP BY status`, args()...)
	if err != nil {
		return nil, err
	}
	var status string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		fc.ByStatus[client.Status(status)] = n
		return nil
	}); err != nil {
		return nil, err
	}

	if len(q.ExpiresBefore) > 0 {
		// A stored time is before b when it is before b rounded up to
		// the microsecond.
		bounds := make([]time.Time, len(q.ExpiresBefore))
		starts := make([]time.Time, len(q.ExpiresBefore))
		var lastDay int64 = -1
		for i, b := range q.ExpiresBefore {
			bounds[i] = b.UTC().Add(time.Microsecond - 1).Truncate(time.Microsecond)
			d := unixDay(bounds[i])
			starts[i], lastDay = time.Unix(d*secondsPerDay, 0).UTC(), max(lastDay, d)
		}
		rows, err := tx.Query(ctx, `SELECT expiry_day, sum(clients)::bigint FROM client_counts
			WHERE tenant_id = $1 AND status = 'active' AND expiry_day >= 0 AND expiry_day < $2`+inDivisions(3)+`
			GROUP BY expiry_day`, args(lastDay)...)
		if err != nil {
			return nil, err
		}
		byDay := map[int64]int64{}
		var d int64
		if _, err := pgx.ForEachRow(rows, []any{&d, &n}, func() error {
			byDay[d] = n
			return nil
		}); err != nil {
			return nil, err
		}
		days := slices.Sorted(maps.Keys(byDay))
		// Each bound's part of its day, in one statement.
		rows, err = tx.Query(ctx, `SELECT (SELECT count(*) FROM clients
				WHERE tenant_id = $1 AND status = 'active' AND secret_expires_at IS NOT NULL
				AND secret_expires_at >= b.start AND secret_expires_at < b.bound`+inDivisions(4)+`)
			FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS b (start, bound, i)
			ORDER BY b.i`, args(starts, bounds)...)
		if err != nil {
			return nil, err
		}
		i := 0
		if _, err := pgx.ForEachRow(rows, []any{&n}, func() error {
			if i >= len(bounds) {
				return errors.New("more part-day counts than bounds")
			}
			d := unixDay(bounds[i])
			for _, e := range days {
				if e >= d {
					break
				}
				n += byDay[e]
			}
			fc.ExpiringBefore = append(fc.ExpiringBefore, n)
			i++
			return nil
		}); err != nil {
			return nil, err
		}
		if i != len(bounds) {
			return nil, fmt.Errorf("%d part-day counts for %d bounds", i, len(bounds))
		}
	}

	rows, err = tx.Query(ctx, `SELECT day, sum(tokens)::bigint FROM tenant_token_days
		WHERE tenant_id = $1 AND day >= $2 AND day < $3`+inDivisions(4)+` GROUP BY day ORDER BY day`,
		args(q.TokensFrom.UTC(), q.TokensTo.UTC())...)
	if err != nil {
		return nil, err
	}
	fc.Tokens, err = scanDays(rows)
	return fc, err
}

// ClientTokenDays reads client_token_days by its primary key.
func (db *DB) ClientTokenDays(ctx context.Context, clientID string, from, to time.Time) ([]client.DayCount, error) {
	rows, err := db.pool.Query(ctx, `SELECT day, tokens FROM client_token_days
		WHERE client_id = $1 AND day >= $2 AND day < $3 ORDER BY day`, clientID, from.UTC(), to.UTC())
	if err == nil {
		var out []client.DayCount
		if out, err = scanDays(rows); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("postgres: client token days: %w", err)
}

// pruneTokenDays deletes the daily token counts of days before
// client.TokenHistoryDays before t. Nothing else writes rows that old,
// so one statement a table holds up no one.
func (db *DB) pruneTokenDays(ctx context.Context, t time.Time) error {
	cutoff := time.Unix(unixDay(t.UTC().AddDate(0, 0, -client.TokenHistoryDays))*secondsPerDay, 0).UTC()
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for _, table := range []string{"client_token_days", "tenant_token_days"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE day < $1`, cutoff); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: prune token days: %w", err)
	}
	return nil
}

// unixDay is t's UTC day as days since 1970-01-01, as client_expiry_day
// computes it.
func unixDay(t time.Time) int64 {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d--
	}
	return d
}

// scanDays reads (day, tokens) rows, closing them.
func scanDays(rows pgx.Rows) ([]client.DayCount, error) {
	var out []client.DayCount
	var day time.Time
	var n int64
	_, err := pgx.ForEachRow(rows, []any{&day, &n}, func() error {
		out = append(out, client.DayCount{Day: time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC), Tokens: n})
		return nil
	})
	return out, err
}
