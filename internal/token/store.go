package token

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors; storage adapters return them for missing and duplicate
// records.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// SigningKey is a stored signing key. The private key is sealed with the
// key-encryption key; the public key is kept in the clear for JWKS.
type SigningKey struct {
	// ID is the JWS "kid".
	ID        string
	Algorithm string // "ES256" or "EdDSA"
	// PublicKey is the PKIX DER encoding of the public key.
	PublicKey []byte
	// SealedPrivateKey is the PKCS #8 DER private key, encrypted.
	SealedPrivateKey []byte
	CreatedAt        time.Time
	// RetiredAt is when a newer key replaced this one; zero for the
	// current key.
	RetiredAt time.Time
	// PublishUntil is how long a retired key stays in JWKS: until every
	// token it signed has expired. Zero for the current key.
	PublishUntil time.Time
}

// KeyStore keeps signing keys. Every tenant has keys of its own: each
// method sees only the keys of the tenant it is given, so one tenant's
// rotation never touches, retires or prunes another's.
type KeyStore interface {
	// SigningKeys returns every stored key of the tenant, newest first.
	SigningKeys(ctx context.Context, tenantID string) ([]SigningKey, error)
	// RotateSigningKey stores k as the tenant's current key and retires
	// its previous current key (RetiredAt = k.CreatedAt, PublishUntil =
	// publishUntil), atomically. expectCurrent is the ID of the key the
	// caller believes current ("" for none): when another key is current,
	// nothing is stored and ErrConflict is returned, so instances rotating
	// at once make one new key, not several. A key ID taken in any tenant
	// is also ErrConflict.
	RotateSigningKey(ctx context.Context, tenantID string, k *SigningKey, expectCurrent string, publishUntil time.Time) error
	// PruneSigningKeys deletes the tenant's retired keys whose
	// PublishUntil is before t.
	PruneSigningKeys(ctx context.Context, tenantID string, t time.Time) error
}

// Record is a stored access token: an opaque token's whole state, found by
// the hash of its value.
type Record struct {
	// ID is the token's "jti".
	ID string
	// Hash is the SHA-256 of the token value, base64url; the value itself
	// is never stored.
	Hash      string
	ClientID  string
	SecretID  string // the secret the client authenticated with; may be empty
	Subject   string
	Audience  []string
	Scopes    []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Revocation marks a token ID as revoked until the token would have
// expired anyway.
type Revocation struct {
	TokenID   string
	ClientID  string
	ExpiresAt time.Time
}

// Store keeps opaque tokens and the revocation list.
type Store interface {
	// CreateToken stores an opaque access token.
	CreateToken(ctx context.Context, r *Record) error
	// TokenByHash finds an opaque token by its hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (*Record, error)
	// Revoke adds a token ID to the revocation list and deletes the
	// opaque token with that ID, if any. Revoking twice is not an error.
	Revoke(ctx context.Context, r Revocation) error
	// Revocations returns every revocation that expires after t.
	Revocations(ctx context.Context, t time.Time) ([]Revocation, error)
	// PruneTokens deletes opaque tokens and revocations that expired
	// before t.
	PruneTokens(ctx context.Context, t time.Time) error
}
