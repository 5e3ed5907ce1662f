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
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/registration"
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
	// RetiringUse, when set, is told of every client authentication, to
	// warn once of an old secret still used late in its grace period.
	RetiringUse *client.RetiringUseWarner
	// Keys holds each tenant's signing keys.
	Keys    *token.TenantKeys
	Tokens  token.Store
	Revoked *token.Revocations
	// Accounts finds tenants, by slug and the default, users (who own
	// clients, and for whom user grants and /userinfo act) and their
	// consents.
	Accounts account.Repository
	// Catalogs resolves each tenant's roles, built in and custom, for the
	// client_credentials grant and introspection. New makes one over
	// Accounts that caches nothing when it is nil; a server that follows
	// the change log passes a cache the log invalidates
	// (changes.Caches.Catalogs).
	Catalogs *authz.Catalogs
	Grants   grant.Registry
	Now      func() time.Time
	Random   io.Reader
	Logger   *slog.Logger
	// FailureThreshold failed client authentications per client ID or
	// source address within FailureWindow make the token endpoint answer
	// 429 for that key until the window ends. Zero disables the limit.
	FailureThreshold int
	FailureWindow    time.Duration
	// SharedFailures, when set, pools the failures with those of every
	// instance on the same database, so the threshold holds in total
	// however the attempts are spread over the instances; nil counts in
	// this process alone. Should its store fail, the process's own count
	// is the limit.
	SharedFailures *ratelimit.Pool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when counting failures per source address; none by default.
	TrustedProxies []netip.Prefix
	// OnAuthFailure, when set, observes each failed client authentication
	// (for metrics).
	OnAuthFailure func(clientID, addr, reason string)
	// AuthFailures counts failed client authentications for the audit
	// trail, per tenant, client ID presented and reason, to become one
	// event each a minute (its owner flushes it; see countAuthFailure);
	// nil audits none.
	AuthFailures *audit.Tally
	// Metrics counts tokens issued and failed client authentications; nil
	// counts none.
	Metrics *metrics.Metrics

	// The authorization code flow needs the four below. Without any of
	// them the authorize, resume and logout endpoints answer with an error
	// page and discovery advertises none of the flow; without GrantStore
	// the default registry also leaves out the authorization_code and
	// refresh_token grants (see New).

	// Sessions tells who is signed in to the browser (the account pages).
	Sessions Sessions
	// Requests seals authorization requests through the login and consent
	// pages (authreq.NewSealer).
	Requests *authreq.Sealer
	// GrantStore keeps authorization codes and refresh tokens.
	GrantStore token.Grants
	// Consents records each authorization in the user's consent, so that
	// it shows on the Authorized applications page: *account.Sessions.
	Consents Consents

	// Registration, when set, serves dynamic client registration (RFC
	// 7591/7592) in the tenants whose policy turns it on, and discovery
	// advertises its endpoint there; nil serves none.
	Registration *registration.Registrar
	// RegistrationLimit counts registration attempts per source address
	// and refuses with 429 past its threshold; nil limits nothing.
	RegistrationLimit *ratelimit.Limiter
}

var _ Consents = (*account.Sessions)(nil)

// Consents is how the authorize endpoint records that a user authorized
// an application. *account.Sessions implements it.
type Consents interface {
	// Authorized merges scopes into the user's consent for the client
	// and records the authorization as its latest.
	Authorized(ctx context.Context, u *account.User, clientID string, scopes []string) (*account.Consent, error)
}

// Server serves the protocol endpoints of every tenant: the default
// tenant's at the root, each other tenant's under /t/{slug}. Build it with
// New.
type Server struct {
	Config
	limiter *ratelimit.Limiter
	tenants tenants
}

// New returns a Server with the grants Latchkey offers and defaults filled:
// Now = time.Now, Random = crypto/rand, a failure limit of 20 per minute.
// Without a GrantStore the default registry leaves out the
// authorization_code and refresh_token grants.
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
	s.limiter = ratelimit.New(s.FailureThreshold, s.FailureWindow).Share(s.SharedFailures, "client_auth")
	if s.Catalogs == nil && s.Accounts != nil {
		s.Catalogs = &authz.Catalogs{Source: s.Accounts, TTL: -1}
	}
	if s.Grants == nil {
		s.Grants = s.defaultGrants()
		if s.GrantStore == nil {
			// Without a store the user grants could only fail: serve and
			// advertise what works.
			delete(s.Grants, client.GrantAuthorizationCode)
			delete(s.Grants, client.GrantRefreshToken)
		}
	}
	return s
}

func (s *Server) now() time.Time { return s.Now().UTC() }

func (s *Server) minter() *Minter {
	return &Minter{Keys: s.Keys, Store: s.Tokens, Random: s.Random}
}

// user returns a user by ID, for the user grants.
func (s *Server) user(ctx context.Context, id string) (*account.User, error) {
	return s.Accounts.User(ctx, id)
}

// addRevocations puts revocations already stored into the in-memory list.
func (s *Server) addRevocations(revs []token.Revocation) {
	for _, rv := range revs {
		s.Revoked.Add(rv)
	}
}

// catalog returns the tenant's role catalog; the built-in roles alone when
// the server has no Catalogs (a zero Server, in ServedGrants).
func (s *Server) catalog(ctx context.Context, tenantID string) (*authz.Catalog, error) {
	if s.Catalogs == nil {
		return nil, nil
	}
	return s.Catalogs.Catalog(ctx, tenantID)
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
		mux.HandleFunc("GET "+base+"/oauth2/authorize", s.inTenantPage(s.handleAuthorize))
		mux.HandleFunc("POST "+base+"/oauth2/authorize", s.inTenantPage(s.handleAuthorize))
		mux.HandleFunc(base+"/oauth2/authorize", methodNotAllowed("GET, POST"))
		mux.HandleFunc("GET "+base+authreq.ResumePath, s.inTenantPage(s.handleResume))
		mux.HandleFunc(base+authreq.ResumePath, methodNotAllowed("GET"))
		mux.HandleFunc("GET "+base+"/oauth2/logout", s.inTenantPage(s.handleLogout))
		mux.HandleFunc("POST "+base+"/oauth2/logout", s.inTenantPage(s.handleLogout))
		mux.HandleFunc(base+"/oauth2/logout", methodNotAllowed("GET, POST"))
		mux.HandleFunc("GET "+base+"/userinfo", s.inTenant(s.handleUserinfo))
		mux.HandleFunc("POST "+base+"/userinfo", s.inTenant(s.handleUserinfo))
		mux.HandleFunc("OPTIONS "+base+"/userinfo", userinfoPreflight)
		mux.HandleFunc(base+"/userinfo", methodNotAllowed("GET, POST"))
		mux.HandleFunc("GET "+base+"/.well-known/oauth-authorization-server", s.inTenant(s.handleDiscovery))
		mux.HandleFunc("GET "+base+"/.well-known/openid-configuration", s.inTenant(s.handleDiscovery))
		mux.HandleFunc("GET "+base+"/.well-known/jwks.json", s.inTenant(s.handleJWKS))
		mux.HandleFunc("GET "+base+"/api/v1/me", s.inTenant(s.handleMe))
		mux.HandleFunc(base+"/api/v1/me", methodNotAllowed("GET"))
		s.mountRegistration(mux, base)
	}
	// RFC 8414 §3.1: metadata for an issuer with a path is found by
	// inserting the well-known segment before the path.
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/t/{tenant}", s.inTenant(s.handleDiscovery))
}
