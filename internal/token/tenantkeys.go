package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// TenantKeys holds the signing keys of every tenant, made on the tenant's
// first use and kept for the life of the process. A tenant nobody asks
// for costs nothing; the caller decides which tenant IDs exist, so an
// unknown one must never reach a method that takes one (it would be given
// keys).
//
// A tenant has two lineages of keys, each a [Keys] rotating on its own:
// the access lineage (New), which signs access tokens, and the ID lineage
// (NewID), which signs ID tokens, RS256 by default because every OpenID
// Connect relying party supports it (OpenID Connect Core §15.1). The
// tenant's JWKS publishes both. Without NewID the access lineage signs ID
// tokens too.
//
// Every method is safe for concurrent use. Once a tenant is loaded, Get,
// ID, JWKS, SignID, VerifyID, VerifyIDHint and IDAlgorithms take only a
// read lock.
type TenantKeys struct {
	// New returns a tenant's access Keys (Use UseAccess, or zero),
	// configured but not loaded. Required.
	New func(tenantID string) *Keys
	// NewID returns a tenant's ID Keys (Use UseID), configured but not
	// loaded. Nil means the tenant has no ID lineage: ID tokens are
	// signed by the access keys.
	NewID func(tenantID string) *Keys

	mu     sync.RWMutex
	loaded map[string]*lineages
	// loading serializes first loads, so two requests for a new tenant
	// make one Keys of each use (and, on an empty store, one key). First
	// uses are rare; the lock is never held on the path of a loaded
	// tenant.
	loading sync.Mutex
	// maxAge is the smallest JWKSMaxAge of the loaded lineages, in
	// nanoseconds; written under loading.
	maxAge atomic.Int64
}

// lineages is one tenant's keys.
type lineages struct {
	access *Keys
	id     *Keys // access itself when TenantKeys.NewID is nil
	jwks   atomic.Pointer[mergedJWKS]
}

// mergedJWKS is a tenant's JWKS document and the two key sets it was made
// from: while both lineages still hold those sets, it is current.
type mergedJWKS struct {
	access, id *keySet
	doc        []byte
}

// keys returns the tenant's distinct lineages, access first.
func (l *lineages) keys() []*Keys {
	if l.id == l.access {
		return []*Keys{l.access}
	}
	return []*Keys{l.access, l.id}
}

// Get returns the tenant's access keys, loading the tenant on first use
// (which creates the first key of each lineage the tenant lacks). A
// failed load is not kept: the next call tries again.
func (t *TenantKeys) Get(ctx context.Context, tenantID string) (*Keys, error) {
	l, err := t.get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return l.access, nil
}

// ID returns the tenant's ID keys, loading the tenant on first use as Get
// does: the access keys when NewID is nil.
func (t *TenantKeys) ID(ctx context.Context, tenantID string) (*Keys, error) {
	l, err := t.get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return l.id, nil
}

func (t *TenantKeys) get(ctx context.Context, tenantID string) (*lineages, error) {
	if l := t.lookup(tenantID); l != nil {
		return l, nil
	}
	if t.New == nil {
		return nil, errors.New("token: TenantKeys.New is nil")
	}
	t.loading.Lock()
	defer t.loading.Unlock()
	if l := t.lookup(tenantID); l != nil {
		return l, nil // loaded while we waited
	}
	access, err := made(t.New, "New", tenantID, UseAccess)
	if err != nil {
		return nil, err
	}
	l := &lineages{access: access, id: access}
	if t.NewID != nil {
		if l.id, err = made(t.NewID, "NewID", tenantID, UseID); err != nil {
			return nil, err
		}
	}
	for _, k := range l.keys() {
		if err := k.Load(ctx); err != nil {
			return nil, err
		}
	}
	for _, k := range l.keys() {
		age := int64(k.JWKSMaxAge())
		if cur := t.maxAge.Load(); cur == 0 || age < cur {
			t.maxAge.Store(age)
		}
	}
	t.mu.Lock()
	if t.loaded == nil {
		t.loaded = make(map[string]*lineages)
	}
	t.loaded[tenantID] = l
	t.mu.Unlock()
	return l, nil
}

// made calls newKeys and checks that it made keys of the tenant and use.
func made(newKeys func(string) *Keys, name, tenantID string, use KeyUse) (*Keys, error) {
	k := newKeys(tenantID)
	switch {
	case k == nil || k.Tenant != tenantID:
		return nil, fmt.Errorf("token: TenantKeys.%s(%q) made keys for another tenant", name, tenantID)
	case k.use() != use:
		return nil, fmt.Errorf("token: TenantKeys.%s(%q) made keys of use %q, want %q", name, tenantID, k.use(), use)
	}
	return k, nil
}

func (t *TenantKeys) lookup(tenantID string) *lineages {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.loaded[tenantID]
}

// all returns every loaded lineage of every tenant.
func (t *TenantKeys) all() []*Keys {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*Keys, 0, 2*len(t.loaded))
	for _, l := range t.loaded {
		out = append(out, l.keys()...)
	}
	return out
}

// Len returns how many tenants' keys are loaded.
func (t *TenantKeys) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.loaded)
}

// JWKS returns the tenant's JSON Web Key Set: the published keys of the
// access lineage (current, next, retired), then those of the ID lineage,
// each key once. It loads the tenant on first use, as Get does. The
// document is made again only when a lineage's keys change, so a call
// costs no allocation; the slice is shared and must not be modified.
func (t *TenantKeys) JWKS(ctx context.Context, tenantID string) ([]byte, error) {
	l, err := t.get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if l.id == l.access {
		return l.access.JWKS(), nil
	}
	a, id := l.access.set.Load(), l.id.set.Load()
	if m := l.jwks.Load(); m != nil && m.access == a && m.id == id {
		return m.doc, nil
	}
	// Two callers may build at once; both documents are right, and one
	// holding sets since replaced is only built again by the next call.
	m := &mergedJWKS{access: a, id: id, doc: mergeJWKS(a, id)}
	l.jwks.Store(m)
	return m.doc, nil
}

// mergeJWKS encodes the published keys of the sets as one JWKS, each kid
// once, in order. A nil set (Keys before Load) adds nothing.
func mergeJWKS(sets ...*keySet) []byte {
	doc := []byte(`{"keys":[`)
	seen := make(map[string]bool)
	for _, s := range sets {
		if s == nil {
			continue
		}
		for _, p := range s.published {
			if seen[p.id] {
				continue
			}
			if len(seen) > 0 {
				doc = append(doc, ',')
			}
			seen[p.id] = true
			doc = append(doc, p.jwk...)
		}
	}
	return append(doc, "]}"...)
}

// JWKSMaxAge is how long a tenant's JWKS may be cached: the smallest
// [Keys.JWKSMaxAge] of the lineages loaded so far, all tenants being
// configured alike. It is zero (do not cache) until a tenant is loaded:
// call it after JWKS.
func (t *TenantKeys) JWKSMaxAge() time.Duration { return time.Duration(t.maxAge.Load()) }

// SignID encodes c as an ID token signed with the tenant's lineage whose
// current key has algorithm alg: the ID lineage's if it has, else the
// access lineage's; when neither has, or alg is empty, the ID lineage
// signs. It fails as [Keys.SignID] does, and when the tenant cannot be
// loaded.
func (t *TenantKeys) SignID(ctx context.Context, tenantID, alg string, c IDClaims) (string, error) {
	l, err := t.get(ctx, tenantID)
	if err != nil {
		return "", err
	}
	payload, err := appendIDClaims(nil, &c)
	if err != nil {
		return "", err
	}
	// One load of each set: the key chosen for its algorithm is the key
	// that signs, whatever rotation happens meanwhile.
	set := l.id.set.Load()
	if set != nil && set.signer.Algorithm() != alg {
		if a := l.access.set.Load(); a != nil && a.signer.Algorithm() == alg {
			set = a
		}
	}
	return signSet(set, idToken, payload)
}

// VerifyID checks tok as an ID token of the tenant, signed by a published
// key of either lineage, as [Keys.VerifyID] does. An expired token is
// refused with an error wrapping ErrTokenExpired; VerifyIDHint accepts it.
func (t *TenantKeys) VerifyID(ctx context.Context, tenantID, tok string, now time.Time, want Expect) (*IDClaims, error) {
	return t.verifyID(ctx, tenantID, tok, now, want, false)
}

// VerifyIDHint is VerifyID for an id_token_hint (OpenID Connect
// RP-Initiated Logout 1.0 §2), which may have expired: it checks
// everything VerifyID checks but exp. A hint signed by a key that is no
// longer published (its lineage pruned it once every token it signed
// had expired) is refused with an error wrapping ErrUnknownKey.
func (t *TenantKeys) VerifyIDHint(ctx context.Context, tenantID, tok string, now time.Time, want Expect) (*IDClaims, error) {
	return t.verifyID(ctx, tenantID, tok, now, want, true)
}

func (t *TenantKeys) verifyID(ctx context.Context, tenantID, tok string, now time.Time, want Expect, hint bool) (*IDClaims, error) {
	l, err := t.get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	c, err := l.id.verifyID(tok, now, want, hint)
	if errors.Is(err, ErrUnknownKey) && l.id != l.access {
		return l.access.verifyID(tok, now, want, hint)
	}
	return c, err
}

// IDAlgorithms returns the algorithms the tenant's ID tokens can be
// signed with now, each once: the ID lineage's current key's first, then
// the access lineage's (what discovery advertises as
// id_token_signing_alg_values_supported). It loads the tenant on first
// use, as Get does.
func (t *TenantKeys) IDAlgorithms(ctx context.Context, tenantID string) ([]string, error) {
	l, err := t.get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var algs []string
	for _, k := range []*Keys{l.id, l.access} {
		if _, alg := k.Current(); alg != "" && (len(algs) == 0 || algs[0] != alg) {
			algs = append(algs, alg)
		}
	}
	return algs, nil
}

// Load reloads every lineage of every loaded tenant, to pick up another
// process's rotation. It tries every one and reports all failures
// together.
func (t *TenantKeys) Load(ctx context.Context) error {
	return eachKeys(t.all(), func(k *Keys) error { return k.Load(ctx) })
}

// Reload reloads both lineages of one tenant if it is loaded (a tenant
// not yet used here loads fresh on first use anyway), or of every loaded
// tenant when tenantID is empty: what a change to that tenant's keys made
// by another process calls for.
func (t *TenantKeys) Reload(ctx context.Context, tenantID string) error {
	if tenantID == "" {
		return t.Load(ctx)
	}
	l := t.lookup(tenantID)
	if l == nil {
		return nil
	}
	return eachKeys(l.keys(), func(k *Keys) error { return k.Load(ctx) })
}

// Refresh runs [Keys.Refresh] for every lineage of every loaded tenant
// and reports all failures together.
func (t *TenantKeys) Refresh(ctx context.Context) error {
	return eachKeys(t.all(), func(k *Keys) error { return k.Refresh(ctx) })
}

// eachKeys calls fn for every Keys and joins the failures, each naming
// its tenant and use.
func eachKeys(keys []*Keys, fn func(*Keys) error) error {
	var errs []error
	for _, k := range keys {
		if err := fn(k); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s, %s keys: %w", k.Tenant, k.use(), err))
		}
	}
	return errors.Join(errs...)
}

// Run calls Refresh every interval until ctx is done; each lineage's
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
