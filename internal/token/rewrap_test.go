package token

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRewrap(t *testing.T) {
	ctx := context.Background()
	st, clk := newMemStore(), newClock()
	old := newKeys(t, st, clk, "")
	if err := old.Rotate(ctx); err != nil { // a next key too
		t.Fatal(err)
	}
	tok := signTest(t, old, clk.Now())

	resealed, already, err := Rewrap(ctx, st, testKEK(7), testKEK(8), nil)
	if err != nil || resealed != 2 || already != 0 {
		t.Fatalf("Rewrap = %d, %d, %v; want 2 resealed", resealed, already, err)
	}
	// The new key opens every key; the old one none.
	k := &Keys{Tenant: testTenant, Store: st, KEK: testKEK(8), Now: clk.Now}
	if err := k.Load(ctx); err != nil {
		t.Fatalf("Load under the new key: %v", err)
	}
	if _, err := k.VerifyAccess(tok, clk.Now(), testExpect); err != nil {
		t.Fatalf("a token signed before the rewrap: %v", err)
	}
	if err := k.RotateNow(ctx); err != nil { // unseals the former next key
		t.Fatalf("promoting the rewrapped next key: %v", err)
	}
	if err := (&Keys{Tenant: testTenant, Store: st, KEK: testKEK(7), Now: clk.Now}).Load(ctx); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("Load under the old key after the rewrap: %v, want ErrWrongKEK", err)
	}

	// Run again, it leaves the keys alone.
	if resealed, already, err := Rewrap(ctx, st, testKEK(7), testKEK(8), nil); err != nil || resealed != 0 || already != 2 {
		t.Fatalf("second Rewrap = %d, %d, %v; want 2 already resealed", resealed, already, err)
	}
}

func TestRewrapRefusesKeysItCannotOpen(t *testing.T) {
	ctx := context.Background()
	st, clk := newMemStore(), newClock()
	newKeys(t, st, clk, "") // sealed under KEK 7
	before := st.keys[testTenant][0].SealedPrivateKey

	_, _, err := Rewrap(ctx, st, testKEK(9), testKEK(8), nil)
	if err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("Rewrap with a wrong old key: %v, want a refusal", err)
	}
	if string(st.keys[testTenant][0].SealedPrivateKey) != string(before) {
		t.Fatal("a refused Rewrap changed a key")
	}
	if _, _, err := Rewrap(ctx, st, testKEK(7), testKEK(7), nil); err == nil {
		t.Fatal("Rewrap to the same key succeeded")
	}
	if _, _, err := Rewrap(ctx, st, testKEK(7), make([]byte, 16), nil); err == nil {
		t.Fatal("Rewrap to a short key succeeded")
	}
}
