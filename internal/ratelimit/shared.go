package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Shared is where the limiters of several processes pool their failures:
// a table of the database they all use. Without it each process counts
// alone, and an attacker spreading guesses over n processes behind a load
// balancer gets n times the limit.
type Shared interface {
	// CountFailure adds one failure to key's count and returns the count
	// and when its window ends. The window is the one that began at the
	// key's first failure no more than window before now; when there is
	// none, a window of that length begins at now.
	CountFailure(ctx context.Context, key string, now time.Time, window time.Duration) (failures int, ends time.Time, err error)
}

// Share makes l pool its failures in s, under keys of the given scope
// (which tells apart limiters that see the same key, such as a source
// address, with different thresholds), and returns l. Call it before l is
// used.
func (l *Limiter) Share(s Shared, scope string) *Limiter {
	l.shared, l.scope = s, scope
	return l
}

// SharedKey is the key a failure is counted under in the Shared store:
// the scope and a SHA-256 of it and the limiter's key. Limiter keys may
// hold what a user typed (an email address), and none of it is stored.
func SharedKey(scope, key string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + key))
	return scope + ":" + hex.EncodeToString(sum[:])
}

// Failed records that an attempt Attempt let through failed, in the
// Shared store, for every key. A key whose pooled count has reached the
// threshold is then refused here until its pooled window ends, though this
// process saw fewer of the failures. Failed returns the whole seconds to
// wait when a pooled count had already passed the threshold: other
// processes had used up the limit, and the attempt is to be answered as a
// refused one. Attempts Attempt refused are not failures and must not be
// passed here.
//
// Without a Shared store, or when it fails (the database is down), Failed
// returns 0 and the count of this process is the limit: an outage neither
// fails the request nor lifts the limit. The store reports its outages
// itself, so nothing is logged here.
func (l *Limiter) Failed(ctx context.Context, now time.Time, keys ...string) int {
	if l.shared == nil || l.threshold <= 0 {
		return 0
	}
	wait := time.Duration(0)
	for _, k := range keys {
		n, ends, err := l.shared.CountFailure(ctx, SharedKey(l.scope, k), now, time.Duration(l.window))
		if err != nil {
			continue
		}
		if n >= l.threshold {
			l.Block(now, ends, k)
		}
		if n > l.threshold {
			wait = max(wait, ends.Sub(now))
		}
	}
	return int((wait + time.Second - 1) / time.Second)
}

// Block refuses the keys until until, as if each had reached the
// threshold in a window that ends then. A key already refused for longer
// stays so. A key that finds no room in the table is dropped: a set full
// of lockouts refuses new keys anyway.
func (l *Limiter) Block(now, until time.Time, keys ...string) {
	if l.threshold <= 0 || len(keys) == 0 || !until.After(now) {
		return
	}
	var buf [maxAttemptKeys]located
	locs, unlock := l.lockKeys(&buf, keys)
	defer unlock()
	t, start := now.UnixNano(), until.UnixNano()-l.window
	for i := range locs {
		lc := &locs[i]
		s := l.find(lc, t)
		if s == nil {
			if s = l.victim(lc.set, t); s == nil {
				continue
			}
			*s = slot{hash: lc.hash, key: lc.key}
		} else if s.failures >= l.threshold && s.start >= start {
			continue
		}
		s.start, s.failures = start, l.threshold
	}
}

// Failures is a Shared store kept in a database, which must drop the
// counts of windows that have ended.
type Failures interface {
	Shared
	// PruneFailures removes the counts whose windows ended before t.
	PruneFailures(ctx context.Context, t time.Time) error
}
