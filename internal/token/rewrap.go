package token

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// Rewrap re-seals every stored private key under newKEK, reading it with
// oldKEK, in one transaction of st: when any key opens under neither
// key, nothing changes and the error names it. A key that already opens
// under newKEK is left as it is, so Rewrap may be run again (say, after
// an instance still on the old key made one more). It returns how many
// keys it re-sealed and how many were sealed under newKEK already.
// random is the entropy for the new nonces; nil means crypto/rand.Reader.
func Rewrap(ctx context.Context, st KeyStore, oldKEK, newKEK []byte, random io.Reader) (resealed, already int, err error) {
	if random == nil {
		random = rand.Reader
	}
	if string(oldKEK) == string(newKEK) {
		return 0, 0, errors.New("token: the old and the new key-encryption keys are the same")
	}
	from, err := NewSealer(oldKEK, random)
	if err != nil {
		return 0, 0, fmt.Errorf("token: the old key-encryption key: %w", err)
	}
	to, err := NewSealer(newKEK, random)
	if err != nil {
		return 0, 0, fmt.Errorf("token: the new key-encryption key: %w", err)
	}
	resealed, already = 0, 0
	_, err = st.ResealSigningKeys(ctx, func(k SigningKey) ([]byte, error) {
		der, err := from.Open(k.ID, k.SealedPrivateKey)
		if errors.Is(err, ErrWrongKEK) {
			if plain, err := to.Open(k.ID, k.SealedPrivateKey); err == nil {
				clear(plain)
				already++
				return k.SealedPrivateKey, nil
			}
			return nil, fmt.Errorf("token: signing key %s opens under neither the old nor the new key-encryption key", k.ID)
		}
		if err != nil {
			return nil, err
		}
		defer clear(der)
		sealed, err := to.Seal(k.ID, der)
		if err != nil {
			return nil, err
		}
		resealed++
		return sealed, nil
	})
	if err != nil {
		return 0, 0, err
	}
	return resealed, already, nil
}
