package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/admin/idempotency"
	"github.com/latchkey/latchkey/internal/store"
)

var idempotencyTests = []test{
	{"ReserveCompleteReplay", testIdempotencyReserve},
	{"ExpiredIsReplaced", testIdempotencyExpired},
	{"ReleaseFreesKey", testIdempotencyRelease},
	{"ConcurrentReserveOneWins", testIdempotencyConcurrent},
}

func idemRecord(key string, at time.Time) *idempotency.Record {
	return &idempotency.Record{TenantID: "ten_a", ActorID: "lkc_actor", Key: key, RequestHash: "h1",
		CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
}

func testIdempotencyReserve(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := idemRecord("k1", base)
	if got, err := s.ReserveIdempotency(ctx, rec); err != nil || got != nil {
		t.Fatalf("first reserve: %+v, %v", got, err)
	}
	got, err := s.ReserveIdempotency(ctx, idemRecord("k1", base.Add(time.Second)))
	if err != nil || got == nil || got.Status != 0 || got.RequestHash != "h1" {
		t.Fatalf("reserve while running: %+v, %v", got, err)
	}
	rec.Status, rec.Body, rec.ExpiresAt = 201, []byte(`{"client_id":"x"}`), base.Add(24*time.Hour)
	if err := s.CompleteIdempotency(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err = s.ReserveIdempotency(ctx, idemRecord("k1", base.Add(time.Hour)))
	if err != nil || got == nil || got.Status != 201 || string(got.Body) != `{"client_id":"x"}` ||
		!got.ExpiresAt.Equal(base.Add(24*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("replay: %+v, %v", got, err)
	}
	// Keys are per actor and per tenant.
	other := idemRecord("k1", base)
	other.ActorID = "lkc_other"
	if got, err := s.ReserveIdempotency(ctx, other); err != nil || got != nil {
		t.Errorf("another actor's key: %+v, %v", got, err)
	}
	other = idemRecord("k1", base)
	other.TenantID = "ten_b"
	if got, err := s.ReserveIdempotency(ctx, other); err != nil || got != nil {
		t.Errorf("another tenant's key: %+v, %v", got, err)
	}
}

func testIdempotencyExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.ReserveIdempotency(ctx, idemRecord("k2", base)); err != nil {
		t.Fatal(err)
	}
	// The reservation lapsed (its request crashed): the key is free.
	later := idemRecord("k2", base.Add(2*time.Minute))
	later.RequestHash = "h2"
	if got, err := s.ReserveIdempotency(ctx, later); err != nil || got != nil {
		t.Fatalf("after expiry: %+v, %v", got, err)
	}
	got, err := s.ReserveIdempotency(ctx, idemRecord("k2", base.Add(2*time.Minute+time.Second)))
	if err != nil || got == nil || got.RequestHash != "h2" {
		t.Fatalf("the replacement was not stored: %+v, %v", got, err)
	}
	if err := s.PruneIdempotency(ctx, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReserveIdempotency(ctx, idemRecord("k2", base)); err != nil || got != nil {
		t.Errorf("pruned record still held the key: %+v, %v", got, err)
	}
}

func testIdempotencyRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.ReserveIdempotency(ctx, idemRecord("k3", base)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseIdempotency(ctx, "ten_a", "lkc_actor", "k3"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReserveIdempotency(ctx, idemRecord("k3", base)); err != nil || got != nil {
		t.Fatalf("released key still held: %+v, %v", got, err)
	}
	// A completed record is not released: its response stays.
	rec := idemRecord("k3", base)
	rec.Status, rec.Body, rec.ExpiresAt = 201, []byte("{}"), base.Add(time.Hour)
	if err := s.CompleteIdempotency(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseIdempotency(ctx, "ten_a", "lkc_actor", "k3"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReserveIdempotency(ctx, idemRecord("k3", base)); err != nil || got == nil || got.Status != 201 {
		t.Fatalf("completed record released: %+v, %v", got, err)
	}
}

func testIdempotencyConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	won := make(chan bool, n)
	for range n {
		wg.Go(func() {
			got, err := s.ReserveIdempotency(ctx, idemRecord("k4", base))
			if err != nil {
				t.Error(err)
			}
			won <- got == nil
		})
	}
	wg.Wait()
	close(won)
	wins := 0
	for w := range won {
		if w {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d reservations won the key, want 1", wins)
	}
}
