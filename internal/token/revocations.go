package token

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Revocations is an in-memory copy of the revocation list, so that
// checking a JWT's jti, or whether its subject was cut off, costs a map
// lookup rather than a database read. The zero value is an empty list
// ready to use; it is safe for concurrent use.
//
// It holds two kinds of entry: revoked token IDs (IsRevoked) and cut-offs,
// the revocations whose IssuedBefore is set (CutOff). Revocations are
// never withdrawn, so the list only grows, except that an entry is dropped
// once the tokens it names would have expired anyway. Load reads the whole
// list, at start; LoadIDs merges the few revocations another instance
// made since, as a change log names them.
type Revocations struct {
	mu   sync.RWMutex
	ids  map[string]time.Time // token ID → when the token expires
	cuts map[string]cutOff    // CutOffKey → the cut-off
}

// cutOff is a cut-off revocation as Revocations keeps it.
type cutOff struct {
	issuedBefore, expiresAt time.Time
}

// Load merges into r every revocation and cut-off s holds that expires
// after now, and drops entries that have expired. It merges rather than
// replaces so that a concurrent Add is never lost to a query that started
// before it.
func (r *Revocations) Load(ctx context.Context, s Store, now time.Time) error {
	list, err := s.Revocations(ctx, now)
	if err != nil {
		return fmt.Errorf("token: reading revocations: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	for _, rv := range list {
		r.addLocked(rv)
	}
	return nil
}

// LoadIDs merges into r the revocations s holds for the given IDs that
// expire after now: those other processes have just made. An ID is a
// token ID or, for a cut-off, its CutOffKey. IDs s does not hold are
// skipped (their revocation has expired and been pruned).
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
	for _, rv := range list {
		if rv.ExpiresAt.After(now) {
			r.addLocked(rv)
		}
	}
	return nil
}

// Add records a revocation or a cut-off made by this instance, taking
// effect at once. Call it after the revocation is stored, so that other
// instances learn of it on their next Load. Expired entries are dropped
// by Load and Prune, not here.
func (r *Revocations) Add(rv Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(rv)
}

// addLocked merges rv: an entry already held keeps the later ExpiresAt
// and, for a cut-off, the later IssuedBefore, so that neither an older
// copy read late nor a second cut-off can shorten one.
func (r *Revocations) addLocked(rv Revocation) {
	if rv.IssuedBefore.IsZero() {
		if r.ids == nil {
			r.ids = make(map[string]time.Time)
		}
		if old, ok := r.ids[rv.TokenID]; !ok || rv.ExpiresAt.After(old) {
			r.ids[rv.TokenID] = rv.ExpiresAt
		}
		return
	}
	if r.cuts == nil {
		r.cuts = make(map[string]cutOff)
	}
	c := cutOff{issuedBefore: rv.IssuedBefore, expiresAt: rv.ExpiresAt}
	if old, ok := r.cuts[rv.TokenID]; ok {
		c.issuedBefore = later(c.issuedBefore, old.issuedBefore)
		c.expiresAt = later(c.expiresAt, old.expiresAt)
	}
	r.cuts[rv.TokenID] = c
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// IsRevoked reports whether tokenID is revoked and its revocation still
// matters at now (the token has not expired). Cut-offs play no part.
func (r *Revocations) IsRevoked(tokenID string, now time.Time) bool {
	r.mu.RLock()
	exp, ok := r.ids[tokenID]
	r.mu.RUnlock()
	return ok && now.Before(exp)
}

// CutOff reports whether a token of subject, issued to clientID at
// issuedAt, is revoked by a cut-off that still matters at now (now is
// before its ExpiresAt): one of the subject's tokens of every client
// (CutOffKey(subject, "")) or of clientID (CutOffKey(subject, clientID)).
//
// The comparison is in whole seconds, as a JWT's iat is: a token is cut
// off when its issuedAt falls in the second of the cut-off's IssuedBefore
// or earlier. A token made in that second before the cut-off carries the
// same iat as one made after it, and must be refused; so tokens made in
// the rest of that second are refused too, and a client whose access was
// cut off and granted again within one second must ask again.
//
// It does not allocate, and costs one read lock when there are no
// cut-offs.
func (r *Revocations) CutOff(subject, clientID string, issuedAt, now time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.cuts) == 0 {
		return false
	}
	var buf [128]byte
	if r.cutLocked(appendCutOffKey(buf[:0], subject, ""), issuedAt, now) {
		return true
	}
	return clientID != "" && r.cutLocked(appendCutOffKey(buf[:0], subject, clientID), issuedAt, now)
}

func (r *Revocations) cutLocked(key []byte, issuedAt, now time.Time) bool {
	c, ok := r.cuts[string(key)] // the compiler makes no string for the lookup
	return ok && now.Before(c.expiresAt) && issuedAt.Unix() <= c.issuedBefore.Unix()
}

// appendCutOffKey appends CutOffKey(subject, clientID) to b.
func appendCutOffKey(b []byte, subject, clientID string) []byte {
	if clientID == "" {
		b = append(b, "sub:"...)
	} else {
		b = append(b, "grant:"...)
		b = append(b, clientID...)
		b = append(b, ':')
	}
	return append(b, subject...)
}

// Prune drops entries whose tokens expired at or before now.
func (r *Revocations) Prune(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
}

// Len returns the number of entries held, of both kinds, expired or not.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.ids) + len(r.cuts)
}

func (r *Revocations) pruneLocked(now time.Time) {
	for id, exp := range r.ids {
		if !now.Before(exp) {
			delete(r.ids, id)
		}
	}
	for key, c := range r.cuts {
		if !now.Before(c.expiresAt) {
			delete(r.cuts, key)
		}
	}
}
