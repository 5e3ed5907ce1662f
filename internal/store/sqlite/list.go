package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/keyset"
)

// listDialect is SQLite's text for the client list. Column expressions
// match the indexes of 0001_init.sql, 0006_authorization_code.sql and
// 0008_list_filters.sql exactly; times are Unix microseconds.
//
// SQLite keeps no statistics here (nothing runs ANALYZE), so its planner
// prefers the index that yields rows in the page's order, filtering while
// it scans: right for filters that keep many clients. The filters that
// keep few have indexes that lead with them and then the default order
// (clients_by_owner, clients_by_creator), and their counts read those.
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
	// LIKE is case-insensitive for ASCII in SQLite, and lower() folds
	// ASCII only, so lower(name) LIKE p is name LIKE p; written on
	// lower(name), the condition is answered from clients_by_name alone
	// (which holds lower(name) and id) when a count scans it.
	Search: func(search string, arg func(any) string) string {
		p := "%" + keyset.EscapeLike(search) + "%"
		return `(lower(name) LIKE ` + arg(p) + ` ESCAPE '\' OR id LIKE ` + arg(p) + ` ESCAPE '\')`
	},
	HasGrant: func(g client.GrantType, arg func(any) string) string {
		if c, ok := grantConditions[g]; ok {
			return c
		}
		return "instr(grant_types, " + arg(`"`+string(g)+`"`) + ") > 0"
	},
	// likelihood() tells the planner a time range keeps most clients:
	// without it, SQLite takes any range for a narrow one, reads it from
	// clients_by_expiry or clients_by_last_used and sorts it, hundreds of
	// thousands of rows for a page of 50. Counts still read the range.
	Broad:   func(cmp string) string { return "likelihood(" + cmp + ", 0.9)" },
	TimeArg: func(ns int64) any { return ns / 1000 },
}

// grantConditions say a client has a grant, in the words of the partial
// indexes of 0008_list_filters.sql, so that a count reads only the
// clients that have it. grant_types is a JSON array of strings; the
// quotes keep one grant from matching inside another.
var grantConditions = map[client.GrantType]string{
	client.GrantClientCredentials: `instr(grant_types, '"client_credentials"') > 0`,
	client.GrantAuthorizationCode: `instr(grant_types, '"authorization_code"') > 0`,
	client.GrantRefreshToken:      `instr(grant_types, '"refresh_token"') > 0`,
}

// trigramDialect is listDialect with the trigram index in front: its
// statements read the clients whose name or ID the index says may hold
// the search, through clients_fts, and check each with listDialect's
// condition (so both dialects match exactly the same clients: LIKE's
// case folding, not the tokenizer's). The CROSS JOIN keeps the index the
// outer loop.
var trigramDialect = func() *keyset.Dialect {
	d := *listDialect
	d.SearchFrom = func(search string, arg func(any) string) string {
		if !trigramSearch(search) {
			return ""
		}
		return "(SELECT rowid AS hit FROM clients_fts WHERE clients_fts MATCH " + arg(ftsPhrase(search)) +
			") AS hits CROSS JOIN clients ON clients.pk = hits.hit"
	}
	return &d
}()

// minTrigramSearch is the shortest search the trigram index can answer;
// shorter ones scan with LIKE.
const minTrigramSearch = 3

func trigramSearch(search string) bool { return utf8.RuneCountInString(search) >= minTrigramSearch }

// ftsPhrase is search as one FTS5 phrase: the trigram tokenizer matches
// it as a substring of either column.
func ftsPhrase(search string) string { return `"` + strings.ReplaceAll(search, `"`, `""`) + `"` }

// rareSubstringBelow is how few trigram index matches, across tenants,
// make a search rare. A search of three characters or more is always
// counted through the index, which stops at the cap's worth of matches
// however common the substring. A rare one's page is read through the
// index too (its matches are read and sorted); a common one's page scans
// the index of its order, checking each client with LIKE until the page
// is full, which takes few reads when matches are dense. Either costs a
// few thousand row reads at the worst, where the two meet: a substring of
// 0.4% of a million clients.
//
// The index spans tenants, so a tenant's count through it reads the other
// tenants' matches too; on one file serving many large tenants a common
// substring's count costs more.
const rareSubstringBelow = 4000

// The estimate of a filtered total looks at estimateStrata runs of up to
// estimateRun of the tenant's clients, spread evenly over the table in
// the order rows were written: a sample that follows the tenant's history
// (old and new clients alike) and reads adjacent rows, a few pages a run.
const (
	estimateStrata = 20
	estimateRun    = 100
)

// SetListCountCap sets how many matching clients a list page counts
// exactly before it estimates the total: keyset.CountCap when n is zero.
// It is for tests, which reach the estimate with a few clients; call it
// before the DB is in use.
func (db *DB) SetListCountCap(n int) { db.listCountCap = n }

// ListClients returns one page of a tenant's clients, keyset paginated.
// The query is normalized first; an invalid one returns the
// *client.ValidationError of ListQuery.Normalize.
//
// Total is exact up to the cap. Beyond it, with no filter, it is the
// tenant's count of clients that triggers keep (tenant_client_counts), so
// exact again; with a filter it is that count times the share of a
// sample of the tenant's clients that match (see estimateStrata), and
// estimated. Counting the matches instead would read an index entry per
// match at best: 100 ms and more for a million.
func (db *DB) ListClients(ctx context.Context, q client.ListQuery) (*client.ListPage, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	// One read transaction, so the count and the page see one snapshot.
	rtx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	defer rtx.Rollback()
	counting, qs, err := db.listQueries(ctx, rtx, q)
	if err != nil {
		return nil, err
	}
	var count int
	if err := rtx.QueryRowContext(ctx, counting.Count.SQL, counting.Count.Args...).Scan(&count); err != nil {
		return nil, fmt.Errorf("sqlite: list clients: count: %w", err)
	}
	total, estimated, err := qs.Total(count, func() (int, bool, error) { return estimateTotal(ctx, rtx, q.TenantID, qs) })
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: estimate: %w", err)
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
	return qs.Finish(clients, keys, q.Limit, total, estimated), nil
}

// listQueries builds the statements of a normalized query: those whose
// Count a page runs, and those whose Page and estimate it runs. They
// differ for a common substring (see rareSubstringBelow).
func (db *DB) listQueries(ctx context.Context, rtx *sql.Tx, q client.ListQuery) (counting, paging *keyset.Queries, err error) {
	if !trigramSearch(q.Search) {
		qs, err := keyset.Build(listDialect, q, db.listCountCap)
		return qs, qs, err
	}
	if counting, err = keyset.Build(trigramDialect, q, db.listCountCap); err != nil {
		return nil, nil, err
	}
	var hits int
	if err := rtx.QueryRowContext(ctx, rareProbe, ftsPhrase(q.Search), rareSubstringBelow).Scan(&hits); err != nil {
		return nil, nil, fmt.Errorf("sqlite: list clients: search: %w", err)
	}
	if hits < rareSubstringBelow {
		return counting, counting, nil
	}
	paging, err = keyset.Build(listDialect, q, db.listCountCap)
	return counting, paging, err
}

// rareProbe counts a search's trigram index matches, in every tenant, up
// to a limit: reading the index alone costs little.
const rareProbe = `SELECT COUNT(*) FROM (SELECT 1 FROM clients_fts WHERE clients_fts MATCH ? LIMIT ?)`

// The estimate's statements: the tenant's count, the table's range of
// row numbers (two subqueries: SQLite reads one end of the table for a
// lone MIN or MAX, and every row for both), and one run of the sample: of the tenant's clients from a
// row number on, how many there are and how many match (the filter's
// placeholders come first). The unary + keeps the run a range of row
// numbers: no tenant index may drive it.
const (
	tenantCountSQL = `SELECT clients FROM tenant_client_counts WHERE tenant_id = ?`
	rowRangeSQL    = `SELECT COALESCE((SELECT MIN(pk) FROM clients), 0), COALESCE((SELECT MAX(pk) FROM clients), 0)`
	sampleRunSQL   = `SELECT COUNT(*), COUNT(CASE WHEN %s THEN 1 END) FROM (
		SELECT * FROM clients WHERE pk >= ? AND pk < ? AND +tenant_id = ? ORDER BY pk LIMIT ?) AS run`
)

// estimateTotal estimates how many of a tenant's clients qs matches, for
// a count past its cap (see ListClients); exact says it counted.
func estimateTotal(ctx context.Context, rtx *sql.Tx, tenantID string, qs *keyset.Queries) (n int, exact bool, err error) {
	var all int
	if err := rtx.QueryRowContext(ctx, tenantCountSQL, tenantID).Scan(&all); err != nil {
		return 0, false, err
	}
	if !qs.Filtered {
		return all, true, nil
	}
	var first, last int64
	if err := rtx.QueryRowContext(ctx, rowRangeSQL).Scan(&first, &last); err != nil {
		return 0, false, err
	}
	run := fmt.Sprintf(sampleRunSQL, qs.Where.SQL)
	stride := (last - first + estimateStrata) / estimateStrata
	var seen, hits int64
	for i := range int64(estimateStrata) {
		from := first + i*stride
		args := append(slices.Clone(qs.Where.Args), from, from+stride, tenantID, estimateRun)
		var s, h int64
		if err := rtx.QueryRowContext(ctx, run, args...).Scan(&s, &h); err != nil {
			return 0, false, err
		}
		seen, hits = seen+s, hits+h
	}
	if seen == 0 {
		return 0, false, nil
	}
	return int(int64(all) * hits / seen), false, nil
}

// ExplainList returns SQLite's plan (EXPLAIN QUERY PLAN) of each
// statement ListClients runs for q, for benchmarks and operators asking
// why a list is slow. The estimate's statements run only past the cap.
func (db *DB) ExplainList(ctx context.Context, q client.ListQuery) (string, error) {
	if err := q.Normalize(); err != nil {
		return "", err
	}
	rtx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("sqlite: explain list: %w", err)
	}
	defer rtx.Rollback()
	counting, qs, err := db.listQueries(ctx, rtx, q)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	stmts := []struct {
		name string
		st   keyset.Statement
	}{{"count", counting.Count}, {"page", qs.Page},
		{"estimate (past the cap), one run of its sample", keyset.Statement{SQL: fmt.Sprintf(sampleRunSQL, qs.Where.SQL),
			Args: append(slices.Clone(qs.Where.Args), 0, math.MaxInt64, q.TenantID, estimateRun)}}}
	if trigramSearch(q.Search) {
		stmts = append([]struct {
			name string
			st   keyset.Statement
		}{{"search probe", keyset.Statement{SQL: rareProbe, Args: []any{ftsPhrase(q.Search), rareSubstringBelow}}}}, stmts...)
	}
	for _, s := range stmts {
		fmt.Fprintf(&b, "%s: %s\n", s.name, s.st.SQL)
		rows, err := rtx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.st.SQL, s.st.Args...)
		if err != nil {
			return "", fmt.Errorf("sqlite: explain list: %w", err)
		}
		depth := map[int]int{0: 0}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				rows.Close()
				return "", fmt.Errorf("sqlite: explain list: %w", err)
			}
			depth[id] = depth[parent] + 1
			fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth[id]), detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("sqlite: explain list: %w", err)
		}
	}
	return b.String(), nil
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
