package argon2id

import (
	"context"
	"runtime"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sync/semaphore"
)

// MaxMemory bounds, in KiB, the working memory of the argon2id computations
// running at once in this process: one computation with Default's
// parameters. A computation takes as much of it as its own memory, and all
// of it when it needs more (a hash made with Previous runs alone), so
// several small ones may run side by side but a burst of sign-ins cannot
// take a working set each.
//
// One at a time loses nothing on two cores: argon2id is bound by memory
// bandwidth, and two single-lane computations side by side ran slower
// together than one after the other (35 against 41 hashes a second on
// the two-core machine measured). The single lane leaves the second core to the other requests.
const MaxMemory = defaultMemory

// process is the one bound of the process. It is package state on
// purpose: memory is the process's, and every caller of Hash and Verify
// shares it whether or not it was handed a limiter.
var process = &limiter{max: MaxMemory, sem: semaphore.NewWeighted(MaxMemory), key: argon2.IDKey, collect: runtime.GC}

// limiter admits argon2id computations while their memory fits under a
// bound, in the order they asked (golang.org/x/sync/semaphore is FIFO, so
// a large computation is not starved by small ones).
type limiter struct {
	max int64
	sem *semaphore.Weighted
	// key derives; argon2.IDKey but in tests.
	key func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
	// collect, when set, runs after each computation of at least
	// collectFrom KiB, before the next may start: runtime.GC in the
	// process.
	collect func()
}

// collectFrom is the size of computation, in KiB, after which the process
// collects at once: Default's 19 MiB are over it, the tests' 1 MiB not.
//
// Without it the working set just dropped is still in the heap when the
// next computation allocates its own, and a collection running across
// several computations counts each as live (what is allocated during a
// cycle survives it): a burst of sign-ins measured 62 MB live for one
// 19 MiB working set at a time. Collecting at once frees it while little
// else is live, so the next computation reuses the same pages. It costs
// one collection of a small heap (1 to 3 ms in gctrace) per hash of about
// 25 ms.
const collectFrom = 4 << 10

func newLimiter(max int64, key func([]byte, []byte, uint32, uint32, uint8, uint32) []byte) *limiter {
	return &limiter{max: max, sem: semaphore.NewWeighted(max), key: key}
}

// derive computes the argon2id key of secret once its turn comes, or
// returns ctx's error when ctx ends first.
func (l *limiter) derive(ctx context.Context, secret, salt []byte, p Params) ([]byte, error) {
	w := min(int64(p.Memory), l.max)
	if err := l.sem.Acquire(ctx, w); err != nil {
		return nil, err
	}
	defer l.sem.Release(w)
	key := l.key(secret, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if l.collect != nil && p.Memory >= collectFrom {
		l.collect()
	}
	return key, nil
}
