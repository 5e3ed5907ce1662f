package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var auditTests = []test{
	{"RoundTrip", testAuditRoundTrip},
	{"ChainPerTenant", testAuditChainPerTenant},
	{"AtomicWithClient", testAuditAtomicWithClient},
	{"ConcurrentAppends", testAuditConcurrentAppends},
	{"AtomicWithTenant", testAuditAtomicWithTenant},
}

// An account change and its event share the one unit of work too.
func testAuditAtomicWithTenant(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("failed after the second write")
	err := s.InAccountTx(ctx, func(tx account.Tx) error {
		if err := tx.CreateTenant(ctx, &account.Tenant{ID: "ten_new", Name: "New", Slug: "new", CreatedAt: base}); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, newEvent("ten_a", account.ActionTenantCreated, "ten_new", 0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InAccountTx: got %v, want the callback's error", err)
	}
	if _, err := s.Tenant(ctx, "ten_new"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("the aborted tenant was stored: %v", err)
	}
	if es := readEvents(t, s, "ten_a"); len(es) != 0 {
		t.Errorf("the aborted event was stored: %+v", es)
	}
	if err := s.InAccountTx(ctx, func(tx account.Tx) error {
		if err := tx.CreateTenant(ctx, &account.Tenant{ID: "ten_new", Name: "New", Slug: "new", CreatedAt: base}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, newEvent("ten_a", account.ActionTenantCreated, "ten_new", 0))
	}); err != nil {
		t.Fatal(err)
	}
	if tn, err := s.TenantBySlug(ctx, "new"); err != nil || tn.ID != "ten_new" || len(readEvents(t, s, "ten_a")) != 1 {
		t.Fatalf("committed: %+v, %v", tn, err)
	}
}

func newEvent(tenantID, action, target string, d time.Duration) *audit.Event {
	actor := authz.Actor{Kind: authz.KindCLI, ID: "cli:alice", Name: "alice", TenantID: tenantID,
		SourceAddr: "192.0.2.7", RequestID: "req-" + target}
	e := audit.New(actor, at(d), action, "client", target)
	e.Changes = []string{"name", "scopes"}
	e.Details = map[string]string{"secret_id": "sec_" + target, "grace_seconds": "0"}
	return e
}

func appendEvents(t *testing.T, s store.Store, es ...*audit.Event) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		for _, e := range es {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func readEvents(t *testing.T, s store.Store, tenantID string) []audit.Event {
	t.Helper()
	es, err := s.AuditEvents(t.Context(), tenantID, 0, 1000)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	return es
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	e1, e2 := newEvent("ten_a", "client.created", "lkc_one", 0), newEvent("ten_a", "client.updated", "lkc_one", time.Second)
	e2.Changes, e2.Details = nil, nil
	appendEvents(t, s, e1)
	appendEvents(t, s, e2)
	got := readEvents(t, s, "ten_a")
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	checkEqual(t, "event 1", got[0], *e1)
	checkEqual(t, "event 2", got[1], *e2)
	if got[0].Seq != 1 || got[1].Seq != 2 || got[1].PrevHash != got[0].Hash || got[0].PrevHash != "" {
		t.Errorf("chain links: %+v", got)
	}
	if err := audit.Verify(got, 0, ""); err != nil {
		t.Errorf("Verify of stored events: %v", err)
	}
	if rest, err := s.AuditEvents(t.Context(), "ten_a", 1, 10); err != nil || len(rest) != 1 || rest[0].Seq != 2 {
		t.Errorf("AuditEvents after 1: %v, %v", rest, err)
	}
	if err := audit.Verify(got[1:], got[0].Seq, got[0].Hash); err != nil {
		t.Errorf("Verify of a run: %v", err)
	}
}

func testAuditChainPerTenant(t *testing.T, s store.Store) {
	appendEvents(t, s, newEvent("ten_a", "a", "lkc_1", 0), newEvent("ten_b", "b", "lkc_2", 0), newEvent("ten_a", "a", "lkc_3", 0))
	a, b := readEvents(t, s, "ten_a"), readEvents(t, s, "ten_b")
	if len(a) != 2 || len(b) != 1 || b[0].Seq != 1 || b[0].PrevHash != "" {
		t.Fatalf("chains: a=%d b=%+v", len(a), b)
	}
	if err := audit.Verify(a, 0, ""); err != nil {
		t.Error(err)
	}
}

// A change and its event commit together: a failure after both writes
// leaves neither, and the chain's head does not move.
func testAuditAtomicWithClient(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_existing", "Existing"))
	c := newClient("ten_a", "lkc_atomic", "Atomic")
	boom := errors.New("failed after the second write")
	err := s.InTx(t.Context(), func(tx client.Tx) error {
		if err := tx.CreateClient(t.Context(), c); err != nil {
			return err
		}
		if err := tx.AppendAudit(t.Context(), newEvent("ten_a", "client.created", c.ID, 0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: got %v, want the callback's error", err)
	}
	checkNothingWritten(t, s, c)
	if es := readEvents(t, s, "ten_a"); len(es) != 0 {
		t.Fatalf("the aborted event was stored: %+v", es)
	}
	// The head did not move: the next event starts the chain.
	appendEvents(t, s, newEvent("ten_a", "client.created", "lkc_next", 0))
	if es := readEvents(t, s, "ten_a"); len(es) != 1 || es[0].Seq != 1 || es[0].PrevHash != "" {
		t.Fatalf("after an aborted append: %+v", es)
	}
	// And the other way round: a failing second write undoes the first.
	err = s.InTx(t.Context(), func(tx client.Tx) error {
		if err := tx.AppendAudit(t.Context(), newEvent("ten_a", "client.created", "lkc_dup", 0)); err != nil {
			return err
		}
		return tx.CreateSecret(t.Context(), newSecret("lkc_missing", "sec_orphan", base))
	})
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("secret for a missing client: got %v, want client.ErrNotFound", err)
	}
	if es := readEvents(t, s, "ten_a"); len(es) != 1 {
		t.Fatalf("the event of a failed change was kept: %d events", len(es))
	}
}

// Appends from concurrent transactions form one unbroken chain.
func testAuditConcurrentAppends(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.InTx(context.Background(), func(tx client.Tx) error {
				return tx.AppendAudit(context.Background(), newEvent("ten_a", "client.updated", fmt.Sprintf("lkc_%d", i), 0))
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	es := readEvents(t, s, "ten_a")
	if len(es) != n {
		t.Fatalf("got %d events, want %d", len(es), n)
	}
	if err := audit.Verify(es, 0, ""); err != nil {
		t.Fatalf("concurrent appends broke the chain: %v", err)
	}
}

// AppendOneEvent appends one audit event to tenant "ten_a", for backends'
// own tests of what their database refuses.
func AppendOneEvent(t *testing.T, s store.Store) {
	t.Helper()
	appendEvents(t, s, newEvent("ten_a", "client.created", "lkc_x", 0))
	if n := len(readEvents(t, s, "ten_a")); n != 1 {
		t.Fatalf("got %d events, want 1", n)
	}
}
