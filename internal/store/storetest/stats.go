package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var statsTests = []test{
	{"TokenCounts", testTokenCounts},
	{"TokenCountsOutliveClients", testTokenCountsOutliveClients},
	{"TokenCountsConcurrent", testTokenCountsConcurrent},
	{"PruneTokenDays", testPruneTokenDays},
	{"StatusCounts", testStatusCounts},
	{"ExpiryCounts", testExpiryCounts},
	{"FleetDivisions", testFleetDivisions},
}

// midnight is the UTC midnight of base's day, plus n days.
func midnight(n int) time.Time {
	b := base.UTC()
	return time.Date(b.Year(), b.Month(), b.Day()+n, 0, 0, 0, 0, time.UTC)
}

// addCounts calls AddTokenCounts and fails the test if it fails.
func addCounts(t *testing.T, s store.Store, counts ...client.TokenCount) {
	t.Helper()
	if err := s.AddTokenCounts(t.Context(), counts); err != nil {
		t.Fatalf("AddTokenCounts: %v", err)
	}
}

func clientDays(t *testing.T, s store.Store, id string, from, to time.Time) []client.DayCount {
	t.Helper()
	days, err := s.ClientTokenDays(t.Context(), id, from, to)
	if err != nil {
		t.Fatalf("ClientTokenDays(%q): %v", id, err)
	}
	return days
}

func fleet(t *testing.T, s store.Store, q client.FleetQuery) *client.FleetCounts {
	t.Helper()
	fc, err := s.FleetCounts(t.Context(), q)
	if err != nil {
		t.Fatalf("FleetCounts(%+v): %v", q, err)
	}
	return fc
}

// fleetTokens is the tenant's tokens per day over days -30 to 30.
func fleetTokens(t *testing.T, s store.Store, tenantID string, divisions []string) []client.DayCount {
	t.Helper()
	return fleet(t, s, client.FleetQuery{TenantID: tenantID, Divisions: divisions,
		TokensFrom: midnight(-30), TokensTo: midnight(30)}).Tokens
}

// testTokenCounts: counts add up across calls and within one, per client
// and per tenant, and read back by day, oldest first, from the first day
// to the last excluded.
func testTokenCounts(t *testing.T, s store.Store) {
	a, b := newClient("ten_a", "lkc_a", "A"), newClient("ten_a", "lkc_b", "B")
	other := newClient("ten_b", "lkc_other", "Other")
	createClients(t, s, a, b, other)
	count := func(c *client.Client, day int, n int64) client.TokenCount {
		return client.TokenCount{ClientID: c.ID, TenantID: c.TenantID, DivisionID: c.DivisionID, Day: midnight(day), Tokens: n}
	}
	if err := s.AddTokenCounts(t.Context(), nil); err != nil {
		t.Fatalf("AddTokenCounts of nothing: %v", err)
	}
	addCounts(t, s, count(a, 0, 5), count(a, -1, 2), count(b, 0, 1), count(other, 0, 100))
	// The same client and day twice in one batch, and again later; a
	// count beyond 32 bits.
	addCounts(t, s, count(a, 0, 1), count(a, 0, 1), count(b, -3, 3_000_000_000))
	addCounts(t, s, count(a, 1, 4), count(a, -2, 6))

	checkEqual(t, "a's days", clientDays(t, s, a.ID, midnight(-1), midnight(1)),
		[]client.DayCount{{Day: midnight(-1), Tokens: 2}, {Day: midnight(0), Tokens: 7}})
	checkEqual(t, "a's every day", clientDays(t, s, a.ID, midnight(-30), midnight(30)), []client.DayCount{
		{Day: midnight(-2), Tokens: 6}, {Day: midnight(-1), Tokens: 2}, {Day: midnight(0), Tokens: 7}, {Day: midnight(1), Tokens: 4}})
	checkEqual(t, "b's days", clientDays(t, s, b.ID, midnight(-30), midnight(30)),
		[]client.DayCount{{Day: midnight(-3), Tokens: 3_000_000_000}, {Day: midnight(0), Tokens: 1}})
	if days := clientDays(t, s, "lkc_nobody", midnight(-30), midnight(30)); len(days) != 0 {
		t.Errorf("days of an unknown client: %+v", days)
	}
	checkEqual(t, "ten_a's days", fleetTokens(t, s, "ten_a", nil), []client.DayCount{
		{Day: midnight(-3), Tokens: 3_000_000_000}, {Day: midnight(-2), Tokens: 6}, {Day: midnight(-1), Tokens: 2},
		{Day: midnight(0), Tokens: 8}, {Day: midnight(1), Tokens: 4}})
	checkEqual(t, "ten_b's days", fleetTokens(t, s, "ten_b", nil), []client.DayCount{{Day: midnight(0), Tokens: 100}})
	for _, d := range clientDays(t, s, a.ID, midnight(-30), midnight(30)) {
		if d.Day.Location() != time.UTC {
			t.Errorf("day %v is not in UTC", d.Day)
		}
	}
}

// testTokenCountsOutliveClients: a client's counts go with it, its
// tenant's stay; counts of a client already gone reach its tenant's only.
func testTokenCountsOutliveClients(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_gone", "Gone")
	createClients(t, s, c)
	addCounts(t, s, client.TokenCount{ClientID: c.ID, TenantID: "ten_a", DivisionID: c.DivisionID, Day: midnight(0), Tokens: 3})
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, c.ID) })
	addCounts(t, s, client.TokenCount{ClientID: c.ID, TenantID: "ten_a", DivisionID: c.DivisionID, Day: midnight(0), Tokens: 2},
		client.TokenCount{ClientID: "lkc_never", TenantID: "ten_a", DivisionID: "home", Day: midnight(-1), Tokens: 1})
	if days := clientDays(t, s, c.ID, midnight(-30), midnight(30)); len(days) != 0 {
		t.Errorf("days of a deleted client: %+v", days)
	}
	checkEqual(t, "the tenant's days", fleetTokens(t, s, "ten_a", nil),
		[]client.DayCount{{Day: midnight(-1), Tokens: 1}, {Day: midnight(0), Tokens: 5}})
	// A client made again under the ID starts from nothing.
	createClients(t, s, c)
	if days := clientDays(t, s, c.ID, midnight(-30), midnight(30)); len(days) != 0 {
		t.Errorf("days of a client made again: %+v", days)
	}
}

// testTokenCountsConcurrent: instances flushing at once, over the same
// clients and days in different orders, neither fail nor lose a count.
func testTokenCountsConcurrent(t *testing.T, s store.Store) {
	const flushers, rounds, clients = 4, 10, 6
	var cs []*client.Client
	for i := range clients {
		c := newClient("ten_a", fmt.Sprintf("lkc_c%d", i), "C")
		c.DivisionID = []string{"home", "div_ops"}[i%2]
		cs = append(cs, c)
	}
	createClients(t, s, cs...)
	errs := together(flushers, func(w int) error {
		for range rounds {
			var batch []client.TokenCount
			for i := range clients {
				c := cs[(i+w)%clients] // each flusher in its own order
				for d := range 2 {
					batch = append(batch, client.TokenCount{ClientID: c.ID, TenantID: "ten_a", DivisionID: c.DivisionID,
						Day: midnight(-d), Tokens: 1})
				}
			}
			if w%2 == 1 {
				slices.Reverse(batch)
			}
			if err := s.AddTokenCounts(t.Context(), batch); err != nil {
				return err
			}
		}
		return nil
	})
	for w, err := range errs {
		if err != nil {
			t.Errorf("flusher %d: %v", w, err)
		}
	}
	for _, c := range cs {
		checkEqual(t, c.ID, clientDays(t, s, c.ID, midnight(-1), midnight(1)),
			[]client.DayCount{{Day: midnight(-1), Tokens: flushers * rounds}, {Day: midnight(0), Tokens: flushers * rounds}})
	}
	total := int64(flushers * rounds * clients)
	checkEqual(t, "the tenant's days", fleetTokens(t, s, "ten_a", nil),
		[]client.DayCount{{Day: midnight(-1), Tokens: total}, {Day: midnight(0), Tokens: total}})
}

// testPruneTokenDays: PruneTokens deletes the counts of days more than
// client.TokenHistoryDays old, of clients and tenants, however many, and
// keeps the rest.
func testPruneTokenDays(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_old", "Old")
	createClients(t, s, c)
	// More old days than one delete of a batch takes.
	const old = 6000
	var counts []client.TokenCount
	keep := -client.TokenHistoryDays
	for d := keep - old; d <= 0; d++ {
		counts = append(counts, client.TokenCount{ClientID: c.ID, TenantID: "ten_a", DivisionID: "home", Day: midnight(d), Tokens: 1})
	}
	addCounts(t, s, counts...)
	if err := s.PruneTokens(t.Context(), base); err != nil {
		t.Fatalf("PruneTokens: %v", err)
	}
	days := clientDays(t, s, c.ID, midnight(keep-old-10), midnight(1))
	if len(days) != client.TokenHistoryDays+1 || !days[0].Day.Equal(midnight(keep)) {
		t.Fatalf("client days after the prune: %d from %v, want %d from %v", len(days), days[0].Day,
			client.TokenHistoryDays+1, midnight(keep))
	}
	tenant := fleet(t, s, client.FleetQuery{TenantID: "ten_a", TokensFrom: midnight(keep - old - 10), TokensTo: midnight(1)}).Tokens
	if len(tenant) != client.TokenHistoryDays+1 || !tenant[0].Day.Equal(midnight(keep)) {
		t.Fatalf("tenant days after the prune: %d from %v", len(tenant), tenant[0].Day)
	}
	// Pruning again changes nothing.
	if err := s.PruneTokens(t.Context(), base); err != nil {
		t.Fatalf("PruneTokens again: %v", err)
	}
	if again := clientDays(t, s, c.ID, midnight(keep-old-10), midnight(1)); len(again) != len(days) {
		t.Errorf("a second prune left %d days of %d", len(again), len(days))
	}
}

// statusCounts is FleetCounts.ByStatus without the statuses at zero.
func statusCounts(t *testing.T, s store.Store, tenantID string, divisions []string) map[client.Status]int64 {
	t.Helper()
	out := map[client.Status]int64{}
	for st, n := range fleet(t, s, client.FleetQuery{TenantID: tenantID, Divisions: divisions}).ByStatus {
		if n != 0 {
			out[st] = n
		}
	}
	return out
}

// testStatusCounts: the counts by status follow creates, status changes,
// moves and deletes, per tenant.
func testStatusCounts(t *testing.T, s store.Store) {
	var cs []*client.Client
	for i, st := range []client.Status{client.StatusActive, client.StatusActive, client.StatusActive, client.StatusInactive, client.StatusRevoked} {
		c := newClient("ten_a", fmt.Sprintf("lkc_s%d", i), "S")
		c.Status = st
		cs = append(cs, c)
	}
	other := newClient("ten_b", "lkc_other", "Other")
	createClients(t, s, append(cs, other)...)
	checkEqual(t, "ten_a", statusCounts(t, s, "ten_a", nil),
		map[client.Status]int64{client.StatusActive: 3, client.StatusInactive: 1, client.StatusRevoked: 1})
	checkEqual(t, "ten_b", statusCounts(t, s, "ten_b", nil), map[client.Status]int64{client.StatusActive: 1})
	checkEqual(t, "ten_c", statusCounts(t, s, "ten_c", nil), map[client.Status]int64{})

	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		cs[0].Status = client.StatusInactive
		cs[1].Name = "Renamed" // nothing counted changes
		cs[2].Status, cs[2].DivisionID = client.StatusRevoked, "div_sales"
		for _, c := range cs[:3] {
			if err := tx.UpdateClient(ctx, c); err != nil {
				return err
			}
		}
		return tx.DeleteClient(ctx, cs[4].ID)
	})
	checkEqual(t, "ten_a after changes", statusCounts(t, s, "ten_a", nil),
		map[client.Status]int64{client.StatusActive: 1, client.StatusInactive: 2, client.StatusRevoked: 1})
	checkEqual(t, "ten_a's div_sales", statusCounts(t, s, "ten_a", []string{"div_sales"}),
		map[client.Status]int64{client.StatusRevoked: 1})
	// Usage and activity count nothing.
	if err := s.RecordUse(t.Context(), []client.Use{{ClientID: cs[1].ID, At: at(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "ten_a after a use", statusCounts(t, s, "ten_a", nil),
		map[client.Status]int64{client.StatusActive: 1, client.StatusInactive: 2, client.StatusRevoked: 1})
}

// testExpiryCounts: a bound counts the active clients whose secret
// expires before it, exactly, at and around day boundaries, whatever the
// bounds' order, zone or nanoseconds.
func testExpiryCounts(t *testing.T, s store.Store) {
	m := midnight(3)
	exps := map[string]time.Time{
		"lkc_e_before":     m.Add(-time.Microsecond), // the last microsecond of day 2
		"lkc_e_midnight":   m,
		"lkc_e_after":      m.Add(time.Microsecond),
		"lkc_e_noon":       m.Add(12 * time.Hour),
		"lkc_e_late":       m.Add(24*time.Hour - time.Microsecond),
		"lkc_e_next":       m.Add(24 * time.Hour),
		"lkc_e_long_ago":   midnight(-500).Add(time.Hour),
		"lkc_e_far_future": midnight(5000),
	}
	var cs []*client.Client
	for id, exp := range exps {
		c := newClient("ten_a", id, id)
		c.SecretExpiresAt = exp
		cs = append(cs, c)
	}
	// Not counted: inactive, revoked, never expiring, another tenant's.
	for i, st := range []client.Status{client.StatusInactive, client.StatusRevoked} {
		c := newClient("ten_a", fmt.Sprintf("lkc_x%d", i), "X")
		c.Status, c.SecretExpiresAt = st, m
		cs = append(cs, c)
	}
	never := newClient("ten_a", "lkc_x_never", "Never")
	never.SecretExpiresAt = time.Time{}
	other := newClient("ten_b", "lkc_x_other", "Other")
	other.SecretExpiresAt = m
	createClients(t, s, append(cs, never, other)...)

	want := func(b time.Time) int64 {
		var n int64
		for _, exp := range exps {
			if exp.Before(b) {
				n++
			}
		}
		return n
	}
	zone := time.FixedZone("UTC-7", -7*3600)
	bounds := []time.Time{
		m.Add(12 * time.Hour), m, m.Add(time.Microsecond), m.Add(time.Nanosecond), m.Add(-time.Nanosecond),
		m.Add(-time.Microsecond), m.Add(24 * time.Hour).In(zone), m.Add(24*time.Hour + time.Nanosecond),
		m.Add(12*time.Hour + 1), midnight(-1000), midnight(0), midnight(6000), base,
	}
	fc := fleet(t, s, client.FleetQuery{TenantID: "ten_a", ExpiresBefore: bounds, TokensFrom: midnight(0), TokensTo: midnight(1)})
	if len(fc.ExpiringBefore) != len(bounds) {
		t.Fatalf("%d counts for %d bounds", len(fc.ExpiringBefore), len(bounds))
	}
	for i, b := range bounds {
		if got := fc.ExpiringBefore[i]; got != want(b) {
			t.Errorf("before %v: %d, want %d", b, got, want(b))
		}
	}

	// A client whose expiry, status or division changes moves with it.
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		for _, c := range cs {
			switch c.ID {
			case "lkc_e_long_ago":
				c.SecretExpiresAt = m.Add(6 * time.Hour) // rotated
			case "lkc_e_noon":
				c.Status = client.StatusInactive
			case "lkc_e_late":
				c.DivisionID = "div_sales"
			default:
				continue
			}
			if err := tx.UpdateClient(ctx, c); err != nil {
				return err
			}
		}
		return tx.DeleteClient(ctx, "lkc_e_before")
	})
	delete(exps, "lkc_e_noon")
	delete(exps, "lkc_e_before")
	exps["lkc_e_long_ago"] = m.Add(6 * time.Hour)
	fc = fleet(t, s, client.FleetQuery{TenantID: "ten_a", ExpiresBefore: bounds, TokensFrom: midnight(0), TokensTo: midnight(1)})
	for i, b := range bounds {
		if got := fc.ExpiringBefore[i]; got != want(b) {
			t.Errorf("after changes, before %v: %d, want %d", b, got, want(b))
		}
	}
	sales := fleet(t, s, client.FleetQuery{TenantID: "ten_a", Divisions: []string{"div_sales"},
		ExpiresBefore: []time.Time{m.Add(24*time.Hour - time.Microsecond), m.Add(24 * time.Hour)}})
	checkEqual(t, "div_sales's expiry", sales.ExpiringBefore, []int64{0, 1})
	if fc := fleet(t, s, client.FleetQuery{TenantID: "ten_a"}); len(fc.ExpiringBefore) != 0 {
		t.Errorf("counts for no bounds: %v", fc.ExpiringBefore)
	}
}

// testFleetDivisions: every count keeps to the divisions asked for, by
// the client's division, and by the division at issue for tokens; an
// empty list is no division.
func testFleetDivisions(t *testing.T, s store.Store) {
	ops, sales, home := newClient("ten_a", "lkc_ops", "Ops"), newClient("ten_a", "lkc_sales", "Sales"), newClient("ten_a", "lkc_home", "Home")
	sales.DivisionID, home.DivisionID = "div_sales", "home"
	for _, c := range []*client.Client{ops, sales, home} {
		c.SecretExpiresAt = midnight(2)
	}
	createClients(t, s, ops, sales, home)
	addCounts(t, s,
		client.TokenCount{ClientID: ops.ID, TenantID: "ten_a", DivisionID: "div_ops", Day: midnight(0), Tokens: 1},
		client.TokenCount{ClientID: sales.ID, TenantID: "ten_a", DivisionID: "div_sales", Day: midnight(0), Tokens: 10},
		client.TokenCount{ClientID: home.ID, TenantID: "ten_a", DivisionID: "home", Day: midnight(0), Tokens: 100},
		// ops's tokens of the day before, issued while it was in sales.
		client.TokenCount{ClientID: ops.ID, TenantID: "ten_a", DivisionID: "div_sales", Day: midnight(-1), Tokens: 1000})
	bounds := []time.Time{midnight(3)}
	for _, tc := range []struct {
		divisions []string
		clients   int64
		tokens    []client.DayCount
	}{
		{nil, 3, []client.DayCount{{Day: midnight(-1), Tokens: 1000}, {Day: midnight(0), Tokens: 111}}},
		{[]string{"div_ops"}, 1, []client.DayCount{{Day: midnight(0), Tokens: 1}}},
		{[]string{"div_ops", "home"}, 2, []client.DayCount{{Day: midnight(0), Tokens: 101}}},
		{[]string{"div_sales"}, 1, []client.DayCount{{Day: midnight(-1), Tokens: 1000}, {Day: midnight(0), Tokens: 10}}},
		{[]string{"div_none"}, 0, nil},
		{[]string{}, 0, nil},
	} {
		fc := fleet(t, s, client.FleetQuery{TenantID: "ten_a", Divisions: tc.divisions, ExpiresBefore: bounds,
			TokensFrom: midnight(-30), TokensTo: midnight(30)})
		what := fmt.Sprintf("divisions %q", tc.divisions)
		if fc.ByStatus[client.StatusActive] != tc.clients || len(fc.ExpiringBefore) != 1 || fc.ExpiringBefore[0] != tc.clients {
			t.Errorf("%s: by status %v, expiring %v; want %d", what, fc.ByStatus, fc.ExpiringBefore, tc.clients)
		}
		checkEqual(t, what+" tokens", nilIfEmpty(fc.Tokens), tc.tokens)
	}
}
