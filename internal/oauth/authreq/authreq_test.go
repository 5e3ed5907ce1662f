package authreq

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSealOpen(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now := t0
	kek := bytes.Repeat([]byte{7}, 32)
	s, err := NewSealer(kek, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &Request{TenantID: "ten_a", ClientID: "app", RedirectURI: "https://app.example/cb", Scopes: []string{"openid"},
		State: "xyz", Nonce: "n", CodeChallenge: "cc", Prompt: []string{"login"}, MaxAge: -1, Started: t0}
	v, err := s.Seal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "app.example") {
		t.Fatal("sealed form shows the request in the clear")
	}
	got, err := s.Open(v)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientID != "app" || got.State != "xyz" || !got.HasPrompt("login") || got.HasPrompt("consent") || got.MaxAge != -1 {
		t.Fatalf("opened %+v", got)
	}

	other, _ := NewSealer(bytes.Repeat([]byte{8}, 32), func() time.Time { return now }, nil)
	flipped := []byte(v)
	flipped[len(flipped)/2] ^= 1
	for name, bad := range map[string]func() (*Request, error){
		"empty":       func() (*Request, error) { return s.Open("") },
		"not base64":  func() (*Request, error) { return s.Open("***") },
		"altered":     func() (*Request, error) { return s.Open(string(flipped)) },
		"another key": func() (*Request, error) { return other.Open(v) },
		"too long":    func() (*Request, error) { return s.Open(strings.Repeat("A", MaxSealedLen+1)) },
	} {
		if _, err := bad(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}

	now = t0.Add(Lifetime - time.Second)
	if _, err := s.Open(v); err != nil {
		t.Fatalf("within its lifetime: %v", err)
	}
	now = t0.Add(Lifetime)
	if _, err := s.Open(v); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired: err = %v", err)
	}
	if _, err := NewSealer([]byte("short"), nil, nil); err == nil {
		t.Fatal("a short KEK was accepted")
	}
}
