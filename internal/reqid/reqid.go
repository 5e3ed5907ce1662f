// Package reqid gives every HTTP request an ID that its log lines, its
// audit events and its response (the X-Request-Id header) share, so an
// operator can follow one request from a caller's report to the trail.
// It also places the request in a W3C trace (the traceparent header), so
// the log lines of a request can be found from a caller's tracing system.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// Header is the response header that carries the ID, and the request
// header a caller (or a proxy in front) may propose one in.
const Header = "X-Request-Id"

type key struct{}

// From returns the request ID of ctx, "" outside a request.
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context { return context.WithValue(ctx, key{}, id) }

// Middleware gives each request an ID: the caller's X-Request-Id when it
// is a short token of safe characters (so a log line or audit event never
// carries what a caller smuggled in), else a fresh random one. It also
// gives each request a trace: the caller's, as a valid traceparent names
// it, else a new one; and a span of this server's own. The response's
// traceparent names that span.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !valid(id) {
			id = New()
		}
		t := traceOf(r.Header)
		w.Header().Set(Header, id)
		w.Header().Set(TraceHeader, t.String())
		next.ServeHTTP(w, r.WithContext(WithTrace(With(r.Context(), id), t)))
	})
}

// New returns a random request ID.
func New() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func valid(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
