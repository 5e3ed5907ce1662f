package authz

import (
	"context"
	"sync"
	"time"
)

// Catalogs caches each tenant's Catalog for the protocol endpoints, which
// resolve a client's roles on every token and introspection request.
// A catalog is read from Source on first use and kept until Invalidate
// (the change log names a tenant whose roles changed), InvalidateAll (the
// change log was not followed) or TTL after it was read.
//
// Source is required. TTL, like client.Authenticator's, means 5 seconds
// when zero, and a negative one keeps nothing (every call reads Source);
// Now defaults to time.Now. Safe for concurrent use; must not be copied
// after first use.
type Catalogs struct {
	Source RoleSource
	TTL    time.Duration
	Now    func() time.Time

	mu sync.Mutex
	// gen counts invalidations, so that a read that began before one is
	// not cached after it.
	gen uint64
	m   map[string]cachedCatalog
}

// DefaultCatalogTTL is how long Catalogs keeps a catalog when its TTL is
// zero.
const DefaultCatalogTTL = 5 * time.Second

type cachedCatalog struct {
	cat    *Catalog
	loaded time.Time
}

func (c *Catalogs) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Catalog returns the tenant's catalog.
func (c *Catalogs) Catalog(ctx context.Context, tenantID string) (*Catalog, error) {
	if c.TTL < 0 {
		custom, err := c.Source.CustomRoles(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		return NewCatalog(custom), nil
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[tenantID]
	gen := c.gen
	c.mu.Unlock()
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultCatalogTTL
	}
	if ok && now.Sub(e.loaded) < ttl {
		return e.cat, nil
	}
	custom, err := c.Source.CustomRoles(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	cat := NewCatalog(custom)
	c.mu.Lock()
	if c.gen == gen {
		if c.m == nil {
			c.m = map[string]cachedCatalog{}
		}
		c.m[tenantID] = cachedCatalog{cat: cat, loaded: now}
	}
	c.mu.Unlock()
	return cat, nil
}

// Invalidate forgets the tenant's catalog.
func (c *Catalogs) Invalidate(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, tenantID)
}

// InvalidateAll forgets every catalog.
func (c *Catalogs) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
