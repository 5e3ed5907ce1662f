package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var grantTests = []test{
	{"CodeRoundTrip", testCodeRoundTrip},
	{"CodeErrors", testCodeErrors},
	{"ConcurrentUseCode", testConcurrentUseCode},
	{"RefreshTokenRoundTrip", testRefreshTokenRoundTrip},
	{"RefreshTokenErrors", testRefreshTokenErrors},
	{"UseRefreshToken", testUseRefreshToken},
	{"ConcurrentUseRefreshToken", testConcurrentUseRefreshToken},
	{"RevokeRefreshTokens", testRevokeRefreshTokens},
	{"RevokeRefreshTokensEmptyFilter", testRevokeRefreshTokensEmptyFilter},
	{"Rollback", testGrantTxRollback},
	{"Prune", testPruneGrants},
	{"ReadsInTx", testGrantTxReads},
}

// newCode returns a code with every field set to a distinctive value.
func newCode(hash string, issued time.Time) *token.Code {
	return &token.Code{
		Hash: hash, TenantID: "ten_a", ClientID: "lkc_app", UserID: "usr_1", SessionID: "ses_1",
		RedirectURI: "https://app.example/cb", Scopes: []string{"openid", "profile", "email"},
		Nonce: "n-0S6_WzA2Mj", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		AuthTime: issued.Add(-time.Minute), IssuedAt: issued, ExpiresAt: issued.Add(time.Minute),
		FamilyID: "fam_" + hash,
	}
}

// storedCode is what a store returns for c.
func storedCode(c *token.Code) *token.Code {
	d := *c
	d.Scopes = nilIfEmpty(d.Scopes)
	d.AuthTime, d.IssuedAt, d.ExpiresAt = stored(d.AuthTime), stored(d.IssuedAt), stored(d.ExpiresAt)
	d.UsedAt, d.AccessExpiresAt = stored(d.UsedAt), stored(d.AccessExpiresAt)
	return &d
}

// newRefreshToken returns a refresh token with every field set, active
// from issued for a day.
func newRefreshToken(id, family, user, clientID string, issued time.Time) *token.RefreshToken {
	return &token.RefreshToken{
		ID: id, Hash: "hash-of-" + id, FamilyID: family, TenantID: "ten_a", ClientID: clientID, UserID: user,
		Scopes: []string{"openid", "offline_access"}, AuthTime: issued.Add(-time.Minute),
		AccessTokenID: "jti_" + id, AccessExpiresAt: issued.Add(time.Hour),
		IssuedAt: issued, ExpiresAt: issued.Add(24 * time.Hour),
	}
}

// storedRefreshToken is what a store returns for r.
func storedRefreshToken(r *token.RefreshToken) *token.RefreshToken {
	d := *r
	d.Scopes = nilIfEmpty(d.Scopes)
	d.AuthTime, d.AccessExpiresAt = stored(d.AuthTime), stored(d.AccessExpiresAt)
	d.IssuedAt, d.ExpiresAt = stored(d.IssuedAt), stored(d.ExpiresAt)
	d.UsedAt, d.RevokedAt = stored(d.UsedAt), stored(d.RevokedAt)
	return &d
}

// inGrantTx runs fn in a grant transaction and fails the test if it
// returns an error. fn must use only its transaction.
func inGrantTx(t *testing.T, s store.Store, fn func(ctx context.Context, tx token.GrantTx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.InGrantTx(ctx, func(tx token.GrantTx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("InGrantTx: %v", err)
	}
}

func createCodes(t *testing.T, s store.Store, cs ...*token.Code) {
	t.Helper()
	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		for _, c := range cs {
			if err := tx.CreateCode(ctx, c); err != nil {
				return fmt.Errorf("create code %s: %w", c.Hash, err)
			}
		}
		return nil
	})
}

func createRefreshTokens(t *testing.T, s store.Store, rs ...*token.RefreshToken) {
	t.Helper()
	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		for _, r := range rs {
			if err := tx.CreateRefreshToken(ctx, r); err != nil {
				return fmt.Errorf("create refresh token %s: %w", r.ID, err)
			}
		}
		return nil
	})
}

// useCode exchanges a code in a transaction of its own.
func useCode(t *testing.T, s store.Store, hash string, now time.Time) (*token.Code, error) {
	t.Helper()
	var c *token.Code
	err := s.InGrantTx(t.Context(), func(tx token.GrantTx) error {
		var err error
		c, err = tx.UseCode(t.Context(), hash, now)
		return err
	})
	return c, err
}

// useRefreshToken uses a refresh token in a transaction of its own.
func useRefreshToken(t *testing.T, s store.Store, hash string, now time.Time) (*token.RefreshToken, error) {
	t.Helper()
	var r *token.RefreshToken
	err := s.InGrantTx(t.Context(), func(tx token.GrantTx) error {
		var err error
		r, err = tx.UseRefreshToken(t.Context(), hash, now)
		return err
	})
	return r, err
}

func getRefreshToken(t *testing.T, s store.Store, hash string) *token.RefreshToken {
	t.Helper()
	r, err := s.RefreshTokenByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("RefreshTokenByHash(%s): %v", hash, err)
	}
	return r
}

// testCodeRoundTrip: a code comes back whole from its first use, unused;
// the use is recorded, and a second use sees it with the access token the
// exchange recorded.
func testCodeRoundTrip(t *testing.T, s store.Store) {
	full := newCode("code-hash-full", base)
	// A confidential client's code: no PKCE, no nonce, no session.
	bare := &token.Code{Hash: "code-hash-bare", TenantID: "ten_a", ClientID: "lkc_app", UserID: "usr_1",
		RedirectURI: "https://app.example/cb", IssuedAt: base, ExpiresAt: at(time.Minute), FamilyID: "fam_bare"}
	createCodes(t, s, full, bare)
	for _, c := range []*token.Code{full, bare} {
		got, err := useCode(t, s, c.Hash, at(10*time.Second))
		if err != nil {
			t.Fatalf("UseCode(%s): %v", c.Hash, err)
		}
		checkEqual(t, "first UseCode("+c.Hash+")", got, storedCode(c))
	}

	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		return tx.SetCodeAccess(ctx, full.Hash, "jti_issued", at(time.Hour))
	})
	got, err := useCode(t, s, full.Hash, at(20*time.Second))
	if err != nil {
		t.Fatalf("second UseCode: %v", err)
	}
	want := storedCode(full)
	want.UsedAt, want.AccessTokenID, want.AccessExpiresAt = stored(at(10*time.Second)), "jti_issued", stored(at(time.Hour))
	checkEqual(t, "second UseCode", got, want)

	// The transaction sees its own writes.
	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		c := newCode("code-hash-in-tx", base)
		if err := tx.CreateCode(ctx, c); err != nil {
			return err
		}
		got, err := tx.UseCode(ctx, c.Hash, base)
		if err != nil {
			return err
		}
		checkEqual(t, "UseCode in the creating transaction", got, storedCode(c))
		return nil
	})
}

func testCodeErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createCodes(t, s, newCode("code-hash", base))
	checks := []struct {
		name string
		fn   func(tx token.GrantTx) error
		want error
	}{
		{"CreateCode with a taken hash", func(tx token.GrantTx) error { return tx.CreateCode(ctx, newCode("code-hash", at(time.Hour))) }, token.ErrConflict},
		{"UseCode(missing)", func(tx token.GrantTx) error { _, err := tx.UseCode(ctx, "code-missing", base); return err }, token.ErrNotFound},
		{"SetCodeAccess(missing)", func(tx token.GrantTx) error {
			return tx.SetCodeAccess(ctx, "code-missing", "jti", at(time.Hour))
		}, token.ErrNotFound},
	}
	for _, c := range checks {
		if err := s.InGrantTx(ctx, c.fn); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// None of those changed the code.
	got, err := useCode(t, s, "code-hash", base)
	if err != nil || !got.UsedAt.IsZero() || got.AccessTokenID != "" {
		t.Errorf("the code after the failures: %+v, %v; want it unused", got, err)
	}
}

// testConcurrentUseCode: exchanges of one code racing from many
// goroutines serialize, and exactly one of them finds it unused; the
// others see the winner's time.
func testConcurrentUseCode(t *testing.T, s store.Store) {
	createCodes(t, s, newCode("code-raced", base))
	warmUp(t, s)
	got := make([]*token.Code, rotators)
	errs := together(rotators, func(i int) error {
		// The whole exchange, so that each transaction holds what it took
		// while the others start.
		return s.InGrantTx(t.Context(), func(tx token.GrantTx) error {
			c, err := tx.UseCode(t.Context(), "code-raced", at(time.Duration(i+1)*time.Second))
			if err != nil || !c.UsedAt.IsZero() {
				got[i] = c
				return err
			}
			got[i] = c
			if err := tx.SetCodeAccess(t.Context(), c.Hash, fmt.Sprintf("jti_%d", i), at(time.Hour)); err != nil {
				return err
			}
			return tx.CreateRefreshToken(t.Context(), newRefreshToken(fmt.Sprintf("rt_%d", i), c.FamilyID, c.UserID, c.ClientID, base))
		})
	})
	winner := -1
	for i, err := range errs {
		if err != nil {
			t.Fatalf("UseCode %d: %v", i, err)
		}
		if got[i].UsedAt.IsZero() {
			if winner >= 0 {
				t.Fatalf("exchanges %d and %d both found the code unused", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no exchange found the code unused")
	}
	for i, c := range got {
		if want := stored(at(time.Duration(winner+1) * time.Second)); i != winner && !c.UsedAt.Equal(want) {
			t.Errorf("exchange %d saw UsedAt %v, want the winner's %v", i, c.UsedAt, want)
		}
	}
}

func testRefreshTokenRoundTrip(t *testing.T, s store.Store) {
	full := newRefreshToken("rt_full", "fam_1", "usr_1", "lkc_app", base)
	full.UsedAt, full.RevokedAt = at(time.Hour), at(2*time.Hour)
	bare := &token.RefreshToken{ID: "rt_bare", Hash: "hash-bare", FamilyID: "fam_2", TenantID: "ten_a",
		ClientID: "lkc_app", UserID: "usr_1", IssuedAt: base, ExpiresAt: at(time.Hour)}
	createRefreshTokens(t, s, full, bare)
	for _, r := range []*token.RefreshToken{full, bare} {
		checkEqual(t, "RefreshTokenByHash("+r.Hash+")", getRefreshToken(t, s, r.Hash), storedRefreshToken(r))
	}
}

func testRefreshTokenErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRefreshTokens(t, s, newRefreshToken("rt_1", "fam_1", "usr_1", "lkc_app", base))
	dupID := newRefreshToken("rt_1", "fam_1", "usr_1", "lkc_app", base)
	dupID.Hash = "another-hash"
	dupHash := newRefreshToken("rt_2", "fam_1", "usr_1", "lkc_app", base)
	dupHash.Hash = "hash-of-rt_1"
	for what, r := range map[string]*token.RefreshToken{"a taken ID": dupID, "a taken hash": dupHash} {
		err := s.InGrantTx(ctx, func(tx token.GrantTx) error { return tx.CreateRefreshToken(ctx, r) })
		if !errors.Is(err, token.ErrConflict) {
			t.Errorf("CreateRefreshToken with %s: got %v, want token.ErrConflict", what, err)
		}
	}
	if _, err := s.RefreshTokenByHash(ctx, "hash-missing"); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("RefreshTokenByHash(missing): got %v, want token.ErrNotFound", err)
	}
	if _, err := useRefreshToken(t, s, "hash-missing", base); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("UseRefreshToken(missing): got %v, want token.ErrNotFound", err)
	}
}

// testUseRefreshToken: only an active token is marked used, and every use
// returns the token as it was before.
func testUseRefreshToken(t *testing.T, s store.Store) {
	live := newRefreshToken("rt_live", "fam_1", "usr_1", "lkc_app", base)
	revoked := newRefreshToken("rt_revoked", "fam_2", "usr_1", "lkc_app", base)
	revoked.RevokedAt = at(time.Minute)
	expiring := newRefreshToken("rt_expiring", "fam_3", "usr_1", "lkc_app", base)
	createRefreshTokens(t, s, live, revoked, expiring)

	steps := []struct {
		name     string
		r        *token.RefreshToken
		now      time.Time
		wantUsed time.Time // after the call
	}{
		{"an active token", live, at(time.Hour), at(time.Hour)},
		{"a used token", live, at(2 * time.Hour), at(time.Hour)},
		{"a revoked token", revoked, at(time.Hour), time.Time{}},
		{"a token at its expiry", expiring, expiring.ExpiresAt, time.Time{}},
	}
	for _, st := range steps {
		before := getRefreshToken(t, s, st.r.Hash)
		got, err := useRefreshToken(t, s, st.r.Hash, st.now)
		if err != nil {
			t.Fatalf("%s: UseRefreshToken: %v", st.name, err)
		}
		checkEqual(t, st.name+": UseRefreshToken returns the token as it was", got, before)
		after := getRefreshToken(t, s, st.r.Hash)
		if !after.UsedAt.Equal(stored(st.wantUsed)) || !after.RevokedAt.Equal(before.RevokedAt) {
			t.Errorf("%s: afterwards used %v revoked %v; want used %v, revoked unchanged", st.name, after.UsedAt,
				after.RevokedAt, stored(st.wantUsed))
		}
	}
}

// testConcurrentUseRefreshToken: uses of one token racing from many
// goroutines serialize, and exactly one finds it active.
func testConcurrentUseRefreshToken(t *testing.T, s store.Store) {
	r := newRefreshToken("rt_raced", "fam_1", "usr_1", "lkc_app", base)
	createRefreshTokens(t, s, r)
	warmUp(t, s)
	got := make([]*token.RefreshToken, rotators)
	errs := together(rotators, func(i int) error {
		// The whole rotation: use the token, issue its successor.
		return s.InGrantTx(t.Context(), func(tx token.GrantTx) error {
			now := at(time.Duration(i+1) * time.Second)
			used, err := tx.UseRefreshToken(t.Context(), r.Hash, now)
			got[i] = used
			if err != nil || !used.Active(now) {
				return err
			}
			return tx.CreateRefreshToken(t.Context(), newRefreshToken(fmt.Sprintf("rt_next_%d", i), used.FamilyID, used.UserID, used.ClientID, now))
		})
	})
	active := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("UseRefreshToken %d: %v", i, err)
		}
		if got[i].Active(at(time.Duration(i+1) * time.Second)) {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d of %d concurrent uses found the token active, want 1", active, rotators)
	}
}

// warmUp runs concurrent empty transactions, so that a backend with a
// connection pool has a connection for each racer before the race starts,
// and the racers' transactions overlap instead of queueing for
// connections.
func warmUp(t *testing.T, s store.Store) {
	t.Helper()
	for i, err := range together(rotators, func(int) error {
		return s.InGrantTx(t.Context(), func(token.GrantTx) error { return nil })
	}) {
		if err != nil {
			t.Fatalf("warm-up transaction %d: %v", i, err)
		}
	}
}

// revocationsOf returns the token IDs of rs, sorted.
func revocationsOf(rs []token.Revocation) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.TokenID)
	}
	slices.Sort(out)
	return out
}

// testRevokeRefreshTokens: each filter selects its tokens, marks them
// revoked (keeping an earlier revocation's time), and returns the
// revocations of their access tokens that are still live.
func testRevokeRefreshTokens(t *testing.T, s store.Store) {
	now := at(30 * time.Minute)
	seed := func() {
		t.Helper()
		var rs []*token.RefreshToken
		for _, r := range []struct{ id, family, user, client string }{
			{"rt_u1_a_1", "fam_u1_a", "usr_1", "lkc_a"},
			{"rt_u1_a_2", "fam_u1_a", "usr_1", "lkc_a"},
			{"rt_u1_b", "fam_u1_b", "usr_1", "lkc_b"},
			{"rt_u2_a", "fam_u2_a", "usr_2", "lkc_a"},
			{"rt_u2_b", "fam_u2_b", "usr_2", "lkc_b"},
		} {
			rs = append(rs, newRefreshToken(r.id, r.family, r.user, r.client, base))
		}
		rs[0].UsedAt = at(time.Minute)
		rs[0].AccessExpiresAt = at(20 * time.Minute) // expired at now: nothing to revoke
		rs[1].RevokedAt = at(time.Minute)            // revoked before: keeps its time, still reported
		rs[2].AccessTokenID, rs[2].AccessExpiresAt = "", time.Time{}
		createRefreshTokens(t, s, rs...)
	}
	cases := []struct {
		name    string
		f       token.RefreshFilter
		want    []string // revoked access tokens
		revoked []string // refresh tokens revoked afterwards
	}{
		{"by user", token.RefreshFilter{UserID: "usr_1"}, []string{"jti_rt_u1_a_2"}, []string{"rt_u1_a_1", "rt_u1_a_2", "rt_u1_b"}},
		{"by client", token.RefreshFilter{ClientID: "lkc_a"}, []string{"jti_rt_u1_a_2", "jti_rt_u2_a"}, []string{"rt_u1_a_1", "rt_u1_a_2", "rt_u2_a"}},
		{"by user and client", token.RefreshFilter{UserID: "usr_2", ClientID: "lkc_b"}, []string{"jti_rt_u2_b"}, []string{"rt_u2_b"}},
		{"by family", token.RefreshFilter{FamilyID: "fam_u1_a"}, []string{"jti_rt_u1_a_2"}, []string{"rt_u1_a_1", "rt_u1_a_2"}},
		{"by a family of another user", token.RefreshFilter{FamilyID: "fam_u1_a", UserID: "usr_2"}, []string{}, nil},
		{"by an unknown user", token.RefreshFilter{UserID: "usr_nobody"}, []string{}, nil},
	}
	ids := []string{"rt_u1_a_1", "rt_u1_a_2", "rt_u1_b", "rt_u2_a", "rt_u2_b"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearRefreshTokens(t, s) // each case on fresh rows
			seed()
			var got []token.Revocation
			inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
				var err error
				got, err = tx.RevokeRefreshTokens(ctx, c.f, now)
				return err
			})
			checkEqual(t, "revoked access tokens", revocationsOf(got), c.want)
			clientOf := map[string]string{"jti_rt_u1_a_2": "lkc_a", "jti_rt_u2_a": "lkc_a", "jti_rt_u2_b": "lkc_b"}
			for _, r := range got {
				if r.ClientID != clientOf[r.TokenID] || !r.ExpiresAt.Equal(stored(at(time.Hour))) || !r.IssuedBefore.IsZero() {
					t.Errorf("revocation %+v: want client %q and the access token's expiry %v", r, clientOf[r.TokenID], stored(at(time.Hour)))
				}
			}
			for _, id := range ids {
				r := getRefreshToken(t, s, "hash-of-"+id)
				want := time.Time{}
				switch {
				case id == "rt_u1_a_2":
					want = stored(at(time.Minute)) // revoked before
				case slices.Contains(c.revoked, id):
					want = stored(now)
				}
				if !r.RevokedAt.Equal(want) {
					t.Errorf("%s revoked at %v, want %v", id, r.RevokedAt, want)
				}
			}
		})
	}
}

// clearRefreshTokens removes every refresh token, through pruning.
func clearRefreshTokens(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.PruneGrants(t.Context(), at(1000*time.Hour)); err != nil {
		t.Fatalf("PruneGrants: %v", err)
	}
}

func testRevokeRefreshTokensEmptyFilter(t *testing.T, s store.Store) {
	createRefreshTokens(t, s, newRefreshToken("rt_1", "fam_1", "usr_1", "lkc_app", base))
	err := s.InGrantTx(t.Context(), func(tx token.GrantTx) error {
		_, err := tx.RevokeRefreshTokens(t.Context(), token.RefreshFilter{}, base)
		return err
	})
	if err == nil {
		t.Fatal("RevokeRefreshTokens with an empty filter succeeded")
	}
	if r := getRefreshToken(t, s, "hash-of-rt_1"); !r.RevokedAt.IsZero() {
		t.Errorf("an empty filter revoked %s", r.ID)
	}
}

// testGrantTxRollback: nothing a failed grant transaction wrote remains,
// whether it created, used or revoked.
func testGrantTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	createCodes(t, s, newCode("code-existing", base))
	createRefreshTokens(t, s, newRefreshToken("rt_existing", "fam_1", "usr_1", "lkc_app", base))
	boom := errors.New("boom")
	err := s.InGrantTx(ctx, func(tx token.GrantTx) error {
		if err := tx.CreateCode(ctx, newCode("code-new", base)); err != nil {
			return err
		}
		if _, err := tx.UseCode(ctx, "code-existing", at(time.Second)); err != nil {
			return err
		}
		if err := tx.SetCodeAccess(ctx, "code-existing", "jti_x", at(time.Hour)); err != nil {
			return err
		}
		if err := tx.CreateRefreshToken(ctx, newRefreshToken("rt_new", "fam_1", "usr_1", "lkc_app", base)); err != nil {
			return err
		}
		if _, err := tx.UseRefreshToken(ctx, "hash-of-rt_existing", at(time.Second)); err != nil {
			return err
		}
		if _, err := tx.RevokeRefreshTokens(ctx, token.RefreshFilter{FamilyID: "fam_1"}, at(time.Second)); err != nil {
			return err
		}
		if err := tx.AddRevocation(ctx, token.Revocation{TokenID: "jti_rolled_back", ExpiresAt: at(time.Hour)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InGrantTx: got %v, want the callback's error", err)
	}
	if _, err := useCode(t, s, "code-new", base); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("the rolled-back code: got %v, want token.ErrNotFound", err)
	}
	if c, err := useCode(t, s, "code-existing", base); err != nil || !c.UsedAt.IsZero() || c.AccessTokenID != "" {
		t.Errorf("the code used in the rolled-back transaction: %+v, %v; want it unused", c, err)
	}
	if _, err := s.RefreshTokenByHash(ctx, "hash-of-rt_new"); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("the rolled-back refresh token: got %v, want token.ErrNotFound", err)
	}
	checkEqual(t, "the refresh token used and revoked in the rolled-back transaction",
		getRefreshToken(t, s, "hash-of-rt_existing"), storedRefreshToken(newRefreshToken("rt_existing", "fam_1", "usr_1", "lkc_app", base)))
	if rs := revocations(t, s, base); len(rs) != 0 {
		t.Errorf("the rolled-back revocation was stored: %+v", rs)
	}

	// A committed transaction's revocation is stored.
	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		return tx.AddRevocation(ctx, token.Revocation{TokenID: "jti_committed", ClientID: "lkc_app", ExpiresAt: at(time.Hour)})
	})
	checkEqual(t, "revocations after a commit", revocations(t, s, base),
		[]token.Revocation{{TokenID: "jti_committed", ClientID: "lkc_app", ExpiresAt: stored(at(time.Hour))}})
}

func testPruneGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	createCodes(t, s, newCode("code-old", at(-time.Hour)), newCode("code-young", base))
	old := newRefreshToken("rt_old", "fam_1", "usr_1", "lkc_app", at(-48*time.Hour))
	young := newRefreshToken("rt_young", "fam_1", "usr_1", "lkc_app", base)
	createRefreshTokens(t, s, old, young)
	// Expiring exactly at the pruning time is not expired before it.
	edge := newRefreshToken("rt_edge", "fam_2", "usr_1", "lkc_app", at(-24*time.Hour))
	createRefreshTokens(t, s, edge)
	if err := s.PruneGrants(ctx, base); err != nil {
		t.Fatalf("PruneGrants: %v", err)
	}
	if _, err := useCode(t, s, "code-old", base); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("an expired code after PruneGrants: got %v, want token.ErrNotFound", err)
	}
	if _, err := useCode(t, s, "code-young", base); err != nil {
		t.Errorf("a live code after PruneGrants: %v", err)
	}
	if _, err := s.RefreshTokenByHash(ctx, old.Hash); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("an expired refresh token after PruneGrants: got %v, want token.ErrNotFound", err)
	}
	for _, r := range []*token.RefreshToken{young, edge} {
		if _, err := s.RefreshTokenByHash(ctx, r.Hash); err != nil {
			t.Errorf("refresh token %s after PruneGrants: %v", r.ID, err)
		}
	}
}

// testGrantTxReads checks the reads an exchange makes inside its
// transaction: whether the user is active, and what they approved.
func testGrantTxReads(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("ten_a", "usr_reads", "reads@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	err := s.InAccountTx(ctx, func(tx account.Tx) error {
		return tx.PutConsent(ctx, &account.Consent{TenantID: "ten_a", UserID: u.ID, ClientID: "app",
			Scopes: []string{"openid", "profile"}, FirstAt: base, LastAt: base})
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(want bool, userID, tenantID string) {
		t.Helper()
		err := s.InGrantTx(ctx, func(tx token.GrantTx) error {
			ok, err := tx.UserActive(ctx, userID, tenantID)
			if err == nil && ok != want {
				t.Errorf("UserActive(%s, %s) = %v, want %v", userID, tenantID, ok, want)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(true, u.ID, "ten_a")
	check(false, u.ID, "ten_b")
	check(false, "usr_missing", "ten_a")
	err = s.InGrantTx(ctx, func(tx token.GrantTx) error {
		scopes, err := tx.ConsentScopes(ctx, u.ID, "app")
		if err != nil || !slices.Equal(scopes, []string{"openid", "profile"}) {
			t.Errorf("ConsentScopes = %v, %v", scopes, err)
		}
		if _, err := tx.ConsentScopes(ctx, u.ID, "other"); !errors.Is(err, token.ErrNotFound) {
			t.Errorf("ConsentScopes(other) err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.InAccountTx(ctx, func(tx account.Tx) error {
		c, err := tx.Consent(ctx, u.ID, "app")
		if err != nil || c.ClientID != "app" {
			t.Errorf("Tx.Consent = %+v, %v", c, err)
		}
		u.Status = account.UserDisabled
		return tx.UpdateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	check(false, u.ID, "ten_a")
}
