package token

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// Claims are the claims of an RFC 9068 access token: [Keys.SignAccess]
// encodes them and [Keys.VerifyAccess] decodes them. (ID tokens have
// [IDClaims].)
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
	// nbf). Values are encoded with encoding/json; VerifyAccess decodes them
	// as encoding/json decodes into an any (numbers become float64).
	Extra map[string]any
}

// registered lists the claim names Claims owns; Extra may not use them.
var registered = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope"}

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
	b, err := appendExtra(b, c.Extra, registered[:])
	if err != nil {
		return nil, err
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

// parseClaims decodes a verified JWT payload; nbf is zero when absent.
//
// It walks the top-level object by hand and decodes the registered claims
// in place, handing only Extra values (and strings with escapes) to
// encoding/json: a map of json.RawMessage plus one Unmarshal per claim
// cost more than a tenth of an ES256 verification. Member names match
// exactly ("Sub" is an extra claim, not sub), a repeated name keeps its
// last value as in encoding/json, and a registered claim of the wrong
// JSON type, null included, is refused.
func parseClaims(payload []byte) (c *Claims, nbf time.Time, err error) {
	p := claimsParser{s: payload}
	c = new(Claims)
	var haveExp, haveIat bool
	p.space()
	if !p.consume('{') {
		return nil, nbf, errBadClaims
	}
	p.space()
	if !p.consume('}') {
		for {
			name, ok := p.string()
			if !ok {
				return nil, nbf, errBadClaims
			}
			p.space()
			if !p.consume(':') {
				return nil, nbf, errBadClaims
			}
			p.space()
			switch name {
			case "iss":
				c.Issuer, ok = p.string()
			case "sub":
				c.Subject, ok = p.string()
			case "client_id":
				c.ClientID, ok = p.string()
			case "scope":
				c.Scope, ok = p.string()
			case "jti":
				c.ID, ok = p.string()
			case "aud":
				c.Audience, ok = p.audience()
			case "exp":
				c.ExpiresAt, ok = p.numericDate()
				haveExp = true
			case "iat":
				c.IssuedAt, ok = p.numericDate()
				haveIat = true
			case "nbf":
				// Latchkey never sets nbf, but a token that carries one
				// is held to it rather than having it ignored.
				nbf, ok = p.numericDate()
			default:
				var v any
				if v, ok = p.anyValue(); ok {
					if c.Extra == nil {
						c.Extra = make(map[string]any)
					}
					c.Extra[name] = v
				}
			}
			if !ok {
				return nil, nbf, errBadClaims
			}
			p.space()
			if p.consume('}') {
				break
			}
			if !p.consume(',') {
				return nil, nbf, errBadClaims
			}
			p.space()
		}
	}
	p.space()
	if p.i != len(p.s) {
		return nil, nbf, errBadClaims
	}
	switch {
	case !haveExp:
		return nil, nbf, errNoExpiry
	case !haveIat:
		return nil, nbf, errNoIssuedAt
	}
	return c, nbf, nil
}

// claimsParser reads JSON from s at i. Each method consumes one value and
// reports false on anything it does not accept; it never reads past s.
type claimsParser struct {
	s []byte
	i int
}

func (p *claimsParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *claimsParser) consume(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// string reads a JSON string. Plain ones (no escapes, valid UTF-8) are
// sliced out directly; the rest go through encoding/json.
func (p *claimsParser) string() (string, bool) {
	if !p.consume('"') {
		return "", false
	}
	start, ascii := p.i, true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(v) {
				return p.slowString(start - 1)
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return p.slowString(start - 1)
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// slowString decodes the string starting at the quote at start with
// encoding/json, which handles escapes and invalid UTF-8.
func (p *claimsParser) slowString(start int) (string, bool) {
	p.i = start
	if !p.skipString() {
		return "", false
	}
	var v string
	if err := json.Unmarshal(p.s[start:p.i], &v); err != nil {
		return "", false
	}
	return v, true
}

// skipString moves past the string starting at p.i without decoding it.
func (p *claimsParser) skipString() bool {
	if !p.consume('"') {
		return false
	}
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '"':
			p.i++
			return true
		case '\\':
			p.i++ // the escaped byte cannot end the string
		}
		p.i++
	}
	return false
}

// audience reads a string or an array of strings.
func (p *claimsParser) audience() ([]string, bool) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		v, ok := p.string()
		return []string{v}, ok
	}
	if !p.consume('[') {
		return nil, false
	}
	aud := []string{}
	p.space()
	if p.consume(']') {
		return aud, true
	}
	for {
		v, ok := p.string()
		if !ok {
			return nil, false
		}
		aud = append(aud, v)
		p.space()
		if p.consume(']') {
			return aud, true
		}
		if !p.consume(',') {
			return nil, false
		}
		p.space()
	}
}

// numericDate reads an RFC 7519 NumericDate: seconds since the epoch,
// possibly fractional, truncated to whole seconds. It is bounded (1970 to
// about the year 36,800) so the conversion cannot overflow.
func (p *claimsParser) numericDate() (time.Time, bool) {
	start := p.i
	if !p.number() {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(p.s[start:p.i]), 64)
	if err != nil || f < 0 || f >= 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// number moves past a number in JSON's grammar, which is narrower than
// strconv's (no "Inf", hex, underscores or leading '+').
func (p *claimsParser) number() bool {
	digits := func() int {
		n := 0
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	p.consume('-')
	if p.consume('0') {
		// no further integer digits after a leading zero
	} else if digits() == 0 {
		return false
	}
	if p.consume('.') && digits() == 0 {
		return false
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// anyValue reads any JSON value as encoding/json decodes it into an any.
// It finds the value's end by a shallow scan, and encoding/json then
// validates exactly that span.
func (p *claimsParser) anyValue() (any, bool) {
	start := p.i
	if !p.skipValue() {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(p.s[start:p.i], &v); err != nil {
		return nil, false
	}
	return v, true
}

// skipValue moves past one value: a string, a bracketed object or array
// (nesting counted, strings skipped whole), or a bare literal or number.
// It does not validate; anyValue's Unmarshal does.
func (p *claimsParser) skipValue() bool {
	if p.i >= len(p.s) {
		return false
	}
	switch p.s[p.i] {
	case '"':
		return p.skipString()
	case '{', '[':
		depth := 0
		for p.i < len(p.s) {
			switch p.s[p.i] {
			case '"':
				if !p.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			p.i++
			if depth == 0 {
				return true
			}
		}
		return false
	}
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return p.i > start
		}
		p.i++
	}
	return p.i > start
}
