package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// scrape fetches a /metrics page and returns each sample's value by its
// series, as the exposition format writes it (name{labels}).
func scrape(t *testing.T, u string) map[string]float64 {
	t.Helper()
	code, b := get(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, code, b)
	}
	out := map[string]float64{}
	for line := range strings.Lines(b) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func statusOf(t *testing.T, u string) int {
	t.Helper()
	code, _ := get(t, u)
	return code
}

// TestMetrics: what a request, a token and a failed authentication do to
// the series, on both backends; the pool's series on PostgreSQL.
func TestMetrics(t *testing.T) {
	for _, b := range []struct {
		name string
		db   func(*testing.T) database
	}{{"sqlite", sqliteDatabase}, {"postgres", postgresDatabase}} {
		t.Run(b.name, func(t *testing.T) {
			in := start(t, b.db(t), nil)
			id, secret := in.createClient(t, "--name", "Metered", "--grant-type", "client_credentials")
			mustToken(t, in.url, id, secret)
			mustToken(t, in.url, id, secret)
			// x/oauth2 tries the secret in the header, then in the body:
			// two failures.
			if _, err := fetchToken(in.url, id, "not-"+secret); err == nil {
				t.Fatal("a wrong secret got a token")
			}
			if got := statusOf(t, in.url+"/no/such/page"); got != http.StatusNotFound {
				t.Fatalf("unknown path: %d", got)
			}
			m := scrape(t, in.url+"/metrics")
			want := map[string]float64{
				`latchkey_http_requests_total{code="200",route="POST /oauth2/token"}`:                         2,
				`latchkey_http_requests_total{code="401",route="POST /oauth2/token"}`:                         2,
				`latchkey_http_requests_total{code="404",route="unmatched"}`:                                  1,
				`latchkey_http_request_duration_seconds_count{route="POST /oauth2/token"}`:                    4,
				fmt.Sprintf(`latchkey_tokens_issued_total{client_id=%q,grant_type="client_credentials"}`, id): 2,
				`latchkey_client_auth_failures_total{reason="wrong_secret"}`:                                  2,
				`latchkey_database_up`: 1,
			}
			for series, v := range want {
				if got, ok := m[series]; !ok || got != v {
					t.Errorf("%s = %v (present %t), want %v", series, got, ok, v)
				}
			}
			if m[`latchkey_cache_lookups_total{cache="clients",result="miss"}`] < 1 {
				t.Errorf("no client cache miss counted: %v", filter(m, "cache"))
			}
			pool := `latchkey_db_pool_max_connections`
			if _, ok := m[pool]; ok != (b.name == "postgres") {
				t.Errorf("%s present: %t on %s", pool, ok, b.name)
			}
		})
	}
}

// TestMetricsAddress: --metrics-addr moves /metrics off the main listener;
// "off" serves it nowhere.
func TestMetricsAddress(t *testing.T) {
	apart := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_METRICS_ADDR": "127.0.0.1:0"})
	if got := statusOf(t, apart.url+"/metrics"); got != http.StatusNotFound {
		t.Errorf("/metrics on the main listener with --metrics-addr: %d, want 404", got)
	}
	match := regexp.MustCompile(`msg="serving metrics" addr=(\S+)`).FindStringSubmatch(apart.stderr.String())
	if match == nil {
		t.Fatalf("no metrics address logged:\n%s", apart.stderr)
	}
	m := scrape(t, (&url.URL{Scheme: "http", Host: match[1], Path: "/metrics"}).String())
	// The main listener's requests are counted, the scrape's own not.
	if m[`latchkey_http_requests_total{code="404",route="unmatched"}`] != 1 {
		t.Errorf("the 404 on the main listener was not counted: %v", filter(m, "http_requests"))
	}

	off := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_METRICS_ADDR": "off"})
	if got := statusOf(t, off.url+"/metrics"); got != http.StatusNotFound {
		t.Errorf("/metrics with --metrics-addr off: %d, want 404", got)
	}
}

func filter(m map[string]float64, part string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.Contains(k, part) {
			out[k] = v
		}
	}
	return out
}
