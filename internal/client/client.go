package client

import (
	"slices"
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
)

// GrantType is an OAuth 2.0 grant a client may use.
type GrantType string

const (
	GrantClientCredentials GrantType = "client_credentials"
	GrantAuthorizationCode GrantType = "authorization_code"
	GrantRefreshToken      GrantType = "refresh_token"
)

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
	// OwnerUserID is the account the client acts for; empty for none.
	OwnerUserID     string
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	TokenFormat     TokenFormat
	RequireConsent  bool
	Status          Status
	// Protected clients were provisioned at first start: editing them needs
	// confirmation and deleting them is refused.
	Protected bool

	CreatedAt       time.Time
	CreatedBy       string
	UpdatedAt       time.Time
	LastUsedAt      time.Time
	SecretExpiresAt time.Time
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
	return &d
}

// CanTransition reports whether a client may move from status from to to.
// Active and inactive switch freely, either may be revoked, and revoked is
// terminal.
func CanTransition(from, to Status) bool {
	switch {
	case from == StatusRevoked:
		return false
	case to == StatusActive, to == StatusInactive, to == StatusRevoked:
		return true
	}
	return false
}

// ValidStatus reports whether s names a status.
func ValidStatus(s Status) bool {
	return s == StatusActive || s == StatusInactive || s == StatusRevoked
}
