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
	qs, err := keyset.Build(listDialect, q, db.listCountCap)
	if err != nil {
		return nil, err
	}
	var page *client.ListPage
	// One snapshot for the count and the page.
	err = db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var count int
		if err := tx.QueryRow(ctx, qs.Count.SQL, qs.Count.Args...).Scan(&count); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		total, estimated, err := qs.Total(count, func() (int, bool, error) {
			n, err := planRows(ctx, tx, qs.Matching)
			return n, false, err
		})
		if err != nil {
			return fmt.Errorf("estimate: %w", err)
		}
		rows, err := tx.Query(ctx, qs.Page.SQL, qs.Page.Args...)
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
		page = keyset.Finish(clients, keys, q.Limit, total, estimated)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	return page, nil
}

// planRows returns the planner's estimate of the rows st returns.
func planRows(ctx context.Context, tx pgx.Tx, st keyset.Statement) (int, error) {
	var plan string
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+st.SQL, st.Args...).Scan(&plan); err != nil {
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
	qs, err := keyset.Build(listDialect, q, db.listCountCap)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, s := range []struct {
			name, explain string
			st            keyset.Statement
		}{
			{"count", "EXPLAIN (ANALYZE, BUFFERS) ", qs.Count},
			{"page", "EXPLAIN (ANALYZE, BUFFERS) ", qs.Page},
			{"estimate (past the cap)", "EXPLAIN ", qs.Matching},
		} {
			fmt.Fprintf(&b, "%s: %s\n", s.name, s.st.SQL)
			rows, err := tx.Query(ctx, s.explain+s.st.SQL, s.st.Args...)
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
