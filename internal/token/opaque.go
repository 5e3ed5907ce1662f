package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// OpaquePrefix starts every opaque access token, so that secret scanners
// and people can tell what a leaked string is.
const OpaquePrefix = "lkat_"

// opaqueChars is enough base62 characters for 256 bits: 62^43 > 2^256.
const opaqueChars = 43

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewOpaque returns a new opaque access token and the hash to store in its
// place. The value is OpaquePrefix followed by 43 uniformly random base62
// characters (256 bits). r is the entropy source; nil means
// crypto/rand.Reader.
func NewOpaque(r io.Reader) (value, hash string, err error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, len(OpaquePrefix), len(OpaquePrefix)+opaqueChars)
	copy(b, OpaquePrefix)
	var buf [64]byte
	for len(b) < cap(b) {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", "", fmt.Errorf("token: reading randomness: %w", err)
		}
		for _, x := range buf {
			// Rejection sampling: 248 = 4*62, so x%62 is uniform below it.
			if x >= 248 || len(b) == cap(b) {
				continue
			}
			b = append(b, base62[x%62])
		}
	}
	value = string(b)
	return value, HashOpaque(value), nil
}

// HashOpaque returns the stored form of an opaque token (or of any other
// high-entropy bearer value): base64url without padding of its SHA-256.
// A fast hash suffices because the value carries 256 bits of entropy.
func HashOpaque(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// LooksLikeJWT reports whether s has the shape of a compact JWS with a
// JSON header: three non-empty base64url segments, the first starting
// with "eyJ" (the encoding of `{"`). It verifies nothing; it only routes
// a bearer token to VerifyJWT or to an opaque-token lookup.
func LooksLikeJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if i == len(s)-1 || s[i+1] == '.' {
				return false // an empty payload or signature
			}
			continue
		}
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
