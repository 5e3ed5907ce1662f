package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

func testClaims(now time.Time) Claims {
	return Claims{
		Issuer:    "https://latchkey.example",
		Subject:   "lkc_3kV9xQ2mN8pR4tW6yZ1aB5",
		Audience:  []string{"https://api.example"},
		ClientID:  "lkc_3kV9xQ2mN8pR4tW6yZ1aB5",
		Scope:     "read:items write:items",
		ID:        "01J8Z3Y4X5W6V7U8T9S0R1Q2P3",
		IssuedAt:  now,
		ExpiresAt: now.Add(time.Hour),
	}
}

// testExpect is what verifiers in these tests require: testClaims' issuer
// and audience.
var testExpect = Expect{Issuer: "https://latchkey.example", Audience: []string{"https://api.example"}}

// signWith signs testClaims changed by mutate.
func signWith(t testing.TB, k *Keys, mutate func(*Claims)) string {
	t.Helper()
	c := testClaims(newClock().Now())
	mutate(&c)
	tok, err := k.SignAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func signTest(t testing.TB, k *Keys, now time.Time) string {
	t.Helper()
	tok, err := k.SignAccess(testClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forge signs an arbitrary header and payload with k's current key, for
// tokens SignJWT would never make.
func forge(t testing.TB, k *Keys, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	sig, err := k.set.Load().signer.Sign([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc(sig)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	now := newClock().Now()
	tests := []struct {
		name   string
		mutate func(*Claims)
	}{
		{"typical", func(*Claims) {}},
		{"several audiences", func(c *Claims) { c.Audience = []string{"a", "https://api.example", "c"} }},
		{"no scope", func(c *Claims) { c.Scope = "" }},
		{"extra claims", func(c *Claims) {
			c.Extra = map[string]any{
				"owner":       "usr_42",
				"permissions": []any{"oauth:client:view", "audit:view"},
				"secret_id":   "sec_1",
				"n":           float64(12),
				"nested":      map[string]any{"a": true},
			}
		}},
		{"strings needing escapes", func(c *Claims) {
			c.Subject = "quote\" backslash\\ nl\n tab\t ctl\x01 del\x7f <html>&"
			c.Scope = "ünïcödé 日本 🔑"
			c.ClientID = "bad utf8 \xff\xfe end"
		}},
	}
	for _, alg := range []string{ES256, EdDSA, RS256} {
		k := newKeys(t, newMemStore(), newClock(), alg)
		for _, tt := range tests {
			t.Run(alg+"/"+tt.name, func(t *testing.T) {
				in := testClaims(now)
				tt.mutate(&in)
				tok, err := k.SignAccess(in)
				if err != nil {
					t.Fatal(err)
				}
				if !LooksLikeJWT(tok) {
					t.Errorf("LooksLikeJWT(%q) = false", tok)
				}
				got, err := k.VerifyAccess(tok, now, testExpect)
				if err != nil {
					t.Fatal(err)
				}
				want := in
				want.ClientID = viaEncodingJSON(t, want.ClientID)
				if !reflect.DeepEqual(got, &want) {
					t.Errorf("claims differ:\n got %#v\nwant %#v", got, &want)
				}

				// An independent JOSE library accepts it against our JWKS.
				var jwks jose.JSONWebKeySet
				if err := json.Unmarshal(k.JWKS(), &jwks); err != nil {
					t.Fatal(err)
				}
				parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				if typ := parsed.Headers[0].ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
					t.Errorf("typ = %v, want at+jwt", typ)
				}
				var std josejwt.Claims
				extra := map[string]any{}
				if err := parsed.Claims(jwks, &std, &extra); err != nil {
					t.Fatalf("go-jose verification: %v", err)
				}
				if std.Subject != want.Subject || std.ID != want.ID || !std.Expiry.Time().Equal(want.ExpiresAt) {
					t.Errorf("go-jose claims = %+v", std)
				}
				if len(want.Audience) > 0 && !reflect.DeepEqual([]string(std.Audience), want.Audience) {
					t.Errorf("go-jose aud = %v, want %v", std.Audience, want.Audience)
				}
				if extra["client_id"] != want.ClientID || extra["scope"] != nilIfEmpty(want.Scope) {
					t.Errorf("go-jose client_id/scope = %v/%v", extra["client_id"], extra["scope"])
				}
			})
		}
	}
}

// viaEncodingJSON returns s as it comes back from an encoding/json round
// trip: invalid UTF-8 bytes become U+FFFD one for one.
func viaEncodingJSON(t testing.TB, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestAudienceEncoding(t *testing.T) {
	now := newClock().Now()
	tests := []struct {
		aud  []string
		want string // the raw JSON of aud, "" when absent
	}{
		{nil, ""},
		{[]string{"one"}, `"one"`},
		{[]string{"one", "two"}, `["one","two"]`},
	}
	for _, tt := range tests {
		c := testClaims(now)
		c.Audience = tt.aud
		b, err := appendClaims(nil, &c)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON %s: %v", b, err)
		}
		if string(m["aud"]) != tt.want {
			t.Errorf("aud %v encoded as %s, want %s", tt.aud, m["aud"], tt.want)
		}
	}
}

func TestClaimsEncodingIsExact(t *testing.T) {
	now := time.Unix(1700000000, 0)
	c := testClaims(now)
	c.Extra = map[string]any{"owner": "usr_1", "permissions": []string{"a"}}
	b, err := appendClaims(nil, &c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"iss":"https://latchkey.example","sub":"lkc_3kV9xQ2mN8pR4tW6yZ1aB5",` +
		`"aud":"https://api.example","exp":1700003600,"iat":1700000000,` +
		`"jti":"01J8Z3Y4X5W6V7U8T9S0R1Q2P3","client_id":"lkc_3kV9xQ2mN8pR4tW6yZ1aB5",` +
		`"scope":"read:items write:items","owner":"usr_1","permissions":["a"]}`
	if string(b) != want {
		t.Errorf("claims JSON\n got %s\nwant %s", b, want)
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `"`, `\`, "\x00\x1f\x7f", "\u2028\u2029", "\xff", "\xff\xfe", "a\xc3", "é日🔑", "</script>",
	} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("appendJSONString(%q) = %s: invalid JSON: %v", s, b, err)
			continue
		}
		if want := viaEncodingJSON(t, s); got != want {
			t.Errorf("appendJSONString(%q) decodes to %q, want %q", s, got, want)
		}
	}
}

func TestSignJWTRejects(t *testing.T) {
	k := newKeys(t, newMemStore(), newClock(), "")
	now := newClock().Now()
	tests := []struct {
		name   string
		mutate func(*Claims)
	}{
		{"no exp", func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{"no iat", func(c *Claims) { c.IssuedAt = time.Time{} }},
		{"extra overrides sub", func(c *Claims) { c.Extra = map[string]any{"sub": "admin"} }},
		{"extra sets nbf", func(c *Claims) { c.Extra = map[string]any{"nbf": 0} }},
		{"unencodable extra", func(c *Claims) { c.Extra = map[string]any{"f": func() {}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims(now)
			tt.mutate(&c)
			if tok, err := k.SignAccess(c); err == nil {
				t.Fatalf("SignJWT succeeded: %s", tok)
			}
		})
	}
}

func TestVerifyJWTRejects(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newKeys(t, newMemStore(), clk, ES256)
	other := newKeys(t, newMemStore(), clk, ES256) // a stranger's key
	ed := newKeys(t, newMemStore(), clk, EdDSA)
	kid, _ := k.Current()
	good := signTest(t, k, now)
	h, p, s := splitToken(good)
	payload := `{"iss":"x","sub":"s","exp":` + itoa(now.Add(time.Hour)) + `,"iat":` + itoa(now) + `}`
	header := func(alg, typ string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"` + typ + `"}`
	}
	enc := base64.RawURLEncoding.EncodeToString
	flipped := func(seg string) string {
		b, _ := base64.RawURLEncoding.DecodeString(seg)
		b[len(b)/2] ^= 0x20
		return enc(b)
	}

	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", errMalformed},
		{"one segment", "abc", errMalformed},
		{"two segments", h + "." + p, errMalformed},
		{"four segments", good + ".x", errMalformed},
		{"huge", strings.Repeat("a", MaxTokenSize+1), errTooLarge},
		{"huge header", strings.Repeat("e", 4000) + "." + p + "." + s, errBadHeader},
		{"bad header base64", "!!!." + p + "." + s, errBadHeader},
		{"header padded", h + "==." + p + "." + s, errBadHeader},
		{"header not JSON", enc([]byte("nope")) + "." + p + "." + s, errBadHeader},
		{"header JSON array", enc([]byte("[]")) + "." + p + "." + s, errBadHeader},
		{"header alg not a string", forge(t, k, `{"alg":1,"kid":"`+kid+`","typ":"at+jwt"}`, payload), errBadHeader},
		{"wrong typ", forge(t, k, header(ES256, "JWT"), payload), errBadType},
		{"no typ", forge(t, k, `{"alg":"ES256","kid":"`+kid+`"}`, payload), errBadType},
		{"typ in another key's case", forge(t, k, `{"alg":"ES256","kid":"`+kid+`","TYP":"at+jwt"}`, payload), errBadType},
		{"alg none", enc([]byte(header("none", "at+jwt"))) + "." + p + ".", errBadAlg},
		{"alg none with signature", enc([]byte(header("none", "at+jwt"))) + "." + p + "." + s, errBadAlg},
		{"alg mismatch", forge(t, k, header("EdDSA", "at+jwt"), payload), errBadAlg},
		{"alg HS256", forge(t, k, header("HS256", "at+jwt"), payload), errBadAlg},
		{"crit header", forge(t, k, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt","crit":["exp"]}`, payload), errCrit},
		{"unknown kid", signTest(t, other, now), ErrUnknownKey},
		{"no kid", forge(t, k, `{"alg":"ES256","typ":"at+jwt"}`, payload), ErrUnknownKey},
		{"EdDSA token, ES256 verifier", signTest(t, ed, now), ErrUnknownKey},
		{"tampered payload", h + "." + flipped(p) + "." + s, errBadSignature},
		{"tampered signature", h + "." + p + "." + flipped(s), errBadSignature},
		{"signature from another key", h + "." + p + "." + splitSig(signTest(t, other, now)), errBadSignature},
		{"empty signature", h + "." + p + ".", errBadSignature},
		{"short signature", h + "." + p + "." + s[:40], errBadSignature},
		{"bad signature base64", h + "." + p + "." + strings.Repeat("*", len(s)), errBadSignature},
		{"signature with trailing bits", h + "." + p + "." + s[:len(s)-1] + "B", errBadSignature},
		{"DER signature", h + "." + p + "." + enc(derSig(t, s)), errBadSignature},
		{"payload not base64", forgeRaw(t, k, h, "!!!"), errBadClaims},
		{"payload not JSON", forge(t, k, header(ES256, "at+jwt"), "nope"), errBadClaims},
		{"payload null", forge(t, k, header(ES256, "at+jwt"), "null"), errBadClaims},
		{"sub not a string", forge(t, k, header(ES256, "at+jwt"), `{"sub":1,"exp":`+itoa(now.Add(time.Hour))+`,"iat":`+itoa(now)+`}`), errBadClaims},
		{"aud not strings", forge(t, k, header(ES256, "at+jwt"), `{"aud":[1],"exp":`+itoa(now.Add(time.Hour))+`,"iat":`+itoa(now)+`}`), errBadClaims},
		{"aud null", forge(t, k, header(ES256, "at+jwt"), `{"aud":null,"exp":`+itoa(now.Add(time.Hour))+`,"iat":`+itoa(now)+`}`), errBadClaims},
		{"exp a string", forge(t, k, header(ES256, "at+jwt"), `{"exp":"`+itoa(now.Add(time.Hour))+`","iat":`+itoa(now)+`}`), errBadClaims},
		{"exp negative", forge(t, k, header(ES256, "at+jwt"), `{"exp":-1,"iat":`+itoa(now)+`}`), errBadClaims},
		{"exp enormous", forge(t, k, header(ES256, "at+jwt"), `{"exp":1e300,"iat":`+itoa(now)+`}`), errBadClaims},
		{"no exp", forge(t, k, header(ES256, "at+jwt"), `{"iat":`+itoa(now)+`}`), errNoExpiry},
		{"no iat", forge(t, k, header(ES256, "at+jwt"), `{"exp":`+itoa(now.Add(time.Hour))+`}`), errNoIssuedAt},
		{"expired", signTest(t, k, now.Add(-2*time.Hour)), ErrTokenExpired},
		{"expires this second", signTest(t, k, now.Add(-time.Hour)), ErrTokenExpired},
		{"issued in the future", signTest(t, k, now.Add(IatLeeway+time.Second)), errFuture},
		{"not yet valid", forge(t, k, header(ES256, "at+jwt"), `{"exp":`+itoa(now.Add(time.Hour))+`,"iat":`+itoa(now)+`,"nbf":`+itoa(now.Add(time.Hour))+`}`), errNotYetValid},
		{"another issuer", signWith(t, k, func(c *Claims) { c.Issuer = "https://elsewhere.example" }), errIssuer},
		{"no issuer", signWith(t, k, func(c *Claims) { c.Issuer = "" }), errIssuer},
		{"another audience", signWith(t, k, func(c *Claims) { c.Audience = []string{"https://other-api.example"} }), errAudience},
		{"no audience", signWith(t, k, func(c *Claims) { c.Audience = nil }), errAudience},
		{"aud the issuer, not the resource", signWith(t, k, func(c *Claims) { c.Audience = []string{c.Issuer} }), errAudience},
		{"no sub", signWith(t, k, func(c *Claims) { c.Subject = "" }), errMissing},
		{"no client_id", signWith(t, k, func(c *Claims) { c.ClientID = "" }), errMissing},
		{"no jti", signWith(t, k, func(c *Claims) { c.ID = "" }), errMissing},
		{"an ID token", signIDTest(t, k, now), errBadType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := k.VerifyAccess(tt.tok, now, testExpect)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyJWT error = %v, want %v", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
		})
	}
}

func TestVerifyJWTAccepts(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newKeys(t, newMemStore(), clk, ES256)
	kid, _ := k.Current()
	claims := func(iat, exp time.Time) string {
		return `{` + requiredClaims + `,"exp":` + itoa(exp) + `,"iat":` + itoa(iat) + `}`
	}
	tests := []struct {
		name string
		tok  string
	}{
		{"iat within leeway", signTest(t, k, now.Add(IatLeeway))},
		{"one second before exp", forge(t, k, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, claims(now.Add(-time.Hour), now.Add(time.Second)))},
		{"typ application/at+jwt", forge(t, k, `{"typ":"application/at+JWT","alg":"ES256","kid":"`+kid+`"}`, claims(now, now.Add(time.Hour)))},
		{"typ upper case", forge(t, k, `{"kid":"`+kid+`","typ":"AT+JWT","alg":"ES256"}`, claims(now, now.Add(time.Hour)))},
		{"fractional dates", forge(t, k, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, `{`+requiredClaims+`,"exp":`+itoa(now.Add(time.Hour))+`.5,"iat":`+itoa(now)+`.25}`)},
		{"nbf in the past", forge(t, k, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, `{`+requiredClaims+`,"exp":`+itoa(now.Add(time.Hour))+`,"iat":`+itoa(now)+`,"nbf":`+itoa(now)+`}`)},
		{"aud array naming the audience", forge(t, k, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, `{"iss":"https://latchkey.example","aud":["x","https://api.example"],"sub":"s","client_id":"c","jti":"j","exp":`+itoa(now.Add(time.Hour))+`,"iat":`+itoa(now)+`}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.VerifyAccess(tt.tok, now, testExpect); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyJWTExpiryIsExact(t *testing.T) {
	clk := newClock()
	k := newKeys(t, newMemStore(), clk, "")
	c := testClaims(clk.Now())
	tok, err := k.SignAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.VerifyAccess(tok, c.ExpiresAt.Add(-time.Nanosecond), testExpect); err != nil {
		t.Errorf("a nanosecond before exp: %v", err)
	}
	if _, err := k.VerifyAccess(tok, c.ExpiresAt, testExpect); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("at exp: %v, want ErrTokenExpired", err)
	}
}

func TestVerifyJWTExtraKeepsUnknownClaims(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newKeys(t, newMemStore(), clk, "")
	kid, _ := k.Current()
	tok := forge(t, k, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`,
		`{`+requiredClaims+`,"exp":`+itoa(now.Add(time.Hour))+`,"iat":`+itoa(now)+`,"nbf":`+itoa(now)+`,"owner":"u","Sub":"case matters"}`)
	c, err := k.VerifyAccess(tok, now, testExpect)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"owner": "u", "Sub": "case matters"}
	if !maps.Equal(c.Extra, want) || c.Subject != "s" {
		t.Errorf("Extra = %v, Subject = %q; want %v and subject s (nbf is not extra)", c.Extra, c.Subject, want)
	}
}

// splitToken returns a compact JWS's three segments.
func splitToken(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

func splitSig(tok string) string { _, _, s := splitToken(tok); return s }

func forgeRaw(t testing.TB, k *Keys, h, p string) string {
	t.Helper()
	sig, err := k.set.Load().signer.Sign([]byte(h + "." + p))
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// requiredClaims are the members, besides exp and iat, that VerifyAccess
// requires, with the values testExpect accepts.
const requiredClaims = `"iss":"https://latchkey.example","aud":"https://api.example","sub":"s","client_id":"c","jti":"j"`

// itoa is t as a JSON NumericDate.
func itoa(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// derSig re-encodes a JWS r||s signature as ASN.1 DER, the form some
// broken signers emit.
func derSig(t testing.TB, s string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return rsToDER(nil, raw[:32], raw[32:])
}

func TestDERConversion(t *testing.T) {
	k := newKeys(t, newMemStore(), newClock(), ES256)
	priv := k.set.Load().signer.(*es256Signer).priv
	msg := []byte("hello")
	for range 200 { // covers r and s with high bits set and leading zeros
		sig, err := k.set.Load().signer.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("signature length %d", len(sig))
		}
		if !verifyES256(&priv.PublicKey, msg, sig) {
			t.Fatal("own signature does not verify")
		}
		back, err := derToRS(rsToDER(nil, sig[:32], sig[32:]), 32)
		if err != nil || string(back) != string(sig) {
			t.Fatalf("r||s → DER → r||s changed the signature: %v", err)
		}
	}
}
