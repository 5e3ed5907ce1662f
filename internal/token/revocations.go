package token

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Revocations is an in-memory copy of the revocation list, so that
// checking a JWT's jti costs a map lookup rather than a database read.
// The zero value is an empty list ready to use; it is safe for concurrent
// use.
//
// Revocations are never withdrawn, so the list only grows, except that an
// entry is dropped once the token it names would have expired anyway.
// Load reads the whole list, at start; LoadIDs merges the few revocations
// another instance made since, as a change log names them.
type Revocations struct {
	mu sync.RWMutex
	m  map[string]time.Time // token ID → when the token expires
}

// Load merges into r every revocation s holds that expires after now, and
// drops entries that have expired. It merges rather than replaces so that
// a concurrent Add is never lost to a query that started before it.
func (r *Revocations) Load(ctx context.Context, s Store, now time.Time) error {
	list, err := s.Revocations(ctx, now)
	if err != nil {
		return fmt.Errorf("token: reading revocations: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	if r.m == nil {
		r.m = make(map[string]time.Time, len(list))
	}
	for _, rv := range list {
		r.addLocked(rv)
	}
	return nil
}

// LoadIDs merges into r the revocations s holds for the given token IDs
// that expire after now: those other processes have just made. IDs s does
// not hold are skipped (their revocation has expired and been pruned).
func (r *Revocations) LoadIDs(ctx context.Context, s Store, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := s.RevocationsByID(ctx, ids)
	if err != nil {
		return fmt.Errorf("token: reading revocations: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]time.Time, len(list))
	}
	for _, rv := range list {
		if rv.ExpiresAt.After(now) {
			r.addLocked(rv)
		}
	}
	return nil
}

// Add records a revocation made by this instance, taking effect at once.
// Call it after the revocation is stored, so that other instances learn
// of it on their next Load. Expired entries are dropped by Load and
// Prune, not here.
func (r *Revocations) Add(rv Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]time.Time)
	}
	r.addLocked(rv)
}

func (r *Revocations) addLocked(rv Revocation) {
	if old, ok := r.m[rv.TokenID]; !ok || rv.ExpiresAt.After(old) {
		r.m[rv.TokenID] = rv.ExpiresAt
	}
}

// IsRevoked reports whether tokenID is revoked and its revocation still
// matters at now (the token has not expired).
func (r *Revocations) IsRevoked(tokenID string, now time.Time) bool {
	r.mu.RLock()
	exp, ok := r.m[tokenID]
	r.mu.RUnlock()
	return ok && now.Before(exp)
}

// Prune drops entries whose tokens expired at or before now.
func (r *Revocations) Prune(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
}

// Len returns the number of entries held, expired or not.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

func (r *Revocations) pruneLocked(now time.Time) {
	for id, exp := range r.m {
		if !now.Before(exp) {
			delete(r.m, id)
		}
	}
}
