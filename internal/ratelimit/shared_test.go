package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// pool is a Shared store in memory, counting as the database does: a
// window from each key's first failure. Its announcements reach every
// process's Pool at once, as if each had read the change log.
type pool struct {
	mu        sync.Mutex
	rows      map[string]*poolRow
	err       error // returned by every call when set
	processes []*Pool
	announced int
	lost      bool // announcements reach no process
}

// process returns the Pool of one more process on p.
func (p *pool) process() *Pool {
	pp := &Pool{Store: p}
	p.processes = append(p.processes, pp)
	return pp
}

func (p *pool) AnnounceLockout(ctx context.Context, key string, until time.Time) error {
	if p.err != nil {
		return p.err
	}
	p.announced++
	k, u, ok := ParseLockoutChange(LockoutChange(key, until))
	if !ok || k != key || !u.Equal(until) {
		return fmt.Errorf("lockout %q, %s does not survive the change log", key, until)
	}
	for _, pp := range p.processes {
		if !p.lost {
			pp.Announced(k, u, epoch)
		}
	}
	return nil
}

type poolRow struct {
	failures int
	ends     time.Time
}

func (p *pool) CountFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, time.Time{}, p.err
	}
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	if p.rows == nil {
		p.rows = map[string]*poolRow{}
	}
	r := p.rows[key]
	if r == nil || !r.ends.After(now) {
		r = &poolRow{ends: now.Add(window)}
		p.rows[key] = r
	}
	r.failures++
	return r.failures, r.ends, nil
}

// guess is one wrong guess against l: the attempt, and its failure when
// it was let through. It returns the wait the caller is answered with, 0
// for a plain failure.
func guess(l *Limiter, now time.Time, keys ...string) int {
	if w := l.Attempt(now, keys...); w > 0 {
		return w
	}
	return l.Failed(context.Background(), now, keys...)
}

// Guesses spread over two processes meet the threshold in total: the
// fourth of three allowed is refused whichever process it reaches, and
// both refuse from then on. Announced, the lockout makes the other
// process refuse without a check; lost, the pooled count still answers
// the fourth failure as refused.
func TestSharedLimitHoldsInTotal(t *testing.T) {
	for _, lost := range []bool{false, true} {
		for _, lastOn := range []string{"a", "b"} {
			t.Run(fmt.Sprintf("fourth on %s, announcement lost %v", lastOn, lost), func(t *testing.T) {
				p := &pool{lost: lost}
				a, b := New(3, secs(60)).Share(p.process(), "test"), New(3, secs(60)).Share(p.process(), "test")
				on := map[string]*Limiter{"a": a, "b": b}
				at := func(s int) time.Time { return epoch.Add(secs(s)) }
				// a, b, a: three failures, none refused.
				for i, name := range []string{"a", "b", "a"} {
					if w := guess(on[name], at(i), "client:x"); w != 0 {
						t.Fatalf("failure %d on %s answered as refused (%d)", i+1, name, w)
					}
				}
				if p.announced != 1 {
					t.Fatalf("%d lockouts announced, want 1", p.announced)
				}
				if w := guess(on[lastOn], at(10), "client:x"); w != 50 {
					t.Fatalf("fourth failure on %s: wait %d, want 50 (the pooled window began at 0)", lastOn, w)
				}
				checked := 3 // failures the pool counted: attempts that were checked
				if lost && lastOn == "b" {
					checked = 4 // b had not heard, and had to check
				}
				if n := p.rows[SharedKey("test", "client:x")].failures; n != checked {
					t.Errorf("pooled %d failures, want %d", n, checked)
				}
				for name, l := range on {
					if w := l.Attempt(at(20), "client:x"); w != 40 && !(lost && name == "b" && lastOn == "a") {
						t.Errorf("%s after the limit: wait %d, want 40", name, w)
					}
				}
				for name, l := range on {
					if w := l.Attempt(at(60), "client:x"); w != 0 {
						t.Errorf("%s refuses after the pooled window ended: %d", name, w)
					}
				}
			})
		}
	}
}

// Refused attempts are not counted in the pool: a process that refuses
// a flood does not write it to the database.
func TestSharedCountsOnlyFailures(t *testing.T) {
	p := &pool{}
	l := New(2, secs(60)).Share(p.process(), "test")
	for range 10 {
		guess(l, epoch, "addr:1")
	}
	if n := p.rows[SharedKey("test", "addr:1")].failures; n != 2 {
		t.Errorf("pooled %d failures, want 2", n)
	}
}

// Two limiters with different thresholds may see the same key (a
// source address); their scopes keep their counts apart.
func TestSharedScopes(t *testing.T) {
	p := &pool{}
	strict, lax := New(2, secs(60)).Share(p.process(), "strict"), New(10, secs(60)).Share(p.process(), "lax")
	for range 2 {
		guess(strict, epoch, "addr:1")
	}
	for i := range 3 {
		if w := guess(lax, epoch, "addr:1"); w != 0 {
			t.Fatalf("lax failure %d refused: the scopes share a count", i+1)
		}
	}
}

// The pool holds no key in the clear: a key may be an email address.
func TestSharedKeysAreHashed(t *testing.T) {
	p := &pool{}
	l := New(5, secs(60)).Share(p.process(), "sign_in")
	guess(l, epoch, "login:ten_1:someone@example.com", "addr:192.0.2.1")
	for k := range p.rows {
		if strings.Contains(k, "example") || strings.Contains(k, "192.0.2") || !strings.HasPrefix(k, "sign_in:") {
			t.Errorf("pooled key %q", k)
		}
	}
	if len(p.rows) != 2 {
		t.Errorf("%d pooled keys, want 2", len(p.rows))
	}
}

// When the pool fails, as when the database is down, the process's own
// count is the limit and the failure is answered as one.
func TestSharedOutageFallsBackToLocal(t *testing.T) {
	p := &pool{err: fmt.Errorf("postgres: %w", errUnavailable)}
	l := New(3, secs(60)).Share(p.process(), "test")
	for i := range 3 {
		if w := guess(l, epoch, "client:x"); w != 0 {
			t.Fatalf("failure %d during the outage: wait %d", i+1, w)
		}
	}
	if w := guess(l, epoch, "client:x"); w != 60 {
		t.Fatalf("past the local limit during the outage: wait %d, want 60", w)
	}
}

var errUnavailable = errors.New("the database is unavailable")

// A caller who hangs up as soon as the answer is decided still has the
// failure counted.
func TestSharedCountsAfterHangUp(t *testing.T) {
	p := &pool{}
	l := New(3, secs(60)).Share(p.process(), "test")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Attempt(epoch, "client:x")
	l.Failed(ctx, epoch, "client:x")
	if r := p.rows[SharedKey("test", "client:x")]; r == nil || r.failures != 1 {
		t.Fatalf("pooled %+v, want one failure", r)
	}
}

// Block refuses a key until the given time, never for less than a block
// it already has, and leaves other keys alone.
func TestBlock(t *testing.T) {
	l := New(3, secs(60))
	at := func(s int) time.Time { return epoch.Add(secs(s)) }
	l.Attempt(at(0), "client:x") // a failure already counted
	l.Block(at(0), at(30), "client:x", "client:y")
	if w := l.Attempt(at(0), "client:x"); w != 30 {
		t.Errorf("client:x waits %d, want 30", w)
	}
	if w := l.Attempt(at(10), "client:y"); w != 20 {
		t.Errorf("client:y waits %d, want 20", w)
	}
	if w := l.Attempt(at(0), "client:z"); w != 0 {
		t.Errorf("an unblocked key waits %d", w)
	}
	l.Block(at(10), at(20), "client:x") // shorter: no effect
	if w := l.Attempt(at(25), "client:x"); w != 5 {
		t.Errorf("a shorter block shortened the first: wait %d, want 5", w)
	}
	if w := l.Attempt(at(30), "client:x"); w != 0 {
		t.Errorf("client:x still refused when its block ended: %d", w)
	}
	l.Block(at(40), at(40), "client:w") // already over
	if w := l.Attempt(at(40), "client:w"); w != 0 {
		t.Errorf("a block ending now refused: %d", w)
	}
	New(0, secs(60)).Block(at(0), at(30), "client:x") // limits nothing, panics not
}

// A Pool remembers a bounded number of announced lockouts, forgetting
// those that ended first, and none that has already ended.
func TestPoolAnnouncedIsBounded(t *testing.T) {
	p := &Pool{}
	p.Announced("k:over", epoch, epoch)
	if len(p.announced) != 0 || p.latest.Load() != 0 {
		t.Fatal("a lockout that has ended was remembered")
	}
	for i := range maxAnnounced + 10 {
		p.Announced(fmt.Sprintf("k:%d", i), epoch.Add(time.Hour+time.Duration(i)*time.Second), epoch)
	}
	if n := len(p.announced); n != maxAnnounced {
		t.Fatalf("%d lockouts remembered, want %d", n, maxAnnounced)
	}
	if _, ok := p.take("k:0", epoch); ok {
		t.Error("the lockout to end first was kept over later ones")
	}
	if _, ok := p.take(fmt.Sprintf("k:%d", maxAnnounced+9), epoch); !ok {
		t.Error("the latest lockout was forgotten")
	}
}

func TestParseLockoutChange(t *testing.T) {
	until := epoch.Add(90 * time.Second)
	key, got, ok := ParseLockoutChange(LockoutChange("client_auth:ab12", until))
	if !ok || key != "client_auth:ab12" || !got.Equal(until) {
		t.Errorf("round trip: %q %s %v", key, got, ok)
	}
	for _, bad := range []string{"", "k", "k@", "@123", "k@x1"} {
		if _, _, ok := ParseLockoutChange(bad); ok {
			t.Errorf("ParseLockoutChange(%q) accepted", bad)
		}
	}
}

// BenchmarkAttemptWhileLockoutAnnounced is an attempt on a limiter whose
// Pool holds a live announced lockout of another key: every attempt then
// hashes its keys to look for its own.
func BenchmarkAttemptWhileLockoutAnnounced(b *testing.B) {
	for _, announced := range []bool{false, true} {
		b.Run(fmt.Sprintf("announced=%v", announced), func(b *testing.B) {
			p := &Pool{}
			l := New(1<<30, time.Minute).Share(p, "client_auth")
			if announced {
				p.Announced(SharedKey("client_auth", "client:elsewhere"), epoch.Add(time.Hour), epoch)
			}
			addrs, clients := benchKeys("addr:", 1<<16), benchKeys("client:lkc_", 1<<16)
			for i := 0; b.Loop(); i++ {
				l.Attempt(epoch, addrs[i%len(addrs)], clients[i%len(clients)])
			}
		})
	}
}
