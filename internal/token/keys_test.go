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
			if st.adds != 1 {
				t.Fatalf("%d keys created, want 1", st.adds)
			}
			if next, _ := a.Next(); next != "" {
				t.Fatalf("the first key of an empty store waits behind %s; it must sign at once", next)
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
	if err := k.RotateNow(ctx); err != nil {
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
	refresh := func() {
		t.Helper()
		if err := k.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}

	clk.Advance(DefaultRotateEvery - DefaultPublishAhead - time.Minute)
	refresh()
	if next, _ := k.Next(); next != "" {
		t.Fatal("Refresh prepared a key long before RotateEvery")
	}
	clk.Advance(time.Minute)
	refresh()
	next, signsFrom := k.Next()
	if next == "" {
		t.Fatal("Refresh did not prepare a key PublishAhead before RotateEvery")
	}
	if want := clk.Now().Add(DefaultPublishAhead); !signsFrom.Equal(want) {
		t.Fatalf("next key signs from %v, want %v", signsFrom, want)
	}
	if cur, _ := k.Current(); cur != first {
		t.Fatal("the next key signs before it has been published")
	}
	clk.Advance(DefaultPublishAhead - time.Second)
	refresh()
	if cur, _ := k.Current(); cur != first {
		t.Fatal("the next key was promoted before PublishAhead passed")
	}
	clk.Advance(time.Second)
	refresh()
	if cur, _ := k.Current(); cur != next {
		t.Fatalf("after PublishAhead, signing with %s, want the next key %s", cur, next)
	}
	if got := jwksKIDs(t, k); !slices.Equal(got, []string{next, first}) {
		t.Fatalf("JWKS kids = %v, want [%s %s]", got, next, first)
	}
	// The new key signs for RotateEvery, counted from its promotion.
	clk.Advance(DefaultRotateEvery - DefaultPublishAhead - time.Second)
	refresh()
	if n, _ := k.Next(); n != "" {
		t.Fatal("Refresh prepared a key early, counting from the key's creation")
	}
}

func TestNextKeyIsPublishedBeforeItSigns(t *testing.T) {
	st, clk := newMemStore(), newClock()
	a, b := newKeys(t, st, clk, ""), newKeys(t, st, clk, "")
	ctx := context.Background()
	first, _ := a.Current()
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	next, signsFrom := a.Next()
	if next == "" || next == first {
		t.Fatalf("Rotate made no next key (next %q, current %q)", next, first)
	}
	if want := clk.Now().Add(DefaultPublishAhead); !signsFrom.Equal(want) {
		t.Fatalf("next key signs from %v, want %v", signsFrom, want)
	}
	// Another instance learns of it (as a change poll would make it) and
	// publishes it too; neither signs with it.
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*Keys{"a": a, "b": b} {
		if got := jwksKIDs(t, k); !slices.Equal(got, []string{first, next}) {
			t.Errorf("instance %s: JWKS kids = %v, want [%s %s] (current, then next)", name, got, first, next)
		}
		if cur, _ := k.Current(); cur != first {
			t.Errorf("instance %s signs with %s before it was published long enough", name, cur)
		}
		if kid := tokenKID(t, signTest(t, k, clk.Now())); kid != first {
			t.Errorf("instance %s signed with %s", name, kid)
		}
	}
	// Rotate again keeps the next key.
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Next(); n != next || st.adds != 2 {
		t.Fatalf("a second Rotate replaced the next key: %s, %d keys made", n, st.adds)
	}
	// Once PublishAhead has passed, b's Refresh promotes it; a follows.
	clk.Advance(DefaultPublishAhead)
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st.promotions != 1 {
		t.Fatalf("%d promotions, want 1", st.promotions)
	}
	for name, k := range map[string]*Keys{"a": a, "b": b} {
		if cur, _ := k.Current(); cur != next {
			t.Errorf("instance %s signs with %s, want %s", name, cur, next)
		}
	}
}

func TestRotateNow(t *testing.T) {
	st, clk := newMemStore(), newClock()
	k := newKeys(t, st, clk, "")
	ctx := context.Background()
	first, _ := k.Current()
	// With no next key, one is made and signs at once.
	if err := k.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	second, _ := k.Current()
	if second == first {
		t.Fatal("RotateNow kept the current key")
	}
	// With a next key, that one is promoted: resource servers may have it.
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	next, _ := k.Next()
	if err := k.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, _ := k.Current(); cur != next {
		t.Fatalf("RotateNow signs with %s, want the published next key %s", cur, next)
	}
	if got := jwksKIDs(t, k); !slices.Equal(got, []string{next, second, first}) {
		t.Fatalf("JWKS kids = %v, want [%s %s %s]", got, next, second, first)
	}
}

func TestJWKSMaxAgeFollowsPublishAhead(t *testing.T) {
	if got := (&Keys{}).JWKSMaxAge(); got != 5*time.Minute {
		t.Errorf("default JWKSMaxAge = %v, want 5m", got)
	}
	if got := (&Keys{PublishAhead: time.Hour}).JWKSMaxAge(); got != 30*time.Minute {
		t.Errorf("JWKSMaxAge with PublishAhead 1h = %v, want 30m", got)
	}
}

// together runs fn on n goroutines released at once.
func together(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func TestConcurrentRefreshMakesOneKey(t *testing.T) {
	st, clk := newMemStore(), newClock()
	const instances = 4
	keys := make([]*Keys, instances)
	for i := range keys {
		keys[i] = newKeys(t, st, clk, "")
	}
	refreshAll := func() {
		t.Helper()
		for i, err := range together(instances, func(i int) error { return keys[i].Refresh(context.Background()) }) {
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}
	}
	clk.Advance(DefaultRotateEvery + time.Hour)
	before := st.adds
	refreshAll()
	if got := st.adds - before; got != 1 {
		t.Fatalf("%d next keys made, want exactly 1", got)
	}
	clk.Advance(DefaultPublishAhead)
	refreshAll()
	if st.promotions != 1 {
		t.Fatalf("%d promotions, want exactly 1", st.promotions)
	}
	want, _ := keys[0].Current()
	for i, k := range keys {
		if kid, _ := k.Current(); kid != want {
			t.Errorf("instance %d signs with %s, want %s", i, kid, want)
		}
	}
}

func TestConcurrentRotateMakesOneNextKey(t *testing.T) {
	st, clk := newMemStore(), newClock()
	a, b := newKeys(t, st, clk, ""), newKeys(t, st, clk, "")
	for _, err := range together(2, func(i int) error { return []*Keys{a, b}[i].Rotate(context.Background()) }) {
		if err != nil {
			t.Fatal(err)
		}
	}
	na, _ := a.Next()
	nb, _ := b.Next()
	if st.adds != 2 || na == "" || na != nb {
		t.Fatalf("%d keys made, next keys %q and %q; want one next key both publish", st.adds, na, nb)
	}
}

func TestLoadAdoptsKeyWhenRaceLost(t *testing.T) {
	st, clk := newMemStore(), newClock()
	winner := &Keys{Tenant: testTenant, Store: st, KEK: testKEK(7), Now: clk.Now}
	// The first RotateSigningKey call (ours) lets another instance store
	// its key first, so ours meets ErrConflict.
	st.addHook = func() {
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
	if st.adds != 1 {
		t.Fatalf("%d keys stored, want 1", st.adds)
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

func TestRefreshPreparesKeyOnAlgorithmChange(t *testing.T) {
	st, clk := newMemStore(), newClock()
	es := newKeys(t, st, clk, ES256)
	tok := signTest(t, es, clk.Now())
	ed := newKeys(t, st, clk, EdDSA)
	ctx := context.Background()
	if err := ed.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, alg := ed.Current(); alg != ES256 {
		t.Fatalf("signing with %s before the EdDSA key was published long enough", alg)
	}
	if next, _ := ed.Next(); next == "" {
		t.Fatal("no EdDSA key prepared")
	}
	clk.Advance(DefaultPublishAhead)
	if err := ed.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, alg := ed.Current(); alg != EdDSA {
		t.Fatalf("after PublishAhead, signing with %s", alg)
	}
	if got := jwksKIDs(t, ed); len(got) != 2 {
		t.Fatalf("JWKS has %v, want the EdDSA and the retired ES256 key", got)
	}
	if _, err := ed.VerifyAccess(tok, clk.Now(), testExpect); err != nil {
		t.Fatalf("ES256 token after switching to EdDSA: %v", err)
	}
	if err := ed.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if next, _ := ed.Next(); next != "" {
		t.Fatal("a key of the right algorithm is replaced again")
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
		{"unknown use", &Keys{Tenant: testTenant, Store: newMemStore(), KEK: testKEK(1), Use: "refresh"}},
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
	clk.Advance(DefaultRotateEvery)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		k.Run(ctx, time.Millisecond)
		close(done)
	}()
	deadline := time.After(5 * time.Second)
	for {
		if next, _ := k.Next(); next != "" {
			break
		}
		select {
		case <-deadline:
			t.Fatal("Run did not prepare the next key")
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
	if err := k.RotateNow(ctx); err != nil {
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
func (downStore) AddSigningKey(context.Context, string, *SigningKey) error  { return errDown }
func (downStore) PromoteSigningKey(context.Context, string, string, string, time.Time, time.Time) error {
	return errDown
}
func (downStore) ResealSigningKeys(context.Context, func(SigningKey) ([]byte, error)) (int, error) {
	return 0, errDown
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

// tokenKID returns the kid of a JWS compact token's header.
func tokenKID(t testing.TB, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var header struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(b, &header); err != nil {
		t.Fatal(err)
	}
	return header.KID
}
