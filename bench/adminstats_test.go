package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testpg"
)

func TestDashboardSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	testDashboard(t, path, func(f *fleet, n int) error { return loadSQLite(t.Context(), path, f, n, func(int) {}) })
}

func TestDashboardPostgres(t *testing.T) {
	u := testpg.Database(t, "latchkey_bench_")
	testDashboard(t, u, func(f *fleet, n int) error { return loadPostgres(t.Context(), u, f, n, func(int) {}) })
}

// testDashboard loads a small fleet and runs the dashboard step once: it
// counts what the fleet holds and every read answers.
func testDashboard(t *testing.T, url string, load func(f *fleet, n int) error) {
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := provision.Run(ctx, st, provision.Params{Issuer: "http://127.0.0.1", AdminClientSecret: strings.Repeat("s", 32)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const n = 1500
	f := newFleet(5, res.Tenant.ID, now, n)
	if err := load(f, n); err != nil {
		t.Fatal(err)
	}
	results, err := timeDashboard(ctx, st, res.Tenant.ID, f.middleID, adminOptions{requests: 2}, now, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 5 {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if r.err != nil || len(r.times) == 0 {
			t.Errorf("%s: %d times, %v", r.name, len(r.times), r.err)
		}
	}
	// The fleet and the three provisioned clients; the history of every
	// client (n+3 of them, fewer than tokenClients) over 90 days.
	if want := "total 1503,"; !strings.HasPrefix(results[1].note, want) || results[1].note != results[2].note {
		t.Errorf("Stats: %q and %q, want both to start %q", results[1].note, results[2].note, want)
	}
	if !strings.HasPrefix(results[4].note, "90 days, ") || !strings.HasPrefix(results[0].note, "1503 clients") {
		t.Errorf("history %q, volume %q", results[0].note, results[4].note)
	}
	var b strings.Builder
	printDashboard(&b, results)
	if !strings.Contains(b.String(), "Stats, one division's admin") {
		t.Errorf("report:\n%s", b.String())
	}
}
