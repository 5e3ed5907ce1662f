package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRevocations(t *testing.T) {
	now := newClock().Now()
	var r Revocations // the zero value is ready
	if r.IsRevoked("a", now) {
		t.Fatal("empty list revokes")
	}
	r.Add(Revocation{TokenID: "a", ClientID: "c", ExpiresAt: now.Add(time.Hour)})
	r.Add(Revocation{TokenID: "old", ClientID: "c", ExpiresAt: now.Add(-time.Second)})

	tests := []struct {
		id   string
		at   time.Time
		want bool
	}{
		{"a", now, true},
		{"a", now.Add(time.Hour - time.Nanosecond), true},
		{"a", now.Add(time.Hour), false}, // the token has expired anyway
		{"old", now, false},
		{"b", now, false},
	}
	for _, tt := range tests {
		if got := r.IsRevoked(tt.id, tt.at); got != tt.want {
			t.Errorf("IsRevoked(%q, %v) = %v, want %v", tt.id, tt.at, got, tt.want)
		}
	}

	// A later expiry for the same ID wins; an earlier one does not shorten it.
	r.Add(Revocation{TokenID: "a", ExpiresAt: now.Add(2 * time.Hour)})
	r.Add(Revocation{TokenID: "a", ExpiresAt: now.Add(time.Minute)})
	if !r.IsRevoked("a", now.Add(90*time.Minute)) {
		t.Error("revocation shortened by a second Add")
	}

	r.Prune(now)
	if r.Len() != 1 {
		t.Errorf("after Prune, %d entries, want 1", r.Len())
	}
}
func TestRevocationsConcurrent(t *testing.T) {
	ctx := context.Background()
	now := newClock().Now()
	st := newMemStore()
	var r Revocations
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprint(g, "-", i)
				r.Add(Revocation{TokenID: id, ExpiresAt: now.Add(time.Hour)})
				if !r.IsRevoked(id, now) {
					t.Errorf("%s not revoked right after Add", id)
				}
				sub := fmt.Sprint("usr_", g)
				r.Add(Revocation{TokenID: CutOffKey(sub, ""), IssuedBefore: now.Add(time.Duration(i) * time.Second), ExpiresAt: now.Add(time.Hour)})
				if !r.CutOff(sub, "lkc_a", now.Add(time.Duration(i)*time.Second), now) {
					t.Errorf("%s not cut off right after Add", sub)
				}
				if i%50 == 0 {
					if err := r.Load(ctx, st, now); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if r.Len() != 804 {
		t.Errorf("%d entries, want 800 token IDs and 4 cut-offs: a Load lost a concurrent Add", r.Len())
	}
}

func TestRevocationsLoadIDs(t *testing.T) {
	ctx := context.Background()
	now := newClock().Now()
	st := newMemStore()
	for id, exp := range map[string]time.Duration{"new": time.Hour, "expired": -time.Hour, "unasked": time.Hour} {
		if err := st.Revoke(ctx, Revocation{TokenID: id, ExpiresAt: now.Add(exp)}); err != nil {
			t.Fatal(err)
		}
	}
	var r Revocations
	r.Add(Revocation{TokenID: "local", ExpiresAt: now.Add(time.Hour)})
	if err := r.LoadIDs(ctx, st, []string{"new", "expired", "pruned"}, now); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"new": true, "expired": false, "unasked": false, "local": true} {
		if got := r.IsRevoked(id, now); got != want {
			t.Errorf("IsRevoked(%q) = %v, want %v", id, got, want)
		}
	}
	if r.Len() != 2 {
		t.Errorf("LoadIDs left %d entries, want 2 (only what was asked for and lives)", r.Len())
	}
}

func TestCutOffKey(t *testing.T) {
	tests := []struct{ subject, client, want string }{
		{"usr_1", "", "sub:usr_1"},
		{"usr_1", "lkc_a", "grant:lkc_a:usr_1"},
	}
	for _, tt := range tests {
		if got := CutOffKey(tt.subject, tt.client); got != tt.want {
			t.Errorf("CutOffKey(%q, %q) = %q, want %q", tt.subject, tt.client, got, tt.want)
		}
	}
}

func TestRevocationsCutOff(t *testing.T) {
	second := newClock().Now() // a whole second
	cut := second.Add(500 * time.Millisecond)
	exp := cut.Add(time.Hour)
	var r Revocations
	if r.CutOff("usr_all", "lkc_a", second, cut) {
		t.Fatal("an empty list cuts off")
	}
	r.Add(Revocation{TokenID: CutOffKey("usr_all", ""), IssuedBefore: cut, ExpiresAt: exp})
	r.Add(Revocation{TokenID: CutOffKey("usr_app", "lkc_a"), ClientID: "lkc_a", IssuedBefore: cut, ExpiresAt: exp})
	r.Add(Revocation{TokenID: CutOffKey("usr_old", ""), IssuedBefore: cut, ExpiresAt: cut.Add(-time.Second)})

	tests := []struct {
		name            string
		subject, client string
		issuedAt, now   time.Time
		want            bool
	}{
		{"a second before", "usr_all", "lkc_a", second.Add(-time.Second), cut, true},
		{"same second, before the cut-off", "usr_all", "lkc_a", second.Add(200 * time.Millisecond), cut, true},
		{"same second, as an iat", "usr_all", "lkc_a", second, cut, true},
		{"same second, after the cut-off", "usr_all", "lkc_a", second.Add(800 * time.Millisecond), cut, true},
		{"the next second", "usr_all", "lkc_a", second.Add(time.Second), cut, false},
		{"subject-wide, any client", "usr_all", "lkc_b", second, cut, true},
		{"subject-wide, no client", "usr_all", "", second, cut, true},
		{"client-scoped, that client", "usr_app", "lkc_a", second, cut, true},
		{"client-scoped, another client", "usr_app", "lkc_b", second, cut, false},
		{"client-scoped, no client", "usr_app", "", second, cut, false},
		{"client-scoped, the next second", "usr_app", "lkc_a", second.Add(time.Second), cut, false},
		{"just before the cut-off expires", "usr_all", "lkc_a", second, exp.Add(-time.Nanosecond), true},
		{"the cut-off has expired", "usr_all", "lkc_a", second, exp, false},
		{"an expired cut-off", "usr_old", "lkc_a", second, cut, false},
		{"another subject", "usr_other", "lkc_a", second, cut, false},
		{"a client named like a subject", "lkc_a", "usr_app", second, cut, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.CutOff(tt.subject, tt.client, tt.issuedAt, tt.now); got != tt.want {
				t.Errorf("CutOff(%q, %q, %v, %v) = %v, want %v", tt.subject, tt.client, tt.issuedAt, tt.now, got, tt.want)
			}
		})
	}
	// A cut-off is not a revoked token ID, and a token ID cuts nothing off.
	r.Add(Revocation{TokenID: "jti_1", ExpiresAt: exp})
	if r.IsRevoked(CutOffKey("usr_all", ""), cut) {
		t.Error("IsRevoked answers for a cut-off")
	}
	if !r.IsRevoked("jti_1", cut) || r.Len() != 4 {
		t.Errorf("IsRevoked(jti_1) = %v, %d entries; want true, 4", r.IsRevoked("jti_1", cut), r.Len())
	}
	if n := testing.AllocsPerRun(100, func() { r.CutOff("usr_app", "lkc_a", second, cut) }); n != 0 {
		t.Errorf("CutOff allocates %v times per call", n)
	}

	r.Prune(cut)
	if r.Len() != 3 || !r.CutOff("usr_all", "", second, cut) {
		t.Errorf("after Prune, %d entries; want the expired cut-off alone dropped", r.Len())
	}
	r.Prune(exp)
	if r.Len() != 0 {
		t.Errorf("after Prune at the expiry, %d entries, want 0", r.Len())
	}
}

func TestRevocationsCutOffMerge(t *testing.T) {
	second := newClock().Now()
	key := CutOffKey("usr_1", "")
	var r Revocations
	r.Add(Revocation{TokenID: key, IssuedBefore: second, ExpiresAt: second.Add(time.Hour)})

	// A later cut-off moves the cut and the expiry on.
	r.Add(Revocation{TokenID: key, IssuedBefore: second.Add(time.Minute), ExpiresAt: second.Add(2 * time.Hour)})
	if !r.CutOff("usr_1", "", second.Add(time.Minute), second) || !r.CutOff("usr_1", "", second, second.Add(90*time.Minute)) {
		t.Error("a later cut-off did not replace the earlier one")
	}
	// An older copy, read late, shortens neither; its later expiry counts.
	r.Add(Revocation{TokenID: key, IssuedBefore: second, ExpiresAt: second.Add(3 * time.Hour)})
	if !r.CutOff("usr_1", "", second.Add(time.Minute), second) {
		t.Error("an older cut-off moved the cut back")
	}
	if !r.CutOff("usr_1", "", second, second.Add(150*time.Minute)) {
		t.Error("the later expiry was not kept")
	}
	if r.CutOff("usr_1", "", second.Add(time.Minute+time.Second), second) {
		t.Error("a token issued after every cut-off was cut off")
	}
}

func TestRevocationsLoadCutOffs(t *testing.T) {
	ctx := context.Background()
	now := newClock().Now()
	st := newMemStore()
	for _, rv := range []Revocation{
		{TokenID: CutOffKey("usr_new", ""), IssuedBefore: now, ExpiresAt: now.Add(time.Hour)},
		{TokenID: CutOffKey("usr_app", "lkc_a"), ClientID: "lkc_a", IssuedBefore: now, ExpiresAt: now.Add(time.Hour)},
		{TokenID: CutOffKey("usr_expired", ""), IssuedBefore: now, ExpiresAt: now.Add(-time.Hour)},
		{TokenID: CutOffKey("usr_unasked", ""), IssuedBefore: now, ExpiresAt: now.Add(time.Hour)},
		{TokenID: "jti_1", ExpiresAt: now.Add(time.Hour)},
	} {
		if err := st.Revoke(ctx, rv); err != nil {
			t.Fatal(err)
		}
	}
	var fromIDs Revocations
	ids := []string{CutOffKey("usr_new", ""), CutOffKey("usr_app", "lkc_a"), CutOffKey("usr_expired", ""), "jti_1"}
	if err := fromIDs.LoadIDs(ctx, st, ids, now); err != nil {
		t.Fatal(err)
	}
	var whole Revocations
	if err := whole.Load(ctx, st, now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		subject, client string
		fromIDs, whole  bool
	}{
		{"usr_new", "lkc_a", true, true},
		{"usr_app", "lkc_a", true, true},
		{"usr_app", "lkc_b", false, false},
		{"usr_expired", "lkc_a", false, false},
		{"usr_unasked", "lkc_a", false, true},
	}
	for _, tt := range tests {
		if got := fromIDs.CutOff(tt.subject, tt.client, now, now); got != tt.fromIDs {
			t.Errorf("after LoadIDs, CutOff(%q, %q) = %v, want %v", tt.subject, tt.client, got, tt.fromIDs)
		}
		if got := whole.CutOff(tt.subject, tt.client, now, now); got != tt.whole {
			t.Errorf("after Load, CutOff(%q, %q) = %v, want %v", tt.subject, tt.client, got, tt.whole)
		}
	}
	if !fromIDs.IsRevoked("jti_1", now) || !whole.IsRevoked("jti_1", now) {
		t.Error("the token ID loaded with the cut-offs is not revoked")
	}
	if fromIDs.Len() != 3 || whole.Len() != 4 {
		t.Errorf("LoadIDs kept %d entries (want 3), Load %d (want 4)", fromIDs.Len(), whole.Len())
	}
}

// failingStore is a Store whose revocation reads fail.
type failingStore struct{ Store }

func (failingStore) Revocations(context.Context, time.Time) ([]Revocation, error) {
	return nil, errDown
}
func (failingStore) RevocationsByID(context.Context, []string) ([]Revocation, error) {
	return nil, errDown
}

func TestRevocationsLoadErrors(t *testing.T) {
	ctx := context.Background()
	now := newClock().Now()
	var r Revocations
	r.Add(Revocation{TokenID: "local", ExpiresAt: now.Add(time.Hour)})
	if err := r.Load(ctx, failingStore{}, now); !errors.Is(err, errDown) {
		t.Errorf("Load = %v, want the store's error", err)
	}
	if err := r.LoadIDs(ctx, failingStore{}, []string{"x"}, now); !errors.Is(err, errDown) {
		t.Errorf("LoadIDs = %v, want the store's error", err)
	}
	if err := r.LoadIDs(ctx, failingStore{}, nil, now); err != nil {
		t.Errorf("LoadIDs of no IDs read the store: %v", err)
	}
	if !r.IsRevoked("local", now) || r.Len() != 1 {
		t.Error("a failed load changed the list")
	}
}
