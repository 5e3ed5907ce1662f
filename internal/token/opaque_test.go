package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewOpaque(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		v, h, err := NewOpaque(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v, OpaquePrefix) || len(v) != len(OpaquePrefix)+43 {
			t.Fatalf("value %q: want %s and 43 characters", v, OpaquePrefix)
		}
		if strings.Trim(v[len(OpaquePrefix):], base62) != "" {
			t.Fatalf("value %q has non-base62 characters", v)
		}
		if h != HashOpaque(v) {
			t.Fatalf("hash %q != HashOpaque(value)", h)
		}
		if seen[v] {
			t.Fatalf("duplicate value %q", v)
		}
		seen[v] = true
		if LooksLikeJWT(v) {
			t.Fatalf("LooksLikeJWT(%q) = true", v)
		}
	}
}

func TestNewOpaqueUsesAllSymbols(t *testing.T) {
	// 8,600 draws from 62 symbols: a mapping that skips symbols shows.
	var all strings.Builder
	for range 200 {
		v, _, err := NewOpaque(nil)
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(v[len(OpaquePrefix):])
	}
	for _, c := range base62 {
		if !strings.ContainsRune(all.String(), c) {
			t.Errorf("symbol %q never drawn", c)
		}
	}
}

func TestNewOpaqueDeterministicAndRejects(t *testing.T) {
	// Bytes ≥ 248 are skipped, so a stream of them followed by zeros gives
	// all '0's.
	src := append(bytes.Repeat([]byte{255}, 64), make([]byte, 64)...)
	v, _, err := NewOpaque(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := OpaquePrefix + strings.Repeat("0", 43); v != want {
		t.Fatalf("value %q, want %q", v, want)
	}
	if _, _, err := NewOpaque(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("NewOpaque succeeded with too little randomness")
	}
}

func TestHashOpaque(t *testing.T) {
	sum := sha256.Sum256([]byte("lkat_abc"))
	if got, want := HashOpaque("lkat_abc"), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("HashOpaque = %q, want %q", got, want)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", true},
		{"eyJ.e.s", true},
		{"", false},
		{"lkat_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", false},
		{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0", false},      // two segments
		{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.", false},     // empty signature
		{"eyJhbGciOiJFUzI1NiJ9..c2ln", false},                // empty payload
		{"eyJ.a.b.c", false},                                 // four segments
		{"abc.def.ghi", false},                               // header not JSON
		{"eyJhbGci+iJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", false}, // not base64url
		{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln=", false},
		{"eyJ a.b.c", false},
	}
	for _, tt := range tests {
		if got := LooksLikeJWT(tt.s); got != tt.want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
