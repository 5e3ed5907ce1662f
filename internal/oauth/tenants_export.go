package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/account"
)

// Tenant returns the tenant served at a path's slug ("" for the root, the
// default tenant) and its issuer, by the same rules and cache as the
// protocol endpoints, so the account pages and the protocol never
// disagree about which tenant a URL names. A slug no tenant is served at
// is an error wrapping account.ErrNotFound.
func (s *Server) Tenant(ctx context.Context, slug string) (*account.Tenant, string, error) {
	ts, err := s.scope(ctx, slug)
	if errors.Is(err, errNoTenant) {
		return nil, "", fmt.Errorf("tenant %q: %w", slug, account.ErrNotFound)
	}
	if err != nil {
		return nil, "", err
	}
	t := ts.tenant
	return &t, ts.issuer, nil
}
