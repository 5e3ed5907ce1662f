package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// TenantKeys holds the signing keys of every tenant: one [Keys] per
// tenant, made by New and loaded on the tenant's first use, then kept for
// the life of the process. A tenant nobody asks for costs nothing; the
// caller decides which tenant IDs exist, so an unknown one must never
// reach Get (it would be given keys).
//
// Get is safe for concurrent use and, once a tenant is loaded, takes only
// a read lock.
type TenantKeys struct {
	// New returns a tenant's Keys, configured but not loaded. Required.
	New func(tenantID string) *Keys

	mu     sync.RWMutex
	loaded map[string]*Keys
	// loading serializes first loads, so two requests for a new tenant
	// make one Keys (and, on an empty store, one key). First uses are
	// rare; the lock is never held on the path of a loaded tenant.
	loading sync.Mutex
}

// Get returns the tenant's keys, loading them on first use (which creates
// the tenant's first key if it has none). A failed load is not kept: the
// next Get tries again.
func (t *TenantKeys) Get(ctx context.Context, tenantID string) (*Keys, error) {
	if k := t.lookup(tenantID); k != nil {
		return k, nil
	}
	if t.New == nil {
		return nil, errors.New("token: TenantKeys.New is nil")
	}
	t.loading.Lock()
	defer t.loading.Unlock()
	if k := t.lookup(tenantID); k != nil {
		return k, nil // loaded while we waited
	}
	k := t.New(tenantID)
	if k == nil || k.Tenant != tenantID {
		return nil, fmt.Errorf("token: TenantKeys.New(%q) made keys for another tenant", tenantID)
	}
	if err := k.Load(ctx); err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.loaded == nil {
		t.loaded = make(map[string]*Keys)
	}
	t.loaded[tenantID] = k
	t.mu.Unlock()
	return k, nil
}

func (t *TenantKeys) lookup(tenantID string) *Keys {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.loaded[tenantID]
}

// all returns the loaded keys.
func (t *TenantKeys) all() []*Keys {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*Keys, 0, len(t.loaded))
	for _, k := range t.loaded {
		out = append(out, k)
	}
	return out
}

// Len returns how many tenants' keys are loaded.
func (t *TenantKeys) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.loaded)
}

// Load reloads every loaded tenant's keys, to pick up another process's
// rotation. It tries every tenant and reports all failures together.
func (t *TenantKeys) Load(ctx context.Context) error {
	var errs []error
	for _, k := range t.all() {
		if err := k.Load(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", k.Tenant, err))
		}
	}
	return errors.Join(errs...)
}

// Reload reloads one tenant's keys if they are loaded (a tenant not yet
// used here loads fresh on first use anyway), or every loaded tenant's
// when tenantID is empty: what a change to that tenant's keys made by
// another process calls for.
func (t *TenantKeys) Reload(ctx context.Context, tenantID string) error {
	if tenantID == "" {
		return t.Load(ctx)
	}
	if k := t.lookup(tenantID); k != nil {
		if err := k.Load(ctx); err != nil {
			return fmt.Errorf("tenant %s: %w", tenantID, err)
		}
	}
	return nil
}

// Refresh runs [Keys.Refresh] for every loaded tenant and reports all
// failures together.
func (t *TenantKeys) Refresh(ctx context.Context) error {
	var errs []error
	for _, k := range t.all() {
		if err := k.Refresh(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", k.Tenant, err))
		}
	}
	return errors.Join(errs...)
}

// Run calls Refresh every interval until ctx is done; each tenant's
// failures go to its own Keys' logger. An interval of zero or less means
// one minute.
func (t *TenantKeys) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, k := range t.all() {
				if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
					k.logger().Error("token: refreshing signing keys", "err", err)
				}
			}
		}
	}
}
