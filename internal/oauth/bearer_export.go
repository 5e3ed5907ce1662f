package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/token"
)

// Bearer is what an active access token says, as the management surfaces
// need it: the tenant whose issuer minted it, its claims and its client.
type Bearer struct {
	Tenant account.Tenant
	Issuer string
	Claims token.Claims
	Client *client.Client
}

// Bearer checks an access token presented to the tenant served at a
// path's slug ("" for the default tenant) by the same rules as /api/v1/me:
// genuine, of that tenant's issuer and audience, unexpired, unrevoked and
// not cut off, its client active. It returns nil for a token that is none
// of those, an error wrapping account.ErrNotFound when no tenant is served
// at the slug, and other errors only when the server failed.
func (s *Server) Bearer(ctx context.Context, slug, tok string) (*Bearer, error) {
	ts, err := s.scope(ctx, slug)
	if errors.Is(err, errNoTenant) {
		return nil, fmt.Errorf("tenant %q: %w", slug, account.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	in, err := s.inspect(ctx, ts, tok, s.now(), ts.audience())
	if in == nil || err != nil {
		return nil, err
	}
	return &Bearer{Tenant: ts.tenant, Issuer: ts.issuer, Claims: *in.claims, Client: in.client}, nil
}
