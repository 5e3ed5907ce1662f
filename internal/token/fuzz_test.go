package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyAccess feeds VerifyAccess arbitrary strings against a key set with
// an EdDSA current key and a retired ES256 one. It must never panic, and
// must return claims exactly when it returns no error.
func FuzzVerifyAccess(f *testing.F) {
	st, clk := newMemStore(), newClock()
	es := newKeys(f, st, clk, ES256)
	esTok := signTest(f, es, clk.Now())
	k := newKeys(f, st, clk, EdDSA) // rotates: ES256 stays published
	now := clk.Now()
	edTok := signTest(f, k, now)
	kid, _ := k.Current()
	enc := base64.RawURLEncoding.EncodeToString

	f.Add(esTok)
	f.Add(edTok)
	f.Add(esTok + "x")
	f.Add(signIDTest(f, k, now)) // the right key and claims, the wrong kind
	f.Add(strings.Replace(edTok, ".", "..", 1))
	f.Add(forge(f, k, `{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt"}`, `{"exp":1e308,"iat":-1,"aud":[null]}`))
	f.Add(forge(f, k, `{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt","crit":[]}`, `{}`))
	f.Add(enc([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + enc([]byte(`{"sub":"x"}`)) + ".")
	f.Add(enc([]byte(`{"alg":"ES256","kid":"`+kid+`","typ":"AT+JWT"}`)) + ".e30." + strings.Repeat("A", 86))
	f.Add("")
	f.Add("..")
	f.Add("eyJ.eyJ.eyJ")
	f.Add(strings.Repeat(".", 100))

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := k.VerifyAccess(tok, now, testExpect)
		switch {
		case err == nil && c == nil:
			t.Fatal("no error and no claims")
		case err != nil && c != nil:
			t.Fatal("claims returned with an error")
		case err != nil && !errors.Is(err, ErrInvalidToken):
			t.Fatalf("error %v does not wrap ErrInvalidToken", err)
		case err == nil && !now.Before(c.ExpiresAt):
			t.Fatalf("accepted a token expiring at %v", c.ExpiresAt)
		}
	})
}

// FuzzParseClaims reaches the claims decoder directly, which
// FuzzVerifyAccess cannot (mutated payloads fail the signature first), and
// holds it to encoding/json in both directions: whatever it accepts is
// valid JSON that encoding/json decodes to the same claims, and whatever it
// refuses, encoding/json refuses too or the claims break a rule of the
// claim set (a registered claim of the wrong type, exp or iat missing).
func FuzzParseClaims(f *testing.F) {
	now := newClock().Now()
	c := testClaims(now)
	c.Extra = map[string]any{"owner": "u", "permissions": []string{"a", "b"}}
	good, err := appendClaims(nil, &c)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(` {"exp":1.5e3,"iat":0,"nbf":2,"aud":"x","sub":"\u00e9\n","x":{"a":[1,"]"]}} `))
	f.Add([]byte(`{"exp":"1","iat":[],"aud":{}}`))
	f.Add([]byte(`{"exp":1,"iat":1,"aud":[],"Sub":null,"sub":"a","sub":"b"}`))
	f.Add([]byte(`{"exp":1,"iat":1,"sub":1,"sub":"b"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"exp":1e400}`))
	f.Add([]byte(`{"exp":01,"iat":-0}`))
	f.Add([]byte(`{"exp":1,"iat":1,"x":tru}`))
	f.Add([]byte(`{"exp":1,"iat":1,"x":"\ud800"}`))
	f.Add([]byte("{\"exp\":1,\"iat\":1,\"s\xffb\":\"\xfe\"}"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, nbf, err := parseClaims(payload)
		if (err == nil) == (c == nil) {
			t.Fatalf("claims %v with error %v", c, err)
		}
		if err != nil {
			if referenceRefusal(payload) == "" {
				t.Fatalf("refused %q (%v), which encoding/json decodes to valid claims", payload, err)
			}
			return
		}
		if why := referenceRefusal(payload); why != "" {
			t.Fatalf("accepted %q, which the reference refuses: %s", payload, why)
		}
		if !json.Valid(payload) {
			t.Fatalf("accepted invalid JSON %q", payload)
		}
		want, wantNbf := referenceClaims(t, payload)
		if !reflect.DeepEqual(c, want) || !nbf.Equal(wantNbf) {
			t.Fatalf("payload %q\n got %#v nbf %v\nwant %#v nbf %v", payload, c, nbf, want, wantNbf)
		}
		// Whatever decodes encodes again: registered names never land in
		// Extra. (Dates at the epoch decode but are not signable.)
		if c.IssuedAt.Unix() == 0 || c.ExpiresAt.Unix() == 0 {
			return
		}
		if _, err := appendClaims(nil, c); err != nil {
			t.Fatalf("decoded claims do not encode: %v", err)
		}
	})
}

// referenceRefusal says why encoding/json, or the rules of the claim set,
// refuse payload; "" when neither does. Every member is walked, repeated
// names included: a registered claim of the wrong type is refused wherever
// it appears, as parseClaims does (RFC 7519 §4 lets a parser refuse a
// repeated name outright).
func referenceRefusal(payload []byte) string {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return "encoding/json: " + err.Error()
	}
	if m == nil {
		return "not an object"
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if _, err := dec.Token(); err != nil {
		return "encoding/json: " + err.Error()
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "encoding/json: " + err.Error()
		}
		name, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return "encoding/json: " + err.Error()
		}
		if why := claimTypeError(name, v); why != "" {
			return why
		}
	}
	for _, name := range []string{"exp", "iat"} {
		if _, ok := m[name]; !ok {
			return "missing " + name
		}
	}
	return ""
}

// claimTypeError says why v cannot be the value of the claim name.
func claimTypeError(name string, v any) string {
	switch name {
	case "iss", "sub", "client_id", "scope", "jti":
		if _, ok := v.(string); !ok {
			return name + " is not a string"
		}
	case "aud":
		switch a := v.(type) {
		case string:
		case []any:
			for _, x := range a {
				if _, ok := x.(string); !ok {
					return "aud holds a non-string"
				}
			}
		default:
			return "aud is neither a string nor an array"
		}
	case "exp", "iat", "nbf":
		f, ok := v.(float64)
		if !ok || f < 0 || f >= 1<<40 {
			return name + " is not a NumericDate in range"
		}
	}
	return ""
}

// referenceClaims decodes payload the slow, obvious way with encoding/json,
// for a payload parseClaims accepted.
func referenceClaims(t *testing.T, payload []byte) (*Claims, time.Time) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("encoding/json refuses %q: %v", payload, err)
	}
	date := func(name string) time.Time {
		f, ok := m[name].(float64)
		if !ok {
			return time.Time{}
		}
		return time.Unix(int64(f), 0).UTC()
	}
	str := func(name string) string { s, _ := m[name].(string); return s }
	c := &Claims{
		Issuer: str("iss"), Subject: str("sub"), ClientID: str("client_id"),
		Scope: str("scope"), ID: str("jti"),
		IssuedAt: date("iat"), ExpiresAt: date("exp"),
	}
	switch aud := m["aud"].(type) {
	case string:
		c.Audience = []string{aud}
	case []any:
		c.Audience = []string{}
		for _, a := range aud {
			c.Audience = append(c.Audience, a.(string))
		}
	}
	for name, v := range m {
		if !slices.Contains(registered[:], name) {
			if c.Extra == nil {
				c.Extra = map[string]any{}
			}
			c.Extra[name] = v
		}
	}
	return c, date("nbf")
}

// FuzzAppendJSONString checks the hand-written string encoder against
// encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\x00\x1f", "\xff\xfe", "é🔑", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("appendJSONString(%q) is not a JSON string: %v", s, err)
		}
		if want := viaEncodingJSON(t, s); got != want {
			t.Fatalf("appendJSONString(%q) decodes to %q, want %q", s, got, want)
		}
	})
}
