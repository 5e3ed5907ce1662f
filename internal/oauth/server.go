package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/token"
)

// Config is what the protocol server is built from.
type Config struct {
	// Issuer is the server's public base URL: the tokens' iss and the
	// prefix of every advertised endpoint.
	Issuer string
	// Audience is the aud of issued access tokens; empty means Issuer.
	Audience []string
	Auth     *client.Authenticator
	Usage    *client.UsageRecorder
	Keys     *token.Keys
	Tokens   token.Store
	Revoked  *token.Revocations
	Users    account.Repository
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

// Server serves the protocol endpoints. Build it with New.
type Server struct {
	Config
	limiter      *limiter
	keysReloaded atomic.Int64 // Unix nanoseconds of the last reload on an unknown kid
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
	if len(s.Audience) == 0 {
		s.Audience = []string{s.Issuer}
	}
	if s.FailureWindow == 0 {
		s.FailureWindow = time.Minute
	}
	s.limiter = newLimiter(s.FailureThreshold, s.FailureWindow)
	if s.Grants == nil {
		s.Grants = grant.NewRegistry(
			&grant.ClientCredentials{Tokens: s.minter(), OwnerRoles: s.ownerRoles},
		)
	}
	return s
}

func (s *Server) now() time.Time { return s.Now().UTC() }

func (s *Server) minter() *Minter {
	return &Minter{Issuer: s.Issuer, Audience: s.Audience, Keys: s.Keys, Store: s.Tokens, Random: s.Random}
}

// ownerRoles returns a client owner's roles; a deleted owner holds none.
func (s *Server) ownerRoles(ctx context.Context, userID string) ([]string, error) {
	u, err := s.Users.User(ctx, userID)
	if err != nil {
		if errors.Is(err, account.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return u.Roles, nil
}

// Mount registers the protocol routes on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /oauth2/token", s.handleToken)
	mux.HandleFunc("/oauth2/token", methodNotAllowed("POST"))
	mux.HandleFunc("POST /oauth2/introspect", s.handleIntrospect)
	mux.HandleFunc("/oauth2/introspect", methodNotAllowed("POST"))
	mux.HandleFunc("POST /oauth2/revoke", s.handleRevoke)
	mux.HandleFunc("/oauth2/revoke", methodNotAllowed("POST"))
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.handleDiscovery)
	mux.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("GET /api/v1/me", s.handleMe)
	mux.HandleFunc("/api/v1/me", methodNotAllowed("GET"))
}
