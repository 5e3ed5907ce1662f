package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer keeps webhooks' signing secrets encrypted at rest with
// AES-256-GCM, each bound to its webhook's ID: a sealed secret copied onto
// another webhook's row does not open.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("notify: the webhook secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts secret for the webhook id: a fresh nonce, then the
// ciphertext.
func (s *Sealer) Seal(id string, secret []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, secret, []byte(id)), nil
}

// Open returns w's signing secret.
func (s *Sealer) Open(w *Webhook) (string, error) {
	n := s.aead.NonceSize()
	if len(w.SealedSecret) < n {
		return "", errors.New("notify: sealed webhook secret is truncated")
	}
	plain, err := s.aead.Open(nil, w.SealedSecret[:n], w.SealedSecret[n:], []byte(w.ID))
	if err != nil {
		return "", fmt.Errorf("notify: webhook %s: its secret does not open with this server's key", w.ID)
	}
	return string(plain), nil
}
