package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// KEKSize is the length in bytes of a key-encryption key: AES-256.
const KEKSize = 32

// Sealed blob layout, version 1:
//
//	version (1) | KEK fingerprint (4) | nonce (12) | AES-256-GCM ciphertext+tag
//
// The additional authenticated data is version | fingerprint | key ID, so a
// blob copied onto another key's row, or with its header edited, fails to
// open. The fingerprint is the first bytes of HMAC-SHA256(KEK, a label); it
// exists only to tell "wrong KEK" apart from "tampered blob" in the error,
// and 32 bits of a one-way function of a 256-bit key give nothing away.
const (
	sealVersion1    = 1
	fingerprintSize = 4
	nonceSize       = 12
	sealOverhead    = 1 + fingerprintSize + nonceSize + 16
)

// ErrWrongKEK is returned when a sealed key was encrypted under a different
// key-encryption key than the one configured.
var ErrWrongKEK = errors.New("token: signing keys were sealed with a different LATCHKEY_SECRET_KEY")

// ErrSealBroken is returned when a sealed key fails authentication under
// the right key-encryption key: it was altered, truncated, or moved from
// another key's row.
var ErrSealBroken = errors.New("token: sealed signing key failed authentication (altered or moved between keys)")

// Sealer encrypts private signing keys at rest with a key-encryption key
// (KEK) using AES-256-GCM. A Sealer is safe for concurrent use.
type Sealer struct {
	aead        cipher.AEAD
	fingerprint [fingerprintSize]byte
	random      io.Reader
}

// NewSealer returns a Sealer for kek, which must be exactly [KEKSize]
// bytes. random is the source of nonces; nil means crypto/rand.Reader.
func NewSealer(kek []byte, random io.Reader) (*Sealer, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("token: key-encryption key must be %d bytes, got %d", KEKSize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	s := &Sealer{aead: aead, random: random}
	mac := hmac.New(sha256.New, kek)
	mac.Write([]byte("latchkey signing-key KEK fingerprint v1"))
	copy(s.fingerprint[:], mac.Sum(nil))
	return s, nil
}

// Seal encrypts plaintext, binding it to keyID: [Sealer.Open] succeeds only
// with the same KEK and the same keyID. Each call uses a fresh random nonce.
func (s *Sealer) Seal(keyID string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+fingerprintSize+nonceSize, sealOverhead+len(plaintext))
	out[0] = sealVersion1
	copy(out[1:], s.fingerprint[:])
	nonce := out[1+fingerprintSize:]
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return nil, fmt.Errorf("token: sealing key %s: reading nonce: %w", keyID, err)
	}
	return s.aead.Seal(out, nonce, plaintext, s.aad(out[:1+fingerprintSize], keyID)), nil
}

// Open decrypts a blob made by [Sealer.Seal] for keyID. It returns an error
// wrapping [ErrWrongKEK] when the blob was sealed under another KEK, and
// one wrapping [ErrSealBroken] when it does not authenticate.
func (s *Sealer) Open(keyID string, sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("%w: key %s: %d bytes is too short", ErrSealBroken, keyID, len(sealed))
	}
	if sealed[0] != sealVersion1 {
		return nil, fmt.Errorf("%w: key %s: unknown format version %d", ErrSealBroken, keyID, sealed[0])
	}
	header := sealed[:1+fingerprintSize]
	if !hmac.Equal(header[1:], s.fingerprint[:]) {
		return nil, fmt.Errorf("%w (key %s)", ErrWrongKEK, keyID)
	}
	nonce := sealed[len(header) : len(header)+nonceSize]
	plain, err := s.aead.Open(nil, nonce, sealed[len(header)+nonceSize:], s.aad(header, keyID))
	if err != nil {
		return nil, fmt.Errorf("%w: key %s", ErrSealBroken, keyID)
	}
	return plain, nil
}

func (s *Sealer) aad(header []byte, keyID string) []byte {
	aad := make([]byte, 0, len(header)+len(keyID))
	aad = append(aad, header...)
	return append(aad, keyID...)
}
