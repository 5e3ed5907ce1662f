package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// AuthFailure says why a client failed to authenticate. Its Error is the
// same for an unknown client and a wrong secret, so callers that show it
// reveal nothing about which client IDs exist.
type AuthFailure struct {
	Reason AuthFailureReason
	// Proven is set when the caller presented a valid secret, and may
	// therefore be told the precise reason.
	Proven bool
}

// AuthFailureReason is the precise reason, for logs, metrics and audit.
type AuthFailureReason string

const (
	FailUnknownClient AuthFailureReason = "unknown_client"
	FailWrongSecret   AuthFailureReason = "wrong_secret"
	FailNoSecret      AuthFailureReason = "no_secret"
	FailExpiredSecret AuthFailureReason = "expired_secret"
	FailInactive      AuthFailureReason = "client_inactive"
	FailRevoked       AuthFailureReason = "client_revoked"
	FailPublicSecret  AuthFailureReason = "public_client_secret"
)

func (f *AuthFailure) Error() string {
	if !f.Proven {
		return "client authentication failed"
	}
	switch f.Reason {
	case FailExpiredSecret:
		return "the client secret has expired; rotate it to restore access"
	case FailInactive:
		return "the client is inactive"
	case FailRevoked:
		return "the client has been revoked"
	}
	return "client authentication failed"
}

// ErrBusy means too many slow (argon2id) secret checks are running at once;
// the caller should retry shortly.
var ErrBusy = errors.New("too many secret checks at once")

// Authenticator checks client credentials on the token hot path. Clients
// and their secrets' hashes are cached (Invalidate drops an entry; TTL
// bounds staleness of changes made by other processes), generated secrets
// cost one SHA-256, and argon2id results for admin-supplied secrets are
// remembered, keyed by a digest of the presented secret.
//
// IDs that name no client are remembered apart, in a smaller cache of
// their own, so a flood of made-up IDs costs one read per ID and TTL, and
// cannot push real clients out. Each cache is bounded; when one is full, a
// new entry replaces the stalest of a few sampled at random, so eviction
// costs a constant and never drops the cache wholesale.
//
// Failures that could have been an argon2id check are padded (see
// Authenticate), so response times do not tell which client IDs exist.
type Authenticator struct {
	Repo Repository
	Now  func() time.Time
	// TTL is how long a cached client is trusted; 0 means 5 seconds and
	// a negative TTL disables the cache.
	TTL time.Duration
	// SlowChecks bounds concurrent argon2id checks (64 MiB each); 0 means
	// 2. A check waits at most a second for its turn, then fails ErrBusy.
	SlowChecks int
	// MaxClients bounds the cache of clients; 0 means 100,000.
	// MaxUnknown bounds the cache of IDs that name no client; 0 means
	// 10,000.
	MaxClients, MaxUnknown int
	// Sleep waits out the pad of a failed authentication and returns
	// early when ctx ends; nil means a timer.
	Sleep func(ctx context.Context, d time.Duration)
	// Metrics is told of cache hits, misses and invalidations; nil tells
	// nobody.
	Metrics CacheMetrics

	slowOnce sync.Once
	slow     chan struct{}

	mu      sync.RWMutex
	cache   map[string]*authEntry
	unknown map[string]time.Time // ID → when it was found to name no client
	// gen grows with every invalidation, so a load that began before one
	// does not put what it read back into the cache.
	gen uint64

	// verified remembers, per secret ID, the stored hash and the digest of
	// the admin-supplied secret that last matched it under argon2id. It
	// outlives cache entries: reloading a client must not make its owner
	// pay (or be refused) an argon2id run again.
	verifiedMu sync.Mutex
	verified   map[string]verifiedSecret

	slowTimes slowTimes
}

// CacheMetrics counts what the Authenticator's caches do;
// *metrics.Metrics is one. The domain names only this, so that it imports
// no HTTP.
type CacheMetrics interface {
	// CacheLookup counts a lookup in cache, answered from it or not.
	CacheLookup(cache string, hit bool)
	// CacheInvalidated counts an invalidation that dropped n entries.
	CacheInvalidated(cache string, n int)
}

// The caches as CacheMetrics names them. A hit in the cache of unknown
// IDs is counted apart, as it answers a made-up or deleted ID; a miss, and
// an invalidation (which drops entries of both), count as the clients
// cache's.
const (
	cacheClients = "clients"
	cacheUnknown = "unknown_clients"
)

func (a *Authenticator) cacheLookup(cache string, hit bool) {
	if a.Metrics != nil {
		a.Metrics.CacheLookup(cache, hit)
	}
}

func (a *Authenticator) cacheInvalidated(n int) {
	if a.Metrics != nil {
		a.Metrics.CacheInvalidated(cacheClients, n)
	}
}

type authEntry struct {
	client   *Client
	secrets  []Secret
	loadedAt time.Time
}

type verifiedSecret struct {
	hash   string
	digest [sha256.Size]byte
}

// Default bounds of the caches. maxVerified bounds remembered argon2id
// matches, one per admin-supplied secret in use.
const (
	defaultMaxClients = 100000
	defaultMaxUnknown = 10000
	maxVerified       = 100000
)

// Invalidate forgets a client, so the next authentication reads it afresh.
func (a *Authenticator) Invalidate(id string) {
	a.mu.Lock()
	n := len(a.cache) + len(a.unknown)
	delete(a.cache, id)
	delete(a.unknown, id)
	n -= len(a.cache) + len(a.unknown)
	a.gen++
	a.mu.Unlock()
	a.cacheInvalidated(n)
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// InvalidateAll forgets every client: another process changed some.
func (a *Authenticator) InvalidateAll() {
	a.mu.Lock()
	n := len(a.cache) + len(a.unknown)
	a.cache, a.unknown = nil, nil
	a.gen++
	a.mu.Unlock()
	a.cacheInvalidated(n)
}

// Current returns a client and its secrets through the cache, or
// ErrNotFound. The results are shared with the cache: do not modify them.
func (a *Authenticator) Current(ctx context.Context, id string) (*Client, []Secret, error) {
	e, err := a.entry(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if e == nil {
		return nil, nil, ErrNotFound
	}
	return e.client, e.secrets, nil
}

// entry returns the client id names, through the caches; nil when there is
// no such client.
func (a *Authenticator) entry(ctx context.Context, id string) (*authEntry, error) {
	now := a.now()
	ttl := a.TTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	fresh := func(at time.Time) bool { return ttl > 0 && now.Sub(at) < ttl && !now.Before(at) }
	a.mu.RLock()
	e, gen := a.cache[id], a.gen
	missedAt, missed := a.unknown[id]
	a.mu.RUnlock()
	if e != nil && fresh(e.loadedAt) {
		a.cacheLookup(cacheClients, true)
		return e, nil
	}
	if missed && fresh(missedAt) {
		a.cacheLookup(cacheUnknown, true)
		return nil, nil
	}
	a.cacheLookup(cacheClients, false)
	c, err := a.Repo.Client(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		c = nil
	case err != nil:
		return nil, err
	}
	e = nil
	if c != nil {
		e = &authEntry{client: c, loadedAt: now}
		if e.secrets, err = a.Repo.Secrets(ctx, id); err != nil {
			return nil, err
		}
	}
	if ttl < 0 {
		return e, nil
	}
	a.mu.Lock()
	if a.gen == gen {
		if e == nil {
			delete(a.cache, id)
			a.unknown = remember(a.unknown, id, now, limit(a.MaxUnknown, defaultMaxUnknown),
				func(at time.Time) time.Time { return at })
		} else {
			delete(a.unknown, id)
			a.cache = remember(a.cache, id, e, limit(a.MaxClients, defaultMaxClients),
				func(e *authEntry) time.Time { return e.loadedAt })
		}
	}
	a.mu.Unlock()
	return e, nil
}

func limit(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// evictionSample is how many entries a full cache looks at to choose the
// one a new entry replaces.
const evictionSample = 4

// remember sets m[k] = v in a map of at most bound entries (allocating it if
// nil) and returns the map. When k is new and m full, it first deletes the
// stalest (by the time at gives) of evictionSample entries that Go's map
// iteration, which starts at a random place, yields first: bounded work,
// and never more than one entry lost.
func remember[V any](m map[string]V, k string, v V, bound int, at func(V) time.Time) map[string]V {
	if m == nil {
		m = make(map[string]V)
	}
	if _, ok := m[k]; !ok && len(m) >= bound {
		var (
			victim string
			oldest time.Time
			seen   int
		)
		for key, val := range m {
			if t := at(val); seen == 0 || t.Before(oldest) {
				victim, oldest = key, t
			}
			if seen++; seen == evictionSample {
				break
			}
		}
		delete(m, victim)
	}
	m[k] = v
	return m
}

// dummyHash equalises the work done for unknown clients with a wrong-secret
// check, so response times do not reveal which client IDs exist.
const dummyHash = "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// Authenticate checks a confidential client's secret and returns the client
// and the secret that matched. With allowSlow false, secrets hashed with
// argon2id are checked only against remembered results: callers pass false
// for a caller over its failure limit. A failure is an *AuthFailure; other
// errors are ErrBusy or come from the repository.
//
// With allowSlow, a failure that could have been an argon2id check (an
// unknown client, a public client sent a secret, a wrong secret of any
// kind) returns no sooner than Pad after the call began: it waits, on a
// timer and not the CPU, for whatever part of Pad the check did not take.
// An unknown ID and a wrong generated secret then answer about as late as a
// wrong admin-chosen one, and no argon2id run is spent on either. Failures
// with allowSlow false, and failures of a caller who proved the secret, are
// not padded.
func (a *Authenticator) Authenticate(ctx context.Context, id, secret string, allowSlow bool) (*Client, *Secret, error) {
	start := a.now()
	c, match, slow, err := a.authenticate(ctx, id, secret, allowSlow)
	if slow {
		// The whole call, not argon2id alone: what the pad must match is
		// how late a real check answers.
		a.ObserveSlowCheck(a.now().Sub(start))
	}
	var f *AuthFailure
	if errors.As(err, &f) && allowSlow && !f.Proven {
		if !slow {
			// Wait for a turn at argon2id as a real check would, and give
			// it back at once: when every turn is taken, an unknown ID or
			// a wrong generated secret must meet ErrBusy as an
			// admin-chosen secret does, or the busy answer would tell them
			// apart.
			if err := a.acquireSlow(ctx); err != nil {
				return nil, nil, err
			}
			<-a.slow
		}
		a.pad(ctx, start)
	}
	return c, match, err
}

// authenticate is Authenticate without the pad; slow reports whether an
// argon2id check ran.
func (a *Authenticator) authenticate(ctx context.Context, id, secret string, allowSlow bool) (_ *Client, _ *Secret, slow bool, _ error) {
	e, err := a.entry(ctx, id)
	if err != nil {
		return nil, nil, slow, err
	}
	now := a.now()
	if e == nil {
		VerifySecret(dummyHash, secret)
		return nil, nil, false, &AuthFailure{Reason: FailUnknownClient}
	}
	c := e.client
	if c.Type == Public {
		return c, nil, false, &AuthFailure{Reason: FailPublicSecret}
	}
	var match *Secret
	for i := range e.secrets {
		s := &e.secrets[i]
		// A revoked secret, or one whose grace period is over, can never
		// match usefully: skip it rather than pay for its hash.
		if s.Status == SecretRevoked || (s.Status == SecretRetiring && s.Expired(now)) {
			continue
		}
		ok, ran, err := a.verify(ctx, s, secret, allowSlow)
		slow = slow || ran
		if err != nil {
			return nil, nil, slow, err
		}
		if ok {
			match = s
			break
		}
	}
	switch {
	case match == nil && c.Status == StatusRevoked:
		// Revoking a client revokes its secrets, so none matches: the
		// reason is the revocation, though the caller proved nothing.
		return c, nil, slow, &AuthFailure{Reason: FailRevoked}
	case match == nil:
		return c, nil, slow, &AuthFailure{Reason: FailWrongSecret}
	case c.Status == StatusRevoked:
		return c, nil, slow, &AuthFailure{Reason: FailRevoked, Proven: true}
	case c.Status != StatusActive:
		return c, nil, slow, &AuthFailure{Reason: FailInactive, Proven: true}
	case !match.Usable(now):
		return c, nil, slow, &AuthFailure{Reason: FailExpiredSecret, Proven: true}
	}
	return c, match, slow, nil
}

// Pad is how long a failed authentication that could have been an argon2id
// check takes at least: the median of the last argon2id checks' times (see
// Calibrate), or 0 before there was one.
func (a *Authenticator) Pad() time.Duration { return a.slowTimes.median() }

// Calibrate times one argon2id run with the parameters new secrets are
// hashed with, so that Pad is right from the first request rather than from
// the first real check. It costs what one check costs; call it once, at
// start.
func (a *Authenticator) Calibrate() {
	t0 := a.now()
	HashSecret(zeroes{}, "an admin-chosen secret, to time argon2id")
	a.ObserveSlowCheck(a.now().Sub(t0))
}

// ObserveSlowCheck records how long an argon2id check took; Authenticate
// records its own.
func (a *Authenticator) ObserveSlowCheck(d time.Duration) { a.slowTimes.observe(d) }

// pad waits until Pad has passed since start, or ctx ends.
func (a *Authenticator) pad(ctx context.Context, start time.Time) {
	d := a.Pad() - a.now().Sub(start)
	if d <= 0 {
		return
	}
	if a.Sleep != nil {
		a.Sleep(ctx, d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// zeroes reads as an endless run of zero bytes: calibration needs a salt,
// not a random one.
type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// slowTimes keeps the durations of the last argon2id checks and their
// median, which the hot path reads without a lock.
type slowTimes struct {
	mu   sync.Mutex
	ring [slowSamples]time.Duration
	n    int // samples held, up to slowSamples
	next int
	mid  atomic.Int64
}

// slowSamples is how many recent checks the median is taken over: enough
// that one slow outlier (a check that waited for the CPU) moves it little,
// few enough that it follows the machine's load within seconds of checks.
const slowSamples = 15

func (s *slowTimes) observe(d time.Duration) {
	if d < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = d
	s.next = (s.next + 1) % slowSamples
	s.n = min(s.n+1, slowSamples)
	sorted := s.ring
	slices.Sort(sorted[:s.n])
	s.mid.Store(int64(sorted[s.n/2]))
}

func (s *slowTimes) median() time.Duration { return time.Duration(s.mid.Load()) }

// AuthenticatePublic identifies a public client, which has no secret
// (token_endpoint_auth_method "none").
func (a *Authenticator) AuthenticatePublic(ctx context.Context, id string) (*Client, error) {
	e, err := a.entry(ctx, id)
	if err != nil {
		return nil, err
	}
	// Nothing was proven here, so every failure reads the same.
	switch {
	case e == nil, e.client.Type != Public:
		return nil, &AuthFailure{Reason: FailUnknownClient}
	case e.client.Status == StatusRevoked:
		return e.client, &AuthFailure{Reason: FailRevoked}
	case e.client.Status != StatusActive:
		return e.client, &AuthFailure{Reason: FailInactive}
	}
	return e.client, nil
}

// verify checks secret against s. Generated secrets cost one SHA-256. An
// argon2id hash is checked against the remembered digest of the secret that
// last matched it, and otherwise, when allowSlow, by argon2id itself, with
// at most SlowChecks running at once; slow reports that it ran.
func (a *Authenticator) verify(ctx context.Context, s *Secret, secret string, allowSlow bool) (ok, slow bool, _ error) {
	if !IsSlowHash(s.Hash) {
		ok, _ := VerifySecret(s.Hash, secret)
		return ok, false, nil
	}
	digest := sha256.Sum256([]byte(secret))
	a.verifiedMu.Lock()
	known, seen := a.verified[s.ID]
	a.verifiedMu.Unlock()
	if seen && known.hash == s.Hash && subtleEqual(known.digest, digest) {
		return true, false, nil
	}
	if !allowSlow {
		return false, false, nil
	}
	if err := a.acquireSlow(ctx); err != nil {
		return false, false, err
	}
	ok, _ = VerifySecret(s.Hash, secret)
	<-a.slow
	if ok {
		a.verifiedMu.Lock()
		// The order does not matter here: any entry is as good to drop.
		a.verified = remember(a.verified, s.ID, verifiedSecret{hash: s.Hash, digest: digest}, maxVerified,
			func(verifiedSecret) time.Time { return time.Time{} })
		a.verifiedMu.Unlock()
	}
	return ok, true, nil
}

func (a *Authenticator) acquireSlow(ctx context.Context) error {
	a.slowOnce.Do(func() {
		n := a.SlowChecks
		if n <= 0 {
			n = 2
		}
		a.slow = make(chan struct{}, n)
	})
	select {
	case a.slow <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case a.slow <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}
