package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/token"
)

// tenantScope is one tenant as the protocol endpoints see it: its issuer,
// which is also the audience of its access tokens, and the keys that sign
// for it. Nothing a scope serves crosses into another tenant.
type tenantScope struct {
	tenant account.Tenant
	issuer string
	keys   *token.Keys
	// keysReloaded is the Unix nanoseconds of the last reload on an
	// unknown kid.
	keysReloaded atomic.Int64
}

// audience is the aud of the tenant's access tokens: its issuer, the
// resource /api/v1/me answers for.
func (ts *tenantScope) audience() []string { return []string{ts.issuer} }

// tenants remembers the scopes it has resolved. Tenants are never renamed
// or removed, so a scope, once found, stays; an unknown slug is looked up
// every time (it may be created by the CLI at any moment) and creates
// nothing.
type tenants struct {
	mu     sync.RWMutex
	root   *tenantScope
	bySlug map[string]*tenantScope
}

// errNoTenant means no tenant is served at the path.
var errNoTenant = errors.New("no such tenant")

// scope returns the tenant a request path names: the default tenant for
// the root paths (slug ""), the tenant with the slug for /t/{slug}/...
// It returns errNoTenant for a slug no tenant has, and for the default
// tenant's own slug: each tenant has exactly one issuer.
func (s *Server) scope(ctx context.Context, slug string) (*tenantScope, error) {
	s.tenants.mu.RLock()
	ts := s.tenants.root
	if slug != "" {
		ts = s.tenants.bySlug[slug]
	}
	s.tenants.mu.RUnlock()
	if ts != nil {
		return ts, nil
	}

	var t *account.Tenant
	var err error
	if slug == "" {
		t, err = s.Accounts.DefaultTenant(ctx)
	} else if account.ValidateSlug(slug) != nil {
		return nil, errNoTenant // not a slug: no need to ask the database
	} else if t, err = s.Accounts.TenantBySlug(ctx, slug); err == nil && t.Default {
		return nil, errNoTenant
	}
	if errors.Is(err, account.ErrNotFound) {
		return nil, errNoTenant
	}
	if err != nil {
		return nil, err
	}
	keys, err := s.Keys.Get(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	ts = &tenantScope{tenant: *t, issuer: s.Issuer, keys: keys}
	if slug != "" {
		ts.issuer = s.Issuer + "/t/" + slug
	}
	s.tenants.mu.Lock()
	defer s.tenants.mu.Unlock()
	// Another request may have resolved it meanwhile: keep one scope.
	if slug == "" {
		if s.tenants.root == nil {
			s.tenants.root = ts
		}
		return s.tenants.root, nil
	}
	if old := s.tenants.bySlug[slug]; old != nil {
		return old, nil
	}
	if s.tenants.bySlug == nil {
		s.tenants.bySlug = make(map[string]*tenantScope)
	}
	s.tenants.bySlug[slug] = ts
	return ts, nil
}

// tenantHandler serves one endpoint for the tenant the path names.
type tenantHandler func(w http.ResponseWriter, r *http.Request, ts *tenantScope)

// inTenant resolves the request's tenant, from the {tenant} path
// wildcard or, on the root paths, the default, and answers 404 when
// there is none.
func (s *Server) inTenant(h tenantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ts, err := s.scope(r.Context(), r.PathValue("tenant"))
		switch {
		case errors.Is(err, errNoTenant):
			writeError(w, &oautherr.Error{Code: "invalid_request", Status: http.StatusNotFound,
				Description: "no tenant is served at this path"})
		case err != nil:
			serverError(w, s.Logger, r, err)
		default:
			h(w, r, ts)
		}
	}
}

// reloadKeys re-reads the tenant's signing keys, at most once every 10
// seconds so tokens with made-up key IDs cannot make every request a
// database read. It reports whether it reloaded.
func (s *Server) reloadKeys(ctx context.Context, ts *tenantScope, now time.Time) bool {
	last := ts.keysReloaded.Load()
	if now.UnixNano()-last < int64(10*time.Second) || !ts.keysReloaded.CompareAndSwap(last, now.UnixNano()) {
		return false
	}
	if err := ts.keys.Load(ctx); err != nil {
		level := slog.LevelWarn
		if ctx.Err() != nil {
			level = slog.LevelDebug // the request was cancelled, not the store broken
		}
		s.Logger.Log(ctx, level, "reload signing keys", "tenant", ts.tenant.ID, "err", err)
		return false
	}
	return true
}

// grantTenant is the scope as the grant handlers see it.
func (ts *tenantScope) grantTenant() grant.Tenant {
	return grant.Tenant{ID: ts.tenant.ID, Issuer: ts.issuer}
}
