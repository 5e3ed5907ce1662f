package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var keyTests = []test{
	{"Add", testAddSigningKey},
	{"AddDuplicateID", testAddDuplicateKeyID},
	{"Promote", testPromoteSigningKey},
	{"ConcurrentRotate", testConcurrentKeyRotation},
	{"Prune", testPruneSigningKeys},
	{"Reseal", testResealSigningKeys},
	{"TenantsApart", testSigningKeysPerTenant},
	{"PerUse", testSigningKeysPerUse},
}

// testSigningKeysPerUse: each use of a tenant is a lineage of its own.
// An access and an ID key are current at once, each use may have a next
// key, and promoting one use's next key retires only that use's current
// key. An empty use is stored as access.
func testSigningKeysPerUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	idKey := func(k *token.SigningKey) *token.SigningKey {
		k.Use, k.Algorithm = token.UseID, "RS256"
		return k
	}
	access1 := currentKey("access_1", at(0)) // Use left empty
	id1 := idKey(currentKey("id_1", at(0)))
	addKey(t, s, access1)
	addKey(t, s, id1)
	if err := s.AddSigningKey(ctx, keyTenant, idKey(currentKey("id_x", at(time.Minute)))); !errors.Is(err, token.ErrConflict) {
		t.Errorf("a second current ID key: got %v, want token.ErrConflict", err)
	}
	id2 := idKey(newKey("id_2", at(time.Hour)))
	addKey(t, s, id2)
	if err := s.AddSigningKey(ctx, keyTenant, idKey(newKey("id_3", at(time.Hour)))); !errors.Is(err, token.ErrConflict) {
		t.Errorf("a second next ID key: got %v, want token.ErrConflict", err)
	}
	access2 := newKey("access_2", at(2*time.Hour))
	access2.Use = token.UseAccess
	addKey(t, s, access2) // the access lineage's next slot is its own

	// The current key a promotion retires is that of the next key's use.
	for _, c := range []struct{ next, current string }{{"id_2", "access_1"}, {"access_2", "id_1"}, {"", "id_1"}, {"", ""}} {
		if err := s.PromoteSigningKey(ctx, keyTenant, c.next, c.current, at(3*time.Hour), at(50*time.Hour)); !errors.Is(err, token.ErrConflict) {
			t.Errorf("promoting %q over %q: got %v, want token.ErrConflict", c.next, c.current, err)
		}
	}
	if err := s.PromoteSigningKey(ctx, keyTenant, "id_2", "id_1", at(3*time.Hour), at(50*time.Hour)); err != nil {
		t.Fatalf("promoting the ID key: %v", err)
	}
	checkEqual(t, "keys of both uses, newest first", signingKeys(t, s), []token.SigningKey{
		storedKey(access2, token.KeyNext, time.Time{}, time.Time{}, time.Time{}),
		storedKey(id2, token.KeyCurrent, at(3*time.Hour), time.Time{}, time.Time{}),
		// Made at one time: by ID, descending.
		storedKey(id1, token.KeyRetired, id1.CreatedAt, at(3*time.Hour), at(50*time.Hour)),
		storedKey(access1, token.KeyCurrent, access1.CreatedAt, time.Time{}, time.Time{}),
	})
	if err := s.PromoteSigningKey(ctx, keyTenant, "access_2", "access_1", at(4*time.Hour), at(60*time.Hour)); err != nil {
		t.Fatalf("promoting the access key: %v", err)
	}
	states := map[string]token.KeyState{}
	for _, k := range signingKeys(t, s) {
		states[k.ID] = k.State
	}
	want := map[string]token.KeyState{"access_2": token.KeyCurrent, "access_1": token.KeyRetired,
		"id_2": token.KeyCurrent, "id_1": token.KeyRetired}
	checkEqual(t, "states after both promotions", states, want)
	n, err := s.ResealSigningKeys(ctx, func(k token.SigningKey) ([]byte, error) {
		if k.Use != token.UseAccess && k.Use != token.UseID {
			return nil, fmt.Errorf("key %s has use %q", k.ID, k.Use)
		}
		return k.SealedPrivateKey, nil
	})
	if err != nil || n != 4 {
		t.Errorf("ResealSigningKeys = %d, %v; want 4 keys, each with its use", n, err)
	}
}

// keyTenant is the tenant of the signing keys most key tests make.
const keyTenant = "ten_keys"

// testSigningKeysPerTenant: each tenant has a current and a next key of
// its own, sees only its own keys, and promotes and prunes without
// touching another's; a key ID is unique across tenants; resealing covers
// every tenant.
func testSigningKeysPerTenant(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Both tenants make their first key at once: each gets one.
	errs := together(2, func(i int) error {
		tenant := []string{"ten_a", "ten_b"}[i]
		return s.AddSigningKey(ctx, tenant, currentKey(tenant+"_k1", at(0)))
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("first key of tenant %d: %v", i, err)
		}
	}
	keysOf := func(tenant string) []string {
		t.Helper()
		ks, err := s.SigningKeys(ctx, tenant)
		if err != nil {
			t.Fatalf("SigningKeys(%s): %v", tenant, err)
		}
		var out []string
		for _, k := range ks {
			out = append(out, k.ID+":"+string(k.State))
		}
		return out
	}
	if got := keysOf("ten_a"); !slices.Equal(got, []string{"ten_a_k1:current"}) {
		t.Fatalf("tenant a's keys: %v", got)
	}
	if got := keysOf("ten_c"); len(got) != 0 {
		t.Errorf("a tenant with no keys sees %v", got)
	}
	// Each tenant may have a next key; one tenant's does not block another's.
	for _, tenant := range []string{"ten_a", "ten_b"} {
		if err := s.AddSigningKey(ctx, tenant, newKey(tenant+"_k2", at(time.Hour))); err != nil {
			t.Fatalf("next key of %s: %v", tenant, err)
		}
	}
	// A key ID taken in one tenant is taken everywhere.
	if err := s.AddSigningKey(ctx, "ten_c", currentKey("ten_a_k1", at(time.Hour))); !errors.Is(err, token.ErrConflict) {
		t.Errorf("tenant c taking a's key ID: %v, want token.ErrConflict", err)
	}
	// Tenant b cannot promote a's keys.
	if err := s.PromoteSigningKey(ctx, "ten_b", "ten_a_k2", "ten_a_k1", at(2*time.Hour), at(3*time.Hour)); !errors.Is(err, token.ErrConflict) {
		t.Errorf("promoting a's key in b: %v, want token.ErrConflict", err)
	}
	if err := s.PromoteSigningKey(ctx, "ten_a", "ten_a_k2", "ten_a_k1", at(2*time.Hour), at(3*time.Hour)); err != nil {
		t.Fatalf("promoting a: %v", err)
	}
	if got := keysOf("ten_a"); !slices.Equal(got, []string{"ten_a_k2:current", "ten_a_k1:retired"}) {
		t.Errorf("tenant a after its promotion: %v", got)
	}
	if got := keysOf("ten_b"); !slices.Equal(got, []string{"ten_b_k2:next", "ten_b_k1:current"}) {
		t.Errorf("tenant b after a's promotion: %v", got)
	}
	// Pruning b leaves a's retired key; pruning a removes it.
	if err := s.PruneSigningKeys(ctx, "ten_b", at(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := keysOf("ten_a"); len(got) != 2 {
		t.Errorf("pruning b removed a's keys: %v", got)
	}
	if err := s.PruneSigningKeys(ctx, "ten_a", at(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := keysOf("ten_a"); !slices.Equal(got, []string{"ten_a_k2:current"}) {
		t.Errorf("tenant a after pruning: %v", got)
	}
	n, err := s.ResealSigningKeys(ctx, func(k token.SigningKey) ([]byte, error) { return k.SealedPrivateKey, nil })
	if err != nil || n != 3 {
		t.Errorf("ResealSigningKeys over both tenants = %d, %v; want 3", n, err)
	}
}

func newKey(id string, created time.Time) *token.SigningKey {
	return &token.SigningKey{
		ID: id, Algorithm: "ES256", CreatedAt: created, State: token.KeyNext,
		PublicKey:        []byte("public-" + id + "\x00\xff"),
		SealedPrivateKey: []byte("sealed-" + id + "\x00\x01\xfe"),
	}
}

// currentKey returns a new key in state current, signing from created.
func currentKey(id string, created time.Time) *token.SigningKey {
	k := newKey(id, created)
	k.State, k.ActivatedAt = token.KeyCurrent, created
	return k
}

// storedKey is what a store returns for k after the changes given.
func storedKey(k *token.SigningKey, state token.KeyState, activated, retired, publishUntil time.Time) token.SigningKey {
	d := *k
	d.State = state
	if d.Use == "" {
		d.Use = token.UseAccess
	}
	d.CreatedAt, d.ActivatedAt = stored(d.CreatedAt), stored(activated)
	d.RetiredAt, d.PublishUntil = stored(retired), stored(publishUntil)
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

func addKey(t *testing.T, s store.Store, k *token.SigningKey) {
	t.Helper()
	if err := s.AddSigningKey(t.Context(), keyTenant, k); err != nil {
		t.Fatalf("AddSigningKey(%s, %s): %v", k.ID, k.State, err)
	}
}

func testAddSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ks := signingKeys(t, s); len(ks) != 0 {
		t.Fatalf("SigningKeys of an empty store: %d keys", len(ks))
	}
	k1 := currentKey("k1", at(0))
	addKey(t, s, k1)
	if err := s.AddSigningKey(ctx, keyTenant, currentKey("k2", at(time.Hour))); !errors.Is(err, token.ErrConflict) {
		t.Errorf("a second current key: got %v, want token.ErrConflict", err)
	}
	k2 := newKey("k2", at(time.Hour))
	addKey(t, s, k2)
	if err := s.AddSigningKey(ctx, keyTenant, newKey("k3", at(2*time.Hour))); !errors.Is(err, token.ErrConflict) {
		t.Errorf("a second next key: got %v, want token.ErrConflict", err)
	}
	bad := newKey("k4", at(3*time.Hour))
	bad.State = token.KeyRetired
	if err := s.AddSigningKey(ctx, keyTenant, bad); err == nil {
		t.Error("a key added as retired was accepted")
	}
	checkEqual(t, "keys, newest first", signingKeys(t, s), []token.SigningKey{
		storedKey(k2, token.KeyNext, time.Time{}, time.Time{}, time.Time{}),
		storedKey(k1, token.KeyCurrent, k1.CreatedAt, time.Time{}, time.Time{}),
	})
}

func testAddDuplicateKeyID(t *testing.T, s store.Store) {
	k1 := currentKey("k1", at(0))
	addKey(t, s, k1)
	if err := s.AddSigningKey(t.Context(), keyTenant, newKey("k1", at(time.Hour))); !errors.Is(err, token.ErrConflict) {
		t.Errorf("a next key with a taken ID: got %v, want token.ErrConflict", err)
	}
	checkEqual(t, "keys", signingKeys(t, s), []token.SigningKey{storedKey(k1, token.KeyCurrent, k1.CreatedAt, time.Time{}, time.Time{})})
}

func testPromoteSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1, k2, k3 := currentKey("k1", at(0)), newKey("k2", at(time.Hour)), newKey("k3", at(3*time.Hour))
	addKey(t, s, k1)
	if err := s.PromoteSigningKey(ctx, keyTenant, "k2", "k1", at(2*time.Hour), at(50*time.Hour)); !errors.Is(err, token.ErrConflict) {
		t.Errorf("promoting with no next key: got %v, want token.ErrConflict", err)
	}
	addKey(t, s, k2)
	for _, c := range []struct{ next, current string }{{"k2", "k0"}, {"k2", ""}, {"k1", "k1"}, {"kx", "k1"}} {
		if err := s.PromoteSigningKey(ctx, keyTenant, c.next, c.current, at(2*time.Hour), at(50*time.Hour)); !errors.Is(err, token.ErrConflict) {
			t.Errorf("promoting %q over %q: got %v, want token.ErrConflict", c.next, c.current, err)
		}
	}
	if err := s.PromoteSigningKey(ctx, keyTenant, "k2", "k1", at(2*time.Hour), at(50*time.Hour)); err != nil {
		t.Fatalf("PromoteSigningKey: %v", err)
	}
	if err := s.PromoteSigningKey(ctx, keyTenant, "k2", "k1", at(2*time.Hour), at(50*time.Hour)); !errors.Is(err, token.ErrConflict) {
		t.Errorf("promoting twice: got %v, want token.ErrConflict", err)
	}
	addKey(t, s, k3) // the next slot is free again
	checkEqual(t, "keys, newest first", signingKeys(t, s), []token.SigningKey{
		storedKey(k3, token.KeyNext, time.Time{}, time.Time{}, time.Time{}),
		storedKey(k2, token.KeyCurrent, at(2*time.Hour), time.Time{}, time.Time{}),
		storedKey(k1, token.KeyRetired, k1.CreatedAt, at(2*time.Hour), at(50*time.Hour)),
	})
}

// testConcurrentKeyRotation: instances racing to make the first key, to
// make the next key, and to promote it, make one key and one promotion.
func testConcurrentKeyRotation(t *testing.T, s store.Store) {
	ctx := t.Context()
	once := func(what string, errs []error) int {
		t.Helper()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("%s: both %d and %d succeeded", what, won, i)
			case err == nil:
				won = i
			case !errors.Is(err, token.ErrConflict):
				t.Errorf("%s %d: got %v, want nil or token.ErrConflict", what, i, err)
			}
		}
		if won < 0 {
			t.Fatalf("%s: none succeeded", what)
		}
		return won
	}
	first := once("first key", together(rotators, func(i int) error {
		return s.AddSigningKey(ctx, keyTenant, currentKey(fmt.Sprintf("c%d", i), at(0)))
	}))
	next := once("next key", together(rotators, func(i int) error {
		return s.AddSigningKey(ctx, keyTenant, newKey(fmt.Sprintf("n%d", i), at(time.Hour)))
	}))
	once("promotion", together(rotators, func(i int) error {
		return s.PromoteSigningKey(ctx, keyTenant, fmt.Sprintf("n%d", next), fmt.Sprintf("c%d", first), at(2*time.Hour), at(50*time.Hour))
	}))
	keys := signingKeys(t, s)
	if len(keys) != 2 || keys[0].State != token.KeyCurrent || keys[0].ID != fmt.Sprintf("n%d", next) || keys[1].State != token.KeyRetired {
		t.Fatalf("keys %+v, want n%d current and c%d retired", keys, next, first)
	}
}

func testPruneSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	addKey(t, s, currentKey("k1", at(0)))
	addKey(t, s, newKey("k2", at(time.Hour)))
	if err := s.PromoteSigningKey(ctx, keyTenant, "k2", "k1", at(time.Hour), at(10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	addKey(t, s, newKey("k3", at(2*time.Hour)))
	if err := s.PromoteSigningKey(ctx, keyTenant, "k3", "k2", at(2*time.Hour), at(20*time.Hour)); err != nil {
		t.Fatal(err)
	}
	addKey(t, s, newKey("k4", at(3*time.Hour)))
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
		{at(10 * time.Hour), []string{"k4", "k3", "k2", "k1"}}, // PublishUntil not before t
		{at(10*time.Hour + time.Microsecond), []string{"k4", "k3", "k2"}},
		{at(1000 * time.Hour), []string{"k4", "k3"}}, // the next and current keys are never pruned
	}
	for _, st := range steps {
		if err := s.PruneSigningKeys(ctx, keyTenant, st.t); err != nil {
			t.Fatalf("PruneSigningKeys: %v", err)
		}
		checkEqual(t, fmt.Sprintf("keys after pruning at %v", st.t), remaining(), st.want)
	}
}

func testResealSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	addKey(t, s, currentKey("k1", at(0)))
	addKey(t, s, newKey("k2", at(time.Hour)))
	if err := s.PromoteSigningKey(ctx, keyTenant, "k2", "k1", at(time.Hour), at(10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	addKey(t, s, newKey("k3", at(2*time.Hour)))
	before := signingKeys(t, s)

	// A failure on any key changes none, even those resealed before it.
	failed := errors.New("does not open")
	n, err := s.ResealSigningKeys(ctx, func(k token.SigningKey) ([]byte, error) {
		if k.ID == "k2" {
			return nil, failed
		}
		return []byte("resealed-" + k.ID), nil
	})
	if !errors.Is(err, failed) || n != 0 {
		t.Fatalf("ResealSigningKeys with a failure = %d, %v; want 0 and the failure", n, err)
	}
	checkEqual(t, "keys after a failed reseal", signingKeys(t, s), before)

	seen := map[string]string{}
	n, err = s.ResealSigningKeys(ctx, func(k token.SigningKey) ([]byte, error) {
		seen[k.ID] = string(k.SealedPrivateKey)
		return []byte("resealed-" + k.ID), nil
	})
	if err != nil || n != 3 {
		t.Fatalf("ResealSigningKeys = %d, %v; want 3", n, err)
	}
	for _, k := range before {
		if seen[k.ID] != string(k.SealedPrivateKey) {
			t.Errorf("reseal was given %q for %s, want its sealed key", seen[k.ID], k.ID)
		}
	}
	want := before
	for i := range want {
		want[i].SealedPrivateKey = []byte("resealed-" + want[i].ID)
	}
	checkEqual(t, "keys after reseal", signingKeys(t, s), want)
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
