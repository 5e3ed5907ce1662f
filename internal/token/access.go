package token

import "time"

// SignAccess encodes c as an RFC 9068 access token (typ "at+jwt") signed
// with the current key. It fails when Keys is not loaded, when c lacks
// IssuedAt or ExpiresAt, or when Extra uses a registered claim name or
// holds a value encoding/json cannot encode.
func (k *Keys) SignAccess(c Claims) (string, error) {
	var arr [512]byte
	payload, err := appendClaims(arr[:0], &c)
	if err != nil {
		return "", err
	}
	return k.sign(accessToken, payload)
}

// VerifyAccess checks tok as an access token signed by one of the
// published keys and returns its claims. It requires typ "at+jwt" (or
// "application/at+jwt", any case), the key's own alg, a valid signature,
// now before exp, iat no more than IatLeeway after now, iss equal to
// want.Issuer, an aud naming one of want.Audience, and the sub,
// client_id and jti every access token carries (RFC 9068 §2.2). It does
// not check revocation: that is the caller's.
//
// Every refusal wraps ErrInvalidToken; VerifyAccess never panics on input.
// An empty want is a server-side error, not a refusal.
func (k *Keys) VerifyAccess(tok string, now time.Time, want Expect) (*Claims, error) {
	if !want.valid() {
		return nil, errNoExpect
	}
	payload, err := k.verify(tok, accessToken)
	if err != nil {
		return nil, err
	}
	c, nbf, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := checkTimes(now, c.IssuedAt, c.ExpiresAt, nbf); err != nil {
		return nil, err
	}
	switch {
	case c.Issuer != want.Issuer:
		return nil, errIssuer
	case !want.anyAudience(c.Audience):
		return nil, errAudience
	case c.Subject == "" || c.ClientID == "" || c.ID == "":
		return nil, errMissing
	}
	return c, nil
}
