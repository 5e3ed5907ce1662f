package token

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// idExpect is what ID-token verifiers in these tests require.
var idExpect = Expect{Issuer: "https://latchkey.example", Audience: []string{"lkc_relying_party"}}

func testIDClaims(now time.Time) IDClaims {
	return IDClaims{
		Issuer: "https://latchkey.example", Subject: "usr_42", Audience: "lkc_relying_party",
		IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute), AuthTime: now.Add(-time.Minute),
		Nonce: "n-0S6_WzA2Mj", AuthorizedParty: "lkc_relying_party", AccessTokenHash: "77QmUPtjPfzWtF2AnpK9RQ",
		Extra: map[string]any{"email": "ada@example.com", "email_verified": true},
	}
}

func signIDTest(t testing.TB, k *Keys, now time.Time) string {
	t.Helper()
	tok, err := k.SignID(testIDClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestIDTokenRoundTrip(t *testing.T) {
	for _, alg := range []string{ES256, RS256} {
		t.Run(alg, func(t *testing.T) {
			clk := newClock()
			k := newKeys(t, newMemStore(), clk, alg)
			now := clk.Now()
			in := testIDClaims(now)
			tok, err := k.SignID(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.VerifyID(tok, now, idExpect)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, &in) {
				t.Errorf("claims differ:\n got %#v\nwant %#v", got, &in)
			}

			// A relying party's JOSE library accepts it against the JWKS.
			var jwks jose.JSONWebKeySet
			if err := json.Unmarshal(k.JWKS(), &jwks); err != nil {
				t.Fatal(err)
			}
			parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if typ := parsed.Headers[0].ExtraHeaders[jose.HeaderType]; typ != "JWT" {
				t.Errorf("typ = %v, want JWT", typ)
			}
			var std josejwt.Claims
			var oidc struct {
				Nonce    string `json:"nonce"`
				AuthTime int64  `json:"auth_time"`
				Azp      string `json:"azp"`
			}
			if err := parsed.Claims(jwks, &std, &oidc); err != nil {
				t.Fatalf("go-jose verification: %v", err)
			}
			err = std.ValidateWithLeeway(josejwt.Expected{Issuer: in.Issuer, AnyAudience: josejwt.Audience{in.Audience},
				Subject: in.Subject, Time: now}, 0)
			if err != nil || oidc.Nonce != in.Nonce || oidc.AuthTime != in.AuthTime.Unix() || oidc.Azp != in.AuthorizedParty {
				t.Errorf("go-jose: %v, claims %+v %+v", err, std, oidc)
			}
		})
	}
}

// TestKindsDoNotCross: each verifier refuses the other kind, though both
// are signed by the same key with the issuer and audience it expects.
func TestKindsDoNotCross(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newKeys(t, newMemStore(), clk, ES256)
	both := Expect{Issuer: "https://latchkey.example", Audience: []string{"https://api.example", "lkc_relying_party"}}

	id := testIDClaims(now)
	id.Extra = map[string]any{"client_id": "lkc_relying_party", "scope": "read"}
	idTok, err := k.SignID(id)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := k.VerifyAccess(idTok, now, both); !errors.Is(err, errBadType) {
		t.Errorf("an ID token as an access token: %v, %+v; want errBadType", err, c)
	}
	atTok := signTest(t, k, now)
	if c, err := k.VerifyID(atTok, now, both); !errors.Is(err, errBadType) {
		t.Errorf("an access token as an ID token: %v, %+v; want errBadType", err, c)
	}
	// The same token verifies as its own kind.
	if _, err := k.VerifyID(idTok, now, both); err != nil {
		t.Errorf("ID token: %v", err)
	}
	if _, err := k.VerifyAccess(atTok, now, both); err != nil {
		t.Errorf("access token: %v", err)
	}
}

func TestVerifyIDRejects(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newKeys(t, newMemStore(), clk, ES256)
	kid, _ := k.Current()
	sign := func(mutate func(*IDClaims)) string {
		c := testIDClaims(now)
		mutate(&c)
		tok, err := k.SignID(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hdr := `{"alg":"ES256","kid":"` + kid + `","typ":"JWT"}`
	times := `"exp":` + itoa(now.Add(time.Hour)) + `,"iat":` + itoa(now)
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"another issuer", sign(func(c *IDClaims) { c.Issuer = "https://elsewhere.example" }), errIssuer},
		{"another audience", sign(func(c *IDClaims) { c.Audience = "lkc_someone_else" }), errAudience},
		{"azp another client", sign(func(c *IDClaims) { c.AuthorizedParty = "lkc_someone_else" }), errAudience},
		{"expired", sign(func(c *IDClaims) { c.ExpiresAt = now }), ErrTokenExpired},
		{"issued in the future", sign(func(c *IDClaims) { c.IssuedAt = now.Add(IatLeeway + time.Second) }), errFuture},
		{"typ at+jwt", forge(t, k, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, `{"iss":"https://latchkey.example","sub":"u","aud":"lkc_relying_party",`+times+`}`), errBadType},
		{"no typ", forge(t, k, `{"alg":"ES256","kid":"`+kid+`"}`, `{"iss":"https://latchkey.example","sub":"u","aud":"lkc_relying_party",`+times+`}`), errBadType},
		{"no sub", forge(t, k, hdr, `{"iss":"https://latchkey.example","aud":"lkc_relying_party",`+times+`}`), errMissing},
		{"two audiences", forge(t, k, hdr, `{"iss":"https://latchkey.example","sub":"u","aud":["lkc_relying_party","x"],`+times+`}`), errBadClaims},
		{"sub a number", forge(t, k, hdr, `{"iss":"https://latchkey.example","sub":1,"aud":"lkc_relying_party",`+times+`}`), errBadClaims},
		{"nonce null", forge(t, k, hdr, `{"iss":"https://latchkey.example","sub":"u","nonce":null,"aud":"lkc_relying_party",`+times+`}`), errBadClaims},
		{"auth_time a string", forge(t, k, hdr, `{"iss":"https://latchkey.example","sub":"u","auth_time":"1","aud":"lkc_relying_party",`+times+`}`), errBadClaims},
		{"no exp", forge(t, k, hdr, `{"iss":"https://latchkey.example","sub":"u","aud":"lkc_relying_party","iat":`+itoa(now)+`}`), errNoExpiry},
		{"payload null", forge(t, k, hdr, `null`), errBadClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := k.VerifyID(tt.tok, now, idExpect)
			if !errors.Is(err, tt.want) || c != nil {
				t.Fatalf("VerifyID = %+v, %v; want %v", c, err, tt.want)
			}
		})
	}
}

func TestSignIDRejects(t *testing.T) {
	k := newKeys(t, newMemStore(), newClock(), ES256)
	now := newClock().Now()
	for name, mutate := range map[string]func(*IDClaims){
		"no iat":            func(c *IDClaims) { c.IssuedAt = time.Time{} },
		"no sub":            func(c *IDClaims) { c.Subject = "" },
		"no aud":            func(c *IDClaims) { c.Audience = "" },
		"no iss":            func(c *IDClaims) { c.Issuer = "" },
		"extra sets nonce":  func(c *IDClaims) { c.Extra = map[string]any{"nonce": "x"} },
		"unencodable extra": func(c *IDClaims) { c.Extra = map[string]any{"f": func() {}} },
	} {
		c := testIDClaims(now)
		mutate(&c)
		if tok, err := k.SignID(c); err == nil {
			t.Errorf("%s: SignID succeeded: %s", name, tok)
		}
	}
}

func TestVerifyNeedsExpectations(t *testing.T) {
	k := newKeys(t, newMemStore(), newClock(), ES256)
	now := newClock().Now()
	tok := signTest(t, k, now)
	for _, want := range []Expect{{}, {Issuer: "https://latchkey.example"}, {Audience: []string{"https://api.example"}}} {
		if _, err := k.VerifyAccess(tok, now, want); err == nil || errors.Is(err, ErrInvalidToken) {
			t.Errorf("VerifyAccess with %+v: %v, want a server-side error", want, err)
		}
		if _, err := k.VerifyID(tok, now, want); err == nil || errors.Is(err, ErrInvalidToken) {
			t.Errorf("VerifyID with %+v: %v, want a server-side error", want, err)
		}
	}
}
