package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var keyTests = []test{
	{"Rotate", testRotateSigningKey},
	{"RotateDuplicateID", testRotateDuplicateKeyID},
	{"ConcurrentRotate", testConcurrentKeyRotation},
	{"Prune", testPruneSigningKeys},
	{"TenantsApart", testSigningKeysPerTenant},
}

// keyTenant is the tenant of the signing keys most key tests make.
const keyTenant = "ten_keys"

func newKey(id string, created time.Time) *token.SigningKey {
	return &token.SigningKey{
		ID: id, Algorithm: "ES256", CreatedAt: created,
		PublicKey:        []byte("public-" + id + "\x00\xff"),
		SealedPrivateKey: []byte("sealed-" + id + "\x00\x01\xfe"),
	}
}

func storedKey(k *token.SigningKey, retired, publishUntil time.Time) token.SigningKey {
	d := *k
	d.CreatedAt, d.RetiredAt, d.PublishUntil = stored(d.CreatedAt), stored(retired), stored(publishUntil)
	return d
}

func signingKeys(t *testing.T, s store.Store) []token.SigningKey {
	t.Helper()
	ks, err := s.SigningKeys(t.Context(), keyTenant)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	return ks
}

func testRotateSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ks := signingKeys(t, s); len(ks) != 0 {
		t.Fatalf("SigningKeys of an empty store: %d keys", len(ks))
	}
	k1, k2, k3 := newKey("k1", at(0)), newKey("k2", at(time.Hour)), newKey("k3", at(2*time.Hour))
	publish := at(26 * time.Hour)

	if err := s.RotateSigningKey(ctx, keyTenant, k1, "k0", publish); !errors.Is(err, token.ErrConflict) {
		t.Errorf("first rotation expecting a key: got %v, want token.ErrConflict", err)
	}
	if ks := signingKeys(t, s); len(ks) != 0 {
		t.Fatalf("a refused rotation stored %d keys", len(ks))
	}
	if err := s.RotateSigningKey(ctx, keyTenant, k1, "", publish); err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	checkEqual(t, "keys after the first rotation", signingKeys(t, s), []token.SigningKey{storedKey(k1, time.Time{}, time.Time{})})

	for _, stale := range []string{"", "k0"} {
		if err := s.RotateSigningKey(ctx, keyTenant, k2, stale, publish); !errors.Is(err, token.ErrConflict) {
			t.Errorf("rotation expecting %q: got %v, want token.ErrConflict", stale, err)
		}
	}
	if err := s.RotateSigningKey(ctx, keyTenant, k2, "k1", publish); err != nil {
		t.Fatalf("second rotation: %v", err)
	}
	if err := s.RotateSigningKey(ctx, keyTenant, k3, "k1", publish); !errors.Is(err, token.ErrConflict) {
		t.Errorf("rotation expecting a retired key: got %v, want token.ErrConflict", err)
	}
	checkEqual(t, "keys, newest first", signingKeys(t, s), []token.SigningKey{
		storedKey(k2, time.Time{}, time.Time{}),
		storedKey(k1, k2.CreatedAt, publish),
	})
}

func testRotateDuplicateKeyID(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := newKey("k1", at(0))
	if err := s.RotateSigningKey(ctx, keyTenant, k1, "", time.Time{}); err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	if err := s.RotateSigningKey(ctx, keyTenant, newKey("k1", at(time.Hour)), "k1", at(time.Hour)); !errors.Is(err, token.ErrConflict) {
		t.Errorf("rotation to a taken ID: got %v, want token.ErrConflict", err)
	}
	// Nothing changed: k1 is still current.
	checkEqual(t, "keys", signingKeys(t, s), []token.SigningKey{storedKey(k1, time.Time{}, time.Time{})})
}

// testConcurrentKeyRotation: instances rotating at once make one new key,
// both for the first key and for its successor.
func testConcurrentKeyRotation(t *testing.T, s store.Store) {
	ctx := t.Context()
	current := ""
	for round := range 2 {
		errs := together(rotators, func(i int) error {
			k := newKey(fmt.Sprintf("k%d_%d", round, i), at(time.Duration(round)*time.Hour))
			return s.RotateSigningKey(ctx, keyTenant, k, current, at(48*time.Hour))
		})
		var won []string
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, fmt.Sprintf("k%d_%d", round, i))
			case !errors.Is(err, token.ErrConflict):
				t.Errorf("round %d, rotation %d: got %v, want nil or token.ErrConflict", round, i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d rotations succeeded (%v), want 1", round, len(won), won)
		}
		keys := signingKeys(t, s)
		if len(keys) != round+1 || keys[0].ID != won[0] || !keys[0].RetiredAt.IsZero() {
			t.Fatalf("round %d: keys %v, want %d with %s current", round, keys, round+1, won[0])
		}
		current = won[0]
	}
}

// testSigningKeysPerTenant: each tenant has a current key of its own,
// sees only its own keys, and rotates and prunes without touching
// another's; a key ID is unique across tenants.
func testSigningKeysPerTenant(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Both tenants make their first key at once: each gets one.
	errs := together(2, func(i int) error {
		tenant := []string{"ten_a", "ten_b"}[i]
		return s.RotateSigningKey(ctx, tenant, newKey(tenant+"_k1", at(0)), "", time.Time{})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("first key of tenant %d: %v", i, err)
		}
	}
	keysOf := func(tenant string) []token.SigningKey {
		t.Helper()
		ks, err := s.SigningKeys(ctx, tenant)
		if err != nil {
			t.Fatalf("SigningKeys(%s): %v", tenant, err)
		}
		return ks
	}
	a1, b1 := newKey("ten_a_k1", at(0)), newKey("ten_b_k1", at(0))
	checkEqual(t, "tenant a's keys", keysOf("ten_a"), []token.SigningKey{storedKey(a1, time.Time{}, time.Time{})})
	checkEqual(t, "tenant b's keys", keysOf("ten_b"), []token.SigningKey{storedKey(b1, time.Time{}, time.Time{})})
	if ks := keysOf("ten_c"); len(ks) != 0 {
		t.Errorf("a tenant with no keys sees %d", len(ks))
	}

	// Tenant a's current key is not b's: b cannot rotate expecting it.
	if err := s.RotateSigningKey(ctx, "ten_b", newKey("ten_b_k2", at(time.Hour)), "ten_a_k1", at(time.Hour)); !errors.Is(err, token.ErrConflict) {
		t.Errorf("rotating b expecting a's key: %v, want token.ErrConflict", err)
	}
	// A key ID taken in one tenant is taken everywhere.
	if err := s.RotateSigningKey(ctx, "ten_b", newKey("ten_a_k1", at(time.Hour)), "ten_b_k1", at(time.Hour)); !errors.Is(err, token.ErrConflict) {
		t.Errorf("rotating b to a's key ID: %v, want token.ErrConflict", err)
	}
	a2 := newKey("ten_a_k2", at(time.Hour))
	if err := s.RotateSigningKey(ctx, "ten_a", a2, "ten_a_k1", at(2*time.Hour)); err != nil {
		t.Fatalf("rotating a: %v", err)
	}
	checkEqual(t, "tenant a's keys after its rotation", keysOf("ten_a"), []token.SigningKey{
		storedKey(a2, time.Time{}, time.Time{}), storedKey(a1, a2.CreatedAt, at(2*time.Hour))})
	checkEqual(t, "tenant b's keys after a's rotation", keysOf("ten_b"), []token.SigningKey{storedKey(b1, time.Time{}, time.Time{})})

	// Pruning b leaves a's retired key; pruning a removes it.
	if err := s.PruneSigningKeys(ctx, "ten_b", at(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ks := keysOf("ten_a"); len(ks) != 2 {
		t.Errorf("pruning b removed a's keys: %d left", len(ks))
	}
	if err := s.PruneSigningKeys(ctx, "ten_a", at(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "tenant a's keys after pruning", keysOf("ten_a"), []token.SigningKey{storedKey(a2, time.Time{}, time.Time{})})
	checkEqual(t, "tenant b's keys after pruning", keysOf("ten_b"), []token.SigningKey{storedKey(b1, time.Time{}, time.Time{})})
}

func testPruneSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys := []*token.SigningKey{newKey("k1", at(0)), newKey("k2", at(time.Hour)), newKey("k3", at(2*time.Hour))}
	publish := []time.Time{at(10 * time.Hour), at(20 * time.Hour), {}}
	prev := ""
	for i, k := range keys {
		// Retiring k[i-1] sets its PublishUntil to publish[i-1].
		var pu time.Time
		if i > 0 {
			pu = publish[i-1]
		}
		if err := s.RotateSigningKey(ctx, keyTenant, k, prev, pu); err != nil {
			t.Fatalf("RotateSigningKey(%s): %v", k.ID, err)
		}
		prev = k.ID
	}
	remaining := func() []string {
		var out []string
		for _, k := range signingKeys(t, s) {
			out = append(out, k.ID)
		}
		return out
	}
	steps := []struct {
		t    time.Time
		want []string
	}{
		{at(10 * time.Hour), []string{"k3", "k2", "k1"}}, // PublishUntil not before t
		{at(10*time.Hour + time.Microsecond), []string{"k3", "k2"}},
		{at(1000 * time.Hour), []string{"k3"}}, // the current key is never pruned
	}
	for _, st := range steps {
		if err := s.PruneSigningKeys(ctx, keyTenant, st.t); err != nil {
			t.Fatalf("PruneSigningKeys: %v", err)
		}
		checkEqual(t, fmt.Sprintf("keys after pruning at %v", st.t), remaining(), st.want)
	}
}

var tokenTests = []test{
	{"CreateAndFind", testCreateToken},
	{"Revoke", testRevoke},
	{"Prune", testPruneTokens},
}

func newRecord(id string, issued time.Time) *token.Record {
	return &token.Record{
		ID: id, Hash: "hash-of-" + id, ClientID: "lkc_tok", SecretID: "sec_tok", Subject: "usr_sub",
		Audience: []string{"https://api.example", "https://other.example"}, Scopes: []string{"write", "read"},
		IssuedAt: issued, ExpiresAt: issued.Add(time.Hour),
	}
}

func storedRecord(r *token.Record) *token.Record {
	d := *r
	d.Audience, d.Scopes = nilIfEmpty(d.Audience), nilIfEmpty(d.Scopes)
	d.IssuedAt, d.ExpiresAt = stored(d.IssuedAt), stored(d.ExpiresAt)
	return &d
}

func testCreateToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newRecord("jti_full", base)
	bare := &token.Record{ID: "jti_bare", Hash: "hash-bare", ClientID: "lkc_tok", IssuedAt: base, ExpiresAt: at(time.Minute)}
	for _, r := range []*token.Record{full, bare} {
		if err := s.CreateToken(ctx, r); err != nil {
			t.Fatalf("CreateToken(%s): %v", r.ID, err)
		}
		got, err := s.TokenByHash(ctx, r.Hash)
		if err != nil {
			t.Fatalf("TokenByHash(%s): %v", r.Hash, err)
		}
		checkEqual(t, "TokenByHash", got, storedRecord(r))
	}
	dupID := newRecord("jti_full", base)
	dupID.Hash = "another-hash"
	dupHash := newRecord("jti_other", base)
	dupHash.Hash = full.Hash
	for what, r := range map[string]*token.Record{"a taken ID": dupID, "a taken hash": dupHash} {
		if err := s.CreateToken(ctx, r); !errors.Is(err, token.ErrConflict) {
			t.Errorf("CreateToken with %s: got %v, want token.ErrConflict", what, err)
		}
	}
	if _, err := s.TokenByHash(ctx, "hash-unknown"); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("TokenByHash(unknown): got %v, want token.ErrNotFound", err)
	}
}

func revocations(t *testing.T, s store.Store, after time.Time) []token.Revocation {
	t.Helper()
	rs, err := s.Revocations(t.Context(), after)
	if err != nil {
		t.Fatalf("Revocations: %v", err)
	}
	return rs
}

func testRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRecord("jti_1", base)
	kept := newRecord("jti_2", base)
	for _, rec := range []*token.Record{r, kept} {
		if err := s.CreateToken(ctx, rec); err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
	}
	rev := token.Revocation{TokenID: r.ID, ClientID: r.ClientID, ExpiresAt: r.ExpiresAt}
	for i := range 2 { // revoking twice is not an error
		if err := s.Revoke(ctx, rev); err != nil {
			t.Fatalf("Revoke #%d: %v", i+1, err)
		}
	}
	if _, err := s.TokenByHash(ctx, r.Hash); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("TokenByHash after Revoke: got %v, want token.ErrNotFound", err)
	}
	if _, err := s.TokenByHash(ctx, kept.Hash); err != nil {
		t.Errorf("another token after Revoke: %v", err)
	}
	// A JWT has no stored token; its revocation is listed all the same.
	jwt := token.Revocation{TokenID: "jti_jwt", ClientID: "lkc_jwt", ExpiresAt: at(30 * time.Minute)}
	if err := s.Revoke(ctx, jwt); err != nil {
		t.Fatalf("Revoke(JWT): %v", err)
	}
	want := []token.Revocation{
		{TokenID: jwt.TokenID, ClientID: jwt.ClientID, ExpiresAt: stored(jwt.ExpiresAt)},
		{TokenID: rev.TokenID, ClientID: rev.ClientID, ExpiresAt: stored(rev.ExpiresAt)},
	}
	checkEqual(t, "Revocations, soonest expiry first", revocations(t, s, base), want)
	checkEqual(t, "Revocations expiring after 30m", revocations(t, s, at(30*time.Minute)), want[1:])
}

func testPruneTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	old, young := newRecord("jti_old", at(-2*time.Hour)), newRecord("jti_young", base)
	for _, r := range []*token.Record{old, young} {
		if err := s.CreateToken(ctx, r); err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
	}
	for _, r := range []token.Revocation{
		{TokenID: "jti_rev_old", ClientID: "lkc_tok", ExpiresAt: at(-time.Hour)},
		{TokenID: "jti_rev_young", ClientID: "lkc_tok", ExpiresAt: at(time.Hour)},
	} {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
	}
	if err := s.PruneTokens(ctx, base); err != nil {
		t.Fatalf("PruneTokens: %v", err)
	}
	if _, err := s.TokenByHash(ctx, old.Hash); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("an expired token after PruneTokens: got %v, want token.ErrNotFound", err)
	}
	if _, err := s.TokenByHash(ctx, young.Hash); err != nil {
		t.Errorf("a live token after PruneTokens: %v", err)
	}
	rs := revocations(t, s, at(-24*time.Hour))
	if len(rs) != 1 || rs[0].TokenID != "jti_rev_young" {
		t.Errorf("revocations after PruneTokens: %v, want only jti_rev_young", rs)
	}
}
