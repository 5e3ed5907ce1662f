package admin

import (
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// Client is the JSON form of a client. Times are RFC 3339 in UTC; absent
// times ("never used", "never expires") are null.
type Client struct {
	ClientID          string     `json:"client_id"`
	TenantID          string     `json:"tenant_id"`
	Name              string     `json:"name"`
	Description       string     `json:"description"`
	Type              string     `json:"type"`
	GrantTypes        []string   `json:"grant_types"`
	RedirectURIs      []string   `json:"redirect_uris"`
	Scopes            []string   `json:"scopes"`
	Roles             []string   `json:"roles"`
	OwnerUserID       string     `json:"owner_user_id,omitempty"`
	DivisionID        string     `json:"division_id"`
	AccessTokenTTL    int64      `json:"access_token_ttl"`
	RefreshTokenTTL   int64      `json:"refresh_token_ttl"`
	TokenFormat       string     `json:"token_format"`
	RequireConsent    bool       `json:"require_consent"`
	RequirePKCE       bool       `json:"require_pkce"`
	Status            string     `json:"status"`
	Protected         bool       `json:"protected"`
	CreatedAt         time.Time  `json:"created_at"`
	CreatedBy         string     `json:"created_by"`
	UpdatedAt         time.Time  `json:"updated_at"`
	LastUsedAt        *time.Time `json:"last_used_at"`
	SecretExpiresAt   *time.Time `json:"secret_expires_at"`
	Secrets           []Secret   `json:"secrets,omitempty"`
	ClientSecret      string     `json:"client_secret,omitempty"`
	ClientSecretShown string     `json:"client_secret_notice,omitempty"`

	// The sign-in metadata, by their RFC 7591 and OpenID Connect
	// Registration names; the latest authorization and token are null
	// until the first one.
	TokenEndpointAuthMethod string         `json:"token_endpoint_auth_method"`
	IDTokenAlg              string         `json:"id_token_signed_response_alg"`
	PostLogoutRedirectURIs  []string       `json:"post_logout_redirect_uris"`
	LastAuthorization       *Authorization `json:"last_authorization"`
	LastToken               *Issue         `json:"last_token"`
}

// Authorization is the JSON form of a client's latest authorization.
type Authorization struct {
	At          time.Time `json:"at"`
	UserID      string    `json:"user_id"`
	RedirectURI string    `json:"redirect_uri"`
}

// Issue is the JSON form of the latest token issued to a client.
type Issue struct {
	At    time.Time `json:"at"`
	Grant string    `json:"grant"`
}

// Secret is the JSON form of a secret's metadata; the secret itself is
// never part of it.
type Secret struct {
	ID         string     `json:"id"`
	Hint       string     `json:"hint"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// LastUsedAddr is where the use at LastUsedAt came from: during a
	// rotation's grace it tells which caller still holds the old secret.
	LastUsedAddr *string    `json:"last_used_addr"`
	RevokedAt    *time.Time `json:"revoked_at"`
	// LeakedAt is when a leak report named the secret; null for never.
	LeakedAt *time.Time `json:"leaked_at"`
}

// SecretNotice accompanies a secret in a response: the one time it is shown.
const SecretNotice = "This secret is shown once and cannot be retrieved again. Store it securely now."

// NewClient returns the JSON form of c with its secrets' metadata.
func NewClient(c *client.Client, secrets []client.Secret) Client {
	v := Client{
		ClientID: c.ID, TenantID: c.TenantID, Name: c.Name, Description: c.Description,
		Type: string(c.Type), GrantTypes: make([]string, len(c.GrantTypes)),
		RedirectURIs: nonNil(c.RedirectURIs), Scopes: nonNil(c.Scopes), Roles: nonNil(c.Roles),
		OwnerUserID: c.OwnerUserID, DivisionID: c.DivisionID, AccessTokenTTL: int64(c.AccessTokenTTL / time.Second),
		RefreshTokenTTL: int64(c.RefreshTokenTTL / time.Second), TokenFormat: string(c.TokenFormat),
		RequireConsent: c.RequireConsent, RequirePKCE: c.RequirePKCE, Status: string(c.Status), Protected: c.Protected,
		CreatedAt: c.CreatedAt, CreatedBy: c.CreatedBy, UpdatedAt: c.UpdatedAt,
		LastUsedAt: optTime(c.LastUsedAt), SecretExpiresAt: optTime(c.SecretExpiresAt),
		TokenEndpointAuthMethod: string(c.TokenEndpointAuthMethod), IDTokenAlg: c.IDTokenAlg,
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
	}
	if v.IDTokenAlg == "" {
		v.IDTokenAlg = client.IDTokenRS256 // the documented default of an empty one
	}
	if a := c.LastAuthorization; !a.At.IsZero() {
		v.LastAuthorization = &Authorization{At: a.At, UserID: a.UserID, RedirectURI: a.RedirectURI}
	}
	if l := c.LastToken; !l.At.IsZero() {
		v.LastToken = &Issue{At: l.At, Grant: string(l.Grant)}
	}
	for i, g := range c.GrantTypes {
		v.GrantTypes[i] = string(g)
	}
	for _, s := range secrets {
		v.Secrets = append(v.Secrets, NewSecret(s))
	}
	return v
}

// NewSecret returns the JSON form of a secret's metadata.
func NewSecret(s client.Secret) Secret {
	return Secret{ID: s.ID, Hint: s.Hint, Status: string(s.Status), CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy,
		ExpiresAt: optTime(s.ExpiresAt), LastUsedAt: optTime(s.LastUsedAt), LastUsedAddr: optString(s.LastUsedAddr),
		RevokedAt: optTime(s.RevokedAt), LeakedAt: optTime(s.LeakedAt)}
}

// WithSecret adds an issued secret's plaintext, for the one response that
// carries it.
func (v Client) WithSecret(s *client.IssuedSecret) Client {
	if s != nil {
		v.ClientSecret, v.ClientSecretShown = s.Plaintext, SecretNotice
	}
	return v
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// optString is nil for "", so an unknown value is JSON null.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
