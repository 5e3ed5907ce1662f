package client

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/argon2id"
)

// SecretStatus is where a secret stands.
type SecretStatus string

const (
	// SecretActive is the client's current secret.
	SecretActive SecretStatus = "active"
	// SecretRetiring was replaced by a rotation and still works until its
	// ExpiresAt, the end of the grace period.
	SecretRetiring SecretStatus = "retiring"
	// SecretRevoked never works again.
	SecretRevoked SecretStatus = "revoked"
)

// Secret lifetimes.
const (
	DefaultSecretLifetime = 180 * 24 * time.Hour
	MinSecretLifetime     = 24 * time.Hour
	MaxSecretLifetime     = 3 * 365 * 24 * time.Hour
	// NeverExpires as a secret lifetime makes the secret valid until rotated
	// or revoked.
	NeverExpires time.Duration = -1
	// MaxGracePeriod bounds how long a rotated secret may keep working.
	MaxGracePeriod = 30 * 24 * time.Hour
	// MinSuppliedSecretLen is the shortest admin-supplied secret accepted.
	MinSuppliedSecretLen = 32
	// MaxSuppliedSecretLen bounds admin-supplied secrets.
	MaxSuppliedSecretLen = 512
)

// Secret is one credential of a confidential client. Only its hash is kept.
type Secret struct {
	ID       string
	ClientID string
	// Hash is "sha256:<base64>" for generated secrets and an argon2id PHC
	// string for admin-supplied ones.
	Hash string
	// Hint is the secret's last four characters, to tell secrets apart.
	Hint       string
	Status     SecretStatus
	CreatedAt  time.Time
	CreatedBy  string
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // zero: never used
	// LastUsedAddr is the source address of the use at LastUsedAt; empty
	// when never used or not known.
	LastUsedAddr string
	RevokedAt    time.Time // zero: not revoked
	// LeakedAt is when a credible leak report named the secret; zero
	// for never. A leaked secret that still works is a warning to show.
	LeakedAt time.Time
}

// Usable reports whether the secret authenticates at time now.
func (s *Secret) Usable(now time.Time) bool {
	if s.Status != SecretActive && s.Status != SecretRetiring {
		return false
	}
	return s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt)
}

// Expired reports whether the secret's expiry has passed at now.
func (s *Secret) Expired(now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)
}

// DaysLeft is how many days from now until expiresAt, counting a part
// of a day as a day: a secret made now with a 180-day lifetime has 180
// left, and one that expires within the next 24 hours has 1. It is 0 when
// expiresAt has come; the caller says what a zero expiresAt (none) means.
func DaysLeft(expiresAt, now time.Time) int {
	left := expiresAt.Sub(now)
	if left <= 0 {
		return 0
	}
	return int((left + day - 1) / day)
}

// Generated secrets look like lks_<43 base62 chars><6 base62 checksum chars>:
// the prefix lets secret scanners find leaks, and the CRC-32 checksum lets
// them (and Latchkey) tell a real secret from a typo without a lookup.
const (
	SecretPrefix   = "lks_"
	ClientIDPrefix = "lkc_"
	secretBodyLen  = 43 // ceil(256 / log2(62))
	checksumLen    = 6  // ceil(32 / log2(62))
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62. It reads
// random bytes in bulk and keeps those below 248 (4 × 62), so each kept byte
// maps to a character with equal probability.
func randomBase62(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/8+8)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out), nil
}

func encodeBase62Fixed(v uint32, n int) string {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = base62[v%62]
		v /= 62
	}
	return string(b)
}

// NewSecretValue generates a secret with 256 bits of entropy, the lks_
// prefix and a checksum.
func NewSecretValue(r io.Reader) (string, error) { return NewTokenValue(r, SecretPrefix) }

// IsGeneratedSecret reports whether s has the shape and a valid checksum of
// a secret Latchkey generated.
func IsGeneratedSecret(s string) bool { return IsTokenValue(s, SecretPrefix) }

// NewTokenValue generates a bearer credential shaped like a secret: 256
// bits of entropy after prefix, and a checksum, so scanners find it and a
// typo is told from a real one without a lookup.
func NewTokenValue(r io.Reader, prefix string) (string, error) {
	body, err := randomBase62(r, secretBodyLen)
	if err != nil {
		return "", err
	}
	s := prefix + body
	return s + encodeBase62Fixed(crc32.ChecksumIEEE([]byte(s)), checksumLen), nil
}

// IsTokenValue reports whether s has the shape and a valid checksum of a
// credential NewTokenValue generated with prefix.
func IsTokenValue(s, prefix string) bool {
	if len(s) != len(prefix)+secretBodyLen+checksumLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	cut := len(s) - checksumLen
	want := encodeBase62Fixed(crc32.ChecksumIEEE([]byte(s[:cut])), checksumLen)
	return subtle.ConstantTimeCompare([]byte(want), []byte(s[cut:])) == 1
}

// NewClientID generates a client ID with the lkc_ prefix and 128 random bits.
func NewClientID(r io.Reader) (string, error) {
	body, err := randomBase62(r, 22)
	if err != nil {
		return "", err
	}
	return ClientIDPrefix + body, nil
}

// NewID generates a non-secret identifier with the given prefix.
func NewID(r io.Reader, prefix string) (string, error) {
	body, err := randomBase62(r, 20)
	if err != nil {
		return "", err
	}
	return prefix + body, nil
}

// ValidateSuppliedSecret checks a secret chosen by an admin (seed osoc).
func ValidateSuppliedSecret(s string) error {
	var fe fieldErrors
	switch {
	case len(s) < MinSuppliedSecretLen:
		fe.add("client_secret", fmt.Sprintf("must be at least %d characters", MinSuppliedSecretLen))
	case len(s) > MaxSuppliedSecretLen:
		fe.add("client_secret", fmt.Sprintf("must be at most %d characters", MaxSuppliedSecretLen))
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		fe.add("client_secret", "must be printable ASCII without spaces")
	}
	return fe.err()
}

// HashSecret returns the stored form of a secret. Generated secrets carry
// 256 random bits, so a SHA-256 digest is enough and costs microseconds to
// check; anything else, chosen by a person, is hashed with argon2id.
func HashSecret(r io.Reader, secret string) (string, error) {
	if IsGeneratedSecret(secret) {
		d := sha256.Sum256([]byte(secret))
		return "sha256:" + base64.RawStdEncoding.EncodeToString(d[:]), nil
	}
	return argon2id.Hash(r, secret, argon2id.Default)
}

// errBadHash means a stored hash could not be parsed.
var errBadHash = errors.New("unrecognised secret hash")

// IsSlowHash reports whether checking against hash costs an argon2id run.
func IsSlowHash(hash string) bool { return strings.HasPrefix(hash, argon2id.Prefix) }

// VerifySecret reports whether secret matches hash, in constant time with
// respect to the secret's content.
func VerifySecret(hash, secret string) (bool, error) {
	if digest, ok := strings.CutPrefix(hash, "sha256:"); ok {
		want, err := base64.RawStdEncoding.DecodeString(digest)
		if err != nil {
			return false, errBadHash
		}
		got := sha256.Sum256([]byte(secret))
		return subtle.ConstantTimeCompare(want, got[:]) == 1, nil
	}
	if strings.HasPrefix(hash, argon2id.Prefix) {
		return argon2id.Verify(hash, secret)
	}
	return false, errBadHash
}

// secretHint returns the last four characters of a secret.
func secretHint(s string) string {
	if len(s) <= 4 {
		return ""
	}
	return s[len(s)-4:]
}
