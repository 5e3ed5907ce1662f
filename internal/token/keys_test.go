package token

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
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

func jwksKIDs(t testing.TB, k *Keys) []string {
	t.Helper()
	var doc jwksDoc
	if err := json.Unmarshal(k.JWKS(), &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, k.JWKS())
	}
	var ids []string
	for _, key := range doc.Keys {
		ids = append(ids, key["kid"])
	}
	return ids
}

func TestLoadCreatesFirstKeyThenReusesIt(t *testing.T) {
	for _, alg := range []string{"", ES256, EdDSA} {
		t.Run("alg="+alg, func(t *testing.T) {
			st, clk := newMemStore(), newClock()
			a := newKeys(t, st, clk, alg)
			kid, gotAlg := a.Current()
			wantAlg := cmp.Or(alg, ES256)
			if kid == "" || gotAlg != wantAlg {
				t.Fatalf("Current() = %q, %q; want a key with %s", kid, gotAlg, wantAlg)
			}
			if ids := st.keyIDs(); !slices.Equal(ids, []string{kid}) {
				t.Fatalf("store holds %v, want [%s]", ids, kid)
			}

			// A second instance sharing the store adopts the key.
			b := newKeys(t, st, clk, alg)
			if kid2, _ := b.Current(); kid2 != kid {
				t.Fatalf("second instance's key = %s, want %s", kid2, kid)
			}
			if st.rotations != 1 {
				t.Fatalf("%d keys created, want 1", st.rotations)
			}
			if !bytes.Equal(a.JWKS(), b.JWKS()) {
				t.Fatalf("instances publish different JWKS:\n%s\n%s", a.JWKS(), b.JWKS())
			}
		})
	}
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

func TestRotateRetainsOldKeyUntilRetainPasses(t *testing.T) {
	st, clk := newMemStore(), newClock()
	k := newKeys(t, st, clk, "")
	ctx := context.Background()
	old, _ := k.Current()
	oldTok := signTest(t, k, clk.Now())

	clk.Advance(time.Minute)
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	cur, _ := k.Current()
	if cur == old {
		t.Fatal("Rotate kept the same key")
	}
	if got := jwksKIDs(t, k); !slices.Equal(got, []string{cur, old}) {
		t.Fatalf("JWKS kids = %v, want [%s %s] (current first)", got, cur, old)
	}
	if _, err := k.VerifyAccess(oldTok, clk.Now(), testExpect); err != nil {
		t.Fatalf("token from the retired key: %v", err)
	}

	// Just before Retain passes, Refresh leaves the old key published.
	clk.Advance(k.Retain - time.Second)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := jwksKIDs(t, k); !slices.Equal(got, []string{cur, old}) {
		t.Fatalf("before Retain: JWKS kids = %v, want [%s %s]", got, cur, old)
	}

	clk.Advance(2 * time.Second)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := jwksKIDs(t, k); !slices.Equal(got, []string{cur}) {
		t.Fatalf("after Retain: JWKS kids = %v, want [%s]", got, cur)
	}
	if got := st.keyIDs(); !slices.Equal(got, []string{cur}) {
		t.Fatalf("after Retain: store holds %v, want [%s] (pruned)", got, cur)
	}
	if _, err := k.VerifyAccess(oldTok, clk.Now(), testExpect); !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("token from the pruned key: err = %v", err)
	}
}

func TestRefreshRotatesWhenOld(t *testing.T) {
	st, clk := newMemStore(), newClock()
	k := newKeys(t, st, clk, "")
	ctx := context.Background()
	first, _ := k.Current()

	clk.Advance(DefaultRotateEvery - time.Minute)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, _ := k.Current(); cur != first {
		t.Fatal("Refresh rotated a key younger than RotateEvery")
	}
	clk.Advance(time.Minute)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, _ := k.Current(); cur == first {
		t.Fatal("Refresh did not rotate a key RotateEvery old")
	}
}

func TestRefreshPicksUpOtherInstancesRotation(t *testing.T) {
	st, clk := newMemStore(), newClock()
	a, b := newKeys(t, st, clk, ""), newKeys(t, st, clk, "")
	ctx := context.Background()
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ka, _ := a.Current()
	kb, _ := b.Current()
	if ka != kb {
		t.Fatalf("after Refresh instance b signs with %s, a with %s", kb, ka)
	}
	// b's Rotate on stale state makes no second key.
	stale := newKeys(t, st, clk, "")
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	n := st.rotations
	if err := stale.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if st.rotations != n {
		t.Fatal("Rotate on a stale instance made a key")
	}
	ka, _ = a.Current()
	if ks, _ := stale.Current(); ks != ka {
		t.Fatalf("stale instance did not adopt %s after the conflict; has %s", ka, ks)
	}
}

func TestConcurrentRefreshMakesOneKey(t *testing.T) {
	st, clk := newMemStore(), newClock()
	const instances = 4
	keys := make([]*Keys, instances)
	for i := range keys {
		keys[i] = newKeys(t, st, clk, "")
	}
	clk.Advance(DefaultRotateEvery + time.Hour)
	before := st.rotations

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, instances)
	for i, k := range keys {
		wg.Go(func() {
			<-start
			errs[i] = k.Refresh(context.Background())
		})
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if got := st.rotations - before; got != 1 {
		t.Fatalf("%d new keys, want exactly 1", got)
	}
	want, _ := keys[0].Current()
	for i, k := range keys {
		if kid, _ := k.Current(); kid != want {
			t.Errorf("instance %d signs with %s, want %s", i, kid, want)
		}
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

func TestLoadWithWrongKEK(t *testing.T) {
	st, clk := newMemStore(), newClock()
	newKeys(t, st, clk, "")
	k := &Keys{Tenant: testTenant, Store: st, KEK: testKEK(8), Now: clk.Now}
	err := k.Load(context.Background())
	if !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("Load with another KEK: %v, want ErrWrongKEK", err)
	}
	if kid, _ := k.Current(); kid != "" {
		t.Fatal("a failed Load left keys live")
	}
}

func TestLoadRotatesOnAlgorithmChange(t *testing.T) {
	st, clk := newMemStore(), newClock()
	es := newKeys(t, st, clk, ES256)
	tok := signTest(t, es, clk.Now())
	ed := newKeys(t, st, clk, EdDSA)
	if _, alg := ed.Current(); alg != EdDSA {
		t.Fatalf("after Load with EdDSA, signing with %s", alg)
	}
	if got := jwksKIDs(t, ed); len(got) != 2 {
		t.Fatalf("JWKS has %v, want the EdDSA and the retired ES256 key", got)
	}
	if _, err := ed.VerifyAccess(tok, clk.Now(), testExpect); err != nil {
		t.Fatalf("ES256 token after switching to EdDSA: %v", err)
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

func TestLogsNoKeyMaterial(t *testing.T) {
	var logs bytes.Buffer
	st, clk := newMemStore(), newClock()
	k := &Keys{
		Tenant: testTenant, Store: st, KEK: testKEK(7), Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	ctx := context.Background()
	if err := k.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "rotated signing key") {
		t.Fatalf("no rotation logged:\n%s", logs.String())
	}
	for _, sk := range st.keys[testTenant] {
		for _, secret := range [][]byte{sk.SealedPrivateKey, k.KEK} {
			for _, enc := range []string{string(secret), hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret)} {
				if strings.Contains(logs.String(), enc) {
					t.Fatalf("logs contain key material:\n%s", logs.String())
				}
			}
		}
	}
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
