package main

import (
	"context"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testpg"
)

func TestParseAdminOptions(t *testing.T) {
	t.Setenv("LATCHKEY_TEST_POSTGRES_URL", "")
	o, err := parseAdminOptions(nil, io.Discard)
	if err != nil || o.clients != 1_000_000 || o.requests != 50 || o.warmup != 5 || strings.Join(o.backends, ",") != "sqlite" {
		t.Fatalf("defaults without a server: %+v, %v", o, err)
	}
	pg := "postgres://postgres@127.0.0.1:5432/postgres"
	o, err = parseAdminOptions([]string{"-clients", "500", "-postgres", pg}, io.Discard)
	if err != nil || o.clients != 500 || strings.Join(o.backends, ",") != "sqlite,postgres" || o.postgres != pg {
		t.Fatalf("with a server: %+v, %v", o, err)
	}
	t.Setenv("LATCHKEY_TEST_POSTGRES_URL", pg)
	if o, err := parseAdminOptions([]string{"-backends", "postgres"}, io.Discard); err != nil || o.postgres != pg ||
		strings.Join(o.backends, ",") != "postgres" {
		t.Fatalf("server from the environment: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-clients", "0"}, {"-clients", "5000001"}, {"-requests", "0"}, {"-warmup", "-1"},
		{"-backends", "mysql"}, {"-backends", "postgres", "-postgres", ""}, {"extra"},
	} {
		if _, err := parseAdminOptions(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// Every shape becomes a valid store query, as the admin API would make it.
func TestAdminShapes(t *testing.T) {
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	f := newFleet(1, "ten_a", now, 10)
	for range 10 {
		f.next()
	}
	shapes := adminShapes(f, now)
	if len(shapes) != 15+2*len(client.SortFields)+1 {
		t.Errorf("%d shapes", len(shapes))
	}
	for _, s := range shapes {
		if _, err := storeQuery("ten_a", s.params, now); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	q, err := storeQuery("ten_a", url.Values{"secret_expires_within": {"30d"}, "unused_since": {"2031-02-05"},
		"sort": {"name"}, "order": {"desc"}, "page_size": {"7"}}, now)
	if err != nil || !q.SecretExpiresBefore.Equal(now.AddDate(0, 0, 30)) ||
		!q.UnusedSince.Equal(time.Date(2031, 2, 5, 0, 0, 0, 0, time.UTC)) || !q.Desc || q.Limit != 7 {
		t.Errorf("query %+v, %v", q, err)
	}
	if q, err := storeQuery("ten_a", url.Values{"unused_since": {"never"}}, now); err != nil || !q.NeverUsed {
		t.Errorf("never: %+v, %v", q, err)
	}
}

// The fleet has the spread the benchmark promises, in creation order.
func TestFleet(t *testing.T) {
	now := time.Now()
	const n = 4000
	f := newFleet(7, "ten_a", now, n)
	var public, inactive, revoked, never, noExpiry int
	prev := time.Time{}
	grants := map[client.GrantType]int{}
	for range n {
		c := f.next()
		if c.CreatedAt.Before(prev) || c.CreatedAt.After(now) {
			t.Fatalf("created %s after %s", c.CreatedAt, prev)
		}
		prev = c.CreatedAt
		if c.Type == client.Public {
			public++
		}
		switch c.Status {
		case client.StatusInactive:
			inactive++
		case client.StatusRevoked:
			revoked++
		}
		if c.LastUsedAt.IsZero() {
			never++
		}
		if c.SecretExpiresAt.IsZero() {
			noExpiry++
		}
		for _, g := range c.GrantTypes {
			grants[g]++
		}
	}
	share := func(k int) float64 { return float64(k) / n }
	for _, c := range []struct {
		what     string
		got      float64
		from, to float64
	}{
		{"public", share(public), 0.07, 0.13}, {"inactive", share(inactive), 0.08, 0.12},
		{"revoked", share(revoked), 0.03, 0.07}, {"never used", share(never), 0.26, 0.34},
		{"no expiry", share(noExpiry), 0.15, 0.30}, {"authorization_code", share(grants[client.GrantAuthorizationCode]), 0.3, 0.6},
	} {
		if c.got < c.from || c.got > c.to {
			t.Errorf("%s: %.3f, want %.2f to %.2f", c.what, c.got, c.from, c.to)
		}
	}
	if f.middleID == "" {
		t.Error("no middle client")
	}
}

func TestLoadSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	testLoad(t, path, func(f *fleet, n int) error {
		return loadSQLite(t.Context(), path, f, n, func(int) {})
	})
}

func TestLoadPostgres(t *testing.T) {
	u := testpg.Database(t, "latchkey_bench_")
	testLoad(t, u, func(f *fleet, n int) error { return loadPostgres(t.Context(), u, f, n, func(int) {}) })
}

// testLoad loads a small fleet (more than a load batch) into the migrated
// database at url and checks the store lists, searches and counts it.
func testLoad(t *testing.T, url string, load func(f *fleet, n int) error) {
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
	n := loadBatch + 500
	if testing.Short() {
		n = 600
	}
	f := newFleet(3, res.Tenant.ID, time.Now(), n)
	if err := load(f, n); err != nil {
		t.Fatal(err)
	}
	list := func(q client.ListQuery) *client.ListPage {
		t.Helper()
		q.TenantID = res.Tenant.ID
		p, err := st.ListClients(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Past the cap, the unfiltered total is known exactly on SQLite and
	// estimated on PostgreSQL.
	if p := list(client.ListQuery{Limit: 1}); (!p.TotalEstimated && p.Total != n+3) || p.Total < 1000 {
		t.Errorf("total %d (estimated %v), want %d and the three provisioned", p.Total, p.TotalEstimated, n)
	}
	if p := list(client.ListQuery{Search: f.middleID}); len(p.Clients) != 1 || p.Clients[0].ID != f.middleID || p.Total != 1 {
		t.Errorf("search by client ID: %d clients, total %d", len(p.Clients), p.Total)
	}
	if p := list(client.ListQuery{Type: client.Public, Limit: 5}); len(p.Clients) != 5 || p.Clients[0].Type != client.Public {
		t.Errorf("public clients: %+v", p.Clients)
	}
}
