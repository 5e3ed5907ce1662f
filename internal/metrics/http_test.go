package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/metrics"
)

// routes is a mux like the server's, wrapped by m's middleware.
func routes(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.PathValue("id"))
	})
	mux.HandleFunc("POST /clients/{id}/rotate", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /quiet", func(w http.ResponseWriter, r *http.Request) {}) // writes nothing
	mux.HandleFunc("GET /hints", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		buf.Flush()
		conn.Close()
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	mux.HandleFunc("/t/{tenant}/console/", func(w http.ResponseWriter, r *http.Request) {})
	return m.Middleware(mux)
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// TestRouteIsThePattern: the mux sets Request.Pattern on the request the
// middleware handed it, so the label is the pattern, never the path.
func TestRouteIsThePattern(t *testing.T) {
	m := metrics.New()
	h := routes(m)
	if w := serve(h, "GET", "/clients/abc"); w.Body.String() != "abc" {
		t.Fatalf("GET /clients/abc: %d %q", w.Code, w.Body)
	}
	serve(h, "GET", "/clients/def")
	serve(h, "POST", "/clients/abc/rotate")
	got := scrape(t, m)
	want(t, got, map[string]float64{
		`latchkey_http_requests_total{code="200",route="GET /clients/{id}"}`:                 2,
		`latchkey_http_requests_total{code="201",route="POST /clients/{id}/rotate"}`:         1,
		`latchkey_http_request_duration_seconds_count{route="GET /clients/{id}"}`:            2,
		`latchkey_http_request_duration_seconds_count{route="POST /clients/{id}/rotate"}`:    1,
		`latchkey_http_request_duration_seconds_bucket{route="GET /clients/{id}",le="+Inf"}`: 2,
	})
	for s := range got {
		if strings.Contains(s, "abc") || strings.Contains(s, "def") {
			t.Errorf("a path reached a label: %s", s)
		}
	}
}

func TestUnmatched(t *testing.T) {
	m := metrics.New()
	h := routes(m)
	for _, p := range []string{"/nothing/1", "/nothing/2", "/clients/a/b/c"} {
		if w := serve(h, "GET", p); w.Code != http.StatusNotFound {
			t.Fatalf("GET %s: status %d", p, w.Code)
		}
	}
	if w := serve(h, "DELETE", "/clients/abc"); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE /clients/abc: status %d", w.Code)
	}
	// The mux's trailing-slash redirect of CONNECT names the path it
	// redirects to (here /t/acme/console/) as the pattern.
	if w := serve(h, "CONNECT", "/t/acme/console"); w.Code != http.StatusTemporaryRedirect {
		t.Fatalf("CONNECT /t/acme/console: status %d", w.Code)
	}
	got := scrape(t, m)
	for s := range got {
		if strings.Contains(s, "acme") || strings.Contains(s, "nothing") {
			t.Errorf("a path reached a label: %s", s)
		}
	}
	want(t, got, map[string]float64{
		`latchkey_http_requests_total{code="404",route="unmatched"}`: 3,
		`latchkey_http_requests_total{code="405",route="unmatched"}`: 1,
		`latchkey_http_requests_total{code="307",route="unmatched"}`: 1,
	})
}

func TestStatus(t *testing.T) {
	m := metrics.New()
	h := routes(m)
	if w := serve(h, "GET", "/quiet"); w.Code != http.StatusOK {
		t.Fatalf("GET /quiet: status %d", w.Code)
	}
	serve(h, "GET", "/hints")
	w := serve(h, "GET", "/stream")
	if w.Code != http.StatusOK || !w.Flushed {
		t.Errorf("GET /stream: status %d, flushed %v: the wrapper hid the recorder's Flush", w.Code, w.Flushed)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the middleware swallowed a panic")
			}
		}()
		serve(h, "GET", "/panic")
	}()
	want(t, scrape(t, m), map[string]float64{
		`latchkey_http_requests_total{code="200",route="GET /quiet"}`:  1,
		`latchkey_http_requests_total{code="202",route="GET /hints"}`:  1,
		`latchkey_http_requests_total{code="200",route="GET /stream"}`: 1,
		`latchkey_http_requests_total{code="500",route="GET /panic"}`:  1,
	})
}

// TestHijacked: a hijacked connection counts as 200, through a real
// server's writer, which the wrapper must let http.ResponseController
// reach.
func TestHijacked(t *testing.T) {
	m := metrics.New()
	h, done := routes(m), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done) // once the middleware has counted the request
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/hijack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /hijack: status %d", resp.StatusCode)
	}
	<-done
	want(t, scrape(t, m), map[string]float64{
		`latchkey_http_requests_total{code="200",route="GET /hijack"}`: 1,
	})
}

// TestPatternNeedsTheMuxRequest pins down why Middleware must wrap the
// mux directly: a middleware in between that hands the mux a new request
// (as r.WithContext does) keeps the pattern from the outer request.
func TestPatternNeedsTheMuxRequest(t *testing.T) {
	m := metrics.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clients/{id}", func(http.ResponseWriter, *http.Request) {})
	type key struct{}
	replacing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "id")))
	})
	serve(m.Middleware(replacing), "GET", "/clients/abc")
	want(t, scrape(t, m), map[string]float64{
		`latchkey_http_requests_total{code="200",route="unmatched"}`: 1,
	})
	// Middleware that passes the request on as it is does not.
	passing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		mux.ServeHTTP(w, r)
	})
	serve(m.Middleware(passing), "GET", "/clients/abc")
	want(t, scrape(t, m), map[string]float64{
		`latchkey_http_requests_total{code="200",route="GET /clients/{id}"}`: 1,
	})
}
