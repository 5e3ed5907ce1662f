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

// KeyUse says which tokens a signing key signs. Each use of a tenant has
// its own lineage of keys (one next and one current at a time), rotated on
// its own; the tenant's JWKS publishes the keys of every use.
type KeyUse string

const (
	// UseAccess keys sign access tokens (and ID tokens of clients that ask
	// for their algorithm). The zero KeyUse means UseAccess.
	UseAccess KeyUse = "access"
	// UseID keys sign ID tokens: RS256 by default, the algorithm every
	// OpenID Connect relying party supports (OpenID Connect Core §15.1).
	UseID KeyUse = "id"
)

// SigningKey is a stored signing key. The private key is sealed with the
// key-encryption key; the public key is kept in the clear for JWKS.
type SigningKey struct {
	// ID is the JWS "kid".
	ID        string
	Algorithm string // "ES256", "EdDSA" or "RS256"
	// Use is the lineage the key belongs to; empty reads as UseAccess.
	Use KeyUse
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
// another's. Within a tenant each KeyUse is a lineage of its own: at most
// one key of a tenant and use is next and one current at any time; the
// store enforces it, so instances racing to rotate make one key, not
// several, and rotating one use never retires a key of another.
type KeyStore interface {
	// SigningKeys returns every stored key of the tenant, of every use,
	// newest first.
	SigningKeys(ctx context.Context, tenantID string) ([]SigningKey, error)
	// AddSigningKey stores k for the tenant in state k.State: KeyNext when
	// no key of the tenant and k.Use is next, or KeyCurrent when none is
	// current (the use's first key; later keys become current by
	// promotion). When another key of that use holds that state, or k.ID
	// is taken in any tenant, it stores nothing and returns ErrConflict.
	AddSigningKey(ctx context.Context, tenantID string, k *SigningKey) error
	// PromoteSigningKey makes the tenant's next key next current from at
	// and retires the current key of next's use, expectCurrent
	// (RetiredAt = at, PublishUntil = publishUntil), atomically. When next
	// is not a next key or expectCurrent not the current one of its use
	// ("" for none), it changes nothing and returns ErrConflict.
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
//
// A revocation with IssuedBefore set is a cut-off instead: TokenID is then
// a CutOffKey, and every access token of that subject (and client, when
// the key names one) issued before IssuedBefore is revoked. That is how
// disabling a user, or revoking an application's consent, ends access
// tokens nobody kept a record of. ExpiresAt is then when the last token
// the cut-off can matter for expires.
type Revocation struct {
	TokenID      string
	ClientID     string
	ExpiresAt    time.Time
	IssuedBefore time.Time
}

// CutOffKey is the TokenID of a cut-off revocation: every token of subject
// (a user ID) issued to clientID, or to any client when clientID is "".
// The form cannot collide with a token ID, which has no ':'.
func CutOffKey(subject, clientID string) string {
	return string(appendCutOffKey(nil, subject, clientID))
}

// Store keeps opaque tokens and the revocation list.
type Store interface {
	// CreateToken stores an opaque access token.
	CreateToken(ctx context.Context, r *Record) error
	// TokenByHash finds an opaque token by its hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (*Record, error)
	// Revoke adds a token ID (or a cut-off) to the revocation list and
	// deletes the opaque token with that ID, if any. Revoking twice is not
	// an error: the stored revocation keeps the later ExpiresAt and the
	// later IssuedBefore.
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

// Code is an authorization code (RFC 6749 §4.1.2), stored only as the
// hash of its value. It is single use and lives for at most a minute.
type Code struct {
	// Hash is the SHA-256 of the code's value, base64url.
	Hash     string
	TenantID string
	ClientID string
	UserID   string
	// SessionID is the ID (not the cookie value) of the login session the
	// code was issued in.
	SessionID   string
	RedirectURI string
	Scopes      []string
	Nonce       string
	// CodeChallenge is the PKCE S256 challenge; empty when none was sent
	// (confidential clients only).
	CodeChallenge string
	// AuthTime is when the user last authenticated (ID token auth_time).
	AuthTime  time.Time
	IssuedAt  time.Time
	ExpiresAt time.Time
	// FamilyID names the refresh token family an exchange of the code
	// starts; chosen when the code is made, so that a replay can revoke
	// what the first exchange issued.
	FamilyID string
	// UsedAt is when the code was exchanged; zero while unused.
	UsedAt time.Time
	// AccessTokenID and AccessExpiresAt record the access token the
	// exchange issued, so that a replay can revoke it.
	AccessTokenID   string
	AccessExpiresAt time.Time
}

// RefreshToken is a refresh token, stored only as the hash of its value.
// Tokens rotate on every use: each use marks the token used and issues the
// next one of the same family. Presenting a used token again is reuse, and
// revokes the whole family (RFC 9700 §4.14.2).
type RefreshToken struct {
	// ID is a public identifier, for the records and the audit trail.
	ID       string
	Hash     string
	FamilyID string
	TenantID string
	ClientID string
	UserID   string
	Scopes   []string
	AuthTime time.Time
	// AccessTokenID and AccessExpiresAt record the access token issued
	// with this refresh token, so that revoking the family can revoke it.
	AccessTokenID   string
	AccessExpiresAt time.Time
	IssuedAt        time.Time
	ExpiresAt       time.Time
	// UsedAt is when the token was exchanged for its successor; zero while
	// it is the family's live token.
	UsedAt time.Time
	// RevokedAt is when the token was revoked; zero unless it was.
	RevokedAt time.Time
}

// Active reports whether the token can be used at now.
func (t *RefreshToken) Active(now time.Time) bool {
	return t.UsedAt.IsZero() && t.RevokedAt.IsZero() && now.Before(t.ExpiresAt)
}

// RefreshFilter selects refresh tokens to revoke: those of a user, of a
// client, of a user's tokens for one client, or of one family. Empty
// fields match anything; at least one must be set.
type RefreshFilter struct {
	UserID   string
	ClientID string
	FamilyID string
}

// Grants is the persistence of authorization codes and refresh tokens.
type Grants interface {
	// RefreshTokenByHash returns a refresh token, used, revoked or not,
	// or ErrNotFound.
	RefreshTokenByHash(ctx context.Context, hash string) (*RefreshToken, error)
	// InGrantTx runs fn in one transaction, committed when fn returns nil
	// and rolled back otherwise.
	InGrantTx(ctx context.Context, fn func(GrantTx) error) error
	// PruneGrants deletes codes and refresh tokens that expired before t.
	PruneGrants(ctx context.Context, t time.Time) error
}

// GrantTx is the write side of Grants inside InGrantTx: the store's one
// unit of work, seen by the authorization code and refresh token grants.
type GrantTx interface {
	// Revoker writes revocations in the transaction.
	Revoker
	CreateCode(ctx context.Context, c *Code) error
	// UseCode finds the code with this hash and holds it until the
	// transaction ends, so two exchanges of one code serialize. When the
	// code is unused it marks it used at now and returns it with UsedAt
	// zero (as it was); when it was used before it changes nothing and
	// returns it with its UsedAt. A missing code is ErrNotFound.
	UseCode(ctx context.Context, hash string, now time.Time) (*Code, error)
	// UserActive reports whether the user exists in the tenant and is
	// active, read in the transaction.
	UserActive(ctx context.Context, userID, tenantID string) (bool, error)
	// ConsentScopes returns the scopes the user has approved for the
	// client, or ErrNotFound when they have approved nothing (or revoked
	// it): an exchange checks that the authorization still stands.
	ConsentScopes(ctx context.Context, userID, clientID string) ([]string, error)
	// SetCodeAccess records on a code the access token its exchange issued.
	SetCodeAccess(ctx context.Context, hash, accessTokenID string, accessExpiresAt time.Time) error
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// UseRefreshToken finds the refresh token with this hash and holds it
	// until the transaction ends; when it is active at now it marks it
	// used at now. It returns the token as it was before the call, or
	// ErrNotFound.
	UseRefreshToken(ctx context.Context, hash string, now time.Time) (*RefreshToken, error)
}

// Revoker is the write of revocations inside another domain's
// transaction: ending a user's or an application's refresh tokens and
// adding revocations (of token IDs, and cut-offs) in the same unit of work
// as the change that calls for it. Other domains' Tx interfaces embed it.
type Revoker interface {
	// RevokeRefreshTokens marks the refresh tokens f selects revoked at
	// now (those already revoked keep their time), and returns a
	// revocation for each access token recorded on them that has not
	// expired at now. It does not store those: the caller adds them.
	RevokeRefreshTokens(ctx context.Context, f RefreshFilter, now time.Time) ([]Revocation, error)
	// AddRevocation stores a revocation, as Store.Revoke does.
	AddRevocation(ctx context.Context, r Revocation) error
}
