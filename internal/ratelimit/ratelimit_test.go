package ratelimit

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(3, secs(60))
	at := func(s int) time.Time { return epoch.Add(secs(s)) }
	for range 3 {
		if w := l.Attempt(at(0), "client:a", "addr:1"); w != 0 {
			t.Fatalf("blocked too early: %d", w)
		}
	}
	if got := l.Attempt(at(0), "client:a"); got != 60 {
		t.Fatalf("Retry-After = %d, want 60", got)
	}
	if l.Attempt(at(0), "client:b") != 0 {
		t.Fatal("an unrelated key is blocked")
	}
	if got := l.Attempt(at(59), "client:c", "addr:1"); got != 1 {
		t.Fatalf("addr key: Retry-After = %d, want 1", got)
	}
	if l.Attempt(at(60), "client:a") != 0 {
		t.Fatal("still blocked after the window")
	}
	// Successes give their attempt back.
	for range 5 {
		l.Attempt(at(61), "client:d")
		l.Refund(at(61), "client:d")
	}
	if l.Attempt(at(61), "client:d") != 0 {
		t.Fatal("refunded attempts still counted")
	}
	// A refused attempt counts nothing, not even against its other keys.
	l.Attempt(at(61), "client:e")
	for range 2 { // client:a's window began at 60 with one failure
		if l.Attempt(at(61), "client:a", "addr:9") != 0 {
			t.Fatal("client:a refused early in its new window")
		}
	}
	for range 5 {
		if l.Attempt(at(61), "client:a", "client:e") == 0 {
			t.Fatal("client:a is over the limit")
		}
	}
	for range 2 { // client:e holds one failure, not six
		if l.Attempt(at(61), "client:e") != 0 {
			t.Fatal("refused attempts were counted against client:e")
		}
	}
	if l.Attempt(at(61), "client:e") == 0 {
		t.Fatal("client:e is over the limit")
	}
}

// Reset forgets a key's failures at once; other keys keep theirs.
func TestLimiterReset(t *testing.T) {
	l := New(3, secs(60))
	for range 3 {
		l.Attempt(epoch, "user:a", "user:b")
	}
	if l.Attempt(epoch, "user:a") == 0 || l.Attempt(epoch, "user:b") == 0 {
		t.Fatal("three failures did not lock")
	}
	l.Reset(epoch, "user:a")
	if w := l.Attempt(epoch, "user:a"); w != 0 {
		t.Errorf("after Reset the key waits %d", w)
	}
	if l.Attempt(epoch, "user:b") == 0 {
		t.Error("Reset of one key freed another")
	}
}

func TestLimiterZeroThresholdLimitsNothing(t *testing.T) {
	l := New(0, secs(60))
	for range 100 {
		if l.Attempt(epoch, "client:a") != 0 {
			t.Fatal("a limiter with no threshold refused")
		}
	}
}

func TestLimiterFloodKeepsLockouts(t *testing.T) {
	l := NewSized(3, secs(60), 1024)
	for range 3 {
		l.Attempt(epoch, "client:victim")
	}
	for i := range 50 * l.Capacity() { // a flood of fresh addresses
		l.Attempt(epoch.Add(time.Duration(i)), "addr:"+strconv.Itoa(i))
	}
	if l.Attempt(epoch, "client:victim") != 60 {
		t.Fatal("a flood of new keys lifted a lockout")
	}
	used := 0
	for i := range l.shards {
		for _, s := range l.shards[i].slots {
			if s.key != "" {
				used++
			}
		}
	}
	if used > l.Capacity() || l.Capacity() > 1024 {
		t.Fatalf("%d keys held, capacity %d", used, l.Capacity())
	}
}

func TestLimiterFullOfLockoutsFailsClosed(t *testing.T) {
	// One shard's set, filled with lockouts, refuses a new key of that set
	// until the first lockout ends, rather than let it go uncounted.
	l := NewSized(1, secs(60), 1) // one set of limiterWays per shard
	newKey := "client:new"
	target := l.locate(newKey).shard
	filled := 0
	for i := 0; filled < limiterWays; i++ {
		k := "addr:" + strconv.Itoa(i)
		if l.locate(k).shard != target {
			continue
		}
		if l.Attempt(epoch.Add(secs(filled)), k) != 0 {
			t.Fatalf("key %d refused on its first failure", filled)
		}
		filled++
	}
	if got := l.Attempt(epoch.Add(secs(10)), newKey); got != 50 {
		t.Fatalf("new key in a set of lockouts: Retry-After %d, want 50", got)
	}
	if got := l.Attempt(epoch.Add(secs(60)), newKey); got != 0 {
		t.Fatalf("after the first lockout ended: Retry-After %d, want 0", got)
	}
	// And the new key now counts: its next failure is refused.
	if got := l.Attempt(epoch.Add(secs(60)), newKey); got != 60 {
		t.Fatalf("the new key was not counted: Retry-After %d", got)
	}
}

func TestLimiterEvictsTheOldestCounter(t *testing.T) {
	l := NewSized(3, secs(60), 1)
	target := l.locate("client:x").shard
	var keys []string
	for i := 0; len(keys) < limiterWays+1; i++ {
		if k := "addr:" + strconv.Itoa(i); l.locate(k).shard == target {
			keys = append(keys, k)
		}
	}
	for i, k := range keys[:limiterWays] {
		l.Attempt(epoch.Add(secs(i)), k)
		l.Attempt(epoch.Add(secs(i)), k)
	}
	l.Attempt(epoch.Add(secs(20)), keys[limiterWays]) // evicts keys[0], the oldest
	l.Attempt(epoch.Add(secs(20)), keys[0])           // a fresh count, evicting keys[1]
	if l.Attempt(epoch.Add(secs(20)), keys[0]) != 0 {
		t.Fatal("an evicted key kept its old count")
	}
	if l.Attempt(epoch.Add(secs(20)), keys[2]) != 0 || l.Attempt(epoch.Add(secs(20)), keys[2]) == 0 {
		t.Fatal("a key that was not evicted lost its count")
	}
}

func TestLimiterConcurrentAttemptsAcrossShards(t *testing.T) {
	// Many goroutines guess one client from many addresses: the client's
	// count, taken under its shard's lock, admits exactly the threshold.
	l := New(10, secs(60))
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if l.Attempt(epoch, "addr:"+strconv.Itoa(g*100+i), "client:victim") == 0 {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if admitted != 10 {
		t.Fatalf("%d attempts admitted, want 10", admitted)
	}
}

func TestSourceKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"203.0.113.5", "addr:203.0.113.5"},
		{"::ffff:203.0.113.5", "addr:203.0.113.5"},
		{"2001:db8:1:2:3:4:5:6", "addr:2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "addr:2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "addr:2001:db8:1:3::/64"},
		{"fe80::1%eth0", "addr:fe80::/64"},
		{"not-an-ip", "addr:not-an-ip"},
	}
	for _, tt := range tests {
		if got := SourceKey(tt.addr); got != tt.want {
			t.Errorf("SourceKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// BenchmarkLimiterAttempt measures one failed attempt (a source address
// and a client ID, as the token endpoint counts) on a table that starts
// empty, on one full of counting keys, and on one full of lockouts, where
// every new key meets a set it cannot enter. The keys cycle through 65,536
// pairs, most of them new to the full tables.
func BenchmarkLimiterAttempt(b *testing.B) {
	const many = 1 << 30 // a threshold no measured key reaches
	for _, tc := range []struct {
		name      string
		threshold int
		fill      int // failures per filling key; 0 leaves the table empty
	}{{"empty", many, 0}, {"full-of-counters", many, 1}, {"full-of-lockouts", 3, 3}} {
		b.Run(tc.name, func(b *testing.B) {
			l := New(tc.threshold, time.Minute)
			if tc.fill > 0 {
				// Twice the capacity, so every set is full.
				for i := range 2 * l.Capacity() {
					k := "fill:" + strconv.Itoa(i)
					for range tc.fill {
						l.Attempt(epoch, k)
					}
				}
			}
			addrs, clients := benchKeys("addr:", 1<<16), benchKeys("client:lkc_", 1<<16)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				l.Attempt(epoch, addrs[i%len(addrs)], clients[i%len(clients)])
			}
		})
	}
}

// BenchmarkLimiterAttemptParallel is the full table of counters under
// attempts from every CPU at once, where the shards' locks matter.
func BenchmarkLimiterAttemptParallel(b *testing.B) {
	l := New(1<<30, time.Minute)
	for i := range 2 * l.Capacity() {
		l.Attempt(epoch, "fill:"+strconv.Itoa(i))
	}
	addrs, clients := benchKeys("addr:", 1<<16), benchKeys("client:lkc_", 1<<16)
	var mu sync.Mutex
	next := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		i := next * 7919
		next++
		mu.Unlock()
		for ; pb.Next(); i++ {
			l.Attempt(epoch, addrs[i%len(addrs)], clients[i%len(clients)])
		}
	})
}

func benchKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func secs(s int) time.Duration { return time.Duration(s) * time.Second }
