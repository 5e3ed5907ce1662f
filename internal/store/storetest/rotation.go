package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var rotationTests = []test{
	{"UseAddress", testUseAddress},
	{"RetiringWarnedOnce", testRetiringWarnedOnce},
	{"Stale", testListStale},
}

// testListStale: unused since a time and created before it are the
// clients stale at that time, a never used client counting from its
// creation.
func testListStale(t *testing.T, s store.Store) {
	all := seedList(t, s)
	h := func(n int) time.Time { return at(time.Duration(n) * time.Hour) }
	for _, cut := range []time.Time{h(-1), h(2), h(5), h(10), h(10).Add(time.Microsecond), h(30), h(1000)} {
		want := filter(all, func(c *client.Client) bool {
			return c.CreatedAt.Before(cut) && (c.LastUsedAt.IsZero() || c.LastUsedAt.Before(cut))
		})
		got := listAll(t, s, client.ListQuery{TenantID: "ten_a", UnusedSince: cut, CreatedBefore: cut, Limit: 2}, len(want))
		checkEqual(t, fmt.Sprintf("stale at %s", cut), ids(got), want)
	}
	// At h(5) beta-und (made at h(3), never used) is stale; zeta_1 (made
	// at h(6), never used) is too young to be.
	got := listAllIDs(t, s, client.ListQuery{TenantID: "ten_a", UnusedSince: h(5), CreatedBefore: h(5)})
	if !slices.Contains(got, "a.beta-und") || slices.Contains(got, "a.zeta_1") {
		t.Errorf("stale at h(5): %v, want beta-und and not zeta_1", got)
	}
}

// testUseAddress: a secret's source address moves with its last-used
// time, so the stored address is always the later use's.
func testUseAddress(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newClient("ten_a", "lkc_addr", "Addr")
	createClients(t, s, c)
	sec := newSecret(c.ID, "sec_addr", base)
	sec.LastUsedAt = time.Time{}
	createSecrets(t, s, sec)
	if got := getSecrets(t, s, c.ID)[0].LastUsedAddr; got != "" {
		t.Fatalf("a never used secret's address = %q, want empty", got)
	}
	steps := []struct {
		name   string
		uses   []client.Use
		wantAt time.Time
		want   string
	}{
		{"first use", []client.Use{{ClientID: c.ID, SecretID: sec.ID, At: at(time.Hour), Addr: "192.0.2.1"}},
			at(time.Hour), "192.0.2.1"},
		{"an earlier use keeps the later address", []client.Use{{ClientID: c.ID, SecretID: sec.ID, At: at(time.Minute), Addr: "192.0.2.9"}},
			at(time.Hour), "192.0.2.1"},
		{"the latest of a batch brings its address", []client.Use{
			{ClientID: c.ID, SecretID: sec.ID, At: at(3 * time.Hour), Addr: "2001:db8::3"},
			{ClientID: c.ID, SecretID: sec.ID, At: at(5 * time.Hour), Addr: "2001:db8::5"},
			{ClientID: c.ID, SecretID: sec.ID, At: at(4 * time.Hour), Addr: "2001:db8::4"},
		}, at(5 * time.Hour), "2001:db8::5"},
	}
	for _, st := range steps {
		if err := s.RecordUse(ctx, st.uses); err != nil {
			t.Fatalf("%s: RecordUse: %v", st.name, err)
		}
		got := getSecrets(t, s, c.ID)[0]
		if !got.LastUsedAt.Equal(stored(st.wantAt)) || got.LastUsedAddr != st.want {
			t.Errorf("%s: last use (%v, %q), want (%v, %q)", st.name, got.LastUsedAt, got.LastUsedAddr, stored(st.wantAt), st.want)
		}
	}
	// An update of the secret (a rotation retiring it) keeps its last use.
	cur := getSecrets(t, s, c.ID)[0]
	cur.Status = client.SecretRetiring
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateSecret(ctx, &cur) })
	if got := getSecrets(t, s, c.ID)[0].LastUsedAddr; got != "2001:db8::5" {
		t.Errorf("after UpdateSecret the address is %q, want 2001:db8::5", got)
	}
}

// testRetiringWarnedOnce: of many marks of one secret, also concurrent
// ones, exactly one reports that it set the mark.
func testRetiringWarnedOnce(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_warned", "Warned")
	createClients(t, s, c)
	sec := newSecret(c.ID, "sec_warned", base)
	other := newSecret(c.ID, "sec_other", base)
	createSecrets(t, s, sec, other)

	mark := func(secretID string) bool {
		t.Helper()
		var set bool
		inTx(t, s, func(ctx context.Context, tx client.Tx) error {
			var err error
			set, err = tx.MarkRetiringWarned(ctx, c.ID, secretID, at(time.Hour))
			return err
		})
		return set
	}
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range n {
		wg.Go(func() {
			err := s.InTx(t.Context(), func(tx client.Tx) error {
				set, err := tx.MarkRetiringWarned(t.Context(), c.ID, sec.ID, at(time.Hour))
				if set {
					mu.Lock()
					wins++
					mu.Unlock()
				}
				return err
			})
			if err != nil {
				t.Errorf("MarkRetiringWarned: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of %d concurrent marks set it, want exactly 1", wins, n)
	}
	if mark(sec.ID) {
		t.Error("a later mark set it again")
	}
	if !mark(other.ID) {
		t.Error("another secret's first mark did not set it")
	}
	if mark("sec_gone") {
		t.Error("the mark of an unknown secret reported set")
	}
	// A mark rolled back with its transaction is not set.
	third := newSecret(c.ID, "sec_third", base)
	createSecrets(t, s, third)
	_ = s.InTx(t.Context(), func(tx client.Tx) error {
		if _, err := tx.MarkRetiringWarned(t.Context(), c.ID, third.ID, at(time.Hour)); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if !mark(third.ID) {
		t.Error("a rolled back mark stayed set")
	}
}
