package bulk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer keeps a rotation's new secrets encrypted at rest with
// AES-256-GCM until they are downloaded, each bound to its job and client:
// a sealed secret copied to another row does not open.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("bulk: the result key must be 32 bytes, got %d", len(key))
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

func bind(jobID, clientID string) []byte { return []byte(jobID + "/" + clientID) }

// Seal encrypts a client's new secret for job jobID.
func (s *Sealer) Seal(jobID, clientID, secret string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), bind(jobID, clientID)), nil
}

// Open returns the secret Seal sealed.
func (s *Sealer) Open(jobID, clientID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("bulk: sealed secret is truncated")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], bind(jobID, clientID))
	if err != nil {
		return "", fmt.Errorf("bulk: the secret of %s does not open with this server's key", clientID)
	}
	return string(plain), nil
}
