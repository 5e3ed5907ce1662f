package changes

import (
	"context"
	"time"
)

// Kind is what a logged change is about. Its values are the kind column
// of the change log.
type Kind string

// The kinds of change the database logs.
const (
	// Client is a change to a client or one of its secrets; Key is the
	// client ID.
	Client Kind = "client"
	// Revocation is a token added to the revocation list (or its expiry
	// extended); Key is the token ID.
	Revocation Kind = "revocation"
	// SigningKey is a signing key made, promoted, retired or pruned; Key
	// is the key's tenant ID, or "" when every key set may have changed.
	SigningKey Kind = "signing_key"
	// Role is a tenant's custom role created, changed or deleted; Key is
	// the tenant ID.
	Role Kind = "role"
	// Lockout is a failure limit one process saw reached, so that the
	// others refuse the key too; Key is the shared key and the lockout's
	// end, written by ratelimit.LockoutChange.
	Lockout Kind = "lockout"
)

// Change is one row of the change log.
type Change struct {
	// Seq orders the log. Seqs grow, but on PostgreSQL rows may become
	// visible out of seq order, and seqs of rolled-back transactions are
	// never seen.
	Seq  int64
	Kind Kind
	Key  string
}

// Log is the change log a store keeps. Triggers write it in the
// transaction of each change.
type Log interface {
	// Changes returns, in seq order, at most limit changes whose seq is
	// greater than after or is one of missing.
	Changes(ctx context.Context, after int64, missing []int64, limit int) ([]Change, error)
	// LatestChangeSeqs returns the seqs of the n most recent changes,
	// highest first.
	LatestChangeSeqs(ctx context.Context, n int) ([]int64, error)
	// PruneChanges deletes changes logged before t, except the latest,
	// which stays so that a reader starting later learns where the log
	// stands.
	PruneChanges(ctx context.Context, t time.Time) error
}

// Batch is what a Source hands its Applier at once.
type Batch struct {
	// Changes are new since the last batch, in seq order as far as it is
	// known. A change may be delivered again; applying it twice must be
	// harmless.
	Changes []Change
	// Resync means changes may have been missed: every cache must be
	// reloaded or dropped, as at start.
	Resync bool
}

// Applier brings a process's caches up to date with a Batch. An error
// means the batch may be only partly applied; the Source then asks for a
// Resync in its next batch.
type Applier interface {
	Apply(ctx context.Context, b Batch) error
}

// ApplierFunc adapts a function to Applier.
type ApplierFunc func(ctx context.Context, b Batch) error

// Apply calls f.
func (f ApplierFunc) Apply(ctx context.Context, b Batch) error { return f(ctx, b) }

// Source delivers the changes every process commits to one Applier.
type Source interface {
	// Run hands batches to a until ctx ends, reporting failures (to read
	// the log, or to apply a batch) to onErr and carrying on. It returns
	// when ctx ends.
	Run(ctx context.Context, a Applier, onErr func(error))
}
