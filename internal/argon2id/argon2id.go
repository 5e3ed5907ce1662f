package argon2id

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time, Memory uint32 // Memory in KiB
	Threads      uint8
	KeyLen       uint32
}

// Default is the first of the equivalent configurations of the OWASP
// Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane. Memory is what
// makes guessing costly on GPUs and ASICs, so Default takes the most of
// the listed options that fits the server's 64 MB budget next to the rest
// of the process; RFC 9106's 64 MiB option (and OWASP's 46 MiB one) would
// not fit even alone. One lane keeps a computation on one core, so with
// MaxMemory admitting one at a time argon2id never takes more than one of
// the server's cores from its other requests.
var Default = Params{Time: 2, Memory: defaultMemory, Threads: 1, KeyLen: 32}

// Previous is what Default was before: RFC 9106's second recommended
// option with two lanes. Hashes made with it keep verifying, as every PHC
// string carries its parameters; each such check takes the whole of
// MaxMemory and more, until the hash is renewed (see NeedsRehash).
var Previous = Params{Time: 3, Memory: 64 * 1024, Threads: 2, KeyLen: 32}

const defaultMemory = 19 * 1024

// ErrMalformed means a stored hash is not an argon2id PHC string this
// package can check.
var ErrMalformed = errors.New("argon2id: malformed hash")

// Prefix starts every hash this package produces.
const Prefix = "$argon2id$"

// Hash returns the PHC string of secret with a fresh 16-byte salt from r.
// It is HashContext without a deadline: it waits for its turn as long as
// it takes.
func Hash(r io.Reader, secret string, p Params) (string, error) {
	return HashContext(context.Background(), r, secret, p)
}

// HashContext is Hash, waiting for its turn under MaxMemory only as long
// as ctx allows: when ctx ends first, it returns ctx's error.
func HashContext(ctx context.Context, r io.Reader, secret string, p Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("argon2id: read salt: %w", err)
	}
	key, err := process.derive(ctx, []byte(secret), salt, p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether secret matches the PHC string hash, comparing in
// constant time. Parameters are bounded so a tampered row cannot make a
// check take unbounded memory or time. It is VerifyContext without a
// deadline.
func Verify(hash, secret string) (bool, error) {
	return VerifyContext(context.Background(), hash, secret)
}

// VerifyContext is Verify, waiting for its turn under MaxMemory only as
// long as ctx allows: when ctx ends first, it returns false and ctx's
// error. A malformed hash is refused without waiting.
func VerifyContext(ctx context.Context, hash, secret string) (bool, error) {
	p, salt, want, err := decode(hash)
	if err != nil {
		return false, err
	}
	got, err := process.derive(ctx, []byte(secret), salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(want, got) == 1, nil
}

// NeedsRehash reports whether hash was made with other parameters than p
// (or is not one this package can read), so that a caller who has just
// verified the secret can store HashContext's fresh one in its place.
func NeedsRehash(hash string, p Params) bool {
	got, _, _, err := decode(hash)
	return err != nil || got != p
}

// decode splits a PHC string into its parameters (KeyLen the key's
// length), salt and key, refusing what it cannot check or what would cost too
// much.
func decode(hash string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrMalformed
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrMalformed
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) < 16 || len(key) > 64 ||
		p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return p, nil, nil, ErrMalformed
	}
	p.KeyLen = uint32(len(key))
	return p, salt, key, nil
}
