package token

import (
	"context"
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
				if i%50 == 0 {
					if err := r.Load(ctx, st, now); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if r.Len() != 800 {
		t.Errorf("%d entries, want 800: a Load lost a concurrent Add", r.Len())
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
