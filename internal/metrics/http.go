package metrics

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Unmatched is the route label of requests no ServeMux pattern matched
// (404s and the mux's own 405s): one series for every path nobody
// registered, however many a scanner tries.
const Unmatched = "unmatched"

// Middleware counts the requests next answers and times them, labelled by
// route: the ServeMux pattern that matched (Request.Pattern), never the
// path, which is unbounded and may carry IDs.
//
// A ServeMux records the pattern on the *http.Request it is handed, and
// Middleware reads it from its own request once next returns, so next
// must be the mux itself, or handlers that pass the mux the very request
// they were given. A middleware in between that replaces the request
// (r.WithContext, r.Clone) hides the pattern, and every request is then
// counted as Unmatched: wrap the mux, inside such middleware.
//
// The status is the one written; a response never written, or a
// connection hijacked, counts as 200, as net/http answers it. A handler
// that panics before writing counts as 500, what a recovering handler
// outside answers. A nil *Metrics returns next unchanged.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &responseWriter{ResponseWriter: w}
		returned := false
		defer func() {
			code := rw.code
			switch {
			case code != 0:
			case returned:
				code = http.StatusOK
			default: // next panicked
				code = http.StatusInternalServerError
			}
			route := routeOf(r)
			m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rw, r)
		returned = true
	})
}

// routeOf is the route label of a request the mux has handled.
func routeOf(r *http.Request) string {
	// For CONNECT, the mux's trailing-slash redirect reports the path it
	// redirects to as the pattern; Latchkey serves no CONNECT route.
	if r.Pattern == "" || r.Method == http.MethodConnect {
		return Unmatched
	}
	return r.Pattern
}

// responseWriter remembers the status written through it. It flushes and
// hijacks through the writer it wraps, and unwraps to it, so
// http.ResponseController reaches whatever else that writer offers.
type responseWriter struct {
	http.ResponseWriter
	code int // 0 until a final status is written
}

func (w *responseWriter) WriteHeader(code int) {
	// 1xx responses other than 101 are informational: the final status
	// is still to come.
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// FlushError flushes the wrapped writer, reporting that it cannot;
// http.ResponseController prefers it to Flush.
func (w *responseWriter) FlushError() error {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for callers that assert http.Flusher.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// Hijack takes over the connection when the wrapped writer allows it.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
)
