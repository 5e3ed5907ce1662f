package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
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
type Authenticator struct {
	Repo Repository
	Now  func() time.Time
	// TTL is how long a cached client is trusted; 0 means 5 seconds and
	// a negative TTL disables the cache.
	TTL time.Duration
	// SlowChecks bounds concurrent argon2id checks (64 MiB each); 0 means
	// 2. A check waits at most a second for its turn, then fails ErrBusy.
	SlowChecks int

	slowOnce sync.Once
	slow     chan struct{}

	mu    sync.RWMutex
	cache map[string]*authEntry
	// gen grows with every invalidation, so a load that began before one
	// does not put what it read back into the cache.
	gen uint64

	// verified remembers, per secret ID, the stored hash and the digest of
	// the admin-supplied secret that last matched it under argon2id. It
	// outlives cache entries: reloading a client must not make its owner
	// pay (or be refused) an argon2id run again.
	verifiedMu sync.Mutex
	verified   map[string]verifiedSecret
}

type authEntry struct {
	client   *Client // nil: no such client
	secrets  []Secret
	loadedAt time.Time
}

type verifiedSecret struct {
	hash   string
	digest [sha256.Size]byte
}

// maxCached bounds the cache; past it, entries are dropped wholesale, which
// costs only reloads.
const maxCached = 100000

// Invalidate forgets a client, so the next authentication reads it afresh.
func (a *Authenticator) Invalidate(id string) {
	a.mu.Lock()
	delete(a.cache, id)
	a.gen++
	a.mu.Unlock()
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
	a.cache = nil
	a.gen++
	a.mu.Unlock()
}

// Current returns a client and its secrets through the cache, or
// ErrNotFound. The results are shared with the cache: do not modify them.
func (a *Authenticator) Current(ctx context.Context, id string) (*Client, []Secret, error) {
	e, err := a.entry(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if e.client == nil {
		return nil, nil, ErrNotFound
	}
	return e.client, e.secrets, nil
}

func (a *Authenticator) entry(ctx context.Context, id string) (*authEntry, error) {
	now := a.now()
	ttl := a.TTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	a.mu.RLock()
	e, gen := a.cache[id], a.gen
	a.mu.RUnlock()
	if e != nil && ttl > 0 && now.Sub(e.loadedAt) < ttl && !now.Before(e.loadedAt) {
		return e, nil
	}
	e = &authEntry{loadedAt: now}
	c, err := a.Repo.Client(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if e.secrets, err = a.Repo.Secrets(ctx, id); err != nil {
			return nil, err
		}
		e.client = c
	}
	a.mu.Lock()
	if a.gen == gen {
		if a.cache == nil || len(a.cache) >= maxCached {
			a.cache = make(map[string]*authEntry)
		}
		a.cache[id] = e
	}
	a.mu.Unlock()
	return e, nil
}

// dummyHash equalises the work done for unknown clients with a wrong-secret
// check, so response times do not reveal which client IDs exist.
const dummyHash = "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// Authenticate checks a confidential client's secret and returns the client
// and the secret that matched. With allowSlow false, secrets hashed with
// argon2id are checked only against remembered results: callers pass false
// for a caller over its failure limit. A failure is an *AuthFailure; other
// errors are ErrBusy or come from the repository.
func (a *Authenticator) Authenticate(ctx context.Context, id, secret string, allowSlow bool) (*Client, *Secret, error) {
	e, err := a.entry(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	now := a.now()
	if e.client == nil {
		VerifySecret(dummyHash, secret)
		return nil, nil, &AuthFailure{Reason: FailUnknownClient}
	}
	c := e.client
	if c.Type == Public {
		return c, nil, &AuthFailure{Reason: FailPublicSecret}
	}
	var match *Secret
	for i := range e.secrets {
		s := &e.secrets[i]
		// A revoked secret, or one whose grace period is over, can never
		// match usefully: skip it rather than pay for its hash.
		if s.Status == SecretRevoked || (s.Status == SecretRetiring && s.Expired(now)) {
			continue
		}
		ok, err := a.verify(ctx, s, secret, allowSlow)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			match = s
			break
		}
	}
	switch {
	case match == nil:
		return c, nil, &AuthFailure{Reason: FailWrongSecret}
	case c.Status == StatusRevoked:
		return c, nil, &AuthFailure{Reason: FailRevoked, Proven: true}
	case c.Status != StatusActive:
		return c, nil, &AuthFailure{Reason: FailInactive, Proven: true}
	case !match.Usable(now):
		return c, nil, &AuthFailure{Reason: FailExpiredSecret, Proven: true}
	}
	return c, match, nil
}

// AuthenticatePublic identifies a public client, which has no secret
// (token_endpoint_auth_method "none").
func (a *Authenticator) AuthenticatePublic(ctx context.Context, id string) (*Client, error) {
	e, err := a.entry(ctx, id)
	if err != nil {
		return nil, err
	}
	// Nothing was proven here, so every failure reads the same.
	switch {
	case e.client == nil, e.client.Type != Public:
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
// at most SlowChecks running at once.
func (a *Authenticator) verify(ctx context.Context, s *Secret, secret string, allowSlow bool) (bool, error) {
	if !IsSlowHash(s.Hash) {
		ok, _ := VerifySecret(s.Hash, secret)
		return ok, nil
	}
	digest := sha256.Sum256([]byte(secret))
	a.verifiedMu.Lock()
	known, seen := a.verified[s.ID]
	a.verifiedMu.Unlock()
	if seen && known.hash == s.Hash && subtleEqual(known.digest, digest) {
		return true, nil
	}
	if !allowSlow {
		return false, nil
	}
	if err := a.acquireSlow(ctx); err != nil {
		return false, err
	}
	ok, _ := VerifySecret(s.Hash, secret)
	<-a.slow
	if ok {
		a.verifiedMu.Lock()
		if a.verified == nil || len(a.verified) >= maxCached {
			a.verified = make(map[string]verifiedSecret)
		}
		a.verified[s.ID] = verifiedSecret{hash: s.Hash, digest: digest}
		a.verifiedMu.Unlock()
	}
	return ok, nil
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
