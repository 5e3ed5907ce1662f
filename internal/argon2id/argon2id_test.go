package argon2id

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	h, err := Hash(rand.Reader, "correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, Prefix+"v=19$m=1024,t=1,p=1$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := Verify(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right secret: %v %v", ok, err)
	}
	if ok, err := Verify(h, "correct horsf"); ok || err != nil {
		t.Fatalf("wrong secret: %v %v", ok, err)
	}
	h2, _ := Hash(rand.Reader, "correct horse", cheap)
	if h2 == h {
		t.Fatal("two hashes of one secret share a salt")
	}
}

func TestVerifyRefusesMalformedAndAbusiveHashes(t *testing.T) {
	for _, h := range []string{
		"", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=x,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$a2V5", // key too short
		// Parameters a tampered row might carry to make checks expensive.
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=999,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=1,p=0$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
	} {
		if ok, err := Verify(h, "x"); ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, %v", h, ok, err)
		}
	}
}
