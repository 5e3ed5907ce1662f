// Package argon2id hashes low-entropy secrets (passwords, admin-chosen client
// secrets) with argon2id and encodes them as PHC strings.
package argon2id

import (
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

// Default follows RFC 9106's second recommended option (64 MiB, 3 passes).
var Default = Params{Time: 3, Memory: 64 * 1024, Threads: 2, KeyLen: 32}

// ErrMalformed means a stored hash is not an argon2id PHC string this
// package can check.
var ErrMalformed = errors.New("argon2id: malformed hash")

// Prefix starts every hash this package produces.
const Prefix = "$argon2id$"

// Hash returns the PHC string of secret with a fresh 16-byte salt from r.
func Hash(r io.Reader, secret string, p Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("argon2id: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether secret matches the PHC string hash, comparing in
// constant time. Parameters are bounded so a tampered row cannot make a
// check take unbounded memory or time.
func Verify(hash, secret string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, ErrMalformed
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 64 ||
		p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false, ErrMalformed
	}
	got := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(want, got) == 1, nil
}
