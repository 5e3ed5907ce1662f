package client

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync"
	"time"
)

func subtleEqual(a, b [sha256.Size]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// UsageRecorder coalesces what clients do on the hot path, in memory, and
// writes it in batches, so that authenticating a client, authorizing it or
// issuing it a token costs no database write: last-used times (Record),
// the latest authorization (RecordAuthorization) and the latest token
// issued (RecordToken). Of several observations of one kind between
// flushes only the latest is kept. It is safe for concurrent use.
type UsageRecorder struct {
	Repo Repository

	mu     sync.Mutex
	uses   map[[2]string]time.Time
	auths  map[string]Authorization
	tokens map[string]Issue
}

// Record notes that a client (and secret, if any) was used at t.
func (u *UsageRecorder) Record(clientID, secretID string, t time.Time) {
	k := [2]string{clientID, secretID}
	u.mu.Lock()
	if u.uses == nil {
		u.uses = make(map[[2]string]time.Time)
	}
	if t.After(u.uses[k]) {
		u.uses[k] = t
	}
	u.mu.Unlock()
}

// RecordAuthorization notes a client's authorization by a user; the
// latest (by a.At) is kept.
func (u *UsageRecorder) RecordAuthorization(clientID string, a Authorization) {
	u.mu.Lock()
	if u.auths == nil {
		u.auths = make(map[string]Authorization)
	}
	if old, ok := u.auths[clientID]; !ok || a.At.After(old.At) {
		u.auths[clientID] = a
	}
	u.mu.Unlock()
}

// RecordToken notes that a token was issued to a client by grant g at at;
// the latest is kept.
func (u *UsageRecorder) RecordToken(clientID string, g GrantType, at time.Time) {
	u.mu.Lock()
	if u.tokens == nil {
		u.tokens = make(map[string]Issue)
	}
	if old, ok := u.tokens[clientID]; !ok || at.After(old.At) {
		u.tokens[clientID] = Issue{At: at, Grant: g}
	}
	u.mu.Unlock()
}

// Flush writes what is pending: the uses through RecordUse, then the
// authorizations and tokens through RecordActivity. What a write fails
// to store is kept for the next flush (keeping the later observation
// where a newer one arrived meanwhile); the failures are returned joined.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	uses, auths, tokens := u.uses, u.auths, u.tokens
	u.uses, u.auths, u.tokens = nil, nil, nil
	u.mu.Unlock()
	var errs []error
	if len(uses) > 0 {
		batch := make([]Use, 0, len(uses))
		for k, t := range uses {
			batch = append(batch, Use{ClientID: k[0], SecretID: k[1], At: t})
		}
		if err := u.Repo.RecordUse(ctx, batch); err != nil {
			for k, t := range uses {
				u.Record(k[0], k[1], t)
			}
			errs = append(errs, err)
		}
	}
	if len(auths) > 0 || len(tokens) > 0 {
		acts := make([]Activity, 0, len(auths)+len(tokens))
		index := make(map[string]int, len(auths)+len(tokens))
		act := func(id string) *Activity {
			i, ok := index[id]
			if !ok {
				i = len(acts)
				index[id] = i
				acts = append(acts, Activity{ClientID: id})
			}
			return &acts[i]
		}
		for id, a := range auths {
			act(id).Authorization = &a
		}
		for id, t := range tokens {
			act(id).Token = &t
		}
		if err := u.Repo.RecordActivity(ctx, acts); err != nil {
			for id, a := range auths {
				u.RecordAuthorization(id, a)
			}
			for id, t := range tokens {
				u.RecordToken(id, t.Grant, t.At)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run flushes every interval until ctx ends, then flushes once more with a
// short deadline of its own so the last uses survive a graceful shutdown.
func (u *UsageRecorder) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := u.Flush(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := u.Flush(fctx); err != nil && onErr != nil {
				onErr(err)
			}
			cancel()
			return
		}
	}
}
