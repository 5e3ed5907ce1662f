package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// IDClaims are the claims of an OpenID Connect ID token (OpenID Connect
// Core §2): who signed in, for which client, and when.
//
// Empty strings, a zero AuthTime and a nil Extra are left out of the
// encoded token; IssuedAt and ExpiresAt are required and travel as whole
// seconds.
type IDClaims struct {
	Issuer   string // iss
	Subject  string // sub: the user
	Audience string // aud: the client ID the token was issued to

	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp
	AuthTime  time.Time // auth_time: when the user last authenticated

	Nonce           string // nonce, echoed from the authentication request
	AuthorizedParty string // azp
	AccessTokenHash string // at_hash (OpenID Connect Core §3.1.3.6)

	// Extra holds further claims such as "email" or "name". Its keys must
	// not be registered names (see IDClaims' fields, jti and nbf).
	// VerifyID decodes them as encoding/json decodes into an any.
	Extra map[string]any
}

// idRegistered lists the claim names IDClaims owns.
var idRegistered = [...]string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp", "at_hash"}

// SignID encodes c as an ID token (typ "JWT") signed with the current
// key. It fails when Keys is not loaded, when c lacks Issuer, Subject,
// Audience, IssuedAt or ExpiresAt, or when Extra uses a registered claim
// name or holds a value encoding/json cannot encode.
func (k *Keys) SignID(c IDClaims) (string, error) {
	payload, err := appendIDClaims(nil, &c)
	if err != nil {
		return "", err
	}
	return k.sign(idToken, payload)
}

// VerifyID checks tok as an ID token signed by one of the published keys
// and returns its claims. It requires typ "JWT", the key's own alg, a
// valid signature, now before exp, iat no more than IatLeeway after now,
// iss equal to want.Issuer, an aud that is one of want.Audience (the
// relying party's client ID), an azp, when present, that is one too, and
// a sub. Comparing the nonce is the caller's. An expired token is
// refused with an error wrapping ErrTokenExpired.
//
// Every refusal wraps ErrInvalidToken; VerifyID never panics on input.
// An empty want is a server-side error, not a refusal.
func (k *Keys) VerifyID(tok string, now time.Time, want Expect) (*IDClaims, error) {
	return k.verifyID(tok, now, want, false)
}

// verifyID is VerifyID; with hint set it skips the exp check alone, for
// an id_token_hint, which may have expired.
func (k *Keys) verifyID(tok string, now time.Time, want Expect, hint bool) (*IDClaims, error) {
	if !want.valid() {
		return nil, errNoExpect
	}
	payload, err := k.verify(tok, idToken)
	if err != nil {
		return nil, err
	}
	c, nbf, err := parseIDClaims(payload)
	if err != nil {
		return nil, err
	}
	check := checkTimes(now, c.IssuedAt, c.ExpiresAt, nbf)
	if hint {
		check = checkIssued(now, c.IssuedAt, nbf)
	}
	if check != nil {
		return nil, check
	}
	switch {
	case c.Issuer != want.Issuer:
		return nil, errIssuer
	case !slices.Contains(want.Audience, c.Audience):
		return nil, errAudience
	case c.AuthorizedParty != "" && !slices.Contains(want.Audience, c.AuthorizedParty):
		return nil, errAudience
	case c.Subject == "":
		return nil, errMissing
	}
	return c, nil
}

// appendIDClaims appends c's JSON encoding to b.
func appendIDClaims(b []byte, c *IDClaims) ([]byte, error) {
	switch {
	case c.IssuedAt.IsZero() || c.ExpiresAt.IsZero():
		return nil, errors.New("token: ID token claims need IssuedAt and ExpiresAt")
	case c.Issuer == "" || c.Subject == "" || c.Audience == "":
		return nil, errors.New("token: ID token claims need Issuer, Subject and Audience")
	}
	b = append(b, '{')
	b = appendStringClaim(b, "iss", c.Issuer)
	b = appendStringClaim(b, "sub", c.Subject)
	b = appendStringClaim(b, "aud", c.Audience)
	b = append(b, `"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt.Unix(), 10)
	b = append(b, ',')
	if !c.AuthTime.IsZero() {
		b = append(b, `"auth_time":`...)
		b = strconv.AppendInt(b, c.AuthTime.Unix(), 10)
		b = append(b, ',')
	}
	b = appendStringClaim(b, "nonce", c.Nonce)
	b = appendStringClaim(b, "azp", c.AuthorizedParty)
	b = appendStringClaim(b, "at_hash", c.AccessTokenHash)
	b, err := appendExtra(b, c.Extra, idRegistered[:])
	if err != nil {
		return nil, err
	}
	b[len(b)-1] = '}' // replaces the trailing comma; iat guarantees one
	return b, nil
}

// parseIDClaims decodes a verified ID token payload; nbf is zero when
// absent. ID tokens are made once per sign-in, so this is the plain
// encoding/json way: a map keeps member names exact, and each registered
// claim must have its JSON type.
func parseIDClaims(payload []byte) (c *IDClaims, nbf time.Time, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return nil, nbf, errBadClaims
	}
	c = new(IDClaims)
	str := func(name string, dst *string) bool {
		v, ok := m[name]
		return !ok || json.Unmarshal(v, dst) == nil && v[0] == '"'
	}
	date := func(name string, dst *time.Time) bool {
		v, ok := m[name]
		if !ok {
			return true
		}
		p := claimsParser{s: v}
		t, ok := p.numericDate()
		*dst = t
		return ok && p.i == len(v)
	}
	ok := str("iss", &c.Issuer) && str("sub", &c.Subject) && str("nonce", &c.Nonce) &&
		str("azp", &c.AuthorizedParty) && str("at_hash", &c.AccessTokenHash) &&
		date("exp", &c.ExpiresAt) && date("iat", &c.IssuedAt) && date("auth_time", &c.AuthTime) &&
		date("nbf", &nbf)
	if ok {
		if v, has := m["aud"]; has {
			p := claimsParser{s: v}
			aud, audOK := p.audience()
			ok = audOK && p.i == len(v) && len(aud) == 1
			if ok {
				c.Audience = aud[0]
			}
		}
	}
	if !ok {
		return nil, nbf, errBadClaims
	}
	switch {
	case m["exp"] == nil:
		return nil, nbf, errNoExpiry
	case m["iat"] == nil:
		return nil, nbf, errNoIssuedAt
	}
	for name, v := range m {
		if slices.Contains(idRegistered[:], name) {
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, nbf, errBadClaims
		}
		if c.Extra == nil {
			c.Extra = make(map[string]any)
		}
		c.Extra[name] = x
	}
	return c, nbf, nil
}

// appendExtra appends the extra claims, sorted so that equal claims encode
// to equal bytes, each followed by a comma. A name in registered is
// refused.
func appendExtra(b []byte, extra map[string]any, registered []string) ([]byte, error) {
	if len(extra) == 0 {
		return b, nil
	}
	names := make([]string, 0, len(extra))
	for name := range extra {
		if slices.Contains(registered, name) {
			return nil, fmt.Errorf("token: extra claim %q is a registered claim name", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := json.Marshal(extra[name])
		if err != nil {
			return nil, fmt.Errorf("token: encoding claim %q: %w", name, err)
		}
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = append(b, v...)
		b = append(b, ',')
	}
	return b, nil
}
