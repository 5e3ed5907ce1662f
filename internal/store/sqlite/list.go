package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/keyset"
)

// listDialect is SQLite's text for the client list. Column expressions
// match the indexes of 0001_init.sql and 0006_authorization_code.sql
// exactly; times are Unix microseconds.
var listDialect = &keyset.Dialect{
	Placeholder: func(int) string { return "?" },
	Select:      clientColumns,
	Columns: map[client.SortField]keyset.Column{
		client.SortName:            {Expr: "lower(name)"},
		client.SortClientID:        {Expr: "id"},
		client.SortCreatedAt:       {Expr: "created_at", IsTime: true},
		client.SortLastUsedAt:      {Expr: "COALESCE(last_used_at, 0)", IsTime: true},
		client.SortSecretExpiresAt: {Expr: "COALESCE(secret_expires_at, 0)", IsTime: true},
		client.SortStatus:          {Expr: "status"},
		client.SortLastAuthorized:  {Expr: "COALESCE(last_authorized_at, 0)", IsTime: true},
		client.SortLastToken:       {Expr: "COALESCE(last_token_at, 0)", IsTime: true},
	},
	Search: func(search string, arg func(any) string) string {
		if utf8.RuneCountInString(search) >= minTrigramSearch {
			// One FTS5 phrase: the trigram tokenizer matches it as a
			// case-insensitive substring of either column.
			return "pk IN (SELECT rowid FROM clients_fts WHERE clients_fts MATCH " +
				arg(`"`+strings.ReplaceAll(search, `"`, `""`)+`"`) + ")"
		}
		// LIKE is case-insensitive for ASCII in SQLite.
		p := "%" + keyset.EscapeLike(search) + "%"
		return `(name LIKE ` + arg(p) + ` ESCAPE '\' OR id LIKE ` + arg(p) + ` ESCAPE '\')`
	},
	TimeArg: func(ns int64) any { return ns / 1000 },
}

// minTrigramSearch is the shortest search the trigram index can answer;
// shorter ones scan with LIKE.
const minTrigramSearch = 3

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
	// One read transaction, so the count and the page see one snapshot.
	rtx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	defer rtx.Rollback()
	var count int
	if err := rtx.QueryRowContext(ctx, qs.Count.SQL, qs.Count.Args...).Scan(&count); err != nil {
		return nil, fmt.Errorf("sqlite: list clients: count: %w", err)
	}
	rows, err := rtx.QueryContext(ctx, qs.Page.SQL, qs.Page.Args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	defer rows.Close()
	var clients []*client.Client
	var keys []string
	for rows.Next() {
		var key any
		c, err := scanClient(rows, &key)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list clients: %w", err)
		}
		clients, keys = append(clients, c), append(keys, cursorKey(key, qs.Column.IsTime))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	return keyset.Finish(clients, keys, q.Limit, count), nil
}

// cursorKey renders a row's sort key as client.Cursor expects it.
func cursorKey(v any, isTime bool) string {
	switch v := v.(type) {
	case int64:
		if isTime {
			return strconv.FormatInt(v*1000, 10)
		}
		return strconv.FormatInt(v, 10)
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return "0"
	}
	return fmt.Sprint(v)
}
