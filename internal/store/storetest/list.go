package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var listTests = []test{
	{"TenantIsolation", testListTenantIsolation},
	{"OwnerFilter", testListOwnerFilter},
	{"StatusFilter", testListStatusFilter},
	{"ActivityFilters", testListActivityFilters},
	{"TypeGrantAndCreatorFilters", testListTypeGrantAndCreatorFilters},
	{"TimeFilters", testListTimeFilters},
	{"FiltersTogether", testListFiltersTogether},
	{"Search", testListSearch},
	{"SearchFollowsChanges", testListSearchFollowsChanges},
	{"Sort", testListSort},
	{"Pagination", testListPagination},
	{"PaginationWithFilters", testListPaginationWithFilters},
	{"PaginationBackward", testListPaginationBackward},
	{"Limit", testListLimit},
	{"InvalidQuery", testListInvalidQuery},
	{"CountIsExactUnderTheCap", testListCountIsExactUnderTheCap},
	{"TotalPastTheCap", testListTotalPastTheCap},
}

// A page counts what matches, and says the count is exact. (That counting
// stops at keyset.CountCap is tested in package keyset, on a table
// generated in one statement; TotalPastTheCap lowers the cap.)
func testListCountIsExactUnderTheCap(t *testing.T, s store.Store) {
	var cs []*client.Client
	for i := range 12 {
		c := newClient("ten_a", fmt.Sprintf("lkc_count_%02d", i), fmt.Sprintf("Count %d", i))
		if i%3 == 0 {
			c.Status = client.StatusInactive
		}
		cs = append(cs, c)
	}
	createClients(t, s, cs...)
	for _, q := range []struct {
		status client.Status
		want   int
	}{{"", 12}, {client.StatusInactive, 4}, {client.StatusActive, 8}} {
		p, err := s.ListClients(t.Context(), client.ListQuery{TenantID: "ten_a", Status: q.status, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != q.want || p.TotalEstimated || len(p.Clients) != 3 || p.Next == "" {
			t.Fatalf("status %q: total %d estimated %v, %d clients; want %d", q.status, p.Total, p.TotalEstimated, len(p.Clients), q.want)
		}
	}
}

// countCapper is a store whose list count cap a test can lower, to reach
// the estimated total with a few clients. Both backends are.
type countCapper interface{ SetListCountCap(n int) }

// Past the cap the total is an estimate, never below the cap; a store may
// know it exactly (and then says so), and must below and at the cap.
func testListTotalPastTheCap(t *testing.T, s store.Store) {
	cc, ok := s.(countCapper)
	if !ok {
		t.Fatalf("%T cannot lower its list count cap", s)
	}
	const limit = 4
	cc.SetListCountCap(limit)
	var cs []*client.Client
	for i := range 12 {
		c := newClient("ten_a", fmt.Sprintf("lkc_cap_%02d", i), fmt.Sprintf("Cap %d", i))
		c.CreatedAt = at(time.Duration(i) * time.Second)
		if i < 5 {
			c.Status = client.StatusInactive // five: one past the cap
		}
		if i < 4 {
			c.Type = client.Public // four: at the cap
		}
		cs = append(cs, c)
	}
	createClients(t, s, cs...)
	createClients(t, s, newClient("ten_b", "lkc_cap_other", "Cap other"))
	for _, c := range []struct {
		name  string
		q     client.ListQuery
		exact int // 0: more than the cap match
	}{
		{"under the cap", client.ListQuery{Search: "Cap 1"}, 3}, // Cap 1, 10, 11
		{"at the cap", client.ListQuery{Type: client.Public}, 4},
		{"one past the cap", client.ListQuery{Status: client.StatusInactive}, 0},
		{"past the cap, filtered", client.ListQuery{Status: client.StatusActive}, 0},
		{"past the cap, unfiltered", client.ListQuery{}, 0},
	} {
		c.q.TenantID, c.q.Limit = "ten_a", 2
		p, err := s.ListClients(t.Context(), c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		switch {
		case c.exact > 0 && (p.Total != c.exact || p.TotalEstimated):
			t.Errorf("%s: total %d, estimated %v; want exactly %d", c.name, p.Total, p.TotalEstimated, c.exact)
		case c.exact == 0 && p.Total <= limit:
			t.Errorf("%s: total %d, estimated %v; want more than the cap, %d", c.name, p.Total, p.TotalEstimated, limit)
		case c.exact == 0 && !p.TotalEstimated && p.Total != len(listAllIDs(t, s, c.q)):
			t.Errorf("%s: total %d, not estimated, but %d match", c.name, p.Total, len(listAllIDs(t, s, c.q)))
		}
		if len(p.Clients) != 2 || p.Next == "" {
			t.Errorf("%s: %d clients, next %q", c.name, len(p.Clients), p.Next)
		}
	}
}

// listAllIDs returns the IDs of every client q lists, page by page,
// whatever the totals say.
func listAllIDs(t *testing.T, s store.Store, q client.ListQuery) []string {
	t.Helper()
	var out []string
	for range 1000 {
		p, err := s.ListClients(t.Context(), q)
		if err != nil {
			t.Fatalf("ListClients(%+v): %v", q, err)
		}
		out = append(out, ids(p.Clients)...)
		if p.Next == "" {
			return out
		}
		q.After = p.Next
	}
	t.Fatalf("ListClients(%+v): pagination does not end", q)
	return nil
}

// listFixture is a tenant's clients chosen to exercise sorting and search:
// names that differ only in case, shared creation times, unset times, and
// the characters LIKE and FTS treat specially.
func listFixture(tenantID string) []*client.Client {
	h := func(n int) time.Time { return at(time.Duration(n) * time.Hour) }
	rows := []struct {
		id, name          string
		status            client.Status
		owner             string
		created, lastUsed time.Time
		secretExpires     time.Time
	}{
		{"alpha-1", "Alpha service", client.StatusActive, "usr_1", h(1), h(10), h(100)},
		{"alpha-2", "alpha SERVICE", client.StatusInactive, "usr_2", h(1), time.Time{}, h(100)},
		{"beta-pct", "beta%app", client.StatusActive, "usr_1", h(2), h(11), time.Time{}},
		{"beta-und", "beta_app", client.StatusRevoked, "", h(3), time.Time{}, time.Time{}},
		{"gamma", "Gamma", client.StatusActive, "usr_1", h(3), h(12), h(90)},
		{"svc-xq7-api", "Delta", client.StatusActive, "usr_2", h(4), h(12), h(80)},
		{"eps", "Epsilon 100%", client.StatusInactive, "", h(5), h(9), h(90)},
		{"zeta_1", "zeta", client.StatusActive, "", h(6), time.Time{}, h(70)},
		{"quote", `Quote "q" app`, client.StatusActive, "usr_1", h(7), h(13), h(60)},
		{"back", `back\slash`, client.StatusRevoked, "usr_2", h(7), h(14), time.Time{}},
		{"cafe", "Café Crème", client.StatusActive, "", h(8), h(15), h(50)},
		{"Upper-ID", "lower name", client.StatusActive, "", h(9), h(16), h(40)},
		{"a~b.c", "Zed", client.StatusInactive, "usr_1", h(0), h(1), h(30)},
	}
	// Each row's latest authorization and token, in the order above: shared
	// times, never, and every grant.
	cc, ac, rt := client.GrantClientCredentials, client.GrantAuthorizationCode, client.GrantRefreshToken
	activity := []struct {
		authorized time.Time
		by         string
		issued     time.Time
		grant      client.GrantType
	}{
		{h(20), "usr_1", h(30), ac},
		{h(20), "usr_2", h(31), rt},
		{time.Time{}, "", h(29), cc},
		{h(22), "usr_1", time.Time{}, ""},
		{h(19), "usr_2", h(31), ac},
		{time.Time{}, "", time.Time{}, ""},
		{h(25), "usr_1", h(26), rt},
		{h(20), "usr_3", h(32), rt},
		{time.Time{}, "", h(28), cc},
		{h(21), "usr_1", h(30), ac},
		{h(18), "usr_2", time.Time{}, ""},
		{h(23), "usr_1", h(27), cc},
		{h(24), "usr_3", h(33), ac},
	}
	// Each row's type, grants and creator, in the order above.
	config := []struct {
		typ     client.Type
		grants  []client.GrantType
		creator string
	}{
		{client.Confidential, []client.GrantType{cc}, "usr_1"},
		{client.Confidential, []client.GrantType{cc, rt}, "usr_2"},
		{client.Public, []client.GrantType{ac}, "usr_1"},
		{client.Confidential, []client.GrantType{ac, rt}, "system"},
		{client.Public, []client.GrantType{ac, rt}, "usr_1"},
		{client.Confidential, []client.GrantType{rt, ac, cc}, "lkc_robot"},
		{client.Confidential, []client.GrantType{cc}, "usr_2"},
		{client.Confidential, []client.GrantType{cc}, "system"},
		{client.Public, []client.GrantType{ac}, "usr_1"},
		{client.Confidential, []client.GrantType{ac}, "usr_2"},
		{client.Confidential, []client.GrantType{cc, ac}, "usr_1"},
		{client.Confidential, []client.GrantType{cc}, "usr_3"},
		{client.Confidential, []client.GrantType{rt, cc}, "usr_1"},
	}
	var out []*client.Client
	for i, r := range rows {
		// IDs start "a." in ten_a and "b." in ten_b: unique, and free of
		// the characters the search tests look for.
		c := newClient(tenantID, tenantID[len(tenantID)-1:]+"."+r.id, r.name)
		c.Status, c.OwnerUserID, c.CreatedAt = r.status, r.owner, r.created
		c.LastUsedAt, c.SecretExpiresAt = r.lastUsed, r.secretExpires
		a := activity[i]
		c.LastAuthorization = client.Authorization{}
		if !a.authorized.IsZero() {
			c.LastAuthorization = client.Authorization{At: a.authorized, UserID: a.by, RedirectURI: "https://" + r.id + ".example/cb"}
		}
		c.LastToken = client.Issue{At: a.issued, Grant: a.grant}
		c.Type, c.GrantTypes, c.CreatedBy = config[i].typ, config[i].grants, config[i].creator
		out = append(out, c)
	}
	return out
}

// seedList stores the fixture in tenants ten_a and ten_b and returns
// ten_a's clients as stored.
func seedList(t *testing.T, s store.Store) []*client.Client {
	t.Helper()
	a := listFixture("ten_a")
	createClients(t, s, append(a, listFixture("ten_b")...)...)
	var out []*client.Client
	for _, c := range a {
		out = append(out, storedClient(c))
	}
	return out
}

// listAll returns every page of q, checking on each that Total is want
// and the page is no longer than the limit.
func listAll(t *testing.T, s store.Store, q client.ListQuery, wantTotal int) []*client.Client {
	t.Helper()
	var all []*client.Client
	limit := cmp.Or(q.Limit, client.DefaultListLimit)
	for range 1000 {
		p, err := s.ListClients(t.Context(), q)
		if err != nil {
			t.Fatalf("ListClients(%+v): %v", q, err)
		}
		if p.Total != wantTotal {
			t.Errorf("ListClients(%+v).Total = %d, want %d", q, p.Total, wantTotal)
		}
		if len(p.Clients) > limit {
			t.Errorf("ListClients(%+v) returned %d clients, over the limit", q, len(p.Clients))
		}
		if p.Next != "" && len(p.Clients) != limit {
			t.Errorf("ListClients(%+v): a page with a Next has %d clients, want %d", q, len(p.Clients), limit)
		}
		all = append(all, p.Clients...)
		if p.Next == "" {
			return all
		}
		q.After = p.Next
	}
	t.Fatalf("ListClients(%+v): pagination does not end", q)
	return nil
}

func ids(cs []*client.Client) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// filter returns the IDs of the clients keep accepts, in creation order
// then ID: the list's default order.
func filter(cs []*client.Client, keep func(*client.Client) bool) []string {
	var kept []*client.Client
	for _, c := range cs {
		if keep(c) {
			kept = append(kept, c)
		}
	}
	sortClients(kept, client.SortCreatedAt, false)
	return ids(kept)
}

// sortKey is the value a store orders by for field f.
func sortKey(c *client.Client, f client.SortField) any {
	nanos := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixNano()
	}
	switch f {
	case client.SortName:
		return strings.ToLower(c.Name)
	case client.SortClientID:
		return c.ID
	case client.SortCreatedAt:
		return nanos(c.CreatedAt)
	case client.SortLastUsedAt:
		return nanos(c.LastUsedAt)
	case client.SortSecretExpiresAt:
		return nanos(c.SecretExpiresAt)
	case client.SortStatus:
		return string(c.Status)
	case client.SortLastAuthorized:
		return nanos(c.LastAuthorization.At)
	case client.SortLastToken:
		return nanos(c.LastToken.At)
	}
	panic("unknown sort field " + f)
}

// sortClients orders cs as a store must: by the field's key (bytewise for
// text), ties broken by client ID, both reversed when desc.
func sortClients(cs []*client.Client, f client.SortField, desc bool) {
	slices.SortStableFunc(cs, func(a, b *client.Client) int {
		var r int
		switch ka := sortKey(a, f).(type) {
		case string:
			kb, _ := sortKey(b, f).(string) // one field: both keys have one type
			r = strings.Compare(ka, kb)
		case int64:
			kb, _ := sortKey(b, f).(int64)
			r = cmp.Compare(ka, kb)
		}
		r = cmp.Or(r, strings.Compare(a.ID, b.ID))
		if desc {
			r = -r
		}
		return r
	})
}

func testListTenantIsolation(t *testing.T, s store.Store) {
	want := seedList(t, s)
	got := listAll(t, s, client.ListQuery{TenantID: "ten_a"}, len(want))
	checkEqual(t, "ten_a's clients", ids(got), filter(want, func(*client.Client) bool { return true }))
	// Clients come back whole.
	byID := map[string]*client.Client{}
	for _, c := range want {
		byID[c.ID] = c
	}
	for _, c := range got {
		checkEqual(t, c.ID, c, byID[c.ID])
	}
	if got := listAll(t, s, client.ListQuery{TenantID: "ten_none"}, 0); len(got) != 0 {
		t.Errorf("a tenant with no clients lists %v", ids(got))
	}
}

func testListOwnerFilter(t *testing.T, s store.Store) {
	all := seedList(t, s)
	for _, owner := range []string{"usr_1", "usr_2", "usr_nobody"} {
		want := filter(all, func(c *client.Client) bool { return c.OwnerUserID == owner })
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", OwnerUserID: owner}, len(want))
		checkEqual(t, "owner "+owner, ids(got), want)
	}
}

// testListActivityFilters: the latest token's grant and the latest
// authorization's user filter the list, alone, together and with paging.
func testListActivityFilters(t *testing.T, s store.Store) {
	all := seedList(t, s)
	for _, g := range []client.GrantType{client.GrantClientCredentials, client.GrantAuthorizationCode, client.GrantRefreshToken} {
		want := filter(all, func(c *client.Client) bool { return c.LastToken.Grant == g })
		if len(want) == 0 {
			t.Fatalf("fixture: no client's last token is %s", g)
		}
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", LastGrant: g, Limit: 2}, len(want))
		checkEqual(t, "last grant "+string(g), ids(got), want)
	}
	for _, u := range []string{"usr_1", "usr_2", "usr_nobody"} {
		want := filter(all, func(c *client.Client) bool { return c.LastAuthorization.UserID == u })
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", AuthorizedBy: u, Limit: 2}, len(want))
		checkEqual(t, "authorized by "+u, ids(got), want)
	}
	q := client.ListQuery{TenantID: "ten_a", AuthorizedBy: "usr_1", LastGrant: client.GrantAuthorizationCode,
		Sort: client.SortLastAuthorized, Desc: true, Limit: 1}
	var want []*client.Client
	for _, c := range all {
		if c.LastAuthorization.UserID == "usr_1" && c.LastToken.Grant == client.GrantAuthorizationCode {
			want = append(want, c)
		}
	}
	sortClients(want, client.SortLastAuthorized, true)
	if len(want) != 2 {
		t.Fatalf("fixture: %d clients last authorized by usr_1 with a code, want 2", len(want))
	}
	checkEqual(t, "both filters, sorted by last authorization", ids(listAll(t, s, q, len(want))), ids(want))
}

// testListTypeGrantAndCreatorFilters: the client's type, each of its
// grants and who created it filter the list, with paging.
func testListTypeGrantAndCreatorFilters(t *testing.T, s store.Store) {
	all := seedList(t, s)
	for _, typ := range []client.Type{client.Confidential, client.Public} {
		want := filter(all, func(c *client.Client) bool { return c.Type == typ })
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", Type: typ, Limit: 2}, len(want))
		checkEqual(t, "type "+string(typ), ids(got), want)
	}
	for _, g := range []client.GrantType{client.GrantClientCredentials, client.GrantAuthorizationCode, client.GrantRefreshToken} {
		want := filter(all, func(c *client.Client) bool { return c.HasGrant(g) })
		if len(want) < 3 || len(want) == len(all) {
			t.Fatalf("fixture: %d clients have %s", len(want), g)
		}
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", GrantType: g, Limit: 2}, len(want))
		checkEqual(t, "grant "+string(g), ids(got), want)
	}
	for _, by := range []string{"usr_1", "system", "lkc_robot", "usr_nobody"} {
		want := filter(all, func(c *client.Client) bool { return c.CreatedBy == by })
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", CreatedBy: by, Limit: 2}, len(want))
		checkEqual(t, "created by "+by, ids(got), want)
	}
}

// testListTimeFilters: secrets expiring before a time (the expired ones
// too, never those that do not expire), clients unused since a time (the
// never used too) and the never used alone.
func testListTimeFilters(t *testing.T, s store.Store) {
	all := seedList(t, s)
	h := func(n int) time.Time { return at(time.Duration(n) * time.Hour) }
	for _, before := range []time.Time{h(75), h(50), h(50).Add(time.Microsecond), h(1000), h(-1)} {
		want := filter(all, func(c *client.Client) bool {
			return !c.SecretExpiresAt.IsZero() && c.SecretExpiresAt.Before(before)
		})
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", SecretExpiresBefore: before, Limit: 2}, len(want))
		checkEqual(t, fmt.Sprintf("secrets expiring before %s", before), ids(got), want)
	}
	for _, since := range []time.Time{h(12), h(10), h(10).Add(time.Microsecond), h(1000), h(-1)} {
		want := filter(all, func(c *client.Client) bool { return c.LastUsedAt.IsZero() || c.LastUsedAt.Before(since) })
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", UnusedSince: since, Limit: 2}, len(want))
		checkEqual(t, fmt.Sprintf("unused since %s", since), ids(got), want)
	}
	never := filter(all, func(c *client.Client) bool { return c.LastUsedAt.IsZero() })
	if len(never) != 3 {
		t.Fatalf("fixture: %d clients never used, want 3", len(never))
	}
	for _, q := range []client.ListQuery{
		{TenantID: "ten_a", NeverUsed: true},
		{TenantID: "ten_a", NeverUsed: true, UnusedSince: h(1000)}, // never used is the narrower
	} {
		checkEqual(t, "never used", ids(listAll(t, s, q, len(never))), never)
	}
}

// testListFiltersTogether: the new filters combine with each other, the
// search and every sort, paging in both directions.
func testListFiltersTogether(t *testing.T, s store.Store) {
	all := seedList(t, s)
	h := func(n int) time.Time { return at(time.Duration(n) * time.Hour) }
	keep := func(c *client.Client) bool {
		return c.Type == client.Confidential && c.HasGrant(client.GrantClientCredentials) &&
			(c.LastUsedAt.IsZero() || c.LastUsedAt.Before(h(16))) && matches(c, "a")
	}
	for _, f := range client.SortFields {
		for _, desc := range []bool{false, true} {
			var want []*client.Client
			for _, c := range all {
				if keep(c) {
					want = append(want, c)
				}
			}
			sortClients(want, f, desc)
			if len(want) < 4 {
				t.Fatalf("fixture: %d clients match", len(want))
			}
			q := client.ListQuery{TenantID: "ten_a", Type: client.Confidential, GrantType: client.GrantClientCredentials,
				UnusedSince: h(16), Search: "a", Sort: f, Desc: desc, Limit: 2}
			checkEqual(t, sortName(f, desc), ids(listAll(t, s, q, len(want))), ids(want))
		}
	}
	q := client.ListQuery{TenantID: "ten_a", CreatedBy: "usr_1", SecretExpiresBefore: h(95), Status: client.StatusActive}
	want := filter(all, func(c *client.Client) bool {
		return c.CreatedBy == "usr_1" && c.Status == client.StatusActive &&
			!c.SecretExpiresAt.IsZero() && c.SecretExpiresAt.Before(h(95))
	})
	if len(want) < 2 {
		t.Fatalf("fixture: %d clients match", len(want))
	}
	checkEqual(t, "creator, expiry and status", ids(listAll(t, s, q, len(want))), want)
}

func testListStatusFilter(t *testing.T, s store.Store) {
	all := seedList(t, s)
	for _, st := range []client.Status{client.StatusActive, client.StatusInactive, client.StatusRevoked} {
		want := filter(all, func(c *client.Client) bool { return c.Status == st })
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", Status: st}, len(want))
		checkEqual(t, "status "+string(st), ids(got), want)
	}
}

// matches is the search contract: a case-insensitive substring of the name
// or the client ID. The fixture keeps case differences to ASCII.
func matches(c *client.Client, search string) bool {
	s := strings.ToLower(search)
	return strings.Contains(strings.ToLower(c.Name), s) || strings.Contains(strings.ToLower(c.ID), s)
}

func testListSearch(t *testing.T, s store.Store) {
	all := seedList(t, s)
	cases := []struct {
		search string
		want   int // how many of ten_a's clients match, to keep the test honest
	}{
		{"alpha", 2},       // names differing in case
		{"ALPHA SER", 2},   // across a space, upper-case search
		{"pha", 2},         // inside a word
		{"XQ7", 1},         // in the client ID only
		{"svc-xq7-api", 1}, // the whole client ID
		{"a.", 13},         // the prefix of every fixture ID in ten_a
		{"z", 2},           // one character: zeta, Zed
		{"Ta", 4},          // two characters: beta ×2, Delta, zeta
		{"%", 2},           // a LIKE wildcard, literally
		{"_", 2},           // a LIKE wildcard, literally
		{"a_a", 1},         // three characters with a wildcard
		{"a_app", 1},       // beta_app, not beta%app
		{"0%", 1},          // two characters with a wildcard
		{"100%", 1},        // a wildcard in a trigram search
		{`"q"`, 1},         // FTS quoting
		{`q" a`, 1},        // an unbalanced quote
		{`\s`, 1},          // the LIKE escape character
		{`k\sl`, 1},        // the escape character in a trigram search
		{"afé", 1},         // non-ASCII, trigram
		{"fé", 1},          // non-ASCII, LIKE
		{"nothing-like-this", 0},
		{"upper-id", 1},
		{"LOWER N", 1},
	}
	for _, c := range cases {
		want := filter(all, func(cl *client.Client) bool { return matches(cl, c.search) })
		if len(want) != c.want {
			t.Fatalf("fixture: %q should match %d clients, matches %v", c.search, c.want, want)
		}
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", Search: c.search}, len(want))
		checkEqual(t, fmt.Sprintf("search %q", c.search), ids(got), want)
	}
}

func testListSearchFollowsChanges(t *testing.T, s store.Store) {
	seedList(t, s)
	search := func(q string) []string {
		t.Helper()
		p, err := s.ListClients(t.Context(), client.ListQuery{TenantID: "ten_a", Search: q})
		if err != nil {
			t.Fatalf("ListClients: %v", err)
		}
		return ids(p.Clients)
	}
	c := getClient(t, s, "a.svc-xq7-api")
	c.Name = "Renamed Omega"
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateClient(ctx, c) })
	checkEqual(t, "search for the new name", search("omega"), []string{c.ID})
	checkEqual(t, "search for the old name", search("delta"), []string{})
	checkEqual(t, "search for the old name, short", search("de"), []string{})
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, c.ID) })
	checkEqual(t, "search after delete", search("omega"), []string{})
	checkEqual(t, "search by client ID after delete", search("xq7"), []string{})
}

func testListSort(t *testing.T, s store.Store) {
	all := seedList(t, s)
	for _, f := range client.SortFields {
		for _, desc := range []bool{false, true} {
			t.Run(sortName(f, desc), func(t *testing.T) {
				want := slices.Clone(all)
				sortClients(want, f, desc)
				got := listAll(t, s, client.ListQuery{TenantID: "ten_a", Sort: f, Desc: desc, Limit: client.MaxListLimit}, len(all))
				checkEqual(t, "order", ids(got), ids(want))
			})
		}
	}
}

func sortName(f client.SortField, desc bool) string {
	if desc {
		return string(f) + "_desc"
	}
	return string(f) + "_asc"
}

func testListPagination(t *testing.T, s store.Store) {
	all := seedList(t, s)
	for _, f := range client.SortFields {
		for _, desc := range []bool{false, true} {
			t.Run(sortName(f, desc), func(t *testing.T) {
				want := slices.Clone(all)
				sortClients(want, f, desc)
				for _, limit := range []int{1, 3} {
					got := listAll(t, s, client.ListQuery{TenantID: "ten_a", Sort: f, Desc: desc, Limit: limit}, len(all))
					checkEqual(t, fmt.Sprintf("pages of %d", limit), ids(got), ids(want))
				}
			})
		}
	}
}

func testListPaginationWithFilters(t *testing.T, s store.Store) {
	all := seedList(t, s)
	for _, f := range client.SortFields {
		q := client.ListQuery{TenantID: "ten_a", Search: "a", Status: client.StatusActive, Sort: f, Desc: true, Limit: 2}
		var want []*client.Client
		for _, c := range all {
			if c.Status == q.Status && matches(c, q.Search) {
				want = append(want, c)
			}
		}
		sortClients(want, f, true)
		got := listAll(t, s, q, len(want))
		checkEqual(t, string(f), ids(got), ids(want))
	}
}

// Going back a page with Prev (as Before) lists the same pages as going
// forward, in the same order, each with a Next that leads on again; the
// first page, reached either way, has no Prev.
func testListPaginationBackward(t *testing.T, s store.Store) {
	seedList(t, s)
	for _, f := range client.SortFields {
		for _, desc := range []bool{false, true} {
			for _, filtered := range []bool{false, true} {
				q := client.ListQuery{TenantID: "ten_a", Sort: f, Desc: desc, Limit: 3}
				if filtered {
					q.Search, q.Status = "a", client.StatusActive
				}
				t.Run(fmt.Sprintf("%s_filtered_%v", sortName(f, desc), filtered), func(t *testing.T) {
					backward(t, s, q)
				})
			}
		}
	}
}

func backward(t *testing.T, s store.Store, q client.ListQuery) {
	t.Helper()
	list := func(q client.ListQuery) *client.ListPage {
		t.Helper()
		p, err := s.ListClients(t.Context(), q)
		if err != nil {
			t.Fatalf("ListClients(%+v): %v", q, err)
		}
		return p
	}
	// Forward, keeping every page.
	var pages []*client.ListPage
	fq := q
	for p := list(fq); ; p = list(fq) {
		if len(pages) == 0 && p.Prev != "" {
			t.Fatalf("the first page has a Prev")
		}
		if len(pages) > 0 && p.Prev == "" {
			t.Fatalf("page %d has no Prev", len(pages)+1)
		}
		pages = append(pages, p)
		if p.Next == "" {
			break
		}
		if len(pages) > 100 {
			t.Fatal("pagination does not end")
		}
		fq.After = p.Next
	}
	if len(pages) < 3 {
		t.Fatalf("only %d pages: the fixture is too small to go back through", len(pages))
	}
	// Back from the last page to the first.
	bq := q
	prev := pages[len(pages)-1].Prev
	for i := len(pages) - 2; i >= 0; i-- {
		bq.Before = prev
		p := list(bq)
		checkEqual(t, fmt.Sprintf("page %d read back", i+1), ids(p.Clients), ids(pages[i].Clients))
		if p.Total != pages[i].Total {
			t.Errorf("page %d read back: total %d, forward %d", i+1, p.Total, pages[i].Total)
		}
		if (p.Prev == "") != (i == 0) {
			t.Errorf("page %d read back: Prev %q", i+1, p.Prev)
		}
		// Its Next leads to the page after it.
		nq := q
		nq.After = p.Next
		checkEqual(t, fmt.Sprintf("page after page %d read back", i+1), ids(list(nq).Clients), ids(pages[i+1].Clients))
		prev = p.Prev
	}
	// Back from the first row there is nothing.
	bq.Before = client.Cursor{ID: pages[0].Clients[0].ID, Key: firstKey(t, s, q)}.Encode()
	if p := list(bq); len(p.Clients) != 0 || p.Prev != "" || p.Next != "" {
		t.Errorf("before the first row: %d clients, prev %q, next %q", len(p.Clients), p.Prev, p.Next)
	}
}

// firstKey is the cursor key of q's first row: the Next of a page of one.
func firstKey(t *testing.T, s store.Store, q client.ListQuery) string {
	t.Helper()
	q.Limit = 1
	p, err := s.ListClients(t.Context(), q)
	if err != nil || p.Next == "" {
		t.Fatalf("ListClients(%+v): %v", q, err)
	}
	cur, err := client.DecodeCursor(p.Next)
	if err != nil {
		t.Fatal(err)
	}
	return cur.Key
}

func testListLimit(t *testing.T, s store.Store) {
	var cs []*client.Client
	for i := range 60 {
		c := newClient("ten_a", fmt.Sprintf("lkc_%03d", i), fmt.Sprintf("Client %03d", i))
		c.CreatedAt = at(time.Duration(i) * time.Second)
		cs = append(cs, c)
	}
	createClients(t, s, cs...)
	for _, c := range []struct{ limit, want int }{{0, client.DefaultListLimit}, {7, 7}, {60, 60}, {client.MaxListLimit, 60}} {
		p, err := s.ListClients(t.Context(), client.ListQuery{TenantID: "ten_a", Limit: c.limit})
		if err != nil {
			t.Fatalf("ListClients(Limit %d): %v", c.limit, err)
		}
		if len(p.Clients) != c.want || p.Total != 60 || (p.Next != "") != (c.want < 60) {
			t.Errorf("ListClients(Limit %d): %d clients, total %d, next %q; want %d, 60, next only when more",
				c.limit, len(p.Clients), p.Total, p.Next, c.want)
		}
	}
}

func testListInvalidQuery(t *testing.T, s store.Store) {
	seedList(t, s)
	p, err := s.ListClients(t.Context(), client.ListQuery{TenantID: "ten_a", Sort: client.SortName, Limit: 1})
	if err != nil || p.Next == "" {
		t.Fatalf("ListClients: %v, next %q", err, p.Next)
	}
	cases := map[string]client.ListQuery{
		"limit over the maximum":  {TenantID: "ten_a", Limit: client.MaxListLimit + 1},
		"negative limit":          {TenantID: "ten_a", Limit: -1},
		"unknown sort":            {TenantID: "ten_a", Sort: "password"},
		"unknown status":          {TenantID: "ten_a", Status: "deleted"},
		"unknown last grant":      {TenantID: "ten_a", LastGrant: "implicit"},
		"bad authorized by":       {TenantID: "ten_a", AuthorizedBy: "usr 1; --"},
		"unknown type":            {TenantID: "ten_a", Type: "secret"},
		"unknown grant":           {TenantID: "ten_a", GrantType: "password"},
		"bad creator":             {TenantID: "ten_a", CreatedBy: "usr 1"},
		"expiry at the epoch":     {TenantID: "ten_a", SecretExpiresBefore: time.Unix(0, 0)},
		"unused since 1969":       {TenantID: "ten_a", UnusedSince: time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC)},
		"unused since year 10000": {TenantID: "ten_a", UnusedSince: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"garbage cursor":          {TenantID: "ten_a", After: "not a cursor"},
		// A name cursor has a text key; a time column needs a number.
		"cursor of another sort": {TenantID: "ten_a", Sort: client.SortCreatedAt, After: p.Next},
		"garbage before cursor":  {TenantID: "ten_a", Before: "not a cursor"},
		"before of another sort": {TenantID: "ten_a", Sort: client.SortCreatedAt, Before: p.Next},
		"after and before":       {TenantID: "ten_a", Sort: client.SortName, After: p.Next, Before: p.Next},
	}
	for name, q := range cases {
		_, err := s.ListClients(t.Context(), q)
		var ve *client.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: got %v, want a *client.ValidationError", name, err)
		}
	}
}
