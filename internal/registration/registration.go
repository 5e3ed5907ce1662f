package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"
)

// Prefixes of the tokens registration issues, so secret scanners know them.
const (
	// InitialTokenPrefix begins an initial access token (RFC 7591 §3).
	InitialTokenPrefix = "lki_"
	// AccessTokenPrefix begins a registration access token (RFC 7592 §1).
	AccessTokenPrefix = "lkr_"
)

// OpenRegistrar is Registration.RegisteredBy of a client registered openly.
const OpenRegistrar = "open"

// ErrNotFound is what stores return for a missing record.
var ErrNotFound = errors.New("registration: not found")

// Registration is how a client came to be registered dynamically. The
// registration access token is kept only as its hash.
type Registration struct {
	ClientID  string
	TenantID  string
	TokenHash string
	Template  string
	// RegisteredBy is the ID of the initial access token used, or
	// OpenRegistrar.
	RegisteredBy   string
	RegisteredAddr string
	// Extra is the RFC 7591 metadata the client model has no field for.
	Extra     Extra
	CreatedAt time.Time
}

// Extra is the client metadata of RFC 7591 §2 that Latchkey keeps but does
// not act on: shown to users and admins, returned in RFC 7592 reads.
type Extra struct {
	ClientURI       string   `json:"client_uri,omitempty"`
	LogoURI         string   `json:"logo_uri,omitempty"`
	TOSURI          string   `json:"tos_uri,omitempty"`
	PolicyURI       string   `json:"policy_uri,omitempty"`
	Contacts        []string `json:"contacts,omitempty"`
	SoftwareID      string   `json:"software_id,omitempty"`
	SoftwareVersion string   `json:"software_version,omitempty"`
	ApplicationType string   `json:"application_type,omitempty"`
}

// InitialToken is an initial access token: what an admin hands a
// developer so that they may register clients in a tenant whose policy
// requires one. Only its hash is stored.
type InitialToken struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"-"`
	Hash      string    `json:"-"`
	Name      string    `json:"name"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// MaxUses is how many registrations the token allows; 0 for any number
	// until it expires.
	MaxUses    int       `json:"max_uses"`
	Uses       int       `json:"uses"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Usable reports whether the token may register a client at now.
func (t *InitialToken) Usable(now time.Time) bool {
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) && (t.MaxUses == 0 || t.Uses < t.MaxUses)
}

// Store reads what registration keeps, outside any transaction.
type Store interface {
	// RegistrationByToken returns the registration whose access token has
	// this hash, or ErrNotFound.
	RegistrationByToken(ctx context.Context, hash string) (*Registration, error)
	// Registration returns a client's registration, or ErrNotFound.
	Registration(ctx context.Context, clientID string) (*Registration, error)
	// InitialTokenByHash returns the tenant's initial access token with
	// this hash, usable or not, or ErrNotFound.
	InitialTokenByHash(ctx context.Context, tenantID, hash string) (*InitialToken, error)
	// InitialTokens lists a tenant's initial access tokens, newest first.
	InitialTokens(ctx context.Context, tenantID string) ([]InitialToken, error)
	// UnusedRegistrations returns up to limit IDs of the tenant's
	// registered, unprotected clients last used (or, never used,
	// registered) before before, oldest first.
	UnusedRegistrations(ctx context.Context, tenantID string, before time.Time, limit int) ([]string, error)
}

// Tx is what registration writes in the client domain's transaction
// (client.Tx): the store's one transaction type implements both, so a
// registration commits with its client or not at all.
type Tx interface {
	CreateRegistration(ctx context.Context, r *Registration) error
	// SetRegistrationExtra replaces a registration's Extra.
	SetRegistrationExtra(ctx context.Context, clientID string, e Extra) error
	// UseInitialToken counts one use of the tenant's initial access token
	// with this hash, if it is usable at now, and returns it; ErrNotFound
	// when there is none or it is not usable. Concurrent uses serialize,
	// so a token allows no more than MaxUses registrations.
	UseInitialToken(ctx context.Context, tenantID, hash string, now time.Time) (*InitialToken, error)
	CreateInitialToken(ctx context.Context, t *InitialToken) error
	// RevokeInitialToken marks the tenant's token revoked at at;
	// ErrNotFound when the tenant has no such token.
	RevokeInitialToken(ctx context.Context, tenantID, id string, at time.Time) error
}

// HashToken is how initial and registration access tokens are stored:
// they carry 256 random bits, so a fast hash is enough and lets them be
// found by an index.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Error is an error response of the registration endpoints: RFC 7591
// §3.2.2's codes with 400, invalid_token with 401 (RFC 6750 §3.1).
type Error struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Error codes.
const (
	CodeInvalidRedirectURI          = "invalid_redirect_uri"
	CodeInvalidClientMetadata       = "invalid_client_metadata"
	CodeInvalidSoftwareStatement    = "invalid_software_statement"
	CodeUnapprovedSoftwareStatement = "unapproved_software_statement"
	CodeInvalidToken                = "invalid_token"
	CodeAccessDenied                = "access_denied"
	CodeInvalidRequest              = "invalid_request"
)

func badMetadata(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidClientMetadata, Description: desc}
}

func badRedirect(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRedirectURI, Description: desc}
}

func invalidToken(desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: desc}
}
