package client_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/metrics"
)

var _ client.CacheMetrics = (*metrics.Metrics)(nil)

// exposition returns what m's handler serves.
func exposition(tb testing.TB, m *metrics.Metrics) string {
	tb.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

func TestCacheMetrics(t *testing.T) {
	f, auth, _, _ := newAuth(t)
	m := metrics.New()
	auth.Metrics = m
	ctx := context.Background()
	c, sec, err := f.svc.Create(ctx, f.sys, cc("counted"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // read, then served from the cache
		if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // read, then answered from the cache of unknown IDs
		auth.Authenticate(ctx, "lkc_nosuchclient", "x", false)
	}
	auth.Invalidate(c.ID)
	auth.Invalidate(c.ID) // no longer cached: drops nothing
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
		t.Fatal(err)
	}
	auth.InvalidateAll() // the client and the unknown ID
	got := exposition(t, m)
	for _, line := range []string{
		`latchkey_cache_lookups_total{cache="clients",result="hit"} 1`,
		`latchkey_cache_lookups_total{cache="clients",result="miss"} 3`,
		`latchkey_cache_lookups_total{cache="unknown_clients",result="hit"} 1`,
		`latchkey_cache_invalidations_total{cache="clients"} 3`,
		`latchkey_cache_invalidated_entries_total{cache="clients"} 3`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("no %s in\n%s", line, got)
		}
	}
}

// TestNilCacheMetrics: a nil *metrics.Metrics, as a serve without metrics
// would pass, records nothing and panics at nothing.
func TestNilCacheMetrics(t *testing.T) {
	f, auth, _, _ := newAuth(t)
	var m *metrics.Metrics
	auth.Metrics = m
	ctx := context.Background()
	c, sec, err := f.svc.Create(ctx, f.sys, cc("uncounted"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
		t.Fatal(err)
	}
	auth.Invalidate(c.ID)
	auth.InvalidateAll()
}
