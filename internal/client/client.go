package client

import (
	"slices"
	"strconv"
	"time"
)

// Type says whether a client can keep a secret (RFC 6749 §2.1).
type Type string

const (
	// Confidential clients authenticate with a secret.
	Confidential Type = "confidential"
	// Public clients have no secret and must use PKCE.
	Public Type = "public"
)

// Status is where a client stands in its lifecycle.
type Status string

const (
	StatusActive   Status = "active"
	StatusInactive Status = "inactive"
	// StatusRevoked is terminal: a revoked client stays listed but never
	// obtains a token again.
	StatusRevoked Status = "revoked"
	// StatusPending is a dynamically registered client awaiting an
	// admin's approval (activation); it obtains no token until then.
	StatusPending Status = "pending_approval"
)

// GrantType is an OAuth 2.0 grant a client may use.
type GrantType string

const (
	GrantClientCredentials GrantType = "client_credentials"
	GrantAuthorizationCode GrantType = "authorization_code"
	GrantRefreshToken      GrantType = "refresh_token"
)

// AuthMethod is how a client authenticates at the token endpoint
// (RFC 7591 token_endpoint_auth_method). A client is held to its one
// method: any other is refused for it.
type AuthMethod string

const (
	// AuthSecretBasic sends the secret in HTTP Basic credentials: the
	// default of confidential clients (RFC 7591 §2).
	AuthSecretBasic AuthMethod = "client_secret_basic"
	// AuthSecretPost sends client_id and client_secret in the form body.
	AuthSecretPost AuthMethod = "client_secret_post"
	// AuthNone is a public client's: client_id alone, with PKCE.
	AuthNone AuthMethod = "none"
)

// ID token signing algorithms a client may ask for
// (id_token_signed_response_alg). RS256 is the default every relying
// party supports (OpenID Connect Core §15.1).
const (
	IDTokenRS256 = "RS256"
	IDTokenES256 = "ES256"
)

// Authorization is what the latest authorization of a client was (seed
// osoc's read-only fields), kept without any code or token.
type Authorization struct {
	At          time.Time
	UserID      string
	RedirectURI string
}

// Issue is the latest token issued to a client: when, and by which grant.
type Issue struct {
	At    time.Time
	Grant GrantType
}

// TokenFormat selects how a client's access tokens are represented.
type TokenFormat string

const (
	// TokenJWT is a self-contained RFC 9068 JWT, verifiable offline.
	TokenJWT TokenFormat = "jwt"
	// TokenOpaque is a random reference, stored hashed and checked by
	// introspection.
	TokenOpaque TokenFormat = "opaque"
)

// Limits of the client model.
const (
	MaxNameLen         = 200
	MaxDescriptionLen  = 2000
	MaxRedirectURIs    = 125
	MaxRedirectURILen  = 2000
	MaxScopes          = 100
	MaxScopeLen        = 128
	MaxRoles           = 50
	MinAccessTokenTTL  = 300 * time.Second
	MaxAccessTokenTTL  = 172800 * time.Second
	DefaultAccessTTL   = 3600 * time.Second
	MinRefreshTokenTTL = time.Hour
	MaxRefreshTokenTTL = 365 * 24 * time.Hour
	DefaultRefreshTTL  = 30 * 24 * time.Hour
)

// Client is an application registered to obtain tokens.
//
// Zero times mean "never": a zero LastUsedAt is "Never used" and a zero
// SecretExpiresAt means the current secret never expires (or there is none).
type Client struct {
	ID          string
	TenantID    string
	Name        string
	Description string
	Type        Type
	GrantTypes  []GrantType
	// RedirectURIs are matched exactly, except loopback ports (RFC 8252 §7.3).
	RedirectURIs []string
	// Scopes are those the client may request; "*" allows any.
	Scopes []string
	// Roles say what a client_credentials client may do.
	Roles []string
	// TokenEndpointAuthMethod is the one way the client authenticates:
	// client_secret_basic or client_secret_post for a confidential
	// client, none for a public one.
	TokenEndpointAuthMethod AuthMethod
	// IDTokenAlg is the JWS algorithm of the client's ID tokens:
	// IDTokenRS256 (the default when empty) or IDTokenES256.
	IDTokenAlg string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to; matched exactly like RedirectURIs.
	PostLogoutRedirectURIs []string
	// OwnerUserID is the account the client acts for; empty for none.
	OwnerUserID string
	// DivisionID is the division of the tenant the client belongs to
	// (authz.HomeDivision unless put elsewhere): an admin acts on it only
	// with a role held tenant-wide or in that division.
	DivisionID      string
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	TokenFormat     TokenFormat
	RequireConsent  bool
	// RequirePKCE makes a confidential client send PKCE with every
	// authorization request, as public clients always must (RFC 9700
	// §2.1.1); a tenant policy can require it of every client.
	RequirePKCE bool
	Status      Status
	// Protected clients were provisioned at first start: editing them needs
	// confirmation and deleting them is refused.
	Protected bool

	CreatedAt       time.Time
	CreatedBy       string
	UpdatedAt       time.Time
	LastUsedAt      time.Time
	SecretExpiresAt time.Time
	// LastAuthorization and LastToken are kept like LastUsedAt: coalesced
	// in memory and written in batches, so no request waits on them.
	LastAuthorization Authorization
	LastToken         Issue
}

// HasGrant reports whether the client may use grant g.
func (c *Client) HasGrant(g GrantType) bool { return slices.Contains(c.GrantTypes, g) }

// CanObtainTokens reports whether the client's status lets it obtain tokens.
func (c *Client) CanObtainTokens() bool { return c.Status == StatusActive }

// Clone returns a deep copy, so callers and caches never share slices.
func (c *Client) Clone() *Client {
	d := *c
	d.GrantTypes = slices.Clone(c.GrantTypes)
	d.RedirectURIs = slices.Clone(c.RedirectURIs)
	d.Scopes = slices.Clone(c.Scopes)
	d.Roles = slices.Clone(c.Roles)
	d.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	return &d
}

// CanTransition reports whether a client may move from status from to to.
// Active and inactive switch freely, either may be revoked, and revoked is
// terminal. A pending client may be approved (activated), kept inactive or
// revoked; no client returns to pending.
func CanTransition(from, to Status) bool {
	switch {
	case from == StatusRevoked, to == StatusPending:
		return false
	case to == StatusActive, to == StatusInactive, to == StatusRevoked:
		return true
	}
	return false
}

// ValidStatus reports whether s names a status.
func ValidStatus(s Status) bool {
	return s == StatusActive || s == StatusInactive || s == StatusRevoked || s == StatusPending
}

// Version names the client's state for optimistic concurrency (the admin
// API's ETag): it changes with every committed change to the client or
// its secrets, and not with usage.
func (c *Client) Version() string { return strconv.FormatInt(c.UpdatedAt.UnixMicro(), 36) }
