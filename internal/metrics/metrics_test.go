package metrics_test

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/metrics"
)

// scrape fetches the metrics handler's text exposition and returns each
// series, written as in the exposition (name{label="value",...}, labels
// sorted by name), with its value.
func scrape(tb testing.TB, m *metrics.Metrics) map[string]float64 {
	tb.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Accept", "text/plain")
	m.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		tb.Fatalf("scrape: status %d: %s", w.Code, w.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(w.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tb.Fatalf("scrape: line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// want checks that each series has its value.
func want(tb testing.TB, got map[string]float64, series map[string]float64) {
	tb.Helper()
	for s, v := range series {
		g, ok := got[s]
		switch {
		case !ok:
			tb.Errorf("no series %s", s)
		case g != v:
			tb.Errorf("%s = %v, want %v", s, g, v)
		}
	}
}

func TestRecording(t *testing.T) {
	m := metrics.New()
	m.TokenIssued("client_credentials", "c_1")
	m.TokenIssued("client_credentials", "c_1")
	m.TokenIssued("refresh_token", "c_2")
	m.AuthFailed("wrong_secret")
	m.AuthFailed("wrong_secret")
	m.AuthFailed("unknown_client")
	m.CacheLookup(metrics.CacheClients, true)
	m.CacheLookup(metrics.CacheClients, true)
	m.CacheLookup(metrics.CacheClients, false)
	m.CacheLookup(metrics.CacheUnknownClients, true)
	m.CacheInvalidated(metrics.CacheClients, 1)
	m.CacheInvalidated(metrics.CacheClients, 40)
	m.ChangeLag(250 * time.Millisecond)
	m.ChangeLag(2 * time.Second)
	m.ChangeLag(-time.Second) // clock skew: counted as no lag
	m.SweepResult(metrics.Sweep{Secrets: 5, Warned: 3, Skipped: 2, Mails: 4, Events: 3, NoAddress: 1})
	m.SweepResult(metrics.Sweep{Secrets: 1, Warned: 1, Mails: 1, Events: 1, Failed: true})
	m.Delivered("email", "sent")
	m.Delivered("email", "sent")
	m.Delivered("webhook", "pending")
	m.Delivered("webhook", "failed")

	want(t, scrape(t, m), map[string]float64{
		`latchkey_tokens_issued_total{client_id="c_1",grant_type="client_credentials"}`: 2,
		`latchkey_tokens_issued_total{client_id="c_2",grant_type="refresh_token"}`:      1,
		`latchkey_client_auth_failures_total{reason="wrong_secret"}`:                    2,
		`latchkey_client_auth_failures_total{reason="unknown_client"}`:                  1,
		`latchkey_cache_lookups_total{cache="clients",result="hit"}`:                    2,
		`latchkey_cache_lookups_total{cache="clients",result="miss"}`:                   1,
		`latchkey_cache_lookups_total{cache="unknown_clients",result="hit"}`:            1,
		`latchkey_cache_invalidations_total{cache="clients"}`:                           2,
		`latchkey_cache_invalidated_entries_total{cache="clients"}`:                     41,
		`latchkey_change_lag_seconds_count`:                                             3,
		`latchkey_change_lag_seconds_bucket{le="0.01"}`:                                 1,
		`latchkey_change_lag_seconds_bucket{le="0.25"}`:                                 2,
		`latchkey_change_lag_seconds_bucket{le="2.5"}`:                                  3,
		`latchkey_change_lag_seconds_sum`:                                               2.25,
		`latchkey_notify_sweeps_total{result="ok"}`:                                     1,
		`latchkey_notify_sweeps_total{result="failed"}`:                                 1,
		`latchkey_notify_sweep_secrets_total`:                                           6,
		`latchkey_notify_sweep_stages_total{outcome="sent"}`:                            4,
		`latchkey_notify_sweep_stages_total{outcome="skipped"}`:                         2,
		`latchkey_notify_sweep_queued_total{channel="email"}`:                           5,
		`latchkey_notify_sweep_queued_total{channel="webhook"}`:                         4,
		`latchkey_notify_sweep_unreachable_recipients_total`:                            1,
		`latchkey_notify_deliveries_total{channel="email",status="sent"}`:               2,
		`latchkey_notify_deliveries_total{channel="webhook",status="pending"}`:          1,
		`latchkey_notify_deliveries_total{channel="webhook",status="failed"}`:           1,
	})
}

func TestFreshSeriesStartAtZero(t *testing.T) {
	got := scrape(t, metrics.New())
	want(t, got, map[string]float64{
		`latchkey_cache_lookups_total{cache="clients",result="hit"}`:  0,
		`latchkey_cache_lookups_total{cache="clients",result="miss"}`: 0,
		`latchkey_notify_sweeps_total{result="failed"}`:               0,
		`latchkey_notify_sweep_stages_total{outcome="skipped"}`:       0,
		`latchkey_change_lag_seconds_count`:                           0,
	})
	// The runtime's and the process's collectors are on the registry.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

func TestRegistriesAreSeparate(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.AuthFailed("wrong_secret")
	if _, ok := scrape(t, b)[`latchkey_client_auth_failures_total{reason="wrong_secret"}`]; ok {
		t.Error("a failure recorded on one Metrics shows on another")
	}
}

func TestDatabase(t *testing.T) {
	m := metrics.New()
	up := true
	m.DatabaseUp(func() bool { return up })
	m.DBPool(func() metrics.PoolStats {
		return metrics.PoolStats{AcquiredConns: 3, IdleConns: 2, TotalConns: 6, MaxConns: 10,
			AcquireCount: 1000, EmptyAcquireCount: 7, CanceledAcquireCount: 1, AcquireDuration: 1500 * time.Millisecond}
	})
	want(t, scrape(t, m), map[string]float64{
		`latchkey_database_up`:                            1,
		`latchkey_db_pool_acquired_connections`:           3,
		`latchkey_db_pool_idle_connections`:               2,
		`latchkey_db_pool_connections`:                    6,
		`latchkey_db_pool_max_connections`:                10,
		`latchkey_db_pool_acquires_total`:                 1000,
		`latchkey_db_pool_empty_acquires_total`:           7,
		`latchkey_db_pool_canceled_acquires_total`:        1,
		`latchkey_db_pool_acquire_duration_seconds_total`: 1.5,
	})
	up = false
	want(t, scrape(t, m), map[string]float64{`latchkey_database_up`: 0})
}

func TestOutboxDepth(t *testing.T) {
	m := metrics.New()
	var err error
	m.OutboxDepth(func() (map[string]int, error) { return map[string]int{"email": 12, "webhook": 0}, err })
	want(t, scrape(t, m), map[string]float64{
		`latchkey_notify_outbox_pending{channel="email"}`:   12,
		`latchkey_notify_outbox_pending{channel="webhook"}`: 0,
	})
	// With the database down the depth is left out, and the rest of the
	// scrape still answers.
	err = errors.New("database unreachable")
	m.AuthFailed("wrong_secret")
	got := scrape(t, m)
	if _, ok := got[`latchkey_notify_outbox_pending{channel="email"}`]; ok {
		t.Error("a depth that could not be read was reported")
	}
	want(t, got, map[string]float64{`latchkey_client_auth_failures_total{reason="wrong_secret"}`: 1})
}

// TestNil: a nil *Metrics records nothing and panics at nothing, so
// packages can take one optionally.
func TestNil(t *testing.T) {
	var m *metrics.Metrics
	m.TokenIssued("client_credentials", "c_1")
	m.AuthFailed("wrong_secret")
	m.CacheLookup(metrics.CacheClients, true)
	m.CacheInvalidated(metrics.CacheClients, 3)
	m.ChangeLag(time.Second)
	m.SweepResult(metrics.Sweep{Secrets: 1})
	m.Delivered("email", "sent")
	m.DBPool(func() metrics.PoolStats { return metrics.PoolStats{} })
	m.DatabaseUp(func() bool { return true })
	m.OutboxDepth(func() (map[string]int, error) { return nil, nil })

	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	w := httptest.NewRecorder()
	m.Middleware(next).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusTeapot {
		t.Errorf("through a nil Metrics' middleware: status %d", w.Code)
	}
	w = httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("a nil Metrics' handler: status %d, want 404", w.Code)
	}
}
