package oauth

import (
	"sync"
	"time"
)

// limiter counts failed client authentications per key (a client ID, a
// source address) in fixed windows. Once a key reaches the threshold within
// a window it is refused until the window ends; other keys are unaffected.
type limiter struct {
	threshold int
	window    time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	start    time.Time
	failures int
}

// maxBuckets bounds memory under a flood of distinct keys. Past it, buckets
// whose window ended or that are under the threshold are dropped; keys that
// are refused stay refused, so a flood cannot lift a lockout.
var maxBuckets = 200000

func newLimiter(threshold int, window time.Duration) *limiter {
	return &limiter{threshold: threshold, window: window, buckets: make(map[string]*bucket)}
}

// attempt counts one attempt against every key, unless one of them is
// already over the threshold: then it counts nothing and returns the whole
// seconds to wait. Checking and counting happen under one lock, so
// concurrent attempts cannot all pass a threshold they jointly exceed.
func (l *limiter) attempt(now time.Time, keys ...string) int {
	if l.threshold <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := time.Duration(0)
	for _, k := range keys {
		b := l.buckets[k]
		if b == nil || now.Sub(b.start) >= l.window || b.failures < l.threshold {
			continue
		}
		wait = max(wait, b.start.Add(l.window).Sub(now))
	}
	if wait > 0 {
		return int((wait + time.Second - 1) / time.Second)
	}
	if len(l.buckets) >= maxBuckets {
		l.evict(now)
	}
	for _, k := range keys {
		b := l.buckets[k]
		if b == nil || now.Sub(b.start) >= l.window {
			b = &bucket{start: now}
			l.buckets[k] = b
		}
		b.failures++
	}
	return 0
}

// refund takes back an attempt that succeeded.
func (l *limiter) refund(now time.Time, keys ...string) {
	if l.threshold <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if b := l.buckets[k]; b != nil && now.Sub(b.start) < l.window && b.failures > 0 {
			b.failures--
		}
	}
}

// evict drops every bucket that refuses nothing; if refused keys alone fill
// the table, it starts afresh rather than grow without bound.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.start) >= l.window || b.failures < l.threshold {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		l.buckets = make(map[string]*bucket)
	}
}
