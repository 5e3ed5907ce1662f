// Package grant holds one small handler per OAuth 2.0 grant type behind one
// interface, and the typed registry the token endpoint dispatches through.
package grant

import (
	"context"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// Tenant is the tenant whose token endpoint a request came to: tokens are
// issued in its name.
type Tenant struct {
	ID string
	// Issuer is the tenant's issuer: its tokens' iss and aud.
	Issuer string
}

// Request is a token request whose client, one of Tenant's, is already
// authenticated.
type Request struct {
	Tenant Tenant
	Client *client.Client
	// Secret is the secret the client authenticated with; nil for a
	// public client.
	Secret *client.Secret
	Params url.Values
	Now    time.Time
}

// Response is a successful token response (RFC 6749 §5.1).
type Response struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// Handler serves one grant type. Handle returns an *oautherr.Error for
// protocol failures; any other error is a server failure.
type Handler interface {
	GrantType() client.GrantType
	// AllowsPublic reports whether public clients, which authenticate
	// with client_id alone, may use the grant.
	AllowsPublic() bool
	Handle(ctx context.Context, r *Request) (*Response, error)
}

// Registry maps grant_type values to handlers.
type Registry map[client.GrantType]Handler

// NewRegistry returns a registry of the given handlers.
func NewRegistry(hs ...Handler) Registry {
	r := make(Registry, len(hs))
	for _, h := range hs {
		r[h.GrantType()] = h
	}
	return r
}

// AccessRequest asks for an access token.
type AccessRequest struct {
	// Tenant issues the token: its issuer and its signing keys.
	Tenant   Tenant
	Client   *client.Client
	SecretID string // the secret the client authenticated with, if any
	// Subject is the token's sub: the client ID for client_credentials
	// (a client never passes for a user), the user ID otherwise.
	Subject string
	Scopes  []string
	// Extra are private claims (owner, permissions).
	Extra map[string]any
	Now   time.Time
	// ID, when set, is the token's jti, chosen by the grant so that it can
	// record the token before minting it; empty for a fresh one.
	ID string
}

// Issued is a minted access token.
type Issued struct {
	Token     string
	ExpiresIn time.Duration
	// ID is the token's jti; ExpiresAt is AccessExpiry of the request.
	ID        string
	ExpiresAt time.Time
}

// AccessExpiry is when an access token issued to c at now expires: the
// client's lifetime after now in whole seconds, as a JWT's exp and iat
// are.
func AccessExpiry(c *client.Client, now time.Time) time.Time {
	return now.Truncate(time.Second).Add(c.AccessTokenTTL)
}

// TokenIssuer mints access tokens in the client's chosen format.
type TokenIssuer interface {
	IssueAccess(ctx context.Context, r AccessRequest) (*Issued, error)
}
