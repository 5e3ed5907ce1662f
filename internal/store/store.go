// Package store defines the one storage interface every backend implements,
// and opens the backend a database URL names. Backends live in sqlite/ and
// postgres/; storetest/ is the conformance suite they all pass.
//
// # One unit of work
//
// A change that spans domains commits whole or not at all: a client change
// with its audit event (and, as they arrive, its outbox row, the refresh
// token families a revoke ends, the tokens a replayed code issued). Each
// backend has exactly one transaction type, and the domain services receive
// it through their own Tx interface (client.Tx, run by InTx). A domain's Tx
// embeds small interfaces owned by the leaf packages of the other domains
// it must write with (audit.Appender today), never the store package or
// another domain's repository, and the backend's transaction implements
// all of them. So the services compose writes across domains, the domain
// packages stay free of SQL and of this package, and the adapters never
// reach across a transaction.
//
// This was chosen over handing services one store-wide Tx that is the
// union of every domain's writes: that type would grow with every domain
// and make each domain depend on all the others' record types. Inside each
// backend the transaction's methods are split by domain into files
// (client.go, audit.go, account.go, token.go), so no file becomes one
// sixty-method type.
package store

import (
	"context"
	"log/slog"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin/idempotency"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/registration"
	"github.com/latchkey/latchkey/internal/token"
)

// Store is everything Latchkey persists. Each method set is defined by the
// domain package that uses it; errors are that package's sentinels.
type Store interface {
	client.Repository
	audit.Reader
	audit.Lister
	account.Repository
	token.KeyStore
	token.Store
	token.Grants
	// Idempotency keeps the admin API's Idempotency-Key records.
	idempotency.Store
	// Log is the change log that triggers write with every committed
	// change to clients and their secrets (not last-used times), to the
	// revocation list and to the signing keys, so a process learns what in
	// its caches is stale.
	changes.Log
	// Store keeps expiry warnings, the outbox and webhooks.
	notify.Store
	// Store keeps dynamic client registrations and initial access
	// tokens; its writes are on client.Tx (registration.Tx).
	registration.Store
	// Failures pools the failure limits' counts of every process on
	// the database.
	ratelimit.Failures
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Health is what a backend whose database can go away (PostgreSQL, over
// the network) adds to Store: readiness without a round trip, and one log
// line per change of state.
type Health interface {
	// Ready returns nil while the database is reachable, as far as the
	// store knows without asking it.
	Ready() error
	// LogTo sends the store's changes of state to log.
	LogTo(log *slog.Logger)
}
