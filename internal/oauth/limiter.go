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

// maxBuckets bounds memory under a flood of distinct keys; past it the
// oldest state is dropped wholesale.
const maxBuckets = 200000

func newLimiter(threshold int, window time.Duration) *limiter {
	return &limiter{threshold: threshold, window: window, buckets: make(map[string]*bucket)}
}

// blocked returns the whole seconds to wait before any of keys may try
// again, or 0.
func (l *limiter) blocked(now time.Time, keys ...string) int {
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
		if w := b.start.Add(l.window).Sub(now); w > wait {
			wait = w
		}
	}
	if wait <= 0 {
		return 0
	}
	return int((wait + time.Second - 1) / time.Second)
}

// fail records one failure for each key.
func (l *limiter) fail(now time.Time, keys ...string) {
	if l.threshold <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > maxBuckets {
		l.buckets = make(map[string]*bucket)
	}
	for _, k := range keys {
		b := l.buckets[k]
		if b == nil || now.Sub(b.start) >= l.window {
			b = &bucket{start: now}
			l.buckets[k] = b
		}
		b.failures++
	}
}
