package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/store"
)

var auditQueryTests = []test{
	{"ValuesRoundTrip", testAuditValuesRoundTrip},
	{"Head", testAuditHead},
	{"Filters", testAuditFilters},
	{"Pages", testAuditPages},
	{"InvalidQuery", testAuditInvalidQuery},
	{"VerifyChain", testAuditVerifyChain},
}

// logEvent is an event of the log the query tests read: by actor, on a
// target, d after base.
func logEvent(tenantID, actorID, action, targetType, targetID string, d time.Duration) *audit.Event {
	actor := authz.Actor{Kind: authz.KindUser, ID: actorID, Name: "Name of " + actorID, TenantID: tenantID,
		SourceAddr: "2001:db8::1", RequestID: fmt.Sprintf("req-%s-%d", targetID, d)}
	return audit.New(actor, at(d), action, targetType, targetID)
}

// Before and After are stored and read back as they were sealed, through
// both readers, and an event without them reads back without them.
func testAuditValuesRoundTrip(t *testing.T, s store.Store) {
	e1 := logEvent("ten_a", "usr_bob", "client.updated", "client", "lkc_1", 0)
	var d audit.Diff
	d.String("name", "Old name", "New name — ✓")
	d.List("redirect_uris", []string{"https://a.example/cb"}, []string{"https://a.example/cb", "https://b.example/cb?x=1,2"})
	d.Seconds("access_token_ttl", time.Hour, 2*time.Hour)
	d.String("description", "had a value", "")
	d.Apply(e1)
	e2 := logEvent("ten_a", "usr_bob", "client.secret_rotated", "client", "lkc_1", time.Second)
	e2.Details = map[string]string{"secret_id": "sec_1"}
	appendEvents(t, s, e1, e2)
	got := readEvents(t, s, "ten_a")
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	checkEqual(t, "event with values", got[0], *e1)
	checkEqual(t, "event without values", got[1], *e2)
	if got[1].Before != nil || got[1].After != nil {
		t.Errorf("an event without values read back with %v, %v", got[1].Before, got[1].After)
	}
	if err := audit.Verify(got, 0, ""); err != nil {
		t.Errorf("Verify of stored events with values: %v", err)
	}
	page, err := s.ListAudit(t.Context(), audit.Query{TenantID: "ten_a"})
	if err != nil || len(page.Events) != 2 {
		t.Fatalf("ListAudit: %+v, %v", page, err)
	}
	checkEqual(t, "listed event", page.Events[0], *e1)
}

func testAuditHead(t *testing.T, s store.Store) {
	ctx := t.Context()
	if seq, hash, err := s.AuditHead(ctx, "ten_a"); err != nil || seq != 0 || hash != "" {
		t.Fatalf("head of an empty chain: %d %q %v", seq, hash, err)
	}
	appendEvents(t, s, newEvent("ten_a", "client.created", "lkc_1", 0), newEvent("ten_b", "client.created", "lkc_2", 0))
	appendEvents(t, s, newEvent("ten_a", "client.updated", "lkc_1", time.Second))
	es := readEvents(t, s, "ten_a")
	if seq, hash, err := s.AuditHead(ctx, "ten_a"); err != nil || seq != 2 || hash != es[1].Hash {
		t.Errorf("head: %d %q %v; want 2 %q", seq, hash, err, es[1].Hash)
	}
	if seq, _, err := s.AuditHead(ctx, "ten_b"); err != nil || seq != 1 {
		t.Errorf("ten_b's head: %d %v", seq, err)
	}
}

// auditLog appends the log the filter and page tests query: six events
// of ten_a and one of ten_b, a minute apart.
func auditLog(t *testing.T, s store.Store) {
	t.Helper()
	appendEvents(t, s,
		logEvent("ten_a", "cli:alice", "client.created", "client", "lkc_1", 0),
		logEvent("ten_a", "usr_bob", "client.updated", "client", "lkc_1", time.Minute),
		logEvent("ten_b", "usr_bob", "client.updated", "client", "lkc_1", time.Minute),
		logEvent("ten_a", "usr_bob", "user.created", "user", "usr_x", 2*time.Minute),
		logEvent("ten_a", "cli:alice", "client.secret_rotated", "client", "lkc_2", 3*time.Minute),
		// Neither of these two is a "client." action.
		logEvent("ten_a", "cli:alice", "clients.exported", "tenant", "ten_a", 4*time.Minute),
		logEvent("ten_a", "usr_bob", "client", "client", "lkc_2", 5*time.Minute),
	)
	appendEvents(t, s, logEvent("ten_a", "usr_bob", "client.updated", "client", "lkc_2", 6*time.Minute))
}

func listSeqs(t *testing.T, s store.Store, q audit.Query) ([]int64, int64) {
	t.Helper()
	page, err := s.ListAudit(t.Context(), q)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", q, err)
	}
	seqs := []int64{}
	for _, e := range page.Events {
		if e.TenantID != q.TenantID {
			t.Errorf("ListAudit(%+v) returned an event of %s", q, e.TenantID)
		}
		seqs = append(seqs, e.Seq)
	}
	return seqs, page.Next
}

func testAuditFilters(t *testing.T, s store.Store) {
	auditLog(t, s)
	tests := []struct {
		name string
		q    audit.Query
		want []int64
	}{
		{"all", audit.Query{}, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"newest first", audit.Query{Desc: true}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"exact action", audit.Query{Action: "client.updated"}, []int64{2, 7}},
		{"action prefix", audit.Query{Action: "client."}, []int64{1, 2, 4, 7}},
		{"another prefix", audit.Query{Action: "user."}, []int64{3}},
		{"an action is not a prefix", audit.Query{Action: "client"}, []int64{6}},
		{"actor", audit.Query{ActorID: "usr_bob"}, []int64{2, 3, 6, 7}},
		{"target type", audit.Query{TargetType: "user"}, []int64{3}},
		{"target", audit.Query{TargetType: "client", TargetID: "lkc_2"}, []int64{4, 6, 7}},
		{"since", audit.Query{Since: at(2 * time.Minute)}, []int64{3, 4, 5, 6, 7}},
		{"until", audit.Query{Until: at(2 * time.Minute)}, []int64{1, 2}},
		{"window", audit.Query{Since: at(time.Minute), Until: at(4 * time.Minute)}, []int64{2, 3, 4}},
		{"together", audit.Query{Action: "client.", ActorID: "usr_bob", Desc: true}, []int64{7, 2}},
		{"seq range", audit.Query{After: 2, Before: 5}, []int64{3, 4}},
		{"nothing", audit.Query{ActorID: "usr_nobody"}, []int64{}},
	}
	for _, tc := range tests {
		tc.q.TenantID = "ten_a"
		if got, next := listSeqs(t, s, tc.q); !slices.Equal(got, tc.want) || next != 0 {
			t.Errorf("%s: seqs %v next %d, want %v and 0", tc.name, got, next, tc.want)
		}
	}
	if got, _ := listSeqs(t, s, audit.Query{TenantID: "ten_b"}); !slices.Equal(got, []int64{1}) {
		t.Errorf("ten_b: %v", got)
	}
	if got, _ := listSeqs(t, s, audit.Query{TenantID: "ten_none"}); len(got) != 0 {
		t.Errorf("an unknown tenant: %v", got)
	}
}

// Pages follow one another through the cursor, either way, filtered or
// not, and the last says so with a zero cursor.
func testAuditPages(t *testing.T, s store.Store) {
	auditLog(t, s)
	walk := func(q audit.Query) [][]int64 {
		var pages [][]int64
		for range 10 {
			seqs, next := listSeqs(t, s, q)
			pages = append(pages, seqs)
			if next == 0 {
				return pages
			}
			if next != seqs[len(seqs)-1] {
				t.Fatalf("next %d is not the page's last seq %v", next, seqs)
			}
			if q.Desc {
				q.Before = next
			} else {
				q.After = next
			}
		}
		t.Fatalf("pages do not end: %v", pages)
		return nil
	}
	for _, tc := range []struct {
		name string
		q    audit.Query
		want [][]int64
	}{
		{"ascending", audit.Query{Limit: 3}, [][]int64{{1, 2, 3}, {4, 5, 6}, {7}}},
		{"exact pages", audit.Query{Limit: 7}, [][]int64{{1, 2, 3, 4, 5, 6, 7}}},
		{"descending", audit.Query{Limit: 4, Desc: true}, [][]int64{{7, 6, 5, 4}, {3, 2, 1}}},
		{"filtered", audit.Query{Limit: 1, Desc: true, Action: "client."}, [][]int64{{7}, {4}, {2}, {1}}},
		{"from a cursor", audit.Query{Limit: 2, After: 3}, [][]int64{{4, 5}, {6, 7}}},
	} {
		tc.q.TenantID = "ten_a"
		if got := walk(tc.q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: pages %v, want %v", tc.name, got, tc.want)
		}
	}
	if got, _ := listSeqs(t, s, audit.Query{TenantID: "ten_a"}); len(got) != 7 {
		t.Errorf("the default limit cut a short log: %v", got)
	}
}

func testAuditInvalidQuery(t *testing.T, s store.Store) {
	for _, q := range []audit.Query{{}, {TenantID: "ten_a", Limit: audit.MaxLimit + 1}, {TenantID: "ten_a", Since: at(time.Hour), Until: at(0)}} {
		if _, err := s.ListAudit(t.Context(), q); len(errs.Fields(err)) == 0 {
			t.Errorf("ListAudit(%+v) = %v, want a validation error", q, err)
		}
	}
}

// A chain written in many transactions verifies through the store,
// whatever the batch.
func testAuditVerifyChain(t *testing.T, s store.Store) {
	for i := range 10 {
		e := logEvent("ten_a", "usr_bob", "client.updated", "client", "lkc_1", time.Duration(i)*time.Second)
		var d audit.Diff
		d.String("name", fmt.Sprint("name ", i), fmt.Sprint("name ", i+1))
		d.Apply(e)
		appendEvents(t, s, e)
	}
	appendEvents(t, s, logEvent("ten_b", "usr_bob", "client.created", "client", "lkc_1", 0))
	for _, batch := range []int{1, 3, 10, 0} {
		if n, err := audit.VerifyChain(t.Context(), s, "ten_a", batch); err != nil || n != 10 {
			t.Errorf("batch %d: VerifyChain = %d, %v; want 10", batch, n, err)
		}
	}
	if n, err := audit.VerifyChain(t.Context(), s, "ten_none", 0); err != nil || n != 0 {
		t.Errorf("an empty chain: %d, %v", n, err)
	}
}

// RawSQL runs one statement on a store's database directly, past the
// guard that keeps audit events append-only: what someone with the
// database's credentials could do.
type RawSQL func(ctx context.Context, query string) error

// CheckAuditTampering appends chains through the real store, alters their
// rows with raw SQL, and checks that audit.VerifyChain names the first
// broken link each time. open returns a new, empty store, and a RawSQL on
// its database; the statements are the same text in every dialect.
func CheckAuditTampering(t *testing.T, open func(t *testing.T) (store.Store, RawSQL)) {
	const a = "tenant_id = 'ten_a' AND "
	tests := []struct {
		name  string
		sql   []string
		seq   int64
		kind  audit.BreakKind
		other bool // whether ten_b's chain breaks too
	}{
		{"edited field", []string{"UPDATE audit_events SET actor_name = 'mallory' WHERE " + a + "seq = 3"},
			3, audit.BreakAltered, false},
		{"edited in a later batch", []string{"UPDATE audit_events SET result = 'denied' WHERE " + a + "seq = 5"},
			5, audit.BreakAltered, false},
		{"edited values", []string{`UPDATE audit_events SET after_values = '{"name":"Evil"}' WHERE ` + a + "seq = 4"},
			4, audit.BreakAltered, false},
		{"values removed", []string{"UPDATE audit_events SET before_values = NULL, after_values = NULL WHERE " + a + "seq = 2"},
			2, audit.BreakAltered, false},
		{"hash replaced", []string{"UPDATE audit_events SET hash = prev_hash WHERE " + a + "seq = 3"},
			3, audit.BreakAltered, false},
		{"deleted row", []string{"DELETE FROM audit_events WHERE " + a + "seq = 4"}, 4, audit.BreakMissing, false},
		{"deleted first", []string{"DELETE FROM audit_events WHERE " + a + "seq = 1"}, 1, audit.BreakMissing, false},
		{"deleted last", []string{"DELETE FROM audit_events WHERE " + a + "seq = 6"}, 6, audit.BreakMissing, false},
		{"swapped seq", []string{
			"UPDATE audit_events SET seq = 1000 WHERE " + a + "seq = 2",
			"UPDATE audit_events SET seq = 2 WHERE " + a + "seq = 3",
			"UPDATE audit_events SET seq = 3 WHERE " + a + "seq = 1000",
		}, 2, audit.BreakUnlinked, false},
		{"swapped content", []string{
			"UPDATE audit_events SET target_id = 'lkc_4' WHERE " + a + "seq = 3",
			"UPDATE audit_events SET target_id = 'lkc_3' WHERE " + a + "seq = 4",
		}, 3, audit.BreakAltered, false},
		{"moved from another tenant", []string{
			"DELETE FROM audit_events WHERE " + a + "seq = 4",
			"UPDATE audit_events SET tenant_id = 'ten_a' WHERE tenant_id = 'ten_b' AND seq = 4",
		}, 4, audit.BreakUnlinked, true},
		{"appended beside the store", []string{`INSERT INTO audit_events (tenant_id, seq, at, actor_kind, actor_id,
			actor_name, action, target_type, target_id, result, source_addr, request_id, changes, details,
			before_values, after_values, prev_hash, hash)
			SELECT tenant_id, 7, at, actor_kind, actor_id, actor_name, 'client.deleted', target_type, target_id, result,
			source_addr, request_id, changes, details, before_values, after_values, hash, hash
			FROM audit_events WHERE ` + a + "seq = 6"}, 7, audit.BreakAltered, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, raw := open(t)
			ctx := t.Context()
			for _, tenant := range []string{"ten_a", "ten_b"} {
				for i := 1; i <= 6; i++ {
					// One transaction each, as the services append.
					e := logEvent(tenant, "usr_bob", "client.updated", "client", fmt.Sprint("lkc_", i), time.Duration(i)*time.Second)
					var d audit.Diff
					d.String("name", fmt.Sprint("name ", i-1), fmt.Sprint("name ", i))
					d.Apply(e)
					appendEvents(t, s, e)
				}
			}
			if n, err := audit.VerifyChain(ctx, s, "ten_a", 4); err != nil || n != 6 {
				t.Fatalf("before tampering: %d, %v", n, err)
			}
			for _, q := range tc.sql {
				if err := raw(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for _, batch := range []int{4, 0} {
				n, err := audit.VerifyChain(ctx, s, "ten_a", batch)
				var b *audit.Break
				if !errors.As(err, &b) || !errors.Is(err, audit.ErrBroken) {
					t.Fatalf("batch %d: VerifyChain = %d, %v; want a broken chain", batch, n, err)
				}
				if b.Seq != tc.seq || b.Kind != tc.kind || b.TenantID != "ten_a" || n != tc.seq-1 {
					t.Errorf("batch %d: %d verified, broken at %d (%s: %s); want %d verified, broken at %d (%s)",
						batch, n, b.Seq, b.Kind, b.Reason(), tc.seq-1, tc.seq, tc.kind)
				}
			}
			if _, err := audit.VerifyChain(ctx, s, "ten_b", 0); (err != nil) != tc.other {
				t.Errorf("ten_b's chain: %v", err)
			}
		})
	}
}
