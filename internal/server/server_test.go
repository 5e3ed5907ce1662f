package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/reqid"
)

type pinger struct{ err error }

func (p *pinger) Ping(context.Context) error { return p.err }

func TestProbes(t *testing.T) {
	db := &pinger{}
	h := New(Config{DB: db, Mount: []func(*http.ServeMux){func(m *http.ServeMux) {
		m.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("secret detail") })
	}}})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	if r := get("/healthz"); r.Code != 200 || r.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("healthz %d %v", r.Code, r.Header())
	}
	if r := get("/readyz"); r.Code != 200 {
		t.Fatalf("readyz %d", r.Code)
	}
	db.err = errors.New("connection refused")
	if r := get("/readyz"); r.Code != 503 || strings.Contains(r.Body.String(), "refused") {
		t.Fatalf("readyz with the database down: %d %q", r.Code, r.Body)
	}
	if r := get("/healthz"); r.Code != 200 {
		t.Fatalf("healthz with the database down: %d", r.Code)
	}
	r := get("/boom")
	if r.Code != 500 || strings.Contains(r.Body.String(), "secret detail") || !strings.Contains(r.Body.String(), "internal error") {
		t.Fatalf("panic: %d %q", r.Code, r.Body)
	}
}

// ctxPinger fails as a database driver does when the caller's context has
// ended.
type ctxPinger struct{}

func (ctxPinger) Ping(ctx context.Context) error { return ctx.Err() }

func TestReadinessOfAGoneProberIsNoFailure(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := New(Config{DB: ctxPinger{}, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/readyz", nil))
	if rec.Code == http.StatusServiceUnavailable || rec.Code >= 500 {
		t.Fatalf("readiness for a prober that went away: %d", rec.Code)
	}
	if logged.Len() > 0 {
		t.Fatalf("logged above debug: %s", logged.String())
	}
}

// readyPinger knows its database's state without asking it; asking it
// (Ping) would block.
type readyPinger struct {
	ready error
	asked bool
}

func (p *readyPinger) Ping(context.Context) error {
	p.asked = true
	return errors.New("asked the database")
}
func (p *readyPinger) Ready() error { return p.ready }

// TestReadinessFromTheStoresState: a store that knows whether its database
// is reachable answers readiness from that, never with a round trip that
// would queue behind requests under load.
func TestReadinessFromTheStoresState(t *testing.T) {
	db := &readyPinger{}
	h := New(Config{DB: db})
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec
	}
	if r := get(); r.Code != 200 || db.asked {
		t.Fatalf("reachable: readyz %d, pinged %v", r.Code, db.asked)
	}
	db.ready = errors.New("postgres: the database is unavailable since 2026-12-03T10:00:00Z: dial tcp: refused")
	r := get()
	if r.Code != 503 || r.Header().Get("Retry-After") == "" || db.asked || strings.Contains(r.Body.String(), "dial") {
		t.Fatalf("unreachable: readyz %d Retry-After %q pinged %v body %q", r.Code, r.Header().Get("Retry-After"), db.asked, r.Body)
	}
}

// TestTraceOfAPanic checks that a request's trace reaches both its
// response and the log line of its failure, so a caller's trace leads to it.
func TestTraceOfAPanic(t *testing.T) {
	var logged strings.Builder
	log := slog.New(reqid.LogHandler(slog.NewJSONHandler(&logged, nil)))
	h := New(Config{DB: &pinger{}, Logger: log, Mount: []func(*http.ServeMux){func(m *http.ServeMux) {
		m.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	}}})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest("GET", "/boom", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	tp := rec.Header().Get("traceparent")
	if rec.Code != 500 || !strings.HasPrefix(tp, "00-"+traceID+"-") || !strings.HasSuffix(tp, "-01") {
		t.Fatalf("%d, traceparent %q", rec.Code, tp)
	}
	span := strings.Split(tp, "-")[2]
	if !strings.Contains(logged.String(), `"trace_id":"`+traceID+`","span_id":"`+span+`"`) ||
		!strings.Contains(logged.String(), `"request_id":"`+rec.Header().Get(reqid.Header)+`"`) {
		t.Errorf("log %s lacks the trace of response %q", logged.String(), tp)
	}
}
