package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/reqid"
)

// Prefix is where the admin API is served for the default tenant; another
// tenant's is under its issuer, /t/{slug}/admin/v1.
const Prefix = "/admin/v1"

// MaxBody is the largest request body the API reads; a larger one is 413.
const MaxBody = 1 << 20

// Token is what an active access token presented to the API says: the
// tenant it was issued in, its subject, client and scopes. The protocol
// server checks the token (signature, issuer, audience, expiry,
// revocation); the API decides what it may do.
type Token struct {
	TenantID string
	// DefaultTenant says the tenant is the one the root issuer serves:
	// only its principals manage tenants.
	DefaultTenant bool
	Subject       string
	ClientID      string
	Scopes        []string
	// Client is the token's client, active at the time of the check.
	Client *client.Client
}

// Authenticator checks a bearer token presented to the tenant served at
// slug. It returns nil for a token that is not active there, an error
// wrapping errs.ErrNotFound when no tenant is served at slug, and other
// errors only when the server failed.
type Authenticator func(ctx context.Context, slug, token string) (*Token, error)

// AccountReader finds the user a token speaks for, and a tenant's custom
// roles.
type AccountReader interface {
	User(ctx context.Context, id string) (*account.User, error)
	authz.RoleSource
}

// API is the admin JSON API. Every operation goes through the same domain
// services the CLI uses, acting as the principal of the bearer token; the
// API adds only the HTTP: authentication, the problem-details error body,
// ETags, idempotency keys and streaming.
//
// Zero values: Now is time.Now, Logger discards, AuthFailures nil limits
// nothing.
type API struct {
	Clients *client.Service
	// Bulk runs bulk operations over the client list's filters.
	Bulk      *bulk.Service
	Users     *account.Users
	Tenants   *account.Tenants
	Roles     *account.Roles
	Divisions *account.Divisions
	// Notify reads expiry warnings and the outbox, and manages webhooks.
	Notify *notify.Service
	// MailLink is the console address a warning mail links to.
	MailLink func(notify.MailData) string
	// Accounts finds the users tokens speak for, and the tenants' custom
	// roles, which give their holders permissions.
	Accounts AccountReader
	// Catalogs, when set, caches the tenants' roles (the one the token
	// endpoint uses); without it each call holding a custom role reads
	// them from Accounts.
	Catalogs     *authz.Catalogs
	Audit        audit.Lister
	Idempotency  IdempotencyStore
	Authenticate Authenticator
	// Issuer is the root issuer, for the tenants' issuer URLs.
	Issuer string
	// AuthFailures limits failed authentications per source address: a
	// source over its threshold is answered 429 until its window ends.
	AuthFailures   *ratelimit.Limiter
	TrustedProxies []netip.Prefix
	// RequestKey keys the hashes by which an Idempotency-Key's request is
	// recognised; every instance of one deployment must share it.
	RequestKey []byte
	Now        func() time.Time
	Logger     *slog.Logger

	keyOnce sync.Once
	key     []byte
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// call is one authenticated request: who makes it, in which tenant.
type call struct {
	actor authz.Actor
	// slug is the tenant's path segment, "" for the default tenant.
	slug string
	// requestID ties the request's log lines and audit events together.
	requestID string
	// defaultTenant says the call is in the default tenant.
	defaultTenant bool
}

// handler serves one route; a returned error is written as a problem.
type handler func(a *API, w http.ResponseWriter, r *http.Request, c *call) error

// Route is one operation of the API, as the router serves it and the
// OpenAPI document describes it.
type Route struct {
	Method string
	// Path is below the prefix, with {name} wildcards.
	Path string
	// Permission is what the operation needs; "" for any valid token.
	Permission authz.Permission
	handle     handler
}

// Routes returns every operation the API serves.
func Routes() []Route { return append([]Route(nil), routes...) }

// Mount registers the API on mux, for the default tenant at Prefix and
// for every other at /t/{tenant}/admin/v1, plus a catch-all that answers
// unknown paths with a problem body.
func (a *API) Mount(mux *http.ServeMux) {
	for _, prefix := range []string{Prefix, "/t/{tenant}" + Prefix} {
		for _, rt := range routes {
			mux.Handle(rt.Method+" "+prefix+rt.Path, a.serve(rt))
		}
		mux.HandleFunc("GET "+prefix+"/openapi.json", serveOpenAPI)
		mux.HandleFunc(prefix+"/", a.unknown)
	}
}

// unknown answers a path no route serves: 405 when another method serves
// it, else 404.
func (a *API) unknown(w http.ResponseWriter, r *http.Request) {
	rest := r.URL.Path[strings.Index(r.URL.Path, Prefix)+len(Prefix):]
	var allow []string
	for _, rt := range routes {
		if matchPath(rt.Path, rest) {
			allow = append(allow, rt.Method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, NewProblem(http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint does not serve "+r.Method))
		return
	}
	writeProblem(w, NewProblem(http.StatusNotFound, "not_found", "no such endpoint"))
}

// matchPath reports whether path matches pattern, segment by segment,
// a {name} segment matching any one non-empty segment.
func matchPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
		} else if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// serve authenticates the request, checks the route's permission and runs
// it, writing any error as a problem.
func (a *API) serve(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := requestID(r)
		w.Header().Set(reqid.Header, reqID)
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		c, ok := a.authenticate(w, r, reqID)
		if !ok {
			return
		}
		if rt.Permission != "" && !holds(c.actor, rt.Permission) {
			a.fail(w, r, c, fmt.Errorf("%w: this needs the %s permission", errs.ErrForbidden, rt.Permission))
			return
		}
		if err := rt.handle(a, w, r, c); err != nil {
			a.fail(w, r, c, err)
		}
	})
}

// holds reports whether the actor holds p anywhere: tenant-wide or in
// one of its divisions. It is the route's gate; the domain service then
// decides for the records concerned.
func holds(actor authz.Actor, p authz.Permission) bool { return actor.RequireSome(p) == nil }

// fail writes err as a problem; an error the table does not know is
// logged (with the request ID the caller was given) and shown as 500.
func (a *API) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, NewProblem(http.StatusRequestEntityTooLarge, "too_large",
			"the request body is larger than "+strconv.Itoa(MaxBody)+" bytes"))
		return
	}
	var p *Problem
	if errors.As(err, &p) {
		writeProblem(w, *p)
		return
	}
	prob, known := Classify(err)
	if !known {
		a.log().ErrorContext(r.Context(), "admin API request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", c.requestID, "err", err)
	}
	writeProblem(w, prob)
}

// Error lets a handler return a ready Problem.
func (p *Problem) Error() string { return p.Code + ": " + p.Message }

func writeProblem(w http.ResponseWriter, p Problem) {
	// RFC 6750 §3: no error code when no token was sent.
	switch {
	case p.Code == "invalid_token":
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
	case p.Status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
	case p.Status == http.StatusForbidden:
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="insufficient_scope"`)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(errs.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// requestID returns the request's ID: the one the server gave it, or, for
// an API mounted without that middleware, a fresh one.
func requestID(r *http.Request) string {
	if id := reqid.From(r.Context()); id != "" {
		return id
	}
	return reqid.New()
}
