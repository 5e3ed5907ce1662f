package client

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

func TestGeneratedSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewSecretValue(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, SecretPrefix) || len(s) != 53 || !IsGeneratedSecret(s) {
			t.Fatalf("bad secret %q", s)
		}
		if seen[s] {
			t.Fatal("duplicate secret")
		}
		seen[s] = true
		// One changed character breaks the checksum.
		b := []byte(s)
		b[10] ^= 1
		if IsGeneratedSecret(string(b)) {
			t.Fatalf("checksum missed a typo in %q", b)
		}
	}
	for _, s := range []string{"", "lks_", "lks_short", strings.Repeat("a", 53), "lks_" + strings.Repeat("!", 49)} {
		if IsGeneratedSecret(s) {
			t.Errorf("IsGeneratedSecret(%q) = true", s)
		}
	}
}

func TestHashAndVerifySecret(t *testing.T) {
	gen, _ := NewSecretValue(rand.Reader)
	supplied := "correct-horse-battery-staple-0123456789"
	for _, secret := range []string{gen, supplied} {
		h, err := HashSecret(rand.Reader, secret)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h, secret) {
			t.Fatal("hash contains the secret")
		}
		if IsSlowHash(h) != (secret == supplied) {
			t.Errorf("IsSlowHash(%q) wrong", h)
		}
		if ok, err := VerifySecret(h, secret); !ok || err != nil {
			t.Errorf("VerifySecret(right) = %v, %v", ok, err)
		}
		if ok, err := VerifySecret(h, secret+"x"); ok || err != nil {
			t.Errorf("VerifySecret(wrong) = %v, %v", ok, err)
		}
	}
	for _, h := range []string{"", "sha256:!!", "$argon2id$v=1$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "md5:abc"} {
		if ok, err := VerifySecret(h, "x"); ok || err == nil {
			t.Errorf("VerifySecret(%q) = %v, %v; want error", h, ok, err)
		}
	}
}

func TestValidateSuppliedSecret(t *testing.T) {
	for s, ok := range map[string]bool{
		strings.Repeat("a", 31):       false,
		strings.Repeat("a", 32):       true,
		strings.Repeat("a", 513):      false,
		strings.Repeat("a", 31) + " ": false,
		strings.Repeat("é", 20):       false,
	} {
		if err := ValidateSuppliedSecret(s); (err == nil) != ok {
			t.Errorf("ValidateSuppliedSecret(len %d) = %v", len(s), err)
		}
	}
}

func TestSecretUsable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		s  Secret
		ok bool
	}{
		{Secret{Status: SecretActive}, true},
		{Secret{Status: SecretActive, ExpiresAt: now.Add(time.Second)}, true},
		{Secret{Status: SecretActive, ExpiresAt: now}, false},
		{Secret{Status: SecretRetiring, ExpiresAt: now.Add(time.Hour)}, true},
		{Secret{Status: SecretRevoked}, false},
	}
	for i, tt := range tests {
		if got := tt.s.Usable(now); got != tt.ok {
			t.Errorf("%d: Usable = %v", i, got)
		}
	}
}
