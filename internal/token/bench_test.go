package token

import (
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

func benchClaims(now time.Time) Claims {
	c := testClaims(now)
	c.Extra = map[string]any{
		"owner":       "usr_01J8Z3Y4X5W6V7U8T9S0R1Q2P3",
		"permissions": []string{"oauth:client:view", "oauth:client:add", "audit:view"},
	}
	return c
}

func BenchmarkSignAccess(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			clk := newClock()
			k := newKeys(b, newMemStore(), clk, alg)
			c := benchClaims(clk.Now())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.SignAccess(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyAccess(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			clk := newClock()
			k := newKeys(b, newMemStore(), clk, alg)
			tok, err := k.SignAccess(benchClaims(clk.Now()))
			if err != nil {
				b.Fatal(err)
			}
			now := clk.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.VerifyAccess(tok, now, testExpect); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyAccessCodec is the evidence for keeping the hand-written
// claims decoder (claims.go): one ES256 access token verified three ways.
//
//   - hand-written: VerifyAccess as it is.
//   - encoding-json: the same JWS check, with the claims decoded as go-jose
//     decodes them (encoding/json into its registered-claims struct and
//     into a map for the private claims) and the same claim checks.
//   - go-jose: go-jose's whole path, ParseSigned, Claims and Validate,
//     against the same public key.
//
// The decoder stays while hand-written is measurably faster than
// encoding-json; FuzzParseClaims holds it to encoding/json's answers.
func BenchmarkVerifyAccessCodec(b *testing.B) {
	clk := newClock()
	k := newKeys(b, newMemStore(), clk, ES256)
	now := clk.Now()
	tok, err := k.SignAccess(benchClaims(now))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.VerifyAccess(tok, now, testExpect); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			payload, err := k.verify(tok, accessToken)
			if err != nil {
				b.Fatal(err)
			}
			var std josejwt.Claims
			var priv map[string]any
			if err := json.Unmarshal(payload, &std); err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(payload, &priv); err != nil {
				b.Fatal(err)
			}
			err = std.ValidateWithLeeway(josejwt.Expected{Issuer: testExpect.Issuer, AnyAudience: testExpect.Audience, Time: now}, 0)
			if err != nil || priv["client_id"] == nil || std.ID == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-jose", func(b *testing.B) {
		pub := k.set.Load().published[0].pub
		algs := []jose.SignatureAlgorithm{jose.ES256}
		b.ReportAllocs()
		for b.Loop() {
			parsed, err := josejwt.ParseSigned(tok, algs)
			if err != nil {
				b.Fatal(err)
			}
			var std josejwt.Claims
			var priv map[string]any
			if err := parsed.Claims(pub, &std, &priv); err != nil {
				b.Fatal(err)
			}
			err = std.ValidateWithLeeway(josejwt.Expected{Issuer: testExpect.Issuer, AnyAudience: testExpect.Audience, Time: now}, 0)
			if err != nil || priv["client_id"] == nil || std.ID == "" {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSignID(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			clk := newClock()
			k := newKeys(b, newMemStore(), clk, alg)
			c := testIDClaims(clk.Now())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.SignID(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeClaims compares the hand-written encoder with
// encoding/json on an equivalent struct (Extra claims left out, since a
// struct cannot carry them without a merge step).
func BenchmarkEncodeClaims(b *testing.B) {
	c := benchClaims(newClock().Now())
	c.Extra = nil
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			if _, err := appendClaims(buf[:0], &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		type wire struct {
			Iss      string `json:"iss,omitempty"`
			Sub      string `json:"sub,omitempty"`
			Aud      any    `json:"aud,omitempty"`
			Exp      int64  `json:"exp"`
			Iat      int64  `json:"iat"`
			Jti      string `json:"jti,omitempty"`
			ClientID string `json:"client_id,omitempty"`
			Scope    string `json:"scope,omitempty"`
		}
		b.ReportAllocs()
		for b.Loop() {
			w := wire{c.Issuer, c.Subject, nil, c.ExpiresAt.Unix(), c.IssuedAt.Unix(), c.ID, c.ClientID, c.Scope}
			if len(c.Audience) == 1 {
				w.Aud = c.Audience[0]
			} else if len(c.Audience) > 1 {
				w.Aud = c.Audience
			}
			if _, err := json.Marshal(&w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParseClaims(b *testing.B) {
	c := benchClaims(newClock().Now())
	payload, err := appendClaims(nil, &c)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseClaims(payload); err != nil {
			b.Fatal(err)
		}
	}
}
