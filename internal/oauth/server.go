package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/token"
)

// Config is what the protocol server is built from.
type Config struct {
	// Issuer is the server's public base URL: the default tenant's issuer
	// (its tokens' iss and aud, the prefix of its advertised endpoints)
	// and the base of every other tenant's, Issuer + "/t/" + slug.
	Issuer string
	Auth   *client.Authenticator
	Usage  *client.UsageRecorder
	// Keys holds each tenant's signing keys.
	Keys    *token.TenantKeys
	Tokens  token.Store
	Revoked *token.Revocations
	// Accounts finds tenants, by slug and the default, and the users who
	// own clients.
	Accounts account.Repository
	Grants   grant.Registry
	Now      func() time.Time
	Random   io.Reader
	Logger   *slog.Logger
	// FailureThreshold failed client authentications per client ID or
	// source address within FailureWindow make the token endpoint answer
	// 429 for that key until the window ends. Zero disables the limit.
	FailureThreshold int
	FailureWindow    time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when counting failures per source address; none by default.
	TrustedProxies []netip.Prefix
	// OnAuthFailure, when set, observes each failed client authentication
	// (for audit aggregation and metrics).
	OnAuthFailure func(clientID, addr, reason string)
}

// Server serves the protocol endpoints of every tenant: the default
// tenant's at the root, each other tenant's under /t/{slug}. Build it with
// New.
type Server struct {
	Config
	limiter *limiter
	tenants tenants
}

// New returns a Server with the grants Latchkey offers and defaults filled:
// Now = time.Now, Random = crypto/rand, a failure limit of 20 per minute.
func New(c Config) *Server {
	s := &Server{Config: c}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Random == nil {
		s.Random = rand.Reader
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.FailureWindow == 0 {
		s.FailureWindow = time.Minute
	}
	s.limiter = newLimiter(s.FailureThreshold, s.FailureWindow)
	if s.Grants == nil {
		s.Grants = s.defaultGrants()
	}
	return s
}

func (s *Server) now() time.Time { return s.Now().UTC() }

func (s *Server) minter() *Minter {
	return &Minter{Keys: s.Keys, Store: s.Tokens, Random: s.Random}
}

// ownerRoles returns a client owner's roles; a deleted owner holds none.
func (s *Server) ownerRoles(ctx context.Context, userID string) ([]string, error) {
	u, err := s.Accounts.User(ctx, userID)
	if err != nil {
		if errors.Is(err, account.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return u.Roles, nil
}

// Mount registers the protocol routes on mux: the default tenant's at the
// root, and the same routes under /t/{slug} for every other tenant.
func (s *Server) Mount(mux *http.ServeMux) {
	for _, base := range []string{"", "/t/{tenant}"} {
		mux.HandleFunc("POST "+base+"/oauth2/token", s.inTenant(s.handleToken))
		mux.HandleFunc(base+"/oauth2/token", methodNotAllowed("POST"))
		mux.HandleFunc("POST "+base+"/oauth2/introspect", s.inTenant(s.handleIntrospect))
		mux.HandleFunc(base+"/oauth2/introspect", methodNotAllowed("POST"))
		mux.HandleFunc("POST "+base+"/oauth2/revoke", s.inTenant(s.handleRevoke))
		mux.HandleFunc(base+"/oauth2/revoke", methodNotAllowed("POST"))
		mux.HandleFunc("GET "+base+"/.well-known/oauth-authorization-server", s.inTenant(s.handleDiscovery))
		mux.HandleFunc("GET "+base+"/.well-known/jwks.json", s.inTenant(s.handleJWKS))
		mux.HandleFunc("GET "+base+"/api/v1/me", s.inTenant(s.handleMe))
		mux.HandleFunc(base+"/api/v1/me", methodNotAllowed("GET"))
	}
	// RFC 8414 §3.1: metadata for an issuer with a path is found by
	// inserting the well-known segment before the path.
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/t/{tenant}", s.inTenant(s.handleDiscovery))
}
