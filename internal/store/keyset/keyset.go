// Package keyset builds the client list's queries once for every SQL
// backend: the filters, the keyset predicate that starts a page after a
// cursor, the order, and a count that stops at a cap. A backend supplies
// only its SQL text (a Dialect) and runs the statements.
//
// Keyset pagination, not OFFSET: a page deep in a million clients costs
// one index range scan, like the first.
package keyset

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// Column is how the list orders by one client.SortField. Expr is fixed SQL,
// never built from input, and must match an index of the backend.
type Column struct {
	Expr string
	// IsTime columns take a cursor key in Unix nanoseconds, converted for
	// the database by Dialect.TimeArg.
	IsTime bool
}

// Dialect is one backend's SQL text for the list.
type Dialect struct {
	// Placeholder returns the parameter marker for the nth argument, from
	// 1: "?" or "$n".
	Placeholder func(n int) string
	// Select is the column list of a client row, as the backend scans it.
	Select string
	// Columns maps every sort field to its column.
	Columns map[client.SortField]Column
	// Search returns the condition matching search as a case-insensitive
	// substring of the name or client ID, adding its arguments with arg.
	Search func(search string, arg func(any) string) string
	// TimeArg converts a cursor's Unix nanoseconds to a parameter value of
	// a time column.
	TimeArg func(ns int64) any
	// RowValues says the backend compares (a, b) > (x, y) with an index
	// range scan; otherwise the expanded form is written.
	RowValues bool
}

// CountCap is where counting stops: a list page never counts more rows
// than this, however many match. ListPage.TotalCapped says when it stopped.
const CountCap = 10000

// Statement is SQL with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// Queries are the statements of one list page.
type Queries struct {
	// Count returns one integer: the matching rows, up to CountCap+1.
	Count Statement
	// Page returns up to Limit+1 rows of Select, each followed by the sort
	// column's value (for the next cursor).
	Page   Statement
	Column Column
}

// Build returns the statements for q, which must be normalized. A cursor
// this server did not issue is a validation error on "after".
func Build(d *Dialect, q client.ListQuery) (*Queries, error) {
	col, ok := d.Columns[q.Sort]
	if !ok { // Normalize accepted a field this backend does not know
		return nil, fmt.Errorf("keyset: no sort column for %q", q.Sort)
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	where := []string{"tenant_id = " + arg(q.TenantID)}
	if q.OwnerUserID != "" {
		where = append(where, "owner_user_id = "+arg(q.OwnerUserID))
	}
	if q.Status != "" {
		where = append(where, "status = "+arg(string(q.Status)))
	}
	if q.LastGrant != "" {
		where = append(where, "last_token_grant = "+arg(string(q.LastGrant)))
	}
	if q.AuthorizedBy != "" {
		where = append(where, "last_authorized_user = "+arg(q.AuthorizedBy))
	}
	if q.Search != "" {
		where = append(where, d.Search(q.Search, arg))
	}
	filter := strings.Join(where, " AND ")
	count := Statement{
		SQL:  `SELECT COUNT(*) FROM (SELECT 1 FROM clients WHERE ` + filter + ` LIMIT ` + arg(CountCap+1) + `) AS capped`,
		Args: args,
	}

	// The page reuses the filter's placeholders: its arguments start as a
	// copy of the filter's, without the count's cap.
	args = append([]any(nil), args[:len(args)-1]...)
	pageWhere := filter
	if q.After != "" {
		cur, err := client.DecodeCursor(q.After)
		if err != nil {
			return nil, badCursor()
		}
		var key any = cur.Key
		if col.IsTime {
			ns, err := strconv.ParseInt(cur.Key, 10, 64)
			if err != nil {
				return nil, badCursor()
			}
			key = d.TimeArg(ns)
		}
		cmp, cmpEq := ">", ">="
		if q.Desc {
			cmp, cmpEq = "<", "<="
		}
		switch {
		case col.Expr == "id":
			pageWhere += " AND id " + cmp + " " + arg(cur.ID)
		case d.RowValues:
			pageWhere += fmt.Sprintf(" AND (%s, id) %s (%s, %s)", col.Expr, cmp, arg(key), arg(cur.ID))
		default:
			// "key >= k AND (key > k OR id > i)": the first term becomes
			// an index range where row values would not.
			k1, k2, id := arg(key), arg(key), arg(cur.ID)
			pageWhere += fmt.Sprintf(" AND %[1]s %[2]s %[4]s AND (%[1]s %[3]s %[5]s OR id %[3]s %[6]s)",
				col.Expr, cmpEq, cmp, k1, k2, id)
		}
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	order := col.Expr + " " + dir
	if col.Expr != "id" {
		order += ", id " + dir
	}
	page := Statement{
		SQL: `SELECT ` + d.Select + `, ` + col.Expr + ` FROM clients WHERE ` + pageWhere +
			` ORDER BY ` + order + ` LIMIT ` + arg(q.Limit+1),
		Args: args,
	}
	return &Queries{Count: count, Page: page, Column: col}, nil
}

// Finish makes the page from the rows the Page statement returned (up to
// limit+1 clients, with each one's cursor key) and the Count result.
func Finish(clients []*client.Client, keys []string, limit, count int) *client.ListPage {
	p := &client.ListPage{Clients: clients, Total: min(count, CountCap), TotalCapped: count > CountCap}
	if len(clients) > limit {
		p.Clients = clients[:limit]
		p.Next = client.Cursor{ID: clients[limit-1].ID, Key: keys[limit-1]}.Encode()
	}
	return p
}

func badCursor() error { return errs.Invalid("after", "is not a cursor this server issued") }

// EscapeLike makes s match itself literally in a LIKE pattern with
// ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
