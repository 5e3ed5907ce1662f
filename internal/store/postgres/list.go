package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/keyset"
)

// listDialect is PostgreSQL's text for the client list. Column expressions
// match the indexes of 0001_init.sql, 0006_authorization_code.sql and
// 0008_list_filters.sql exactly; text columns have the "C" collation, so
// order is bytewise.
var listDialect = &keyset.Dialect{
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	Select:      clientColumns,
	Columns: map[client.SortField]keyset.Column{
		client.SortName:            {Expr: "lower(name)"},
		client.SortClientID:        {Expr: "id"},
		client.SortCreatedAt:       {Expr: "created_at", IsTime: true},
		client.SortLastUsedAt:      {Expr: "COALESCE(last_used_at, TIMESTAMPTZ 'epoch')", IsTime: true},
		client.SortSecretExpiresAt: {Expr: "COALESCE(secret_expires_at, TIMESTAMPTZ 'epoch')", IsTime: true},
		client.SortStatus:          {Expr: "status"},
		client.SortLastAuthorized:  {Expr: "COALESCE(last_authorized_at, TIMESTAMPTZ 'epoch')", IsTime: true},
		client.SortLastToken:       {Expr: "COALESCE(last_token_at, TIMESTAMPTZ 'epoch')", IsTime: true},
	},
	Search: func(search string, arg func(any) string) string {
		// The trigram indexes on lower(name) and lower(id) answer this
		// for searches of three characters or more.
		p := arg("%" + keyset.EscapeLike(search) + "%")
		return fmt.Sprintf(`(lower(name) ILIKE %[1]s ESCAPE '\' OR lower(id) ILIKE %[1]s ESCAPE '\')`, p)
	},
	HasGrant: func(g client.GrantType, arg func(any) string) string {
		if c, ok := grantConditions[g]; ok {
			return c
		}
		return "grant_types @> ARRAY[" + arg(string(g)) + "]::text[]"
	},
	TimeArg:   func(ns int64) any { return time.Unix(0, ns).UTC() },
	RowValues: true,
}

// scanDialect is listDialect for a common substring: its search is the
// same condition written on name and id themselves, which no trigram
// index answers, so the planner reads clients in the page's order (or,
// for a count, clients_search_scan) and checks each. Under the "C"
// collation ILIKE folds ASCII case only, on either side, so the two
// conditions keep the same clients.
//
// The trigram indexes answer a rare substring in a few reads, but their
// cost grows with how common the substring's trigrams are, not with the
// matches a page needs: for "shipping", in 3% of a million names, reading
// them takes 40 ms, where a scan meets a thousand matches in 15.
var scanDialect = func() *keyset.Dialect {
	d := *listDialect
	d.Search = func(search string, arg func(any) string) string {
		p := arg("%" + keyset.EscapeLike(search) + "%")
		return fmt.Sprintf(`(name ILIKE %[1]s ESCAPE '\' OR id ILIKE %[1]s ESCAPE '\')`, p)
	}
	return &d
}()

// commonSubstringFrom is how many matches the planner must expect of a
// search for the list to scan rather than read the trigram indexes: ten
// times the default cap, so that a count meets the cap within about a
// tenth of the clients it scans.
const commonSubstringFrom = 10 * keyset.CountCap

// grantConditions say a client has a grant, in the words of the partial
// indexes of 0008_list_filters.sql, so that a count reads only the
// clients that have it.
var grantConditions = map[client.GrantType]string{
	client.GrantClientCredentials: `grant_types @> ARRAY['client_credentials']::text[]`,
	client.GrantAuthorizationCode: `grant_types @> ARRAY['authorization_code']::text[]`,
	client.GrantRefreshToken:      `grant_types @> ARRAY['refresh_token']::text[]`,
}

// SetListCountCap sets how many matching clients a list page counts
// exactly before it estimates the total: keyset.CountCap when n is zero.
// It is for tests, which reach the estimate with a few clients; call it
// before the DB is in use.
func (db *DB) SetListCountCap(n int) { db.listCountCap = n }

// ListClients returns one page of a tenant's clients, keyset paginated.
// The query is normalized first; an invalid one returns the
// *client.ValidationError of ListQuery.Normalize.
//
// Total is exact up to the cap; beyond it, it is the planner's estimate of
// the rows the filter matches (EXPLAIN's "Plan Rows", from the statistics
// ANALYZE keeps: a planning, no scan), raised to the count when lower.
func (db *DB) ListClients(ctx context.Context, q client.ListQuery) (*client.ListPage, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	var page *client.ListPage
	// One snapshot for the count and the page.
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		qs, planned, err := db.listQueries(ctx, tx, q)
		if err != nil {
			return err
		}
		var count int
		if err := tx.QueryRow(ctx, qs.Count.SQL, custom(qs.Count.Args)...).Scan(&count); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		total, estimated, err := qs.Total(count, func() (int, bool, error) {
			if planned >= 0 {
				return planned, false, nil
			}
			n, err := planRows(ctx, tx, qs.Matching)
			return n, false, err
		})
		if err != nil {
			return fmt.Errorf("estimate: %w", err)
		}
		rows, err := tx.Query(ctx, qs.Page.SQL, custom(qs.Page.Args)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var clients []*client.Client
		var keys []string
		for rows.Next() {
			var key any
			c, err := scanClient(rows, &key)
			if err != nil {
				return err
			}
			clients, keys = append(clients, c), append(keys, cursorKey(key))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		page = qs.Finish(clients, keys, q.Limit, total, estimated)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	return page, nil
}

// listQueries builds the statements of a normalized query. For a search
// it first asks the planner how many clients match, to choose between
// listDialect and scanDialect, and returns that estimate (else -1).
func (db *DB) listQueries(ctx context.Context, tx pgx.Tx, q client.ListQuery) (qs *keyset.Queries, planned int, err error) {
	if qs, err = keyset.Build(listDialect, q, db.listCountCap); err != nil || q.Search == "" {
		return qs, -1, err
	}
	if planned, err = planRows(ctx, tx, qs.Matching); err != nil {
		return nil, 0, fmt.Errorf("estimate: %w", err)
	}
	if planned >= commonSubstringFrom {
		qs, err = keyset.Build(scanDialect, q, db.listCountCap)
	}
	return qs, planned, err
}

// custom makes pgx run a statement unprepared (an unnamed statement,
// argument types from their Go types), so PostgreSQL plans it for its
// arguments every time. A prepared list statement would turn generic after
// five runs, planned for any value: for "never used" (a last-used time
// equal to the epoch) that plan reads every never-used client from
// clients_by_last_used and sorts them, seconds for a page.
func custom(args []any) []any { return append([]any{pgx.QueryExecModeExec}, args...) }

// planRows returns the planner's estimate of the rows st returns.
func planRows(ctx context.Context, tx pgx.Tx, st keyset.Statement) (int, error) {
	var plan string
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+st.SQL, custom(st.Args)...).Scan(&plan); err != nil {
		return 0, err
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal([]byte(plan), &out); err != nil || len(out) != 1 {
		return 0, fmt.Errorf("unexpected EXPLAIN output %.200q", plan)
	}
	return int(out[0].Plan.Rows), nil
}

// ExplainList runs the statements ListClients runs for q under EXPLAIN
// ANALYZE and returns their plans with the time each took, for benchmarks
// and operators asking why a list is slow. The estimate runs only past
// the cap; its plan is the planning alone.
func (db *DB) ExplainList(ctx context.Context, q client.ListQuery) (string, error) {
	if err := q.Normalize(); err != nil {
		return "", err
	}
	var b strings.Builder
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		qs, _, err := db.listQueries(ctx, tx, q)
		if err != nil {
			return err
		}
		estimate := qs.Matching // a search's estimate is planned as listDialect's
		if q.Search != "" {
			plain, err := keyset.Build(listDialect, q, db.listCountCap)
			if err != nil {
				return err
			}
			estimate = plain.Matching
		}
		for _, s := range []struct {
			name, explain string
			st            keyset.Statement
		}{
			{"count", "EXPLAIN (ANALYZE, BUFFERS) ", qs.Count},
			{"page", "EXPLAIN (ANALYZE, BUFFERS) ", qs.Page},
			{"estimate (past the cap; planned first for a search)", "EXPLAIN ", estimate},
		} {
			fmt.Fprintf(&b, "%s: %s\n", s.name, s.st.SQL)
			rows, err := tx.Query(ctx, s.explain+s.st.SQL, custom(s.st.Args)...)
			if err != nil {
				return err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintf(&b, "  %s\n", l)
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("postgres: explain list: %w", err)
	}
	return b.String(), nil
}

// cursorKey renders a row's sort key as client.Cursor expects it.
func cursorKey(v any) string {
	switch v := v.(type) {
	case time.Time:
		return strconv.FormatInt(v.UnixNano(), 10)
	case string:
		return v
	}
	return fmt.Sprint(v)
}
