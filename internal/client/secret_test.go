package client

import (
	"crypto/rand"
	"regexp"
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

// counting is a deterministic entropy source: bytes 0, 1, 2, …
type counting struct{ n byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

// The secret format is a contract with secret scanners (GitHub's, and any
// operator's regex): "lks_", 43 base62 characters, and a 6-character
// base62 CRC-32 of everything before it. Pinned by a known answer, so a
// change to it cannot pass unnoticed.
func TestSecretFormatKnownAnswer(t *testing.T) {
	got, err := NewSecretValue(&counting{})
	if err != nil {
		t.Fatal(err)
	}
	const want = "lks_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg1lgkwT"
	if got != want {
		t.Fatalf("NewSecretValue = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^lks_[0-9A-Za-z]{49}$`).MatchString(got) || !IsGeneratedSecret(want) {
		t.Fatal("the known answer is not a generated secret")
	}
	// One changed character anywhere fails the checksum.
	for i := len("lks_"); i < len(want); i++ {
		b := []byte(want)
		b[i] = map[bool]byte{true: 'x', false: 'y'}[b[i] != 'x']
		if IsGeneratedSecret(string(b)) {
			t.Errorf("changed at %d, still valid: %s", i, b)
		}
	}
	id, err := NewClientID(&counting{})
	if err != nil || id != "lkc_0123456789ABCDEFGHIJKL" {
		t.Fatalf("NewClientID = %q, %v", id, err)
	}
}

// DaysLeft counts a part of a day as a day, and nothing once the time
// has come.
func TestDaysLeft(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   time.Duration
		want int
	}{{-time.Hour, 0}, {0, 0}, {time.Nanosecond, 1}, {24 * time.Hour, 1}, {24*time.Hour + 1, 2}, {180 * 24 * time.Hour, 180}} {
		if got := DaysLeft(now.Add(tc.in), now); got != tc.want {
			t.Errorf("DaysLeft(now%+v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
