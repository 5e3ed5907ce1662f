package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/client"
)

// sortColumn is how the client list orders by one SortField. expr is fixed
// SQL, never built from input, and matches an index in 0001_init.sql.
// Text columns have the "C" collation, so order is bytewise.
type sortColumn struct {
	expr   string
	isTime bool // a timestamptz; its cursor key is Unix nanoseconds
}

var sortColumns = map[client.SortField]sortColumn{
	client.SortName:            {expr: "lower(name)"},
	client.SortClientID:        {expr: "id"},
	client.SortCreatedAt:       {expr: "created_at", isTime: true},
	client.SortLastUsedAt:      {expr: "COALESCE(last_used_at, TIMESTAMPTZ 'epoch')", isTime: true},
	client.SortSecretExpiresAt: {expr: "COALESCE(secret_expires_at, TIMESTAMPTZ 'epoch')", isTime: true},
	client.SortStatus:          {expr: "status"},
}

// ListClients returns one page of a tenant's clients, keyset paginated.
// The query is normalized first; an invalid one returns the
// *client.ValidationError of ListQuery.Normalize.
func (db *DB) ListClients(ctx context.Context, q client.ListQuery) (*client.ListPage, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	col, ok := sortColumns[q.Sort]
	if !ok { // Normalize accepted a field this adapter does not know
		return nil, fmt.Errorf("postgres: list clients: no sort column for %q", q.Sort)
	}

	// The filters, shared by the count and the page.
	args := []any{q.TenantID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"tenant_id = $1"}
	if q.OwnerUserID != "" {
		where = append(where, "owner_user_id = "+arg(q.OwnerUserID))
	}
	if q.Status != "" {
		where = append(where, "status = "+arg(string(q.Status)))
	}
	if q.Search != "" {
		// The trigram indexes on lower(name) and lower(id) answer this
		// for searches of three characters or more.
		p := arg("%" + escapeLike(q.Search) + "%")
		where = append(where, fmt.Sprintf(`(lower(name) ILIKE %[1]s ESCAPE '\' OR lower(id) ILIKE %[1]s ESCAPE '\')`, p))
	}
	filter := strings.Join(where, " AND ")
	filterArgs := slices.Clone(args)

	// The keyset predicate: rows strictly after the cursor in sort order.
	pageWhere := filter
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
			key = time.Unix(0, ns).UTC()
		}
		cmp := ">"
		if q.Desc {
			cmp = "<"
		}
		if col.expr == "id" {
			pageWhere += " AND id " + cmp + " " + arg(cur.ID)
		} else {
			pageWhere += fmt.Sprintf(" AND (%s, id) %s (%s, %s)", col.expr, cmp, arg(key), arg(cur.ID))
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
	limit := arg(q.Limit + 1)

	page := &client.ListPage{}
	// One snapshot for the count and the page.
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM clients WHERE `+filter, filterArgs...).Scan(&page.Total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT `+clientColumns+`, `+col.expr+` FROM clients WHERE `+pageWhere+
			` ORDER BY `+order+` LIMIT `+limit, args...)
		if err != nil {
			return err
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
				return err
			}
			page.Clients = append(page.Clients, c)
			last = client.Cursor{ID: c.ID, Key: cursorKey(key)}
		}
		return rows.Err()
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

// escapeLike makes s match itself literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func badCursor() error {
	return &client.ValidationError{Fields: []client.FieldError{{Field: "after", Message: "is not a cursor this server issued"}}}
}
