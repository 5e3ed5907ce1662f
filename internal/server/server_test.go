package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
