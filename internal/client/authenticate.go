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
	switch f.Reason {
	// These are told only to a caller that proved it holds a secret.
	case FailExpiredSecret:
		return "the client secret has expired; rotate it to restore access"
	case FailInactive:
		return "the client is inactive"
	case FailRevoked:
		return "the client has been revoked"
	case FailPublicSecret:
		return "a public client has no secret; authenticate with client_id alone"
	}
	return "client authentication failed"
}

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

	mu    sync.RWMutex
	cache map[string]*authEntry
}

type authEntry struct {
	client   *Client // nil: no such client
	secrets  []Secret
	loadedAt time.Time
	// verified holds digests of admin-supplied secrets already checked
	// with argon2id, per secret ID.
	verifiedMu sync.Mutex
	verified   map[string][sha256.Size]byte
}

// maxCached bounds the cache; past it, entries are dropped wholesale, which
// costs only reloads.
const maxCached = 100000

// Invalidate forgets a client, so the next authentication reads it afresh.
func (a *Authenticator) Invalidate(id string) {
	a.mu.Lock()
	delete(a.cache, id)
	a.mu.Unlock()
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
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
	e := a.cache[id]
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
	if a.cache == nil || len(a.cache) >= maxCached {
		a.cache = make(map[string]*authEntry)
	}
	a.cache[id] = e
	a.mu.Unlock()
	return e, nil
}

// dummyHash equalises the work done for unknown clients with a wrong-secret
// check, so response times do not reveal which client IDs exist.
const dummyHash = "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// Authenticate checks a confidential client's secret and returns the client
// and the secret that matched. A failure is an *AuthFailure; other errors
// come from the repository.
func (a *Authenticator) Authenticate(ctx context.Context, id, secret string) (*Client, *Secret, error) {
	e, err := a.entry(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	now := a.now()
	if e.client == nil {
		VerifySecret(dummyHash, secret)
		return nil, nil, &AuthFailure{FailUnknownClient}
	}
	c := e.client
	if c.Type == Public {
		return c, nil, &AuthFailure{FailPublicSecret}
	}
	var match *Secret
	for i := range e.secrets {
		s := &e.secrets[i]
		if s.Status == SecretRevoked {
			continue
		}
		if a.verify(e, s, secret) {
			match = s
			break
		}
	}
	switch {
	case match == nil:
		return c, nil, &AuthFailure{FailWrongSecret}
	case c.Status == StatusRevoked:
		return c, nil, &AuthFailure{FailRevoked}
	case c.Status != StatusActive:
		return c, nil, &AuthFailure{FailInactive}
	case !match.Usable(now):
		return c, nil, &AuthFailure{FailExpiredSecret}
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
	switch {
	case e.client == nil, e.client.Type != Public:
		return nil, &AuthFailure{FailUnknownClient}
	case e.client.Status == StatusRevoked:
		return e.client, &AuthFailure{FailRevoked}
	case e.client.Status != StatusActive:
		return e.client, &AuthFailure{FailInactive}
	}
	return e.client, nil
}

func (a *Authenticator) verify(e *authEntry, s *Secret, secret string) bool {
	if !IsSlowHash(s.Hash) {
		ok, _ := VerifySecret(s.Hash, secret)
		return ok
	}
	digest := sha256.Sum256([]byte(secret))
	e.verifiedMu.Lock()
	known, seen := e.verified[s.ID]
	e.verifiedMu.Unlock()
	if seen {
		// A constant-time compare of digests: the argon2id result for this
		// exact secret is already known to be a match.
		if subtleEqual(known, digest) {
			return true
		}
	}
	ok, _ := VerifySecret(s.Hash, secret)
	if ok {
		e.verifiedMu.Lock()
		if e.verified == nil {
			e.verified = make(map[string][sha256.Size]byte)
		}
		e.verified[s.ID] = digest
		e.verifiedMu.Unlock()
	}
	return ok
}
