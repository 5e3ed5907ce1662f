package changes

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/token"
)

// ClientCache is a cache of clients; *client.Authenticator is one.
type ClientCache interface {
	// Invalidate forgets one client.
	Invalidate(id string)
	// InvalidateAll forgets every client.
	InvalidateAll()
}

// CatalogCache is a cache of tenants' role catalogs; *authz.Catalogs is
// one.
type CatalogCache interface {
	// Invalidate forgets one tenant's catalog.
	Invalidate(tenantID string)
	// InvalidateAll forgets every catalog.
	InvalidateAll()
}

// Caches is the Applier that keeps one process's caches up to date: a
// changed client is forgotten (and read afresh when next used), new
// revocations are read by token ID and merged into the in-memory list,
// changed signing keys are reloaded, a tenant whose roles changed has
// its catalog forgotten, and a lockout another process announced is
// passed to the failure limits. A Resync batch drops the client and catalog
// caches and reloads the revocation list and every key set.
type Caches struct {
	// Clients is the client cache. Required.
	Clients ClientCache
	// Revocations is the in-memory revocation list, read from Tokens.
	// Both required.
	Revocations *token.Revocations
	Tokens      token.Store
	// ReloadKeys reloads the signing keys of one tenant, or of all when
	// tenantID is "". Required.
	ReloadKeys func(ctx context.Context, tenantID string) error
	// Catalogs, when set, is the cache of tenants' role catalogs: a
	// tenant whose roles changed is forgotten.
	Catalogs CatalogCache
	// Lockouts, when set, learns the failure-limit lockouts other
	// processes announce. A Resync drops none and reloads none: a missed
	// lockout still refuses its key from the key's next pooled failure.
	Lockouts *ratelimit.Pool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ Applier = (*Caches)(nil)

func (c *Caches) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Apply applies b. It applies every kind even when one fails, and
// returns the failures joined.
func (c *Caches) Apply(ctx context.Context, b Batch) error {
	now := c.now()
	if b.Resync {
		c.Clients.InvalidateAll()
		if c.Catalogs != nil {
			c.Catalogs.InvalidateAll()
		}
		return errors.Join(c.Revocations.Load(ctx, c.Tokens, now), c.ReloadKeys(ctx, ""))
	}
	var revoked, tenants []string
	for _, ch := range b.Changes {
		switch ch.Kind {
		case Client:
			c.Clients.Invalidate(ch.Key)
		case Revocation:
			revoked = append(revoked, ch.Key)
		case SigningKey:
			tenants = append(tenants, ch.Key)
		case Role:
			if c.Catalogs != nil {
				c.Catalogs.Invalidate(ch.Key)
			}
		case Lockout:
			if key, until, ok := ratelimit.ParseLockoutChange(ch.Key); ok && c.Lockouts != nil {
				c.Lockouts.Announced(key, until, now)
			}
		}
	}
	var errs []error
	if len(revoked) > 0 {
		slices.Sort(revoked)
		errs = append(errs, c.Revocations.LoadIDs(ctx, c.Tokens, slices.Compact(revoked), now))
	}
	if len(tenants) > 0 {
		slices.Sort(tenants)
		tenants = slices.Compact(tenants)
		if tenants[0] == "" { // some key set unnamed: reload all, once
			tenants = tenants[:1]
		}
		for _, t := range tenants {
			errs = append(errs, c.ReloadKeys(ctx, t))
		}
	}
	return errors.Join(errs...)
}
