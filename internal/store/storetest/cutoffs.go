package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var cutOffTests = []test{
	{"RoundTrip", testCutOffRoundTrip},
	{"KeepsTheLater", testCutOffKeepsTheLater},
	{"InTransactions", testCutOffInTransactions},
}

// testCutOffRoundTrip: a cut-off is listed with its IssuedBefore beside
// ordinary revocations, found by its key, and pruned like them.
func testCutOffRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	user := token.Revocation{TokenID: token.CutOffKey("usr_1", ""), ExpiresAt: at(time.Hour), IssuedBefore: base}
	grant := token.Revocation{TokenID: token.CutOffKey("usr_1", "lkc_app"), ClientID: "lkc_app",
		ExpiresAt: at(2 * time.Hour), IssuedBefore: at(time.Minute)}
	plain := token.Revocation{TokenID: "jti_plain", ClientID: "lkc_app", ExpiresAt: at(3 * time.Hour)}
	for _, r := range []token.Revocation{user, grant, plain} {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatalf("Revoke(%s): %v", r.TokenID, err)
		}
	}
	want := []token.Revocation{
		{TokenID: user.TokenID, ExpiresAt: stored(user.ExpiresAt), IssuedBefore: stored(user.IssuedBefore)},
		{TokenID: grant.TokenID, ClientID: "lkc_app", ExpiresAt: stored(grant.ExpiresAt), IssuedBefore: stored(grant.IssuedBefore)},
		{TokenID: plain.TokenID, ClientID: "lkc_app", ExpiresAt: stored(plain.ExpiresAt)},
	}
	checkEqual(t, "Revocations", revocations(t, s, base), want)
	got, err := s.RevocationsByID(ctx, []string{grant.TokenID})
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "RevocationsByID", got, want[1:2])
	if err := s.PruneTokens(ctx, at(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "Revocations after pruning", revocations(t, s, base), want[1:])
}

// testCutOffKeepsTheLater: revoking a listed key again keeps the later
// expiry and the later cut-off, each on its own.
func testCutOffKeepsTheLater(t *testing.T, s store.Store) {
	key := token.CutOffKey("usr_1", "")
	h := func(n int) time.Time { return at(time.Duration(n) * time.Hour) }
	steps := []struct {
		expires, before         time.Time
		wantExpires, wantBefore time.Time
	}{
		{h(2), h(0), h(2), h(0)},
		{h(3), h(1), h(3), h(1)},        // both later
		{h(1), h(-1), h(3), h(1)},       // both earlier: nothing moves
		{h(4), h(-1), h(4), h(1)},       // a later expiry, an earlier cut-off
		{h(1), h(2), h(4), h(2)},        // an earlier expiry, a later cut-off
		{h(1), time.Time{}, h(4), h(2)}, // no cut-off: the cut-off stays
		{h(5), time.Time{}, h(5), h(2)}, // no cut-off, a later expiry
		{h(5), h(2).Add(time.Microsecond), h(5), h(2).Add(time.Microsecond)},
	}
	for i, st := range steps {
		if err := s.Revoke(t.Context(), token.Revocation{TokenID: key, ExpiresAt: st.expires, IssuedBefore: st.before}); err != nil {
			t.Fatalf("step %d: Revoke: %v", i, err)
		}
		checkEqual(t, fmt.Sprintf("step %d", i), revocations(t, s, h(-100)), []token.Revocation{
			{TokenID: key, ExpiresAt: stored(st.wantExpires), IssuedBefore: stored(st.wantBefore)},
		})
	}
	// A token's own revocation never gains a cut-off.
	if err := s.Revoke(t.Context(), token.Revocation{TokenID: "jti_1", ExpiresAt: h(1)}); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.RevocationsByID(t.Context(), []string{"jti_1"}); err != nil || len(rs) != 1 || !rs[0].IssuedBefore.IsZero() {
		t.Errorf("a token's revocation: %+v, %v", rs, err)
	}
}

// testCutOffInTransactions: AddRevocation in an account or grant
// transaction upserts as Revoke does.
func testCutOffInTransactions(t *testing.T, s store.Store) {
	key := token.CutOffKey("usr_1", "lkc_app")
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		return tx.AddRevocation(ctx, token.Revocation{TokenID: key, ClientID: "lkc_app", ExpiresAt: at(time.Hour), IssuedBefore: base})
	})
	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		return tx.AddRevocation(ctx, token.Revocation{TokenID: key, ClientID: "lkc_app", ExpiresAt: at(30 * time.Minute),
			IssuedBefore: at(time.Minute)})
	})
	checkEqual(t, "Revocations", revocations(t, s, base), []token.Revocation{
		{TokenID: key, ClientID: "lkc_app", ExpiresAt: stored(at(time.Hour)), IssuedBefore: stored(at(time.Minute))},
	})
}
