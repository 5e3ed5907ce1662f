package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// IatLeeway is how far in the future a token's iat (and nbf) may be, to
// forgive clock skew between instances. There is no leeway on exp.
const IatLeeway = 60 * time.Second

// MaxTokenSize bounds the tokens VerifyJWT will look at; longer input is
// refused before any decoding.
const MaxTokenSize = 16 << 10

// ErrInvalidToken is wrapped by every error VerifyJWT returns for a token
// that must be refused; errors.Is(err, ErrInvalidToken) tells a bad token
// apart from a server-side problem.
var ErrInvalidToken = errors.New("invalid token")

// Errors for specific reasons. Each wraps ErrInvalidToken.
var (
	// ErrTokenExpired: exp is not after the verification time.
	ErrTokenExpired error = tokenError("expired")
	// ErrUnknownKey: kid names no published key. A caller that suspects
	// another instance has just rotated may reload Keys and retry once.
	ErrUnknownKey error = tokenError("unknown signing key")

	errTooLarge     error = tokenError("too large")
	errMalformed    error = tokenError("malformed")
	errBadHeader    error = tokenError("malformed header")
	errBadType      error = tokenError(`typ is not "at+jwt"`)
	errBadAlg       error = tokenError("alg does not match the key")
	errCrit         error = tokenError("unsupported critical header")
	errBadSignature error = tokenError("signature verification failed")
	errBadClaims    error = tokenError("malformed claims")
	errNoExpiry     error = tokenError("missing exp")
	errNoIssuedAt   error = tokenError("missing iat")
	errFuture       error = tokenError("issued in the future")
	errNotYetValid  error = tokenError("not yet valid")
	errNotLoaded          = errors.New("token: signing keys are not loaded")
)

// tokenError is a reason a token was refused.
type tokenError string

func (e tokenError) Error() string { return "invalid token: " + string(e) }
func (e tokenError) Unwrap() error { return ErrInvalidToken }

// headerSegment returns the base64url JWS header for a key.
func headerSegment(alg, kid string) (string, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, "at+jwt"})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h), nil
}

// SignJWT encodes c as an RFC 9068 access token signed with the current
// key. It fails when Keys is not loaded, when c lacks IssuedAt or
// ExpiresAt, or when Extra uses a registered claim name or holds a value
// encoding/json cannot encode.
func (k *Keys) SignJWT(c Claims) (string, error) {
	set := k.set.Load()
	if set == nil {
		return "", errNotLoaded
	}
	return signJWT(set.signer, set.signerHeader, &c)
}

// signJWT encodes c under header and signs it with s.
func signJWT(s Signer, header string, c *Claims) (string, error) {
	var arr [512]byte
	payload, err := appendClaims(arr[:0], c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	n := len(header) + 1 + enc.EncodedLen(len(payload))
	tok := make([]byte, 0, n+1+enc.EncodedLen(64))
	tok = append(tok, header...)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, payload)
	sig, err := s.Sign(tok)
	if err != nil {
		return "", fmt.Errorf("token: signing with key %s: %w", s.KeyID(), err)
	}
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig)
	return string(tok), nil
}

// VerifyJWT checks tok as an access token signed by one of the published
// keys and returns its claims. It requires typ "at+jwt" (or
// "application/at+jwt", any case), the key's own alg, a valid signature,
// now before exp, and iat no more than IatLeeway after now. It does not
// check iss, aud or revocation: that is the caller's policy.
//
// Every refusal wraps ErrInvalidToken; VerifyJWT never panics on input.
func (k *Keys) VerifyJWT(tok string, now time.Time) (*Claims, error) {
	set := k.set.Load()
	if set == nil {
		return nil, errNotLoaded
	}
	if len(tok) > MaxTokenSize {
		return nil, errTooLarge
	}
	h, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, errMalformed
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return nil, errMalformed
	}
	key, err := set.keyForHeader(h)
	if err != nil {
		return nil, err
	}
	var sigBuf [64]byte
	if base64.RawURLEncoding.DecodedLen(len(s)) != len(sigBuf) {
		return nil, errBadSignature
	}
	if n, err := base64.RawURLEncoding.Strict().Decode(sigBuf[:], []byte(s)); err != nil || n != len(sigBuf) {
		return nil, errBadSignature
	}
	if !key.verify([]byte(tok[:len(h)+1+len(p)]), sigBuf[:]) {
		return nil, errBadSignature
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return nil, errBadClaims
	}
	c, nbf, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	switch {
	case !now.Before(c.ExpiresAt):
		return nil, ErrTokenExpired
	case c.IssuedAt.After(now.Add(IatLeeway)):
		return nil, errFuture
	case nbf.After(now.Add(IatLeeway)):
		return nil, errNotYetValid
	}
	return c, nil
}

// keyForHeader finds the published key a JWS header names and checks the
// header against it.
func (s *keySet) keyForHeader(h string) (*publishedKey, error) {
	// Our own tokens carry exactly the header we precomputed: one string
	// compare per key instead of base64 and JSON.
	for _, k := range s.published {
		if k.header == h {
			return k, nil
		}
	}
	if len(h) > 1024 {
		return nil, errBadHeader
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return nil, errBadHeader
	}
	// A map keeps member names exact: a struct would match "ALG" too.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errBadHeader
	}
	var alg, kid, typ string
	for name, v := range fields {
		var err error
		switch name {
		case "alg":
			err = json.Unmarshal(v, &alg)
		case "kid":
			err = json.Unmarshal(v, &kid)
		case "typ":
			err = json.Unmarshal(v, &typ)
		case "crit":
			// We implement no extensions, so any critical one is refused
			// (RFC 7515 §4.1.11).
			return nil, errCrit
		}
		if err != nil {
			return nil, errBadHeader
		}
	}
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, errBadType
	}
	for _, k := range s.published {
		if k.id == kid {
			if alg != k.alg {
				return nil, errBadAlg
			}
			return k, nil
		}
	}
	return nil, ErrUnknownKey
}
