// Package ratelimit counts failures per key in fixed-memory windows: the
// failed client authentications of the token endpoint and the failed
// logins of the account pages are both limited by it. Instances on one
// database pool their failures (Pool, shared.go), so that a limit holds in
// total however a load balancer spreads the attempts.
package ratelimit

import (
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limiter counts failures per key (a client ID, a
// source address) in windows that start at a key's first failure. Once a
// key reaches the threshold within its window it is refused until the
// window ends; other keys are unaffected.
//
// The table has a fixed number of slots, so its memory and the cost of an
// attempt are bounded however many keys arrive: a key hashes (with a
// per-limiter random seed, so no one can aim at a slot) to one set of
// limiterWays slots in one shard, and an attempt looks at those slots only.
// A new key takes a free or expired slot of its set, else the slot of the
// oldest key that is not refused; a refused key is never evicted, so a
// flood of new keys cannot lift a lockout. Should every slot of a set hold
// a live lockout, a new key of that set is refused until the first of them
// ends: failing open there would let a flood switch the limit off.
type Limiter struct {
	threshold int
	window    int64 // nanoseconds
	seed      maphash.Seed
	shards    []limiterShard
	sets      uint64 // sets per shard

	pool  *Pool // nil: this process counts alone
	scope string
}

// limiterWays is the number of slots a key may occupy; a set is scanned
// whole on every attempt, so it stays small.
const limiterWays = 8

// limiterShards spreads the table over locks, so concurrent attempts on
// different keys rarely wait for each other. A power of two.
const limiterShards = 64

// defaultLimiterSlots is the table's capacity in keys when none is given:
// 40 bytes a slot (1.25 MiB in all, a shard's share allocated on its first
// use) plus the text of the keys held, which stays until its slot is
// taken by another key.
//
// The server runs six limiters in a budget of 64 MB. At 1<<18 keys each
// (10 MiB apiece, and their keys) the tables filled slowly with the
// addresses of a long soak, and became the larger part of the live heap:
// 68 MB resident after 25 minutes, still rising, where a full table is
// 60 MiB. At 1<<15 keys the six tables take 7.5 MiB, and the text of at
// most 32768 keys each (an address or an email and an address: tens of
// bytes).
//
// A smaller table loses nothing of what the limit promises: a refused key
// is never evicted, and should a flood of lockouts fill a key's set, the
// key is refused rather than let through. What the flood buys is that
// (a denial of service of the keys of that set) sooner: 4096 sets of 8
// locked-out keys, each at the limit's threshold of failures within its
// window. Instances on one database count in the database as well (Pool),
// whose table has no such bound.
const defaultLimiterSlots = 1 << 15

type limiterShard struct {
	mu    sync.Mutex
	slots []slot // allocated on first use: sets × limiterWays
}

// slot is one key's count. An empty slot has an empty key.
type slot struct {
	hash     uint64
	key      string
	start    int64 // Unix nanoseconds of the window's first failure
	failures int
}

// New returns a limiter of defaultLimiterSlots keys; a threshold of
// 0 or less limits nothing.
func New(threshold int, window time.Duration) *Limiter {
	return NewSized(threshold, window, defaultLimiterSlots)
}

// NewSized returns a limiter for about capacity keys, rounded down
// to whole sets of every shard (at least one each).
func NewSized(threshold int, window time.Duration, capacity int) *Limiter {
	sets := max(1, capacity/(limiterShards*limiterWays))
	return &Limiter{threshold: threshold, window: int64(window), seed: maphash.MakeSeed(),
		shards: make([]limiterShard, limiterShards), sets: uint64(sets)}
}

// Capacity is the number of keys the table holds.
func (l *Limiter) Capacity() int { return len(l.shards) * int(l.sets) * limiterWays }

// maxAttemptKeys bounds the keys of one attempt (a source address and a
// client ID today), so their locations need no allocation.
const maxAttemptKeys = 4

// located is where a key's set lives.
type located struct {
	key   string
	hash  uint64
	shard int
	set   []slot
}

func (l *Limiter) locate(key string) located {
	h := maphash.String(l.seed, key)
	return located{key: key, hash: h, shard: int(h % limiterShards)}
}

// Attempt counts one attempt against every key, unless one of them is
// already over the threshold: then it counts nothing and returns the whole
// seconds to wait. Checking and counting happen under the locks of every
// shard involved, taken in a fixed order, so concurrent attempts cannot all
// pass a threshold they jointly exceed.
func (l *Limiter) Attempt(now time.Time, keys ...string) int {
	if l.threshold <= 0 || len(keys) == 0 {
		return 0
	}
	l.learn(now, keys)
	var buf [maxAttemptKeys]located
	locs, unlock := l.lockKeys(&buf, keys)
	defer unlock()
	t := now.UnixNano()
	wait := int64(0)
	for i := range locs {
		lc := &locs[i]
		s := l.find(lc, t)
		switch {
		case s != nil && s.failures >= l.threshold:
			wait = max(wait, s.start+l.window-t)
		case s == nil:
			if w := l.roomless(lc.set, t); w > 0 {
				wait = max(wait, w)
			}
		}
	}
	if wait > 0 {
		return int((wait + int64(time.Second) - 1) / int64(time.Second))
	}
	for i := range locs {
		lc := &locs[i]
		if s := l.find(lc, t); s != nil {
			s.failures++
			continue
		}
		if s := l.victim(lc.set, t); s != nil {
			*s = slot{hash: lc.hash, key: lc.key, start: t, failures: 1}
		}
	}
	return 0
}

// lockKeys finds, in buf, the sets of up to maxAttemptKeys keys and locks
// their shards, in a fixed order; the caller must call unlock. buf is the
// caller's, so the hot path allocates nothing for it.
func (l *Limiter) lockKeys(buf *[maxAttemptKeys]located, keys []string) (locs []located, unlock func()) {
	if len(keys) > maxAttemptKeys {
		keys = keys[:maxAttemptKeys]
	}
	locs = buf[:len(keys)]
	for i, k := range keys {
		locs[i] = l.locate(k)
	}
	unlock = l.lock(locs)
	for i := range locs {
		locs[i].set = l.set(&locs[i])
	}
	return locs, unlock
}

// Refund takes back an attempt that succeeded.
func (l *Limiter) Refund(now time.Time, keys ...string) {
	l.forget(now, keys, func(failures int) int { return max(failures-1, 0) })
}

// Reset forgets the keys' failures: what they guarded was proved.
func (l *Limiter) Reset(now time.Time, keys ...string) {
	l.forget(now, keys, func(int) int { return 0 })
}

// forget sets the failures of each key's live counter to less(failures).
func (l *Limiter) forget(now time.Time, keys []string, less func(failures int) int) {
	if l.threshold <= 0 || len(keys) == 0 {
		return
	}
	var buf [maxAttemptKeys]located
	locs, unlock := l.lockKeys(&buf, keys)
	defer unlock()
	t := now.UnixNano()
	for i := range locs {
		if s := l.find(&locs[i], t); s != nil {
			s.failures = less(s.failures)
		}
	}
}

// lock takes the locks of the shards of locs once each, in shard order,
// and returns their release.
func (l *Limiter) lock(locs []located) func() {
	var held [maxAttemptKeys]int
	n := 0
	for _, lc := range locs {
		// Insert lc.shard into held[:n], kept sorted and free of repeats;
		// there are at most maxAttemptKeys of them.
		j := n
		for j > 0 && held[j-1] > lc.shard {
			j--
		}
		if j > 0 && held[j-1] == lc.shard {
			continue
		}
		copy(held[j+1:n+1], held[j:n])
		held[j] = lc.shard
		n++
	}
	for _, i := range held[:n] {
		l.shards[i].mu.Lock()
	}
	return func() {
		for _, i := range held[:n] {
			l.shards[i].mu.Unlock()
		}
	}
}

// set returns the slots lc's key may occupy. The shard's lock is held.
func (l *Limiter) set(lc *located) []slot {
	sh := &l.shards[lc.shard]
	if sh.slots == nil {
		sh.slots = make([]slot, int(l.sets)*limiterWays)
	}
	i := int((lc.hash/limiterShards)%l.sets) * limiterWays
	return sh.slots[i : i+limiterWays : i+limiterWays]
}

// find returns the live slot of lc's key, or nil.
func (l *Limiter) find(lc *located, t int64) *slot {
	for i := range lc.set {
		s := &lc.set[i]
		if s.hash == lc.hash && s.key == lc.key && s.key != "" && t-s.start < l.window {
			return s
		}
	}
	return nil
}

// victim returns the slot a new key takes: a free or expired one, else the
// oldest that refuses nothing; nil when every slot holds a live lockout.
func (l *Limiter) victim(set []slot, t int64) *slot {
	var oldest *slot
	for i := range set {
		s := &set[i]
		if s.key == "" || t-s.start >= l.window {
			return s
		}
		if s.failures < l.threshold && (oldest == nil || s.start < oldest.start) {
			oldest = s
		}
	}
	return oldest
}

// roomless returns how long until set has room for a new key, 0 when it
// has room now.
func (l *Limiter) roomless(set []slot, t int64) int64 {
	if l.victim(set, t) != nil {
		return 0
	}
	first := int64(0)
	for i := range set {
		if end := set[i].start + l.window - t; first == 0 || end < first {
			first = end
		}
	}
	return first
}

// SourceKey is the limiter key of a source address: IPv4 addresses (and
// IPv4-mapped IPv6 ones) count alone, IPv6 addresses by their /64, the
// smallest block a single subscriber is usually given; anything that is not
// an IP address counts as itself.
func SourceKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "addr:" + addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return "addr:" + ip.String()
	}
	p, _ := ip.Prefix(64)
	return "addr:" + p.String()
}

// SourceAddr is the address a request's failures are counted against: the
// peer's IP, or, when the peer is one of the trusted reverse proxies, the
// nearest address in X-Forwarded-For that is not one (a client can
// prepend anything to that header, so it is read from the right and only
// past trusted hops). A malformed hop counts against the proxy.
func SourceAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	ip, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(trusted, ip) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer
			}
			if !isTrusted(trusted, hop) {
				return hop.Unmap().String()
			}
		}
	}
	return peer
}

func isTrusted(trusted []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
