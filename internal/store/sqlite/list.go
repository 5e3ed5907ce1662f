package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/client"
)

// sortColumn is how the client list orders by one SortField. expr is fixed
// SQL, never built from input, and matches an index in 0001_init.sql.
type sortColumn struct {
	expr string
	// isTime columns hold Unix microseconds; their cursor key is Unix
	// nanoseconds, as client.Cursor documents.
	isTime bool
}

var sortColumns = map[client.SortField]sortColumn{
	client.SortName:            {expr: "lower(name)"},
	client.SortClientID:        {expr: "id"},
	client.SortCreatedAt:       {expr: "created_at", isTime: true},
	client.SortLastUsedAt:      {expr: "COALESCE(last_used_at, 0)", isTime: true},
	client.SortSecretExpiresAt: {expr: "COALESCE(secret_expires_at, 0)", isTime: true},
	client.SortStatus:          {expr: "status"},
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
	col, ok := sortColumns[q.Sort]
	if !ok { // Normalize accepted a field this adapter does not know
		return nil, fmt.Errorf("sqlite: list clients: no sort column for %q", q.Sort)
	}

	// The filters, shared by the count and the page.
	where := []string{"tenant_id = ?"}
	args := []any{q.TenantID}
	if q.OwnerUserID != "" {
		where = append(where, "owner_user_id = ?")
		args = append(args, q.OwnerUserID)
	}
	if q.Status != "" {
		where = append(where, "status = ?")
		args = append(args, q.Status)
	}
	if q.Search != "" {
		if utf8.RuneCountInString(q.Search) >= minTrigramSearch {
			// One FTS5 phrase: the trigram tokenizer matches it as a
			// case-insensitive substring of either column.
			where = append(where, "pk IN (SELECT rowid FROM clients_fts WHERE clients_fts MATCH ?)")
			args = append(args, `"`+strings.ReplaceAll(q.Search, `"`, `""`)+`"`)
		} else {
			// LIKE is case-insensitive for ASCII in SQLite.
			where = append(where, `(name LIKE ? ESCAPE '\' OR id LIKE ? ESCAPE '\')`)
			p := "%" + escapeLike(q.Search) + "%"
			args = append(args, p, p)
		}
	}
	filter := strings.Join(where, " AND ")

	// The keyset predicate: rows strictly after the cursor in sort order.
	// Written as "key >= k AND (key > k OR id > i)" rather than a row
	// value, because SQLite turns the first term into an index range.
	pageWhere, pageArgs := filter, slices.Clone(args)
	if q.After != "" {
		cur, err := client.DecodeCursor(q.After)
		if err != nil {
			return nil, badCursor()
		}
		var key any = cur.Key
		if col.isTime {
			ns, err := strconv.ParseInt(cur.Key, 10, 64)
			if err != nil {
				return nil, badCursor()
			}
			key = ns / 1000
		}
		cmp, cmpEq := ">", ">="
		if q.Desc {
			cmp, cmpEq = "<", "<="
		}
		if col.expr == "id" {
			pageWhere += " AND id " + cmp + " ?"
			pageArgs = append(pageArgs, cur.ID)
		} else {
			pageWhere += fmt.Sprintf(" AND %[1]s %[2]s ? AND (%[1]s %[3]s ? OR id %[3]s ?)", col.expr, cmpEq, cmp)
			pageArgs = append(pageArgs, key, key, cur.ID)
		}
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	order := col.expr + " " + dir
	if col.expr != "id" {
		order += ", id " + dir
	}

	page := &client.ListPage{}
	// One read transaction, so the count and the page see one snapshot.
	rtx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	defer rtx.Rollback()
	if err := rtx.QueryRowContext(ctx, `SELECT COUNT(*) FROM clients WHERE `+filter, args...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("sqlite: list clients: count: %w", err)
	}
	rows, err := rtx.QueryContext(ctx, `SELECT `+clientColumns+`, `+col.expr+` FROM clients WHERE `+pageWhere+
		` ORDER BY `+order+` LIMIT ?`, append(pageArgs, q.Limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	defer rows.Close()
	var last client.Cursor
	for rows.Next() {
		if len(page.Clients) == q.Limit {
			page.Next = last.Encode()
			break
		}
		var key any
		c, err := scanClient(rows, &key)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list clients: %w", err)
		}
		page.Clients = append(page.Clients, c)
		last = client.Cursor{ID: c.ID, Key: cursorKey(key, col.isTime)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	return page, nil
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

// escapeLike makes s match itself literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func badCursor() error {
	return &client.ValidationError{Fields: []client.FieldError{{Field: "after", Message: "is not a cursor this server issued"}}}
}
