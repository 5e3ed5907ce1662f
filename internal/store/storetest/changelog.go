package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var changeLogTests = []test{
	{"LogsEveryCacheRelevantChange", testLogsChanges},
	{"Missing", testChangesMissing},
	{"Latest", testLatestChangeSeqs},
	{"Prune", testPruneChanges},
	{"RevocationsByID", testRevocationsByID},
}

// changesAfter reads the whole log after seq.
func changesAfter(t *testing.T, s store.Store, after int64) []changes.Change {
	t.Helper()
	cs, err := s.Changes(t.Context(), after, nil, 1000)
	if err != nil {
		t.Fatalf("Changes(%d): %v", after, err)
	}
	return cs
}

// kindKeys drops the seqs of cs.
func kindKeys(cs []changes.Change) []changes.Change {
	out := make([]changes.Change, len(cs))
	for i, c := range cs {
		out[i] = changes.Change{Kind: c.Kind, Key: c.Key}
	}
	return out
}

func testLogsChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	var last int64
	if cs := changesAfter(t, s, 0); len(cs) > 0 {
		last = cs[len(cs)-1].Seq
	}
	// step applies a change and checks what it logged, in order.
	step := func(what string, change func(), want ...changes.Change) {
		t.Helper()
		change()
		got := changesAfter(t, s, last)
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq {
				t.Errorf("%s: seqs not ascending: %v", what, got)
			}
		}
		if len(got) > 0 {
			if got[0].Seq <= last {
				t.Errorf("%s: seq %d not after %d", what, got[0].Seq, last)
			}
			last = got[len(got)-1].Seq
		}
		if g := kindKeys(got); !slices.Equal(g, want) {
			t.Errorf("%s logged %v, want %v", what, g, want)
		}
	}
	cl := func(id string) changes.Change { return changes.Change{Kind: changes.Client, Key: id} }
	c := newClient("ten_1", "lkc_logged", "Logged")
	step("create client", func() { createClients(t, s, c) }, cl(c.ID))
	step("create secret", func() { createSecrets(t, s, newSecret(c.ID, "sec_v1", base)) }, cl(c.ID))
	step("update client", func() {
		c.Status = client.StatusInactive
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateClient(ctx, c) })
	}, cl(c.ID))
	step("update secret", func() {
		sec := newSecret(c.ID, "sec_v1", base)
		sec.Status = client.SecretRevoked
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateSecret(ctx, sec) })
	}, cl(c.ID))
	step("record use", func() {
		if err := s.RecordUse(ctx, []client.Use{{ClientID: c.ID, SecretID: "sec_v1", At: at(48 * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	})
	step("rolled-back change", func() {
		c.Name = "Never saved"
		s.InTx(ctx, func(tx client.Tx) error {
			tx.UpdateClient(ctx, c)
			return errors.New("roll back")
		})
	})
	step("revocation", func() {
		if err := s.Revoke(ctx, token.Revocation{TokenID: "jti_v", ClientID: c.ID, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}, changes.Change{Kind: changes.Revocation, Key: "jti_v"})
	step("revocation extended", func() {
		if err := s.Revoke(ctx, token.Revocation{TokenID: "jti_v", ClientID: c.ID, ExpiresAt: at(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}, changes.Change{Kind: changes.Revocation, Key: "jti_v"})
	step("revocation sent again", func() {
		if err := s.Revoke(ctx, token.Revocation{TokenID: "jti_v", ClientID: c.ID, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}) // nothing moved
	cutOff := token.CutOffKey("usr_1", c.ID)
	step("cut-off", func() {
		if err := s.Revoke(ctx, token.Revocation{TokenID: cutOff, ExpiresAt: at(time.Hour), IssuedBefore: base}); err != nil {
			t.Fatal(err)
		}
	}, changes.Change{Kind: changes.Revocation, Key: cutOff})
	step("cut-off moved later", func() {
		inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
			return tx.AddRevocation(ctx, token.Revocation{TokenID: cutOff, ExpiresAt: at(time.Hour), IssuedBefore: at(time.Minute)})
		})
	}, changes.Change{Kind: changes.Revocation, Key: cutOff})
	step("cut-off moved earlier", func() {
		if err := s.Revoke(ctx, token.Revocation{TokenID: cutOff, ExpiresAt: at(time.Hour), IssuedBefore: base}); err != nil {
			t.Fatal(err)
		}
	}) // nothing moved
	step("record activity", func() {
		err := s.RecordActivity(ctx, []client.Activity{{ClientID: c.ID,
			Authorization: &client.Authorization{At: at(time.Hour), UserID: "usr_1", RedirectURI: "https://a.example/cb"},
			Token:         &client.Issue{At: at(time.Hour), Grant: client.GrantAuthorizationCode}}})
		if err != nil {
			t.Fatal(err)
		}
	})
	step("sessions, consents and users", func() {
		inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
			if err := tx.CreateUser(ctx, newUser("ten_1", "usr_1", "one@example.com")); err != nil {
				return err
			}
			if err := tx.CreateSession(ctx, newSession("ses_1", "usr_1", base)); err != nil {
				return err
			}
			return tx.PutConsent(ctx, newConsent("usr_1", c.ID, base))
		})
	})
	step("codes and refresh tokens", func() {
		inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
			if err := tx.CreateCode(ctx, newCode("code-logged", base)); err != nil {
				return err
			}
			if _, err := tx.UseCode(ctx, "code-logged", base); err != nil {
				return err
			}
			if err := tx.CreateRefreshToken(ctx, newRefreshToken("rt_1", "fam_1", "usr_1", c.ID, base)); err != nil {
				return err
			}
			_, err := tx.RevokeRefreshTokens(ctx, token.RefreshFilter{FamilyID: "fam_1"}, base)
			return err
		})
	})
	step("revocation in a grant transaction", func() {
		inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
			return tx.AddRevocation(ctx, token.Revocation{TokenID: "jti_rt_1", ClientID: c.ID, ExpiresAt: at(time.Hour)})
		})
	}, changes.Change{Kind: changes.Revocation, Key: "jti_rt_1"})
	step("first signing key", func() {
		addKey(t, s, currentKey("kid_v", base))
	}, changes.Change{Kind: changes.SigningKey, Key: keyTenant})
	step("first ID signing key", func() {
		k := currentKey("kid_id", base)
		k.Use = token.UseID
		addKey(t, s, k)
	}, changes.Change{Kind: changes.SigningKey, Key: keyTenant})
	step("next signing key", func() { addKey(t, s, newKey("kid_n", base)) }, changes.Change{Kind: changes.SigningKey, Key: keyTenant})
	step("promotion", func() {
		if err := s.PromoteSigningKey(ctx, keyTenant, "kid_n", "kid_v", at(time.Hour), at(50*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}, changes.Change{Kind: changes.SigningKey, Key: keyTenant}, changes.Change{Kind: changes.SigningKey, Key: keyTenant})
	other := newClient("ten_1", "lkc_other", "Other")
	step("two clients in one transaction", func() { createClients(t, s, other, newClient("ten_1", "lkc_third", "Third")) },
		cl(other.ID), cl("lkc_third"))
	step("delete client", func() {
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, c.ID) })
	}, cl(c.ID), cl(c.ID)) // the client and, by cascade, its secret
}

func testChangesMissing(t *testing.T, s store.Store) {
	for _, id := range []string{"jti_1", "jti_2", "jti_3", "jti_4"} {
		if err := s.Revoke(t.Context(), token.Revocation{TokenID: id, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	all := changesAfter(t, s, 0)
	if len(all) != 4 {
		t.Fatalf("log has %d rows, want 4", len(all))
	}
	// Missing seqs below after are returned with the rows after it, in
	// seq order; a missing seq the log lacks is skipped.
	got, err := s.Changes(t.Context(), all[2].Seq, []int64{all[1].Seq, all[0].Seq, all[3].Seq + 100}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := []changes.Change{all[0], all[1], all[3]}; !slices.Equal(got, want) {
		t.Fatalf("Changes with missing = %v, want %v", got, want)
	}
	if got, err := s.Changes(t.Context(), 0, nil, 2); err != nil || !slices.Equal(got, all[:2]) {
		t.Fatalf("Changes with limit 2 = %v, %v; want %v", got, err, all[:2])
	}
}

func testLatestChangeSeqs(t *testing.T, s store.Store) {
	if seqs, err := s.LatestChangeSeqs(t.Context(), 10); err != nil || len(seqs) != 0 {
		t.Fatalf("LatestChangeSeqs of an empty log = %v, %v", seqs, err)
	}
	for _, id := range []string{"jti_1", "jti_2", "jti_3"} {
		if err := s.Revoke(t.Context(), token.Revocation{TokenID: id, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	all := changesAfter(t, s, 0)
	seqs, err := s.LatestChangeSeqs(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{all[2].Seq, all[1].Seq}; !slices.Equal(seqs, want) {
		t.Fatalf("LatestChangeSeqs(2) = %v, want %v", seqs, want)
	}
}

func testPruneChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"jti_1", "jti_2", "jti_3"} {
		if err := s.Revoke(ctx, token.Revocation{TokenID: id, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	all := changesAfter(t, s, 0)
	// The database stamps the rows with its own clock.
	if err := s.PruneChanges(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := changesAfter(t, s, 0); !slices.Equal(got, all) {
		t.Fatalf("pruning before the rows were logged left %v, want %v", got, all)
	}
	if err := s.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := changesAfter(t, s, 0); !slices.Equal(got, all[2:]) {
		t.Fatalf("pruning everything left %v, want the latest row %v", got, all[2:])
	}
	// Seqs keep growing after the log was pruned.
	if err := s.Revoke(ctx, token.Revocation{TokenID: "jti_4", ExpiresAt: at(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := changesAfter(t, s, all[2].Seq); len(got) != 1 || got[0].Key != "jti_4" {
		t.Fatalf("after pruning, the next change is %v", got)
	}
}

func testRevocationsByID(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := []token.Revocation{
		{TokenID: "jti_a", ClientID: "lkc_a", ExpiresAt: stored(at(time.Hour))},
		{TokenID: "jti_b", ClientID: "lkc_b", ExpiresAt: stored(at(2 * time.Hour))},
	}
	for _, r := range append(want, token.Revocation{TokenID: "jti_c", ExpiresAt: at(time.Hour)}) {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.RevocationsByID(ctx, []string{"jti_b", "jti_unknown", "jti_a"})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b token.Revocation) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	checkEqual(t, "RevocationsByID", got, want)
	if got, err := s.RevocationsByID(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("RevocationsByID(nil) = %v, %v", got, err)
	}
}

// CheckLoggedColumns checks which columns the database's change-log
// triggers watch, which no call of the store can isolate (an update
// writes every configuration column at once): updating a client's
// configuration columns, or a revocation's expiry or cut-off, logs a
// change; updating a client's usage and activity columns does not. exec
// runs one statement on the store's database; the statements are the same
// text in every dialect (each sets a column to itself, which is enough to
// fire an UPDATE OF trigger).
func CheckLoggedColumns(t *testing.T, s store.Store, exec func(ctx context.Context, query string) error) {
	t.Helper()
	ctx := t.Context()
	createClients(t, s, newClient("ten_1", "lkc_cols", "Columns"))
	if err := s.Revoke(ctx, token.Revocation{TokenID: "jti_cols", ExpiresAt: at(time.Hour), IssuedBefore: base}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		table, column, key string
		logged             bool
	}{
		{"clients", "name", "lkc_cols", true},
		{"clients", "token_endpoint_auth_method", "lkc_cols", true},
		{"clients", "id_token_alg", "lkc_cols", true},
		{"clients", "post_logout_redirect_uris", "lkc_cols", true},
		{"clients", "division_id", "lkc_cols", true},
		{"clients", "last_used_at", "lkc_cols", false},
		{"clients", "last_authorized_at", "lkc_cols", false},
		{"clients", "last_authorized_user", "lkc_cols", false},
		{"clients", "last_authorized_redirect_uri", "lkc_cols", false},
		{"clients", "last_token_at", "lkc_cols", false},
		{"clients", "last_token_grant", "lkc_cols", false},
		{"revocations", "expires_at", "jti_cols", true},
		{"revocations", "issued_before", "jti_cols", true},
	}
	for _, c := range cases {
		before := changesAfter(t, s, 0)
		where := "id"
		if c.table == "revocations" {
			where = "token_id"
		}
		if err := exec(ctx, "UPDATE "+c.table+" SET "+c.column+" = "+c.column+" WHERE "+where+" = '"+c.key+"'"); err != nil {
			t.Fatalf("update %s.%s: %v", c.table, c.column, err)
		}
		if logged := len(changesAfter(t, s, 0)) > len(before); logged != c.logged {
			t.Errorf("updating %s.%s logged a change: %v, want %v", c.table, c.column, logged, c.logged)
		}
	}
}
