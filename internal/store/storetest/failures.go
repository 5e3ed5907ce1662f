package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/store"
)

var failureTests = []test{
	{"CountsInWindow", testCountFailure},
	{"ConcurrentCountsDiffer", testCountFailureConcurrent},
	{"Prune", testPruneFailures},
	{"AnnounceLockout", testAnnounceLockout},
}

// A lockout is announced through the change log, where every process
// reads it.
func testAnnounceLockout(t *testing.T, s store.Store) {
	var last int64
	if cs := changesAfter(t, s, 0); len(cs) > 0 {
		last = cs[len(cs)-1].Seq
	}
	key := ratelimit.SharedKey("client_auth", "client:lkc_x")
	if err := s.AnnounceLockout(t.Context(), key, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := kindKeys(changesAfter(t, s, last))
	want := []changes.Change{{Kind: changes.Lockout, Key: ratelimit.LockoutChange(key, at(time.Minute))}}
	if !slices.Equal(got, want) {
		t.Fatalf("logged %v, want %v", got, want)
	}
}

// countFailure counts one failure of key at now in a minute's window and
// checks the count and the window's end.
func countFailure(t *testing.T, s store.Store, key string, now time.Time, want int, wantEnds time.Time) {
	t.Helper()
	n, ends, err := s.CountFailure(t.Context(), key, now, time.Minute)
	if err != nil {
		t.Fatalf("CountFailure(%s, %s): %v", key, now, err)
	}
	if n != want || !ends.Equal(stored(wantEnds)) || ends.Location() != time.UTC {
		t.Fatalf("CountFailure(%s, %s) = %d, %s; want %d, %s", key, now, n, ends, want, stored(wantEnds))
	}
}

func testCountFailure(t *testing.T, s store.Store) {
	for i := range 3 {
		countFailure(t, s, "k:a", at(time.Duration(i)*time.Second), i+1, at(time.Minute))
	}
	countFailure(t, s, "k:b", at(10*time.Second), 1, at(70*time.Second))
	// The window runs from the first failure, not from the latest.
	countFailure(t, s, "k:a", at(59*time.Second), 4, at(time.Minute))
	// At its end the next failure starts a window of its own.
	countFailure(t, s, "k:a", at(time.Minute), 1, at(2*time.Minute))
	countFailure(t, s, "k:a", at(61*time.Second), 2, at(2*time.Minute))
	countFailure(t, s, "k:b", at(69*time.Second), 2, at(70*time.Second))
}

// Failures counted at once, as by several instances, each get a count of
// their own: no two callers both see the threshold reached, and none is
// lost.
func testCountFailureConcurrent(t *testing.T, s store.Store) {
	const n = 16
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts []int
	)
	for range n {
		wg.Go(func() {
			c, _, err := s.CountFailure(t.Context(), "k:hot", base, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			counts = append(counts, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts %v, want 1 to %d once each", counts, n)
		}
	}
}

func testPruneFailures(t *testing.T, s store.Store) {
	countFailure(t, s, "k:old", base, 1, at(time.Minute))
	countFailure(t, s, "k:old", base, 2, at(time.Minute))
	countFailure(t, s, "k:new", at(30*time.Second), 1, at(90*time.Second))
	if err := s.PruneFailures(t.Context(), at(time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	// A failure dated inside the pruned window finds no count: its row
	// is gone. The open window's row stays.
	countFailure(t, s, "k:old", at(50*time.Second), 1, at(110*time.Second))
	countFailure(t, s, "k:new", at(61*time.Second), 2, at(90*time.Second))
}
