package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// IatLeeway is how far in the future a token's iat (and nbf) may be, to
// forgive clock skew between instances. There is no leeway on exp.
const IatLeeway = 60 * time.Second

// MaxTokenSize bounds the tokens a verifier will look at; longer input is
// refused before any decoding.
const MaxTokenSize = 16 << 10

// ErrInvalidToken is wrapped by every error a verifier returns for a token
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
	errBadType      error = tokenError("typ is not this kind of token's")
	errBadAlg       error = tokenError("alg does not match the key")
	errCrit         error = tokenError("unsupported critical header")
	errBadSignature error = tokenError("signature verification failed")
	errBadClaims    error = tokenError("malformed claims")
	errNoExpiry     error = tokenError("missing exp")
	errNoIssuedAt   error = tokenError("missing iat")
	errMissing      error = tokenError("a required claim is missing")
	errFuture       error = tokenError("issued in the future")
	errNotYetValid  error = tokenError("not yet valid")
	errIssuer       error = tokenError("iss is not the expected issuer")
	errAudience     error = tokenError("aud names none of the expected audiences")
	errNotLoaded          = errors.New("token: signing keys are not loaded")
	errNoExpect           = errors.New("token: a verifier needs an issuer and at least one audience to expect")
)

// tokenError is a reason a token was refused.
type tokenError string

func (e tokenError) Error() string { return "invalid token: " + string(e) }
func (e tokenError) Unwrap() error { return ErrInvalidToken }

// kind is one type of JWT that Keys signs. Every kind has its own typ
// header, and each verifier accepts only its own, so that a token of one
// kind can never pass for another (RFC 8725 §3.11): an ID token is not an
// access token, whatever its claims say.
type kind uint8

const (
	accessToken kind = iota // RFC 9068 access tokens
	idToken                 // OpenID Connect ID tokens
	numKinds
)

// kindSpec is one row of the kind table.
type kindSpec struct {
	name string
	// typ is the header value signed tokens carry.
	typ string
	// accept are the typ values the verifier takes, compared without
	// regard to case (RFC 7515 §4.1.9).
	accept []string
}

// kinds is the kind table. A new kind (logout tokens: typ
// "logout+jwt") is a row here and a pair of Sign and Verify methods.
var kinds = [numKinds]kindSpec{
	accessToken: {name: "access token", typ: "at+jwt", accept: []string{"at+jwt", "application/at+jwt"}},
	// OpenID Connect sets no typ for ID tokens; "JWT" is what RFC 7519
	// §5.1 suggests and what relying parties expect.
	idToken: {name: "ID token", typ: "JWT", accept: []string{"JWT", "application/jwt"}},
}

func (k kind) accepts(typ string) bool {
	return slices.ContainsFunc(kinds[k].accept, func(a string) bool { return strings.EqualFold(a, typ) })
}

// Expect is what a verifier requires of a token beyond its kind, a valid
// signature and a current lifetime.
type Expect struct {
	// Issuer must equal iss exactly. Required.
	Issuer string
	// Audience lists the audiences the caller answers for: aud must name
	// at least one of them. Required: a verifier that checked no audience
	// would accept a token meant for someone else.
	Audience []string
}

func (e Expect) valid() bool { return e.Issuer != "" && len(e.Audience) > 0 }

// anyAudience reports whether aud names one of e's audiences.
func (e Expect) anyAudience(aud []string) bool {
	return slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(e.Audience, a) })
}

// headerSegment returns the base64url JWS header of a kind of token signed
// by a key.
func headerSegment(alg, kid string, k kind) (string, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, kinds[k].typ})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h), nil
}

// headers returns the header segments of every kind for a key.
func headers(alg, kid string) (h [numKinds]string, err error) {
	for k := range numKinds {
		if h[k], err = headerSegment(alg, kid, k); err != nil {
			return h, err
		}
	}
	return h, nil
}

// sign signs payload as a token of kind kd with the current key.
func (k *Keys) sign(kd kind, payload []byte) (string, error) {
	return signSet(k.set.Load(), kd, payload)
}

// signSet signs payload as a token of kind kd with set's current key;
// a nil set is Keys before Load.
func signSet(set *keySet, kd kind, payload []byte) (string, error) {
	if set == nil {
		return "", errNotLoaded
	}
	s, header := set.signer, set.signerHeaders[kd]
	enc := base64.RawURLEncoding
	n := len(header) + 1 + enc.EncodedLen(len(payload))
	tok := make([]byte, 0, n+1+enc.EncodedLen(512))
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

// maxSigSize is the longest signature verify decodes: RSA-4096.
const maxSigSize = 512

// verify checks tok's compact JWS form, its header against kind kd and a
// published key, and its signature, and returns the decoded payload.
func (k *Keys) verify(tok string, kd kind) ([]byte, error) {
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
	key, err := set.keyForHeader(h, kd)
	if err != nil {
		return nil, err
	}
	var sigBuf [maxSigSize]byte
	size := key.sigSize()
	if size == 0 || size > len(sigBuf) || base64.RawURLEncoding.DecodedLen(len(s)) != size {
		return nil, errBadSignature
	}
	if n, err := base64.RawURLEncoding.Strict().Decode(sigBuf[:], []byte(s)); err != nil || n != size {
		return nil, errBadSignature
	}
	if !key.verify([]byte(tok[:len(h)+1+len(p)]), sigBuf[:size]) {
		return nil, errBadSignature
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return nil, errBadClaims
	}
	return payload, nil
}

// checkTimes applies the lifetime rules every kind shares: now before
// exp, and iat and nbf no more than IatLeeway after now.
func checkTimes(now, iat, exp, nbf time.Time) error {
	if !now.Before(exp) {
		return ErrTokenExpired
	}
	return checkIssued(now, iat, nbf)
}

// checkIssued is checkTimes without exp: iat and nbf no more than
// IatLeeway after now.
func checkIssued(now, iat, nbf time.Time) error {
	switch {
	case iat.After(now.Add(IatLeeway)):
		return errFuture
	case nbf.After(now.Add(IatLeeway)):
		return errNotYetValid
	}
	return nil
}

// keyForHeader finds the published key a JWS header names and checks the
// header against it and against kind kd.
func (s *keySet) keyForHeader(h string, kd kind) (*publishedKey, error) {
	// Our own tokens carry exactly the header we precomputed: one string
	// compare per key instead of base64 and JSON.
	for _, k := range s.published {
		if k.headers[kd] == h {
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
	if !kd.accepts(typ) {
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
