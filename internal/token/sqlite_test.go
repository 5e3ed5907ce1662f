package token_test

// These tests run Keys, TenantKeys and Revocations on the real SQLite
// store. The tests that must reach inside a store (a race lost on
// purpose, a store that is down) use the in-memory one in the package's
// own tests.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/token"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func kek(b byte) []byte { return bytes.Repeat([]byte{b}, token.KEKSize) }

// keysFor returns a tenant's Keys over db, configured like an instance's
// and loaded.
func keysFor(t *testing.T, db *sqlite.DB, clk *fakeClock, tenant, alg string) *token.Keys {
	t.Helper()
	k := newKeysFor(db, clk, tenant, alg)
	if err := k.Load(t.Context()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return k
}

func newKeysFor(db *sqlite.DB, clk *fakeClock, tenant, alg string) *token.Keys {
	return &token.Keys{Tenant: tenant, Store: db, KEK: kek(7), Algorithm: alg, Retain: 49 * time.Hour, Now: clk.Now}
}

func storedIDs(t *testing.T, db *sqlite.DB, tenant string) []string {
	t.Helper()
	ks, err := db.SigningKeys(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}

func issuerOf(tenant string) string { return "https://latchkey.example/t/" + tenant }

func expectFor(tenant string) token.Expect {
	return token.Expect{Issuer: issuerOf(tenant), Audience: []string{issuerOf(tenant)}}
}

func sign(t *testing.T, k *token.Keys, now time.Time) string {
	t.Helper()
	tok, err := k.SignAccess(token.Claims{Issuer: issuerOf(k.Tenant), Audience: []string{issuerOf(k.Tenant)},
		Subject: "lkc_a", ClientID: "lkc_a", ID: "jti_" + now.String(), IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSQLiteLoadCreatesFirstKeyThenReusesIt(t *testing.T) {
	for _, alg := range []string{"", token.ES256, token.EdDSA, token.RS256} {
		t.Run("alg="+alg, func(t *testing.T) {
			db, clk := openSQLite(t), newFakeClock()
			a := keysFor(t, db, clk, "ten_a", alg)
			kid, _ := a.Current()
			if ids := storedIDs(t, db, "ten_a"); !slices.Equal(ids, []string{kid}) {
				t.Fatalf("store holds %v, want [%s]", ids, kid)
			}
			// A second instance sharing the store adopts the key.
			b := keysFor(t, db, clk, "ten_a", alg)
			if kid2, _ := b.Current(); kid2 != kid {
				t.Fatalf("second instance's key = %s, want %s", kid2, kid)
			}
			if ids := storedIDs(t, db, "ten_a"); len(ids) != 1 {
				t.Fatalf("%d keys stored, want 1", len(ids))
			}
			if !bytes.Equal(a.JWKS(), b.JWKS()) {
				t.Fatalf("instances publish different JWKS")
			}
		})
	}
}

func TestSQLiteRotateRetainsOldKeyUntilRetainPasses(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	k := keysFor(t, db, clk, "ten_a", "")
	ctx := t.Context()
	old, _ := k.Current()
	oldTok := sign(t, k, clk.Now())

	clk.Advance(time.Minute)
	if err := k.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	cur, _ := k.Current()
	if cur == old || !strings.Contains(string(k.JWKS()), old) {
		t.Fatalf("after RotateNow: current %s, JWKS %s", cur, k.JWKS())
	}
	if _, err := k.VerifyAccess(oldTok, clk.Now(), expectFor("ten_a")); err != nil {
		t.Fatalf("token from the retired key: %v", err)
	}
	clk.Advance(k.Retain - time.Second)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := storedIDs(t, db, "ten_a"); len(ids) != 2 {
		t.Fatalf("before Retain passes: store holds %v", ids)
	}
	clk.Advance(2 * time.Second)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := storedIDs(t, db, "ten_a"); !slices.Equal(ids, []string{cur}) || strings.Contains(string(k.JWKS()), old) {
		t.Fatalf("after Retain: store holds %v, JWKS %s", ids, k.JWKS())
	}
}

func TestSQLiteRefreshRotatesWhenOld(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	k := keysFor(t, db, clk, "ten_a", "")
	first, _ := k.Current()
	lead := token.DefaultRotateEvery - token.DefaultPublishAhead
	clk.Advance(lead - time.Minute)
	if err := k.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if next, _ := k.Next(); next != "" {
		t.Fatal("Refresh prepared a key long before RotateEvery")
	}
	clk.Advance(time.Minute)
	if err := k.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	next, _ := k.Next()
	if cur, _ := k.Current(); next == "" || cur != first {
		t.Fatalf("PublishAhead before RotateEvery: next %q, signing with %s; want a next key and %s", next, cur, first)
	}
	clk.Advance(token.DefaultPublishAhead)
	if err := k.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cur, _ := k.Current(); cur != next {
		t.Fatalf("at RotateEvery: signing with %s, want the next key %s", cur, next)
	}
}

func TestSQLiteInstancesShareRotations(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	ctx := t.Context()
	a, b := keysFor(t, db, clk, "ten_a", ""), keysFor(t, db, clk, "ten_a", "")
	stale := keysFor(t, db, clk, "ten_a", "")
	if err := a.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ka, _ := a.Current()
	if kb, _ := b.Current(); ka != kb {
		t.Fatalf("after Refresh instance b signs with %s, a with %s", kb, ka)
	}
	// Preparing a next key on stale state makes no second one, and adopts
	// the winner's.
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	n := len(storedIDs(t, db, "ten_a"))
	if err := stale.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(storedIDs(t, db, "ten_a")); got != n {
		t.Fatalf("Rotate on a stale instance made a key: %d → %d", n, got)
	}
	na, _ := a.Next()
	if ns, _ := stale.Next(); na == "" || ns != na {
		t.Fatalf("stale instance publishes next key %q, want %q", ns, na)
	}
}

func TestSQLiteConcurrentRefreshMakesOneKey(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	const instances = 4
	keys := make([]*token.Keys, instances)
	for i := range keys {
		keys[i] = keysFor(t, db, clk, "ten_a", "")
	}
	clk.Advance(token.DefaultRotateEvery + time.Hour)
	before := len(storedIDs(t, db, "ten_a"))
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, instances)
	for i, k := range keys {
		wg.Go(func() { <-start; errs[i] = k.Refresh(context.Background()) })
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if got := len(storedIDs(t, db, "ten_a")) - before; got != 1 {
		t.Fatalf("%d new keys, want exactly 1", got)
	}
	want, _ := keys[0].Current()
	for i, k := range keys {
		if kid, _ := k.Current(); kid != want {
			t.Errorf("instance %d signs with %s, want %s", i, kid, want)
		}
	}
}

func TestSQLiteLoadWithWrongKEK(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	keysFor(t, db, clk, "ten_a", "")
	k := newKeysFor(db, clk, "ten_a", "")
	k.KEK = kek(8)
	if err := k.Load(t.Context()); !errors.Is(err, token.ErrWrongKEK) {
		t.Fatalf("Load with another KEK: %v, want ErrWrongKEK", err)
	}
	if kid, _ := k.Current(); kid != "" {
		t.Fatal("a failed Load left keys live")
	}
}

func TestSQLiteAlgorithmChangeKeepsOldTokens(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	es := keysFor(t, db, clk, "ten_a", token.ES256)
	tok := sign(t, es, clk.Now())
	rs := keysFor(t, db, clk, "ten_a", token.RS256)
	// The new algorithm's key is published ahead like any other.
	if err := rs.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, alg := rs.Current(); alg != token.ES256 {
		t.Fatalf("right after switching to RS256, signing with %s; want ES256 until the RS256 key is published", alg)
	}
	clk.Advance(token.DefaultPublishAhead)
	if err := rs.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, alg := rs.Current(); alg != token.RS256 {
		t.Fatalf("PublishAhead after switching to RS256, signing with %s", alg)
	}
	if _, err := rs.VerifyAccess(tok, clk.Now(), expectFor("ten_a")); err != nil {
		t.Fatalf("ES256 token after switching to RS256: %v", err)
	}
	if _, err := rs.VerifyAccess(sign(t, rs, clk.Now()), clk.Now(), expectFor("ten_a")); err != nil {
		t.Fatalf("RS256 token: %v", err)
	}
}

// TestSQLiteTenantsHaveTheirOwnKeys: two tenants on one database sign with
// different keys, neither verifies the other's tokens, and one's rotation
// leaves the other alone.
func TestSQLiteTenantsHaveTheirOwnKeys(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	now := clk.Now()
	a, b := keysFor(t, db, clk, "ten_a", ""), keysFor(t, db, clk, "ten_b", "")
	ka, _ := a.Current()
	kb, _ := b.Current()
	if ka == kb || strings.Contains(string(b.JWKS()), ka) || strings.Contains(string(a.JWKS()), kb) {
		t.Fatalf("tenants share a key: a %s, b %s", a.JWKS(), b.JWKS())
	}
	tokA := sign(t, a, now)
	// Even told to expect a's issuer, b's keys do not verify a's token.
	if _, err := b.VerifyAccess(tokA, now, expectFor("ten_a")); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("a's token with b's keys: %v, want ErrUnknownKey", err)
	}
	if _, err := a.VerifyAccess(tokA, now, expectFor("ten_a")); err != nil {
		t.Errorf("a's token with a's keys: %v", err)
	}
	clk.Advance(time.Minute)
	if err := a.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cur, _ := b.Current(); cur != kb {
		t.Errorf("a's rotation changed b's key to %s", cur)
	}
	if ids := storedIDs(t, db, "ten_b"); !slices.Equal(ids, []string{kb}) {
		t.Errorf("b's keys after a's rotation: %v", ids)
	}
}

func TestSQLiteTenantKeys(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	ctx := t.Context()
	made := 0
	var mu sync.Mutex
	tk := &token.TenantKeys{New: func(tenant string) *token.Keys {
		mu.Lock()
		made++
		mu.Unlock()
		return newKeysFor(db, clk, tenant, "")
	}}
	if tk.Len() != 0 || len(storedIDs(t, db, "ten_a")) != 0 {
		t.Fatal("keys exist before any use")
	}
	// Many first uses at once make one Keys and one key.
	var wg sync.WaitGroup
	got := make([]*token.Keys, 8)
	errs := make([]error, len(got))
	for i := range got {
		wg.Go(func() { got[i], errs[i] = tk.Get(ctx, "ten_a") })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("Get %d: %p, %v; want the one Keys", i, got[i], errs[i])
		}
	}
	if made != 1 || len(storedIDs(t, db, "ten_a")) != 1 || tk.Len() != 1 {
		t.Fatalf("made %d Keys and %d keys, %d loaded; want 1 each", made, len(storedIDs(t, db, "ten_a")), tk.Len())
	}
	b, err := tk.Get(ctx, "ten_b")
	if err != nil || b.Tenant != "ten_b" || tk.Len() != 2 {
		t.Fatalf("second tenant: %v, %v, %d loaded", b, err, tk.Len())
	}

	// Load picks up another process's rotation, for every loaded tenant.
	other := keysFor(t, db, clk, "ten_b", "")
	clk.Advance(time.Minute)
	if err := other.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tk.Load(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := other.Current()
	if kid, _ := b.Current(); kid != want {
		t.Errorf("after Load, b signs with %s, want %s", kid, want)
	}

	// A failed first load is not kept.
	bad := &token.TenantKeys{New: func(tenant string) *token.Keys {
		k := newKeysFor(db, clk, tenant, "")
		k.KEK = kek(9)
		return k
	}}
	if _, err := bad.Get(ctx, "ten_a"); !errors.Is(err, token.ErrWrongKEK) || bad.Len() != 0 {
		t.Errorf("Get with the wrong KEK: %v, %d loaded", err, bad.Len())
	}
	if _, err := (&token.TenantKeys{New: func(string) *token.Keys { return newKeysFor(db, clk, "ten_x", "") }}).Get(ctx, "ten_y"); err == nil {
		t.Error("Get accepted Keys made for another tenant")
	}
}

func TestSQLiteLogsNoKeyMaterial(t *testing.T) {
	var logs bytes.Buffer
	db, clk := openSQLite(t), newFakeClock()
	k := newKeysFor(db, clk, "ten_a", "")
	k.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := k.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := k.RotateNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "rotated signing key") || !strings.Contains(logs.String(), "tenant=ten_a") {
		t.Fatalf("no rotation logged with its tenant:\n%s", logs.String())
	}
	ks, err := db.SigningKeys(t.Context(), "ten_a")
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range ks {
		for _, secret := range [][]byte{sk.SealedPrivateKey, k.KEK} {
			if strings.Contains(logs.String(), base64.StdEncoding.EncodeToString(secret)) || bytes.Contains(logs.Bytes(), secret) {
				t.Fatalf("logs contain key material:\n%s", logs.String())
			}
		}
	}
}

func TestSQLiteRevocationsLoad(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t)
	now := newFakeClock().Now()
	for i, exp := range []time.Duration{time.Hour, -time.Hour, 2 * time.Hour} {
		if err := db.Revoke(ctx, token.Revocation{TokenID: fmt.Sprint("db", i), ClientID: "lkc_a", ExpiresAt: now.Add(exp)}); err != nil {
			t.Fatal(err)
		}
	}
	var r token.Revocations
	r.Add(token.Revocation{TokenID: "local", ExpiresAt: now.Add(time.Hour)})
	r.Add(token.Revocation{TokenID: "stale", ExpiresAt: now.Add(-time.Minute)})
	if err := r.Load(ctx, db, now); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"db0": true, "db1": false, "db2": true, "local": true, "stale": false} {
		if got := r.IsRevoked(id, now); got != want {
			t.Errorf("IsRevoked(%q) = %v, want %v", id, got, want)
		}
	}
	if r.Len() != 3 {
		t.Errorf("Load kept %d entries, want 3 (expired ones dropped)", r.Len())
	}
}

func TestSQLiteTenantKeysRunRefreshesEveryTenant(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	tk := &token.TenantKeys{New: func(tenant string) *token.Keys { return newKeysFor(db, clk, tenant, "") }}
	var first []string
	for _, tenant := range []string{"ten_a", "ten_b"} {
		k, err := tk.Get(t.Context(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := k.Current()
		first = append(first, kid)
	}
	clk.Advance(token.DefaultRotateEvery)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { tk.Run(ctx, time.Millisecond); close(done) }()
	deadline := time.After(10 * time.Second)
	for i, tenant := range []string{"ten_a", "ten_b"} {
		k, _ := tk.Get(t.Context(), tenant)
		for {
			if next, _ := k.Next(); next != "" && next != first[i] {
				break
			}
			select {
			case <-deadline:
				t.Fatalf("Run did not prepare %s's next key", tenant)
			case <-time.After(time.Millisecond):
			}
		}
	}
	cancel()
	<-done
}

// Both lineages of a tenant live in one SQLite store: each makes its own
// first key, rotates without touching the other's, and the tenant's JWKS
// publishes them all.
func TestSQLiteTenantKeysLineages(t *testing.T) {
	db, clk := openSQLite(t), newFakeClock()
	ctx := t.Context()
	tk := &token.TenantKeys{
		New: func(tenant string) *token.Keys { return newKeysFor(db, clk, tenant, "") },
		NewID: func(tenant string) *token.Keys {
			k := newKeysFor(db, clk, tenant, token.RS256)
			k.Use = token.UseID
			return k
		},
	}
	access, err := tk.Get(ctx, "ten_a")
	if err != nil {
		t.Fatal(err)
	}
	id, err := tk.ID(ctx, "ten_a")
	if err != nil {
		t.Fatal(err)
	}
	a0, _ := access.Current()
	i0, alg := id.Current()
	if alg != token.RS256 || a0 == i0 {
		t.Fatalf("ID keys sign with %s (%s), access keys with %s", i0, alg, a0)
	}
	stored, err := db.SigningKeys(ctx, "ten_a")
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]token.KeyUse{}
	for _, k := range stored {
		uses[k.ID] = k.Use
	}
	if len(uses) != 2 || uses[a0] != token.UseAccess || uses[i0] != token.UseID {
		t.Fatalf("stored uses %v", uses)
	}

	// Rotating either lineage leaves the other's keys as they are.
	clk.Advance(time.Minute)
	if err := access.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := id.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tk.Load(ctx); err != nil {
		t.Fatal(err)
	}
	a1, _ := access.Next()
	i1, _ := id.Current()
	if cur, _ := access.Current(); cur != a0 || a1 == "" || i1 == i0 {
		t.Fatalf("access current %s next %s, ID current %s (was %s)", cur, a1, i1, i0)
	}
	jwks, err := tk.JWKS(ctx, "ten_a")
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{a0, a1, i1, i0} {
		if !strings.Contains(string(jwks), kid) {
			t.Errorf("the JWKS lacks %s:\n%s", kid, jwks)
		}
	}
	now := clk.Now()
	c := token.IDClaims{Issuer: issuerOf("ten_a"), Subject: "usr_1", Audience: "lkc_rp", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	want := token.Expect{Issuer: issuerOf("ten_a"), Audience: []string{"lkc_rp"}}
	for _, alg := range []string{token.RS256, token.ES256} {
		tok, err := tk.SignID(ctx, "ten_a", alg, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tk.VerifyID(ctx, "ten_a", tok, now, want); err != nil {
			t.Errorf("%s ID token: %v", alg, err)
		}
	}
}

// Cut-offs go through SQLite and come back with their IssuedBefore.
func TestSQLiteCutOffs(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t)
	now := newFakeClock().Now()
	cut := now.Add(500 * time.Millisecond)
	for _, rv := range []token.Revocation{
		{TokenID: token.CutOffKey("usr_1", ""), IssuedBefore: cut, ExpiresAt: now.Add(time.Hour)},
		{TokenID: token.CutOffKey("usr_2", "lkc_a"), ClientID: "lkc_a", IssuedBefore: cut, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := db.Revoke(ctx, rv); err != nil {
			t.Fatal(err)
		}
	}
	var whole, byID token.Revocations
	if err := whole.Load(ctx, db, now); err != nil {
		t.Fatal(err)
	}
	if err := byID.LoadIDs(ctx, db, []string{token.CutOffKey("usr_1", ""), token.CutOffKey("usr_2", "lkc_a")}, now); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*token.Revocations{"Load": &whole, "LoadIDs": &byID} {
		if !r.CutOff("usr_1", "lkc_b", now, now) || !r.CutOff("usr_2", "lkc_a", now, now) {
			t.Errorf("after %s, the cut-offs do not apply", name)
		}
		if r.CutOff("usr_2", "lkc_b", now, now) || r.CutOff("usr_1", "lkc_a", now.Add(time.Second), now) {
			t.Errorf("after %s, a cut-off applies beyond its subject, client or second", name)
		}
		if r.IsRevoked(token.CutOffKey("usr_1", ""), now) {
			t.Errorf("after %s, a cut-off reads as a revoked token ID", name)
		}
	}
}
