package argon2id

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	h, err := Hash(rand.Reader, "correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, Prefix+"v=19$m=1024,t=1,p=1$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := Verify(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right secret: %v %v", ok, err)
	}
	if ok, err := Verify(h, "correct horsf"); ok || err != nil {
		t.Fatalf("wrong secret: %v %v", ok, err)
	}
	h2, _ := Hash(rand.Reader, "correct horse", cheap)
	if h2 == h {
		t.Fatal("two hashes of one secret share a salt")
	}
}

func TestVerifyRefusesMalformedAndAbusiveHashes(t *testing.T) {
	for _, h := range []string{
		"", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=x,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$a2V5", // key too short
		// Parameters a tampered row might carry to make checks expensive.
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=999,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=1,p=0$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
	} {
		if ok, err := Verify(h, "x"); ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, %v", h, ok, err)
		}
	}
}

func TestDefaultParameters(t *testing.T) {
	// OWASP's first equivalent option; see Default for why.
	if want := (Params{Time: 2, Memory: 19456, Threads: 1, KeyLen: 32}); Default != want {
		t.Fatalf("Default = %+v, want %+v", Default, want)
	}
	if MaxMemory < Default.Memory || MaxMemory >= 2*Default.Memory {
		t.Fatalf("MaxMemory %d KiB admits other than one Default computation (%d KiB) at a time", MaxMemory, Default.Memory)
	}
	h, err := Hash(rand.Reader, "correct horse", Default)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, Prefix+"v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := Verify(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right secret: %v %v", ok, err)
	}
	if NeedsRehash(h, Default) {
		t.Fatal("a Default hash needs rehashing under Default")
	}
}

// A hash stored before Default changed (m=65536,t=3,p=2) keeps verifying:
// the PHC string carries its parameters.
func TestPreviousDefaultHashVerifies(t *testing.T) {
	b, err := os.ReadFile("testdata/previous-default.txt")
	if err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(string(b))
	if !strings.HasPrefix(h, Prefix+"v=19$m=65536,t=3,p=2$") {
		t.Fatalf("fixture %q", h)
	}
	if ok, err := Verify(h, "correct horse battery staple"); !ok || err != nil {
		t.Fatalf("right secret: %v %v", ok, err)
	}
	if ok, err := Verify(h, "correct horse battery stapler"); ok || err != nil {
		t.Fatalf("wrong secret: %v %v", ok, err)
	}
	if !NeedsRehash(h, Default) || NeedsRehash(h, Previous) {
		t.Fatal("NeedsRehash does not tell the previous parameters from the new")
	}
	if !NeedsRehash("not a hash", Default) {
		t.Fatal("a malformed hash needs no rehash")
	}
}

// counter stands in for argon2.IDKey: it holds each computation for a
// moment and records how much memory, and how many, ran at once.
type counter struct {
	mem, n       atomic.Int64
	maxMem, maxN atomic.Int64
	big          atomic.Bool // one over the bound is running
	shared       atomic.Bool // one over the bound ran beside another
	hold         time.Duration
	bound        int64
}

func (c *counter) key(_, _ []byte, _, memory uint32, _ uint8, keyLen uint32) []byte {
	m, n := c.mem.Add(int64(memory)), c.n.Add(1)
	storeMax(&c.maxMem, m)
	storeMax(&c.maxN, n)
	over := int64(memory) > c.bound
	if c.big.Load() || over && n != 1 {
		c.shared.Store(true)
	}
	if over {
		c.big.Store(true)
	}
	time.Sleep(c.hold)
	if over {
		c.big.Store(false)
	}
	c.mem.Add(-int64(memory))
	c.n.Add(-1)
	return make([]byte, keyLen)
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func TestLimiterBoundsMemoryInFlight(t *testing.T) {
	c := &counter{hold: 2 * time.Millisecond, bound: 8}
	l := newLimiter(c.bound, c.key)
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			// 1, 2 and 4 KiB side by side up to 8; 20 KiB over the bound, alone.
			m := []uint32{1, 2, 4, 20}[i%4]
			if _, err := l.derive(context.Background(), nil, nil, Params{Time: 1, Memory: m, Threads: 1, KeyLen: 32}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.shared.Load() {
		t.Error("a computation over the bound ran beside another")
	}
	// The oversize one counts its full 20 KiB while alone.
	if got := c.maxMem.Load(); got > 20 {
		t.Errorf("%d KiB in flight at once", got)
	}
	if c.maxN.Load() < 2 {
		t.Error("small computations never ran side by side: the bound is a mutex")
	}
}

func TestProcessRunsOneDefaultAtATime(t *testing.T) {
	c := &counter{hold: 5 * time.Millisecond, bound: MaxMemory}
	saved := process
	process = newLimiter(MaxMemory, c.key)
	t.Cleanup(func() { process = saved })
	h, err := Hash(rand.Reader, "x", cheap)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = Hash(rand.Reader, "correct horse", Default)
			} else {
				_, err = Verify(h, "x") // 1 MiB: it would fit beside nothing but another
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Hashes at Default with cheap verifications (1 MiB) squeezed beside
	// them would be over the bound; the bound says at most MaxMemory.
	if got := c.maxMem.Load(); got > MaxMemory {
		t.Errorf("%d KiB of argon2id in flight, over MaxMemory %d", got, MaxMemory)
	}
}

func TestWaitingEndsWithContext(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	l := newLimiter(MaxMemory, func(_, _ []byte, _, _ uint32, _ uint8, n uint32) []byte {
		started <- struct{}{}
		<-release
		return make([]byte, n)
	})
	saved := process
	process = l
	t.Cleanup(func() { process = saved })
	done := make(chan error, 1)
	go func() { _, err := Hash(rand.Reader, "first", Default); done <- err }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := HashContext(ctx, rand.Reader, "second", Default); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HashContext while busy: %v, want the deadline", err)
	}
	h := Prefix + "v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"
	if ok, err := VerifyContext(ctx, h, "second"); ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyContext while busy: %v %v, want the deadline", ok, err)
	}
	// A malformed hash is refused at once, even while busy.
	if _, err := VerifyContext(ctx, "$argon2id$bad", "x"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed while busy: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The turn given up is not lost: the next computation runs.
	go func() { <-started }()
	if _, err := HashContext(context.Background(), rand.Reader, "third", Default); err != nil {
		t.Fatal(err)
	}
}
