package token

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
)

// Sentinel errors: the shared ones of package errs under this package's
// names, so one table (admin.Classify) maps every domain's. Storage
// adapters return them for missing and duplicate records.
var (
	ErrNotFound = errs.ErrNotFound
	ErrConflict = errs.ErrConflict
)

// KeyState is where a signing key is in its life.
type KeyState string

// The states of a signing key. A key is made next (or, the first key of a
// store, current), is promoted to current, is retired by its successor's
// promotion, and is pruned once its tokens have expired.
const (
	// KeyNext is published in JWKS ahead of use and signs nothing yet, so
	// that resource servers have it cached before a token needs it.
	KeyNext KeyState = "next"
	// KeyCurrent signs new tokens.
	KeyCurrent KeyState = "current"
	// KeyRetired signs nothing and stays published until PublishUntil.
	KeyRetired KeyState = "retired"
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
	State            KeyState
	// CreatedAt is when the key was made, and first published.
	CreatedAt time.Time
	// ActivatedAt is when the key started signing; zero for a next key.
	ActivatedAt time.Time
	// RetiredAt is when a newer key replaced this one; zero unless
	// retired.
	RetiredAt time.Time
	// PublishUntil is how long a retired key stays in JWKS: until every
	// token it signed has expired. Zero unless retired.
	PublishUntil time.Time
}

// KeyStore keeps signing keys. Every tenant has keys of its own: each
// method but ResealSigningKeys sees only the keys of the tenant it is
// given, so one tenant's rotation never touches, retires or prunes
// another's. At most one key of a tenant is next and one current at any
// time; the store enforces it, so instances racing to rotate make one key,
// not several.
type KeyStore interface {
	// SigningKeys returns every stored key of the tenant, newest first.
	SigningKeys(ctx context.Context, tenantID string) ([]SigningKey, error)
	// AddSigningKey stores k for the tenant in state k.State: KeyNext when
	// no key of the tenant is next, or KeyCurrent when none is current
	// (the tenant's first key; later keys become current by promotion).
	// When another key holds that state, or k.ID is taken in any tenant,
	// it stores nothing and returns ErrConflict.
	AddSigningKey(ctx context.Context, tenantID string, k *SigningKey) error
	// PromoteSigningKey makes the tenant's next key next current from at
	// and retires its current key expectCurrent (RetiredAt = at,
	// PublishUntil = publishUntil), atomically. When next is not the next
	// key or expectCurrent not the current one ("" for none), it changes
	// nothing and returns ErrConflict.
	PromoteSigningKey(ctx context.Context, tenantID, next, expectCurrent string, at, publishUntil time.Time) error
	// PruneSigningKeys deletes the tenant's retired keys whose
	// PublishUntil is before t.
	PruneSigningKeys(ctx context.Context, tenantID string, t time.Time) error
	// ResealSigningKeys replaces every key's SealedPrivateKey, in every
	// tenant, with what reseal returns for it, in one transaction, and
	// returns how many keys it rewrote. When reseal fails for any key,
	// nothing changes and its error is returned.
	ResealSigningKeys(ctx context.Context, reseal func(SigningKey) ([]byte, error)) (int, error)
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
	// RevocationsByID returns the revocations of the given token IDs that
	// are stored, in no particular order.
	RevocationsByID(ctx context.Context, ids []string) ([]Revocation, error)
	// PruneTokens deletes opaque tokens and revocations that expired
	// before t.
	PruneTokens(ctx context.Context, t time.Time) error
}
