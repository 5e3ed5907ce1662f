package main

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// TestPruneExpired runs the background pruning with a short interval: an
// expired opaque token and revocation leave the database and the
// in-memory list, a live revocation stays.
func TestPruneExpired(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	expired := token.Revocation{TokenID: "jti_old", ExpiresAt: now.Add(-time.Minute)}
	live := token.Revocation{TokenID: "jti_live", ExpiresAt: now.Add(time.Hour)}
	for _, rv := range []token.Revocation{expired, live} {
		if err := st.Revoke(ctx, rv); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateToken(ctx, &token.Record{ID: "jti_opaque", Hash: "h", ClientID: "lkc_x",
		IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	revoked := &token.Revocations{}
	revoked.Add(expired)

	bg, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		pruneExpired(bg, st, revoked, time.Millisecond, func() time.Time { return now }, func(err error) { t.Error(err) })
	})
	defer func() { cancel(); wg.Wait() }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := st.TokenByHash(ctx, "h")
		rvs, rerr := st.Revocations(ctx, now.Add(-time.Hour))
		if rerr != nil {
			t.Fatal(rerr)
		}
		if errors.Is(err, token.ErrNotFound) && len(rvs) == 1 && revoked.Len() == 1 && revoked.IsRevoked("jti_live", now) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not pruned within 10s: token %v, revocations %v, %d in memory", err, rvs, revoked.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
