// Package idempotency is the record the admin API keeps of a create made
// with an Idempotency-Key header, so that a retried request returns the
// first response instead of creating twice. The storage adapters keep the
// records; the API decides what they mean.
package idempotency

import (
	"context"
	"time"
)

// Record is one key's request and, once it has finished, its response.
type Record struct {
	TenantID string
	// ActorID scopes a key to the principal that sent it: two callers
	// choosing the same key never see each other's responses.
	ActorID string
	Key     string
	// RequestHash identifies the request the key was first sent with:
	// the same key with another request is refused.
	RequestHash string
	// Status is the response's HTTP status, 0 while the first request is
	// still running.
	Status int
	// Body is the response as it may be replayed: never a secret.
	Body      []byte
	CreatedAt time.Time
	// ExpiresAt ends the record: a minute after a reservation (so a crash
	// mid-request frees the key), a day after completion.
	ExpiresAt time.Time
}

// Store keeps the records.
type Store interface {
	// ReserveIdempotency stores rec, as running, unless an unexpired
	// record with its tenant, actor and key exists: then it stores nothing
	// and returns that record. An expired record is replaced.
	ReserveIdempotency(ctx context.Context, rec *Record) (*Record, error)
	// CompleteIdempotency stores the response of a reserved record:
	// its Status, Body and ExpiresAt.
	CompleteIdempotency(ctx context.Context, rec *Record) error
	// ReleaseIdempotency removes a reservation whose request failed, so
	// the key can be retried.
	ReleaseIdempotency(ctx context.Context, tenantID, actorID, key string) error
	// PruneIdempotency removes the records expired before t.
	PruneIdempotency(ctx context.Context, t time.Time) error
}
