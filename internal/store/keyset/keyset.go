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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// Column is how the list orders by one client.SortField. Expr is fixed SQL,
// never built from input, and must match an index of the backend.
type Column struct {
	Expr string
	// IsTime columns take a cursor key in Unix nanoseconds, converted for
	// the database by Dialect.TimeArg. Their Expr maps "never" (NULL) to
	// the epoch, which the time filters rely on too.
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
	// SearchFrom, when set, may return a row source for the statements'
	// FROM clause in place of "clients": clients joined to an index that
	// finds search's candidates, with only clients' columns visible
	// unqualified. Search's condition still decides which rows match. It
	// returns "" for a search the index cannot answer.
	SearchFrom func(search string, arg func(any) string) string
	// HasGrant returns the condition that a client's grant_types include
	// grant, one of the client.GrantType constants.
	HasGrant func(grant client.GrantType, arg func(any) string) string
	// Broad, when set, marks a comparison of a time range filter as one
	// that keeps many clients, so that a planner with no statistics scans
	// the index of the page's order rather than sorting the range's rows.
	Broad func(cmp string) string
	// TimeArg converts a cursor's Unix nanoseconds to a parameter value of
	// a time column.
	TimeArg func(ns int64) any
	// RowValues says the backend compares (a, b) > (x, y) with an index
	// range scan; otherwise the expanded form is written.
	RowValues bool
}

// CountCap is where exact counting stops by default: a list page never
// counts more rows than its cap, however many match, and estimates the
// total beyond it (client.ListPage.TotalEstimated). Counting is the
// dearest part of a page: proving that more than the cap match takes
// reading cap+1 matches, and a substring that 3% of a million clients
// contain needs some 33,000 rows read per thousand matches. A thousand
// keeps that within a page's budget; beyond it an estimate says as much.
const CountCap = 1000

// Statement is SQL with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// Queries are the statements of one list page.
type Queries struct {
	// Count returns one integer: the matching rows, up to Cap+1.
	Count Statement
	Cap   int
	// Matching selects every matching row, uncapped and unordered: what a
	// backend asks its planner to estimate when more than Cap match.
	Matching Statement
	// Where is the filter alone, a condition on clients; its placeholders
	// are numbered after those of the Dialect's SearchFrom, if it took
	// part (so standalone only where placeholders are positional).
	Where Statement
	// Filtered says the query keeps fewer than all the tenant's clients: a
	// filter or a search is set.
	Filtered bool
	// Page returns up to Limit+1 rows of Select, each followed by the sort
	// column's value (for the next cursor). For a query with Before they
	// come in the reverse of the query's order, nearest the cursor first.
	Page   Statement
	Column Column
	// Backward says the page is read back from a Before cursor; Resumed
	// that it starts at a cursor, After or Before, so a page lies before it.
	Backward, Resumed bool
}

// Build returns the statements for q, which must be normalized, counting
// exactly up to countCap matches (CountCap when zero). A cursor this
// server did not issue is a validation error on "after".
func Build(d *Dialect, q client.ListQuery, countCap int) (*Queries, error) {
	col, ok := d.Columns[q.Sort]
	if !ok { // Normalize accepted a field this backend does not know
		return nil, fmt.Errorf("keyset: no sort column for %q", q.Sort)
	}
	if countCap <= 0 {
		countCap = CountCap
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	// The row source comes first, so that positional placeholders follow
	// the text's order.
	from := "clients"
	if d.SearchFrom != nil && q.Search != "" {
		if f := d.SearchFrom(q.Search, arg); f != "" {
			from = f
		}
	}
	fromArgs := len(args)
	where := filters(d, q, arg)
	filter := strings.Join(where, " AND ")
	filterArgs := args
	matching := Statement{SQL: `SELECT 1 FROM ` + from + ` WHERE ` + filter, Args: filterArgs}
	count := Statement{
		SQL:  `SELECT COUNT(*) FROM (` + matching.SQL + ` LIMIT ` + arg(countCap+1) + `) AS capped`,
		Args: args,
	}

	// The page reuses the filter's placeholders: its arguments start as a
	// copy of the filter's, without the count's cap.
	args = append([]any(nil), filterArgs...)
	pageWhere := filter
	// A page before a cursor is the page after it in the reverse order,
	// read nearest the cursor first: the same index range, walked the
	// other way.
	after, desc, field := q.After, q.Desc, "after"
	if q.Before != "" {
		after, desc, field = q.Before, !q.Desc, "before"
	}
	if after != "" {
		cur, err := client.DecodeCursor(after)
		if err != nil {
			return nil, badCursor(field)
		}
		var key any = cur.Key
		if col.IsTime {
			ns, err := strconv.ParseInt(cur.Key, 10, 64)
			if err != nil {
				return nil, badCursor(field)
			}
			key = d.TimeArg(ns)
		}
		cmp, cmpEq := ">", ">="
		if desc {
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
	if desc {
		dir = "DESC"
	}
	order := col.Expr + " " + dir
	if col.Expr != "id" {
		order += ", id " + dir
	}
	page := Statement{
		SQL: `SELECT ` + d.Select + `, ` + col.Expr + ` FROM ` + from + ` WHERE ` + pageWhere +
			` ORDER BY ` + order + ` LIMIT ` + arg(q.Limit+1),
		Args: args,
	}
	return &Queries{Count: count, Cap: countCap, Matching: matching, Page: page, Column: col,
		Where: Statement{SQL: filter, Args: filterArgs[fromArgs:]}, Filtered: len(where) > 1,
		Backward: q.Before != "", Resumed: after != ""}, nil
}

// filters returns the conditions q puts on a tenant's clients, adding
// their arguments with arg. Each optional filter is one clause; the
// backend's indexes serve the tenant and equality terms, and the time
// ranges are written on the sort columns' expressions, so they share
// those indexes.
func filters(d *Dialect, q client.ListQuery, arg func(any) string) []string {
	where := []string{"tenant_id = " + arg(q.TenantID)}
	equal := func(column, v string) {
		if v != "" {
			where = append(where, column+" = "+arg(v))
		}
	}
	equal("owner_user_id", q.OwnerUserID)
	equal("status", string(q.Status))
	equal("type", string(q.Type))
	equal("created_by", q.CreatedBy)
	equal("last_token_grant", string(q.LastGrant))
	equal("last_authorized_user", q.AuthorizedBy)
	if q.Divisions != nil {
		in := "NULL" // an empty list matches no row
		for i, div := range q.Divisions {
			if i == 0 {
				in = arg(div)
			} else {
				in += ", " + arg(div)
			}
		}
		where = append(where, "division_id IN ("+in+")")
	}
	if q.GrantType != "" {
		where = append(where, d.HasGrant(q.GrantType, arg))
	}
	// "Never" is the epoch in a time column's Expr: a secret that expires
	// is after it, and a client never used is at it.
	// Stored times have microseconds: one is before t when it is before t
	// rounded up to the microsecond. (Bounds lie after the epoch.)
	never := func() string { return arg(d.TimeArg(0)) }
	before := func(t time.Time) string {
		return arg(d.TimeArg((t.UnixNano() + int64(time.Microsecond) - 1) / int64(time.Microsecond) * int64(time.Microsecond)))
	}
	broad := func(cmp string) string {
		if d.Broad != nil {
			return d.Broad(cmp)
		}
		return cmp
	}
	if t := q.SecretExpiresBefore; !t.IsZero() {
		e := d.Columns[client.SortSecretExpiresAt].Expr
		where = append(where, broad(e+" > "+never())+" AND "+broad(e+" < "+before(t)))
	}
	lastUsed := d.Columns[client.SortLastUsedAt].Expr
	if q.NeverUsed {
		where = append(where, broad(lastUsed+" = "+never()))
	} else if t := q.UnusedSince; !t.IsZero() {
		where = append(where, broad(lastUsed+" < "+before(t)))
	}
	if t := q.CreatedBefore; !t.IsZero() {
		where = append(where, broad(d.Columns[client.SortCreatedAt].Expr+" < "+before(t)))
	}
	if q.Search != "" {
		where = append(where, d.Search(q.Search, arg))
	}
	return where
}

// Finish makes the page from the rows the Page statement returned (up to
// limit+1 clients, with each one's cursor key) and the total the backend
// made of the Count result (see Total).
func Finish(clients []*client.Client, keys []string, limit, total int, estimated bool) *client.ListPage {
	p := &client.ListPage{Clients: clients, Total: total, TotalEstimated: estimated}
	if len(clients) > limit {
		p.Clients = clients[:limit]
		p.Next = client.Cursor{ID: clients[limit-1].ID, Key: keys[limit-1]}.Encode()
	}
	return p
}

// Finish makes the page of the query from the rows its Page statement
// returned (up to limit+1 clients, with each one's cursor key), as the
// package's Finish does, and the cursor back: a page read from a cursor
// has a Prev at its first row; a page read back from a Before cursor is
// put in the query's order, has a Next at its last row, and a Prev only
// when the extra row showed there are more before it.
func (qs *Queries) Finish(clients []*client.Client, keys []string, limit, total int, estimated bool) *client.ListPage {
	if !qs.Backward {
		p := Finish(clients, keys, limit, total, estimated)
		if qs.Resumed && len(p.Clients) > 0 {
			p.Prev = client.Cursor{ID: p.Clients[0].ID, Key: keys[0]}.Encode()
		}
		return p
	}
	more := len(clients) > limit
	if more {
		clients, keys = clients[:limit], keys[:limit]
	}
	slices.Reverse(clients)
	slices.Reverse(keys)
	p := &client.ListPage{Clients: clients, Total: total, TotalEstimated: estimated}
	if n := len(clients); n > 0 {
		p.Next = client.Cursor{ID: clients[n-1].ID, Key: keys[n-1]}.Encode()
		if more {
			p.Prev = client.Cursor{ID: clients[0].ID, Key: keys[0]}.Encode()
		}
	}
	return p
}

// Total is a page's total from the Count result: the count when the cap
// was not passed; otherwise estimate's answer, never below the count (more
// than the cap match: the count proved it). estimate may report its
// answer exact, as when it counted all of a tenant's rows some cheap way.
func (qs *Queries) Total(count int, estimate func() (n int, exact bool, err error)) (total int, estimated bool, err error) {
	if count <= qs.Cap {
		return count, false, nil
	}
	n, exact, err := estimate()
	if err != nil {
		return 0, false, err
	}
	return max(n, count), !exact, nil
}

func badCursor(field string) error { return errs.Invalid(field, "is not a cursor this server issued") }

// EscapeLike makes s match itself literally in a LIKE pattern with
// ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
