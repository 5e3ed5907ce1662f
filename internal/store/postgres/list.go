package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/keyset"
)

// listDialect is PostgreSQL's text for the client list. Column expressions
// match the indexes of 0001_init.sql and 0006_authorization_code.sql
// exactly; text columns have the "C" collation, so order is bytewise.
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
	TimeArg:   func(ns int64) any { return time.Unix(0, ns).UTC() },
	RowValues: true,
}

// ListClients returns one page of a tenant's clients, keyset paginated.
// The query is normalized first; an invalid one returns the
// *client.ValidationError of ListQuery.Normalize.
func (db *DB) ListClients(ctx context.Context, q client.ListQuery) (*client.ListPage, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	qs, err := keyset.Build(listDialect, q)
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
		page = keyset.Finish(clients, keys, q.Limit, count)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	return page, nil
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
