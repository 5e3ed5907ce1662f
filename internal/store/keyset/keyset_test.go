package keyset

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/latchkey/latchkey/internal/client"
)

// sqliteDialect is a minimal dialect over a table with the columns the
// statements filter and order by.
var sqliteDialect = &Dialect{
	Placeholder: func(int) string { return "?" },
	Select:      "id",
	Columns: map[client.SortField]Column{
		client.SortCreatedAt: {Expr: "created_at", IsTime: true},
		client.SortClientID:  {Expr: "id"},
	},
	Search: func(search string, arg func(any) string) string {
		return "id LIKE " + arg("%"+EscapeLike(search)+"%") + ` ESCAPE '\'`
	},
	TimeArg: func(ns int64) any { return ns / 1000 },
}

// A count stops at CountCap however many rows match; under the cap it is
// exact.
func TestCountStopsAtCap(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// CountCap+50 rows in one statement.
	if _, err := db.Exec(`CREATE TABLE clients (id TEXT PRIMARY KEY, tenant_id TEXT, owner_user_id TEXT, status TEXT, created_at INTEGER);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO clients SELECT printf('lkc_%06d', i), 'ten_a', '', CASE WHEN i <= 7 THEN 'active' ELSE 'inactive' END, i FROM n`,
		CountCap+50); err != nil {
		t.Fatal(err)
	}
	count := func(q client.ListQuery) int {
		t.Helper()
		q.TenantID, q.Limit = "ten_a", 3
		if err := q.Normalize(); err != nil {
			t.Fatal(err)
		}
		qs, err := Build(sqliteDialect, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(qs.Count.SQL, qs.Count.Args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", qs.Count.SQL, err)
		}
		return n
	}
	if n := count(client.ListQuery{}); n != CountCap+1 {
		t.Fatalf("count over the cap = %d, want %d (the cap plus one, to tell it is over)", n, CountCap+1)
	}
	if n := count(client.ListQuery{Status: client.StatusActive}); n != 7 {
		t.Fatalf("count under the cap = %d, want 7", n)
	}
}

// Total is the count up to the cap, asking for no estimate; past it, the
// estimate, never below the count, and estimated unless it says exact.
func TestTotal(t *testing.T) {
	qs := &Queries{Cap: 10}
	estimate := func(n int, exact bool) func() (int, bool, error) {
		return func() (int, bool, error) { return n, exact, nil }
	}
	refuse := func() (int, bool, error) { return 0, false, errors.New("estimated under the cap") }
	for _, c := range []struct {
		count    int
		estimate func() (int, bool, error)
		want     int
		wantEst  bool
	}{
		{7, refuse, 7, false},
		{10, refuse, 10, false},
		{11, estimate(500, false), 500, true},
		{11, estimate(3, false), 11, true}, // an estimate below what was counted
		{11, estimate(42, true), 42, false},
	} {
		n, est, err := qs.Total(c.count, c.estimate)
		if err != nil || n != c.want || est != c.wantEst {
			t.Errorf("Total(%d) = %d, %v, %v; want %d, %v", c.count, n, est, err, c.want, c.wantEst)
		}
	}
	if _, _, err := qs.Total(11, func() (int, bool, error) { return 0, false, errors.New("no") }); err == nil {
		t.Error("an estimate's error was dropped")
	}
}

// A row source from SearchFrom comes first, so its placeholders precede
// the filter's; Where is the filter alone, with its own arguments.
func TestSearchFrom(t *testing.T) {
	d := *sqliteDialect
	d.SearchFrom = func(search string, arg func(any) string) string {
		return "(SELECT rowid AS hit FROM idx WHERE idx MATCH " + arg(search) + ") AS hits CROSS JOIN clients ON clients.pk = hits.hit"
	}
	q := client.ListQuery{TenantID: "ten_a", Search: "abc", Status: client.StatusActive}
	if err := q.Normalize(); err != nil {
		t.Fatal(err)
	}
	qs, err := Build(&d, q, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(qs.Page.SQL, "SELECT id, created_at FROM (SELECT rowid AS hit FROM idx") || qs.Page.Args[0] != "abc" ||
		qs.Page.Args[1] != "ten_a" {
		t.Errorf("page: %s %v", qs.Page.SQL, qs.Page.Args)
	}
	if qs.Count.Args[len(qs.Count.Args)-1] != 6 || qs.Cap != 5 {
		t.Errorf("count: %s %v", qs.Count.SQL, qs.Count.Args)
	}
	if !strings.HasPrefix(qs.Where.SQL, "tenant_id = ?") || len(qs.Where.Args) != len(qs.Page.Args)-2 || qs.Where.Args[0] != "ten_a" {
		t.Errorf("where: %s %v", qs.Where.SQL, qs.Where.Args)
	}
	if !qs.Filtered {
		t.Error("a search is not a filter")
	}
	if qs, _ := Build(&d, client.ListQuery{TenantID: "ten_a", Sort: client.SortCreatedAt, Limit: 1}, 0); qs.Filtered {
		t.Error("a tenant's whole list is filtered")
	}
}

// Finish keeps limit rows and makes the cursor from the last kept one.
func TestFinishPages(t *testing.T) {
	var cs []*client.Client
	var keys []string
	for i := range 4 {
		cs = append(cs, &client.Client{ID: fmt.Sprintf("lkc_%d", i)})
		keys = append(keys, fmt.Sprint(i*10))
	}
	p := Finish(cs, keys, 3, 4, false)
	if len(p.Clients) != 3 || p.Next == "" {
		t.Fatalf("page: %d clients, next %q", len(p.Clients), p.Next)
	}
	cur, err := client.DecodeCursor(p.Next)
	if err != nil || cur.ID != "lkc_2" || cur.Key != "20" {
		t.Fatalf("cursor %+v, %v; want the third row", cur, err)
	}
	if last := Finish(cs[:3], keys[:3], 3, 3, false); last.Next != "" {
		t.Fatal("a last page has a next cursor")
	}
}

// Placeholders are numbered in order across the filter and the keyset
// predicate, with the count's cap only in the count.
func TestBuildNumbersPlaceholders(t *testing.T) {
	d := *sqliteDialect
	d.Placeholder = func(n int) string { return fmt.Sprintf("$%d", n) }
	d.RowValues = true
	q := client.ListQuery{TenantID: "ten_a", Status: client.StatusActive, Search: "abc", Limit: 10,
		After: client.Cursor{ID: "lkc_x", Key: "5000"}.Encode()}
	if err := q.Normalize(); err != nil {
		t.Fatal(err)
	}
	qs, err := Build(&d, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(qs.Count.SQL, "LIMIT $4") || len(qs.Count.Args) != 4 {
		t.Errorf("count: %s %v", qs.Count.SQL, qs.Count.Args)
	}
	if !strings.Contains(qs.Page.SQL, "(created_at, id) > ($4, $5)") || !strings.HasSuffix(qs.Page.SQL, "LIMIT $6") ||
		len(qs.Page.Args) != 6 || qs.Page.Args[3] != int64(5) || qs.Page.Args[5] != 11 {
		t.Errorf("page: %s %v", qs.Page.SQL, qs.Page.Args)
	}
	if _, err := Build(&d, client.ListQuery{TenantID: "t", Sort: client.SortName}, 0); err == nil {
		t.Error("a sort field the dialect lacks was accepted")
	}
}

// A page before a cursor walks the order the other way from the cursor,
// and its rows, read nearest the cursor first, are put back in order.
func TestBuildBefore(t *testing.T) {
	cur := client.Cursor{ID: "lkc_x", Key: "5000"}.Encode()
	for _, desc := range []bool{false, true} {
		q := client.ListQuery{TenantID: "ten_a", Sort: client.SortCreatedAt, Desc: desc, Limit: 3, Before: cur}
		if err := q.Normalize(); err != nil {
			t.Fatal(err)
		}
		qs, err := Build(sqliteDialect, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		cmp, dir := "<", "DESC"
		if desc {
			cmp, dir = ">", "ASC"
		}
		if !strings.Contains(qs.Page.SQL, "created_at "+cmp+"= ?") || !strings.Contains(qs.Page.SQL, "ORDER BY created_at "+dir+", id "+dir) {
			t.Errorf("desc %v: page %s", desc, qs.Page.SQL)
		}
		if !qs.Backward || !qs.Resumed {
			t.Errorf("desc %v: backward %v resumed %v", desc, qs.Backward, qs.Resumed)
		}
	}
	q := client.ListQuery{TenantID: "ten_a", Sort: client.SortCreatedAt, Limit: 3, Before: client.Cursor{ID: "lkc_x", Key: "x"}.Encode()}
	if _, err := Build(sqliteDialect, q, 0); err == nil || !strings.Contains(err.Error(), "before") {
		t.Errorf("a text key for a time column: %v", err)
	}
}

func TestQueriesFinish(t *testing.T) {
	// rows are n rows as a store read them; Finish may reorder them.
	rows := func(n int) (cs []*client.Client, keys []string) {
		for i := range n {
			cs = append(cs, &client.Client{ID: fmt.Sprintf("lkc_%d", i)})
			keys = append(keys, fmt.Sprint(i*10))
		}
		return cs, keys
	}
	cs, keys := rows(4)
	key := func(s string) string {
		c, err := client.DecodeCursor(s)
		if err != nil {
			t.Fatalf("cursor %q: %v", s, err)
		}
		return c.ID + "@" + c.Key
	}
	// Forward from a cursor: a Prev at the first row.
	p := (&Queries{Resumed: true}).Finish(cs, keys, 3, 9, false)
	if len(p.Clients) != 3 || key(p.Prev) != "lkc_0@0" || key(p.Next) != "lkc_2@20" {
		t.Errorf("forward: %+v", p)
	}
	if p := (&Queries{}).Finish(cs, keys, 3, 9, false); p.Prev != "" {
		t.Errorf("the first page has a Prev")
	}
	// Backward, rows nearest the cursor first: lkc_3 is the extra one.
	back := (&Queries{Backward: true, Resumed: true})
	cs, keys = rows(4)
	p = back.Finish(cs, keys, 3, 9, true)
	if got := []string{p.Clients[0].ID, p.Clients[1].ID, p.Clients[2].ID}; fmt.Sprint(got) != "[lkc_2 lkc_1 lkc_0]" ||
		key(p.Prev) != "lkc_2@20" || key(p.Next) != "lkc_0@0" || p.Total != 9 || !p.TotalEstimated {
		t.Errorf("backward: %v %+v", got, p)
	}
	cs, keys = rows(2)
	if p := back.Finish(cs, keys, 3, 2, false); p.Prev != "" || key(p.Next) != "lkc_0@0" || p.Clients[0].ID != "lkc_1" {
		t.Errorf("backward to the start: %+v", p)
	}
	if p := back.Finish(nil, nil, 3, 0, false); p.Prev != "" || p.Next != "" || len(p.Clients) != 0 {
		t.Errorf("backward, nothing before: %+v", p)
	}
}
