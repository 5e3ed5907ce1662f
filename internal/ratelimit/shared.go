package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// AnnounceLockout tells every process that key is refused until
	// until: the database logs it as a change, which each process's
	// Pool learns through Announced.
	AnnounceLockout(ctx context.Context, key string, until time.Time) error
}

// Failures is a Shared store kept in a database, which must drop the
// counts of windows that have ended.
type Failures interface {
	Shared
	// PruneFailures removes the counts whose windows ended before t.
	PruneFailures(ctx context.Context, t time.Time) error
}

// Pool is one process's part in the failure limits its instances share:
// the Store they count in, and the lockouts other processes announced,
// which refuse a key here before this process has seen it fail. One Pool
// serves every limiter of the process; a zero Pool's Store must be set
// before use.
//
// The pooled count alone already holds the limit in total: a failure
// past it, wherever it lands, is answered as refused. The announcements
// make a process refuse without checking anything, as the process that
// reached the limit does, from the moment it learns of the lockout
// (within milliseconds on PostgreSQL) rather than from the next failure
// it sees.
type Pool struct {
	Store Shared

	mu        sync.Mutex
	announced map[string]time.Time // shared key → end of its lockout
	// latest is when the last announced lockout ends, in Unix
	// nanoseconds, read without mu: past it there is nothing to learn.
	latest atomic.Int64
}

// maxAnnounced bounds the lockouts a Pool remembers. Past it the
// soonest to end is forgotten: its key is then refused from its next
// pooled failure instead.
const maxAnnounced = 4096

// Announced records that another process refused key, a shared key (see
// SharedKey), until until. The limiter of the key's scope refuses it too,
// from the key's next attempt.
func (p *Pool) Announced(key string, until time.Time, now time.Time) {
	if !until.After(now) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.announced == nil {
		p.announced = map[string]time.Time{}
	}
	if _, ok := p.announced[key]; !ok && len(p.announced) >= maxAnnounced {
		var soonest string
		for k, end := range p.announced {
			if !end.After(now) {
				delete(p.announced, k)
				continue
			}
			if soonest == "" || end.Before(p.announced[soonest]) {
				soonest = k
			}
		}
		if len(p.announced) >= maxAnnounced {
			delete(p.announced, soonest)
		}
	}
	if until.After(p.announced[key]) {
		p.announced[key] = until
	}
	if n := until.UnixNano(); n > p.latest.Load() {
		p.latest.Store(n)
	}
}

// take returns and forgets the announced lockout of key, if one is live.
func (p *Pool) take(key string, now time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	until, ok := p.announced[key]
	if ok {
		delete(p.announced, key)
	}
	return until, ok && until.After(now)
}

// Share makes l pool its failures in p, under keys of the given scope
// (which tells apart limiters that see the same key, such as a source
// address, with different thresholds), and returns l. A nil p shares
// nothing. Call it before l is used.
func (l *Limiter) Share(p *Pool, scope string) *Limiter {
	l.pool, l.scope = p, scope
	return l
}

// SharedKey is the key a failure is counted under in the Shared store:
// the scope and a SHA-256 of it and the limiter's key. Limiter keys may
// hold what a user typed (an email address), and none of it is stored.
func SharedKey(scope, key string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + key))
	return scope + ":" + hex.EncodeToString(sum[:])
}

// LockoutChange is how an announced lockout is written in the change
// log's key: the shared key and the lockout's end in Unix microseconds.
func LockoutChange(key string, until time.Time) string {
	return key + "@" + strconv.FormatInt(until.UnixMicro(), 10)
}

// ParseLockoutChange reverses LockoutChange; ok is false for a key it
// did not write.
func ParseLockoutChange(s string) (key string, until time.Time, ok bool) {
	key, micros, found := strings.Cut(s, "@")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !found || err != nil || key == "" {
		return "", time.Time{}, false
	}
	return key, time.UnixMicro(us).UTC(), true
}

// sharedTimeout bounds the wait for the Shared store to count one
// attempt's failures.
const sharedTimeout = 2 * time.Second

// learn turns the lockouts announced for keys into blocks of l's own
// table. It costs a hash per key only while some announced lockout is
// live.
func (l *Limiter) learn(now time.Time, keys []string) {
	if l.pool == nil || l.pool.latest.Load() <= now.UnixNano() {
		return
	}
	for _, k := range keys {
		if until, ok := l.pool.take(SharedKey(l.scope, k), now); ok {
			l.Block(now, until, k)
		}
	}
}

// Failed records that an attempt Attempt let through failed, in the
// Shared store, for every key. A key whose pooled count has reached the
// threshold is then refused here until its pooled window ends, though this
// process saw fewer of the failures, and the lockout is announced to the
// other processes. Failed returns the whole seconds to wait when a pooled
// count had already passed the threshold: other processes had used up the
// limit, and the attempt is to be answered as a refused one. Attempts
// Attempt refused are not failures and must not be passed here.
//
// Without a Pool, or when its Store fails (the database is down), Failed
// returns 0 and the count of this process is the limit: an outage neither
// fails the request nor lifts the limit. The store reports its outages
// itself, so nothing is logged here.
func (l *Limiter) Failed(ctx context.Context, now time.Time, keys ...string) int {
	if l.pool == nil || l.threshold <= 0 {
		return 0
	}
	// A caller who hangs up once the answer is decided must not keep the
	// failure from being counted; a database that does not answer must
	// not hold the response for long.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
	defer cancel()
	wait := time.Duration(0)
	for _, k := range keys {
		sk := SharedKey(l.scope, k)
		n, ends, err := l.pool.Store.CountFailure(ctx, sk, now, time.Duration(l.window))
		if err != nil {
			continue
		}
		if n >= l.threshold {
			l.Block(now, ends, k)
		}
		switch {
		case n == l.threshold:
			// Exactly one process sees the count reach the threshold;
			// should the announcement be lost, the count still refuses
			// the key wherever it next fails.
			_ = l.pool.Store.AnnounceLockout(ctx, sk, ends)
		case n > l.threshold:
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
