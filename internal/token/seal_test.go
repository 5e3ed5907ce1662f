package token

import (
	"bytes"
	"errors"
	"testing"
)

func testKEK(b byte) []byte { return bytes.Repeat([]byte{b}, KEKSize) }

func mustSealer(t testing.TB, kek []byte) *Sealer {
	t.Helper()
	s, err := NewSealer(kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := mustSealer(t, testKEK(1))
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("private key "), 100)} {
		sealed, err := s.Seal("kid-1", plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != sealOverhead+len(plain) {
			t.Errorf("sealed length = %d, want %d", len(sealed), sealOverhead+len(plain))
		}
		if len(plain) > 8 && bytes.Contains(sealed, plain) {
			t.Error("sealed blob contains the plaintext")
		}
		got, err := s.Open("kid-1", sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealNoncesDiffer(t *testing.T) {
	s := mustSealer(t, testKEK(1))
	a, _ := s.Seal("k", []byte("same"))
	b, _ := s.Seal("k", []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal: nonce reused")
	}
}

func TestSealOpenFailures(t *testing.T) {
	s := mustSealer(t, testKEK(1))
	sealed, err := s.Seal("kid-1", []byte("secret key bytes"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		sealer *Sealer
		kid    string
		blob   []byte
		want   error
	}{
		{"wrong KEK", mustSealer(t, testKEK(2)), "kid-1", sealed, ErrWrongKEK},
		{"swapped between rows", s, "kid-2", sealed, ErrSealBroken},
		{"tampered ciphertext", s, "kid-1", flip(len(sealed) - 20), ErrSealBroken},
		{"tampered tag", s, "kid-1", flip(len(sealed) - 1), ErrSealBroken},
		{"tampered nonce", s, "kid-1", flip(1 + fingerprintSize), ErrSealBroken},
		{"unknown version", s, "kid-1", flip(0), ErrSealBroken},
		{"truncated", s, "kid-1", sealed[:sealOverhead-1], ErrSealBroken},
		{"empty", s, "kid-1", nil, ErrSealBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.kid, tt.blob)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("Open returned plaintext %q with an error", got)
			}
		})
	}
}

func TestWrongKEKMessage(t *testing.T) {
	sealed, _ := mustSealer(t, testKEK(1)).Seal("k", []byte("x"))
	_, err := mustSealer(t, testKEK(2)).Open("k", sealed)
	const want = "token: signing keys were sealed with a different LATCHKEY_SECRET_KEY (key k)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestNewSealerKEKLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n), nil); err == nil {
			t.Errorf("NewSealer accepted a %d-byte KEK", n)
		}
	}
}

func TestSealRandomFailure(t *testing.T) {
	s, err := NewSealer(testKEK(1), bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal("k", []byte("x")); err == nil {
		t.Fatal("Seal succeeded without randomness")
	}
}
