package oauth_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/server"
)

// logRecorder keeps every record logged through it.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// above returns the messages logged above level.
func (l *logRecorder) above(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level > level {
			out = append(out, r.Level.String()+" "+r.Message)
		}
	}
	return out
}

// root serves h's protocol endpoints behind the real root handler, logging
// to the returned recorder.
func root(h *harness) (http.Handler, *logRecorder) {
	logs := &logRecorder{}
	log := slog.New(logs)
	h.srv.Logger = log
	return server.New(server.Config{DB: h.db, Logger: log, Mount: []func(*http.ServeMux){h.srv.Mount}}), logs
}

func TestCancelledRequestIsNoServerError(t *testing.T) {
	h := newHarness(t, 20)
	id, secret := h.create(client.CreateParams{})
	jwt := h.token(id, secret, nil).body["access_token"].(string)
	handler, logs := root(h)
	tokenForm := url.Values{"grant_type": {"client_credentials"}}.Encode()
	tests := []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"token, known client", "POST", "/oauth2/token", tokenForm, []string{"Authorization", basicAuth(id, secret)}},
		{"token, unknown client", "POST", "/oauth2/token", tokenForm, []string{"Authorization", basicAuth("lkc_nobody", "guess")}},
		{"introspection", "POST", "/oauth2/introspect", "token=" + jwt, []string{"Authorization", basicAuth(id, secret)}},
		{"revocation", "POST", "/oauth2/revoke", "token=" + jwt, []string{"Authorization", basicAuth(id, secret)}},
		{"me", "GET", "/api/v1/me", "", []string{"Authorization", "Bearer " + jwt}},
		{"readiness", "GET", "/readyz", "", nil},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client half-closed: net/http ends the request's context
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Nothing cached: every request must read the store, and the
			// read fails on the cancelled context.
			h.srv.Auth.InvalidateAll()
			r := httptest.NewRequestWithContext(ctx, tt.method, tt.path, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", form)
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				r.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			if rec.Code != 499 {
				t.Errorf("status %d %s, want 499 (client closed request)", rec.Code, rec.Body)
			}
			if l := logs.above(slog.LevelDebug); len(l) > 0 {
				t.Errorf("logged above debug: %q", l)
			}
		})
	}
}

func TestStoreFailureIsStillAServerError(t *testing.T) {
	h := newHarness(t, 20)
	handler, logs := root(h)
	h.db.Close()
	r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", form)
	r.Header.Set("Authorization", basicAuth("lkc_nobody", "guess"))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "server_error") {
		t.Fatalf("a broken store: %d %s", rec.Code, rec.Body)
	}
	if l := logs.above(slog.LevelWarn); len(l) != 1 {
		t.Fatalf("a broken store logged %q, want one error", l)
	}
}

func TestIPv6SourcesCountPerSlash64(t *testing.T) {
	h := newHarness(t, 3)
	// The test server's peer is the loopback; as a trusted proxy, its
	// X-Forwarded-For names the source.
	h.srv.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	guess := func(from, id string) int {
		v := url.Values{"grant_type": {"client_credentials"}}.Encode()
		return h.do("POST", "/oauth2/token", form, v, "Authorization", basicAuth(id, "guess"), "X-Forwarded-For", from).status
	}
	// Each guess from a new address of one /64, at a new client ID: only
	// the source's count can refuse the fourth.
	for i, from := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if s := guess(from, "lkc_victim"+string(rune('a'+i))); s != 401 {
			t.Fatalf("guess %d: %d", i, s)
		}
	}
	if s := guess("2001:db8:1:2:abcd::4", "lkc_victimz"); s != 429 {
		t.Fatalf("a fourth address of the same /64: %d, want 429", s)
	}
	if s := guess("2001:db8:1:3::1", "lkc_victimy"); s != 401 {
		t.Fatalf("the next /64: %d, want 401", s)
	}
	// IPv4-mapped addresses count as the IPv4 address they map.
	for i := range 3 {
		guess("::ffff:198.51.100.7", "lkc_mapped"+string(rune('a'+i)))
	}
	if s := guess("198.51.100.7", "lkc_mappedz"); s != 429 {
		t.Fatalf("an IPv4 source after its mapped form failed thrice: %d, want 429", s)
	}
}

func TestFailuresArePaddedButRefusalsAreNot(t *testing.T) {
	h := newHarness(t, 2)
	var mu sync.Mutex
	var pads []time.Duration
	h.srv.Auth.Sleep = func(_ context.Context, d time.Duration) { mu.Lock(); pads = append(pads, d); mu.Unlock() }
	h.srv.Auth.ObserveSlowCheck(300 * time.Millisecond)
	take := func() []time.Duration { mu.Lock(); defer mu.Unlock(); p := pads; pads = nil; return p }
	for i := range 2 {
		if r := h.token("lkc_nobody", "guess", nil); r.status != 401 {
			t.Fatalf("guess %d: %d", i, r.status)
		}
		// The harness's clock stands still: the whole pad is asked for.
		if p := take(); len(p) != 1 || p[0] != 300*time.Millisecond {
			t.Fatalf("guess %d: pads %v, want [300ms]", i, p)
		}
	}
	if r := h.token("lkc_nobody", "guess", nil); r.status != 429 {
		t.Fatalf("over the limit: %d", r.status)
	}
	if p := take(); len(p) != 0 {
		t.Fatalf("a 429 was padded: %v", p)
	}
	// A malformed ID names no client anyone could have made: answered at
	// once, as before.
	if r := h.token("not an id", "guess", nil); r.status != 429 && r.status != 401 {
		t.Fatalf("malformed ID: %d", r.status)
	}
	if p := take(); len(p) != 0 {
		t.Fatalf("a malformed ID was padded: %v", p)
	}
}
