// Package metrics is what Latchkey tells Prometheus: HTTP requests by
// route, tokens issued, failed client authentications, the client cache,
// the change feed's lag, the expiry sweep and outbox, and the database
// and its connection pool.
//
// A Metrics has a registry of its own, so two servers in one process (as
// in tests) never share or collide on a series, and nothing is
// registered as a side effect of importing a package. Every recording
// method is safe on a nil *Metrics and records nothing, so packages take
// an optional Metrics and work unchanged without one.
//
// Labels are bounded by construction: routes are ServeMux patterns, never
// paths; reasons, grant types, caches and outcomes come from the code;
// client IDs are public identifiers bounded by the registered clients. No
// label ever carries a secret, a token or a code.
package metrics
