package bulk

import (
	"fmt"

	"github.com/latchkey/latchkey/internal/token"
)

// Sealer keeps a rotation's new secrets encrypted at rest until they are
// downloaded: AES-256-GCM through token.Sealer, each bound to its job and
// client, so a sealed secret copied to another row does not open.
type Sealer struct{ s *token.Sealer }

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	s, err := token.NewSealer(key, nil)
	if err != nil {
		return nil, fmt.Errorf("bulk: the result key: %w", err)
	}
	return &Sealer{s: s}, nil
}

func bind(jobID, clientID string) string { return jobID + "/" + clientID }

// Seal encrypts a client's new secret for job jobID.
func (s *Sealer) Seal(jobID, clientID, secret string) ([]byte, error) {
	return s.s.Seal(bind(jobID, clientID), []byte(secret))
}

// Open returns the secret Seal sealed.
func (s *Sealer) Open(jobID, clientID string, sealed []byte) (string, error) {
	plain, err := s.s.Open(bind(jobID, clientID), sealed)
	if err != nil {
		return "", fmt.Errorf("bulk: the secret of %s does not open with this server's key", clientID)
	}
	return string(plain), nil
}
