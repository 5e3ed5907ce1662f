package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Claims are the claims of an RFC 9068 access token.
//
// Empty strings, an empty Audience and a nil Extra are left out of the
// encoded token; IssuedAt and ExpiresAt are required and travel as whole
// seconds.
type Claims struct {
	Issuer   string   // iss
	Subject  string   // sub
	Audience []string // aud: a string when there is one, an array otherwise
	ClientID string   // client_id
	Scope    string   // scope: space-separated
	ID       string   // jti

	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp

	// Extra holds private claims such as "owner" or "permissions". Its
	// keys must not be registered claim names (see [Claims]' fields, and
	// nbf). Values are encoded with encoding/json; VerifyJWT decodes them
	// as encoding/json decodes into an any (numbers become float64).
	Extra map[string]any
}

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

// registered lists the claim names Claims owns; Extra may not use them.
var registered = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope"}

func isRegistered(name string) bool { return slices.Contains(registered[:], name) }

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

// appendClaims appends c's JSON encoding to b. Hand-written rather than
// encoding/json so that aud can be a string or an array and Extra can sit
// beside the registered claims without an intermediate map.
func appendClaims(b []byte, c *Claims) ([]byte, error) {
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		return nil, errors.New("token: claims need IssuedAt and ExpiresAt")
	}
	b = append(b, '{')
	b = appendStringClaim(b, "iss", c.Issuer)
	b = appendStringClaim(b, "sub", c.Subject)
	switch len(c.Audience) {
	case 0:
	case 1:
		b = appendStringClaim(b, "aud", c.Audience[0])
	default:
		b = append(b, `"aud":[`...)
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, "],"...)
	}
	b = append(b, `"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt.Unix(), 10)
	b = append(b, ',')
	b = appendStringClaim(b, "jti", c.ID)
	b = appendStringClaim(b, "client_id", c.ClientID)
	b = appendStringClaim(b, "scope", c.Scope)
	if len(c.Extra) > 0 {
		// Sorted, so equal claims encode to equal bytes.
		names := make([]string, 0, len(c.Extra))
		for name := range c.Extra {
			if isRegistered(name) {
				return nil, fmt.Errorf("token: extra claim %q is a registered claim name", name)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			v, err := json.Marshal(c.Extra[name])
			if err != nil {
				return nil, fmt.Errorf("token: encoding claim %q: %w", name, err)
			}
			b = appendJSONString(b, name)
			b = append(b, ':')
			b = append(b, v...)
			b = append(b, ',')
		}
	}
	b[len(b)-1] = '}' // replaces the trailing comma; iat guarantees one
	return b, nil
}

func appendStringClaim(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	b = appendJSONString(b, v)
	return append(b, ',')
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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

// parseClaims decodes a verified JWT payload. nbf is zero when absent.
func parseClaims(payload []byte) (c *Claims, nbf time.Time, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil || fields == nil {
		return nil, nbf, errBadClaims
	}
	c = new(Claims)
	var haveExp, haveIat bool
	for name, v := range fields {
		var err error
		switch name {
		case "iss":
			err = json.Unmarshal(v, &c.Issuer)
		case "sub":
			err = json.Unmarshal(v, &c.Subject)
		case "client_id":
			err = json.Unmarshal(v, &c.ClientID)
		case "scope":
			err = json.Unmarshal(v, &c.Scope)
		case "jti":
			err = json.Unmarshal(v, &c.ID)
		case "aud":
			c.Audience, err = parseAudience(v)
		case "exp":
			c.ExpiresAt, err = parseNumericDate(v)
			haveExp = true
		case "iat":
			c.IssuedAt, err = parseNumericDate(v)
			haveIat = true
		case "nbf":
			// Latchkey never sets nbf, but a token that carries one is
			// held to it rather than having it ignored.
			nbf, err = parseNumericDate(v)
		default:
			var x any
			if err = json.Unmarshal(v, &x); err == nil {
				c.Extra = setExtra(c.Extra, name, x)
			}
		}
		if err != nil {
			return nil, nbf, errBadClaims
		}
	}
	switch {
	case !haveExp:
		return nil, nbf, errNoExpiry
	case !haveIat:
		return nil, nbf, errNoIssuedAt
	}
	return c, nbf, nil
}

func setExtra(m map[string]any, name string, v any) map[string]any {
	if m == nil {
		m = make(map[string]any)
	}
	m[name] = v
	return m
}

// parseAudience accepts a string or an array of strings.
func parseAudience(v json.RawMessage) ([]string, error) {
	if len(v) > 0 && v[0] == '"' {
		var s string
		err := json.Unmarshal(v, &s)
		return []string{s}, err
	}
	var aud []string
	if err := json.Unmarshal(v, &aud); err != nil || aud == nil {
		return nil, errBadClaims // null is not an audience
	}
	return aud, nil
}

// parseNumericDate decodes an RFC 7519 NumericDate: seconds since the
// epoch, possibly fractional, truncated to whole seconds.
func parseNumericDate(v json.RawMessage) (time.Time, error) {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return time.Time{}, errBadClaims
	}
	f, err := strconv.ParseFloat(string(v), 64)
	// Bounded so the conversion cannot overflow: year 1970 to ~36,800.
	if err != nil || f < 0 || f >= 1<<40 || math.IsNaN(f) {
		return time.Time{}, errBadClaims
	}
	return time.Unix(int64(f), 0).UTC(), nil
}
