package token

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// newKeys returns a Keys over st with the test clock, loaded.
func newKeys(t testing.TB, st KeyStore, clk *clock, alg string) *Keys {
	t.Helper()
	k := &Keys{
		Tenant:    testTenant,
		Store:     st,
		KEK:       testKEK(7),
		Algorithm: alg,
		Retain:    49 * time.Hour,
		Now:       clk.Now,
	}
	if err := k.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return k
}

type jwksDoc struct {
	Keys []map[string]string `json:"keys"`
}

func TestJWKSDocument(t *testing.T) {
	tests := []struct {
		alg  string
		want []string // members besides kid, alg and use
	}{
		{ES256, []string{"crv", "kty", "x", "y"}},
		{EdDSA, []string{"crv", "kty", "x"}},
		{RS256, []string{"e", "kty", "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k := newKeys(t, newMemStore(), newClock(), tt.alg)
			var doc jwksDoc
			if err := json.Unmarshal(k.JWKS(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Keys) != 1 {
				t.Fatalf("JWKS has %d keys, want 1", len(doc.Keys))
			}
			jwk := doc.Keys[0]
			kid, _ := k.Current()
			if jwk["kid"] != kid || jwk["alg"] != tt.alg || jwk["use"] != "sig" {
				t.Errorf("jwk = %v; want kid %s, alg %s, use sig", jwk, kid, tt.alg)
			}
			var names []string
			for name := range jwk {
				if name != "kid" && name != "alg" && name != "use" {
					names = append(names, name)
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("jwk members %v, want %v (no private parts)", names, tt.want)
			}
			if len(kid) != 43 {
				t.Errorf("kid %q is not an RFC 7638 SHA-256 thumbprint", kid)
			}
		})
	}
}

func TestRSAKeySize(t *testing.T) {
	k := newKeys(t, newMemStore(), newClock(), RS256)
	signer := k.set.Load().signer.(*rs256Signer)
	if bits := signer.priv.N.BitLen(); bits != RSAKeyBits {
		t.Errorf("new RSA key has %d bits, want %d", bits, RSAKeyBits)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newKeyMaterial(RS256, "", small.Public()); err == nil {
		t.Error("a 1024-bit public key was accepted")
	}
	if _, err := newSigner(RS256, "k", small); err == nil {
		t.Error("a 1024-bit private key was accepted")
	}
}
func TestLoadAdoptsKeyWhenRaceLost(t *testing.T) {
	st, clk := newMemStore(), newClock()
	winner := &Keys{Tenant: testTenant, Store: st, KEK: testKEK(7), Now: clk.Now}
	// The first RotateSigningKey call (ours) lets another instance store
	// its key first, so ours meets ErrConflict.
	st.rotateHook = func() {
		if err := winner.Load(context.Background()); err != nil {
			t.Error(err)
		}
	}
	loser := newKeys(t, st, clk, "")
	wk, _ := winner.Current()
	lk, _ := loser.Current()
	if wk == "" || wk != lk {
		t.Fatalf("loser uses %q, winner %q", lk, wk)
	}
	if st.rotations != 1 {
		t.Fatalf("%d keys stored, want 1", st.rotations)
	}
}
func TestKeysConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		k    *Keys
	}{
		{"no store", &Keys{Tenant: testTenant, KEK: testKEK(1)}},
		{"no tenant", &Keys{Store: newMemStore(), KEK: testKEK(1)}},
		{"short KEK", &Keys{Tenant: testTenant, Store: newMemStore(), KEK: make([]byte, 16)}},
		{"unknown algorithm", &Keys{Tenant: testTenant, Store: newMemStore(), KEK: testKEK(1), Algorithm: "HS256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.k.Load(context.Background()); err == nil {
				t.Fatal("Load succeeded")
			}
		})
	}
}

func TestNotLoaded(t *testing.T) {
	var k Keys
	if _, err := k.SignAccess(Claims{}); err == nil {
		t.Error("SignJWT before Load succeeded")
	}
	if _, err := k.VerifyAccess("a.b.c", time.Now(), testExpect); err == nil || errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyJWT before Load: %v, want a server-side error", err)
	}
	if string(k.JWKS()) != `{"keys":[]}` {
		t.Errorf("JWKS before Load = %s", k.JWKS())
	}
	if kid, alg := k.Current(); kid != "" || alg != "" {
		t.Error("Current before Load is not empty")
	}
}

func TestRunRefreshesUntilCancelled(t *testing.T) {
	st, clk := newMemStore(), newClock()
	k := newKeys(t, st, clk, "")
	first, _ := k.Current()
	clk.Advance(DefaultRotateEvery)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		k.Run(ctx, time.Millisecond)
		close(done)
	}()
	deadline := time.After(5 * time.Second)
	for {
		if cur, _ := k.Current(); cur != first {
			break
		}
		select {
		case <-deadline:
			t.Fatal("Run did not rotate the key")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
}

// downStore fails every call, like a database that went away.
type downStore struct{ KeyStore }

var errDown = errors.New("database is down")

func (downStore) SigningKeys(context.Context, string) ([]SigningKey, error) { return nil, errDown }
func (downStore) PruneSigningKeys(context.Context, string, time.Time) error { return errDown }
func (downStore) RotateSigningKey(context.Context, string, *SigningKey, string, time.Time) error {
	return errDown
}

func TestStoreOutageKeepsKeysLive(t *testing.T) {
	clk := newClock()
	var logs bytes.Buffer
	k := newKeys(t, newMemStore(), clk, "")
	k.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	kid, _ := k.Current()
	k.Store = downStore{} // fields must not change after Load; a test may cheat

	clk.Advance(DefaultRotateEvery) // Refresh would rotate if it could
	if err := k.Refresh(context.Background()); !errors.Is(err, errDown) {
		t.Fatalf("Refresh = %v, want the store's error", err)
	}
	if err := k.Rotate(context.Background()); !errors.Is(err, errDown) {
		t.Fatalf("Rotate = %v, want the store's error", err)
	}
	if cur, _ := k.Current(); cur != kid {
		t.Fatalf("current key changed to %s during the outage", cur)
	}
	if _, err := k.VerifyAccess(signTest(t, k, clk.Now()), clk.Now(), testExpect); err != nil {
		t.Fatalf("signing or verifying during the outage: %v", err)
	}

	// Run logs the failure and goes on: wait for the log line itself.
	logged := make(chan struct{})
	var once sync.Once
	k.Logger = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		if strings.Contains(string(p), "database is down") {
			once.Do(func() { close(logged) })
		}
		return len(p), nil
	}), nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx, time.Millisecond); close(done) }()
	<-logged
	cancel()
	<-done
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
