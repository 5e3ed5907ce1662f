// Package server assembles Latchkey's HTTP surface: the protocol endpoints,
// the management surfaces and the operator's probes, behind one handler
// that never lets a panic reach a client.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/reqid"
)

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// readier is a Pinger that knows whether its database is reachable
// without asking it: readiness is then answered from that, so probes
// under load neither wait for a connection behind requests (and flap to
// 503 with a healthy database) nor add to the connection attempts of an
// outage.
type readier interface {
	Ready() error
}

// Config is what the server is built from. Logger may be nil.
type Config struct {
	DB     Pinger
	Logger *slog.Logger
	// Mount registers further routes (the protocol, the admin API, the
	// console) on the server's mux.
	Mount []func(*http.ServeMux)
	// Wrap, when set, wraps the mux itself, inside the request ID,
	// recovery and header middleware, so it sees the request the mux
	// routed, pattern and all (metrics label requests by route).
	Wrap func(http.Handler) http.Handler
}

// New returns the server's root handler.
func New(c Config) http.Handler {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		check := c.DB.Ping
		if rd, ok := c.DB.(readier); ok {
			check = func(context.Context) error { return rd.Ready() }
		}
		if err := check(ctx); err != nil {
			if r.Context().Err() != nil {
				// The prober went away: that says nothing of the database.
				log.Debug("readiness check cancelled", "err", err)
				w.WriteHeader(statusClientClosedRequest)
				return
			}
			// The store logs the outage once; a line per probe would not
			// say more.
			log.Debug("readiness check failed", "err", err)
			w.Header().Set("Retry-After", strconv.Itoa(errs.RetryAfter))
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	for _, m := range c.Mount {
		m(mux)
	}
	var h http.Handler = mux
	if c.Wrap != nil {
		h = c.Wrap(mux)
	}
	return reqid.Middleware(recoverer(log, secure(h)))
}

// statusClientClosedRequest answers a request whose client went away
// before it was answered (nginx's status for the case): no one reads it,
// and it is no server error.
const statusClientClosedRequest = 499

// secure sets headers every response should carry.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a logged 500 with a generic body, so no
// stack trace or internal detail reaches a client.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte(`{"error":"server_error","error_description":"internal error"}` + "\n"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
