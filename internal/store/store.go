// Package store defines the one storage interface every backend implements,
// and opens the backend a database URL names. Backends live in sqlite/ and
// postgres/; storetest/ is the conformance suite they all pass.
package store

import (
	"context"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/token"
)

// Store is everything Latchkey persists. Each method set is defined by the
// domain package that uses it; errors are that package's sentinels.
type Store interface {
	client.Repository
	account.Repository
	token.KeyStore
	token.Store
	// Log is the change log that triggers write with every committed
	// change to clients and their secrets (not last-used times), to the
	// revocation list and to the signing keys, so a process learns what in
	// its caches is stale.
	changes.Log
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}
