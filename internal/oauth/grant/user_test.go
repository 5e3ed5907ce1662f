package grant

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

func TestValidPKCE(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", true},
		{strings.Repeat("a", 43), true},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("~._-", 32), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 42) + "+", false},
		{strings.Repeat("a", 42) + "=", false},
		{strings.Repeat("a", 42) + "é", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidPKCE(tt.v); got != tt.want {
			t.Errorf("ValidPKCE(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestCheckPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if S256(verifier) != challenge {
		t.Fatalf("S256 = %s, want RFC 7636's %s", S256(verifier), challenge)
	}
	tests := []struct {
		name, challenge, verifier, desc string
	}{
		{"neither", "", "", ""},
		{"matching", challenge, verifier, ""},
		{"verifier without challenge", "", verifier, "no code_challenge"},
		{"challenge without verifier", challenge, "", "is required"},
		{"mismatch", challenge, strings.Repeat("a", 43), "does not match"},
		{"the challenge sent as verifier", challenge, challenge, "does not match"},
	}
	for _, tt := range tests {
		err := checkPKCE(tt.challenge, tt.verifier)
		switch {
		case tt.desc == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.desc != "" && (err == nil || err.Code != "invalid_grant" || !strings.Contains(err.Description, tt.desc)):
			t.Errorf("%s: %v, want invalid_grant saying %q", tt.name, err, tt.desc)
		}
	}
}

func TestSigningAlgAndAtHash(t *testing.T) {
	tests := []struct {
		want string
		algs []string
		alg  string
		size int // bytes of the at_hash hash
	}{
		{"", []string{"RS256", "ES256"}, "RS256", 32},
		{"ES256", []string{"RS256", "ES256"}, "ES256", 32},
		{"ES256", []string{"RS256"}, "RS256", 32}, // not available: the default signs
		{"", []string{"EdDSA"}, "EdDSA", 64},
		{"", nil, "", 0},
	}
	for _, tt := range tests {
		alg := signingAlg(tt.want, tt.algs)
		if alg != tt.alg {
			t.Errorf("signingAlg(%q, %v) = %q, want %q", tt.want, tt.algs, alg, tt.alg)
		}
		h := atHash(alg)
		if got := 0; h != nil {
			got = h.Size()
			if got != tt.size {
				t.Errorf("at_hash of %s hashes %d bytes, want %d", alg, got, tt.size)
			}
		} else if tt.size != 0 {
			t.Errorf("no at_hash for %s", alg)
		}
	}
}

func TestNewCode(t *testing.T) {
	a, ha, err := NewCode(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := NewCode(nil)
	if !strings.HasPrefix(a, CodePrefix) || len(a) != len(CodePrefix)+43 || a == b || ha == "" || strings.Contains(ha, a) {
		t.Fatalf("codes %q %q, hash %q", a, b, ha)
	}
	if _, _, err := NewCode(strings.NewReader("short")); err == nil {
		t.Error("a failing entropy source made a code")
	}
}

// A user grant built without a store (as ServedGrants builds them) fails
// as a server error, without a panic.
func TestUnconfiguredUserGrantsFail(t *testing.T) {
	c := &client.Client{ID: "lkc_x", GrantTypes: []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken}}
	req := &Request{Client: c, Params: url.Values{"code": {"x"}, "refresh_token": {"y"}, "redirect_uri": {"https://a/cb"}}, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, h := range []Handler{&AuthorizationCode{}, &RefreshToken{}} {
		_, err := h.Handle(context.Background(), req)
		if !errors.Is(err, errNotConfigured) {
			t.Errorf("%s: %v, want errNotConfigured", h.GrantType(), err)
		}
	}
}
