package audit

import (
	"context"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/internal/authz"
)

// memReader is a stored chain: events by tenant, and the heads recorded
// beside them.
type memReader struct {
	events []Event
	heads  map[string][2]any // seq, hash
	reads  int
}

func (m *memReader) AuditEvents(_ context.Context, tenantID string, after int64, limit int) ([]Event, error) {
	m.reads++
	var out []Event
	for _, e := range m.events {
		if e.TenantID == tenantID && e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memReader) AuditHead(_ context.Context, tenantID string) (int64, string, error) {
	h, ok := m.heads[tenantID]
	if !ok {
		return 0, "", nil
	}
	return h[0].(int64), h[1].(string), nil
}

func stored(es []Event) *memReader {
	last := es[len(es)-1]
	return &memReader{events: es, heads: map[string][2]any{last.TenantID: {last.Seq, last.Hash}}}
}

func TestVerifyChain(t *testing.T) {
	ctx := context.Background()
	for _, batch := range []int{0, 1, 3, 7, 10} {
		r := stored(chain(7))
		n, err := VerifyChain(ctx, r, "ten_a", batch)
		if err != nil || n != 7 {
			t.Errorf("batch %d: VerifyChain = %d, %v; want 7 verified", batch, n, err)
		}
	}
	r := stored(chain(7))
	if _, err := VerifyChain(ctx, r, "ten_a", 3); err != nil || r.reads != 3 {
		t.Errorf("7 events in batches of 3 took %d reads (%v), want 3", r.reads, err)
	}
	if n, err := VerifyChain(ctx, &memReader{}, "ten_a", 0); err != nil || n != 0 {
		t.Errorf("an empty chain: %d, %v", n, err)
	}
}

// VerifyChain names the first broken link, whichever batch it falls in.
func TestVerifyChainNamesTheFirstBrokenLink(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(r *memReader)
		seq    int64
		kind   BreakKind
		reason string
	}{
		{"edited", func(r *memReader) { r.events[4].ActorName = "mallory" }, 5, BreakAltered, "event 5 was altered"},
		{"deleted", func(r *memReader) { r.events = append(r.events[:3], r.events[4:]...) }, 4, BreakMissing, "event 4 is missing"},
		{"deleted first", func(r *memReader) { r.events = r.events[1:] }, 1, BreakMissing, "event 1 is missing"},
		{"tail deleted", func(r *memReader) { r.events = r.events[:5] }, 6, BreakMissing, "event 6 is missing"},
		{"swapped seq", func(r *memReader) {
			r.events[2].Seq, r.events[3].Seq = r.events[3].Seq, r.events[2].Seq
			r.events[2], r.events[3] = r.events[3], r.events[2]
		}, 3, BreakUnlinked, "event 3 does not link to event 2"},
		{"swapped content", func(r *memReader) {
			a, b := r.events[2], r.events[3]
			a.Seq, b.Seq = b.Seq, a.Seq
			r.events[2], r.events[3] = b, a
		}, 3, BreakUnlinked, "event 3 does not link to event 2"},
		{"rehashed", func(r *memReader) {
			r.events[1].Result = "denied"
			r.events[1].Hash = hash(&r.events[1])
		}, 3, BreakUnlinked, "event 3 does not link to event 2"},
		{"last rehashed", func(r *memReader) {
			e := &r.events[6]
			e.Action = "client.created"
			e.Hash = hash(e)
		}, 7, BreakAltered, "event 7 was altered"},
		{"moved from another tenant", func(r *memReader) {
			other := chain(7)
			for i := range other {
				other[i].TenantID = "ten_b"
				Seal(&other[i], int64(i), prevHashOf(other, i))
			}
			moved := other[3]
			moved.TenantID = "ten_a" // as a row moved across would read
			r.events[3] = moved
		}, 4, BreakUnlinked, "event 4 does not link to event 3"},
		{"added past the head", func(r *memReader) {
			e := New(authz.SystemActor("ten_a"), r.events[6].At, "client.deleted", "client", "lkc_x")
			Seal(e, 7, r.events[6].Hash)
			r.events = append(r.events, *e)
		}, 8, BreakUnrecorded, "event 8 was not appended through the store: it lies past the chain's recorded head"},
	}
	for _, tc := range tests {
		for _, batch := range []int{2, 100} {
			r := stored(chain(7))
			tc.tamper(r)
			n, err := VerifyChain(context.Background(), r, "ten_a", batch)
			var b *Break
			if !errors.As(err, &b) || !errors.Is(err, ErrBroken) {
				t.Errorf("%s (batch %d): VerifyChain = %d, %v; want a *Break", tc.name, batch, n, err)
				continue
			}
			if b.Seq != tc.seq || b.Kind != tc.kind || b.Reason() != tc.reason || b.TenantID != "ten_a" || n != tc.seq-1 {
				t.Errorf("%s (batch %d): %d checked, %+v %q; want event %d %s, %q", tc.name, batch, n, b, b.Reason(),
					tc.seq, tc.kind, tc.reason)
			}
		}
	}
}

func prevHashOf(es []Event, i int) string {
	if i == 0 {
		return ""
	}
	return es[i-1].Hash
}
