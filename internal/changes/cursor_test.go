package changes

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func seqs(cs []Change) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.Seq)
	}
	return out
}

func rows(ss ...int64) []Change {
	var out []Change
	for _, s := range ss {
		out = append(out, Change{Seq: s, Kind: Revocation, Key: "jti"})
	}
	return out
}

func newCursor() *cursor { return &cursor{gaps: map[int64]time.Time{}, maxGaps: 100} }

func TestCursorInOrder(t *testing.T) {
	c := newCursor()
	fresh, overflow := c.take(rows(1, 2, 3), t0)
	if overflow || !slices.Equal(seqs(fresh), []int64{1, 2, 3}) {
		t.Fatalf("take = %v, %v", seqs(fresh), overflow)
	}
	if c.low() != 3 || len(c.missing()) != 0 {
		t.Fatalf("low %d, missing %v; want 3, none", c.low(), c.missing())
	}
	// Rows read again are not delivered again.
	if fresh, _ := c.take(rows(2, 3, 4), t0); !slices.Equal(seqs(fresh), []int64{4}) {
		t.Fatalf("second take = %v, want [4]", seqs(fresh))
	}
}

func TestCursorGapFilledLate(t *testing.T) {
	c := newCursor()
	c.take(rows(1, 4), t0)
	if !slices.Equal(c.missing(), []int64{2, 3}) || c.low() != 1 || c.high != 4 {
		t.Fatalf("missing %v, low %d, high %d; want [2 3], 1, 4", c.missing(), c.low(), c.high)
	}
	// 3 commits late: it is delivered, and the watermark waits for 2.
	if fresh, _ := c.take(rows(3), t0.Add(time.Second)); !slices.Equal(seqs(fresh), []int64{3}) {
		t.Fatalf("late row = %v, want [3]", seqs(fresh))
	}
	if !slices.Equal(c.missing(), []int64{2}) || c.low() != 1 {
		t.Fatalf("missing %v, low %d; want [2], 1", c.missing(), c.low())
	}
	if fresh, _ := c.take(rows(2, 3, 5), t0.Add(2*time.Second)); !slices.Equal(seqs(fresh), []int64{2, 5}) {
		t.Fatalf("take = %v, want [2 5]", seqs(fresh))
	}
	if len(c.missing()) != 0 || c.low() != 5 {
		t.Fatalf("missing %v, low %d; want none, 5", c.missing(), c.low())
	}
}

func TestCursorGivesUpGapsAfterGrace(t *testing.T) {
	c := newCursor()
	c.take(rows(1, 3), t0)
	c.take(rows(6), t0.Add(time.Minute)) // gaps 4 and 5 open later
	if n := c.expire(t0.Add(time.Minute), time.Minute); n != 0 {
		t.Fatalf("expired %d gaps at exactly the grace period", n)
	}
	if n := c.expire(t0.Add(time.Minute+time.Nanosecond), time.Minute); n != 1 {
		t.Fatalf("expired %d gaps, want 1 (seq 2)", n)
	}
	if !slices.Equal(c.missing(), []int64{4, 5}) || c.low() != 3 {
		t.Fatalf("missing %v, low %d; want [4 5], 3", c.missing(), c.low())
	}
	c.expire(t0.Add(3*time.Minute), time.Minute)
	if len(c.missing()) != 0 || c.low() != 6 {
		t.Fatalf("missing %v, low %d; want none, 6", c.missing(), c.low())
	}
	// A row committed after its gap was given up is not delivered: the
	// price of giving up, which is why the grace period is long.
	if fresh, _ := c.take(rows(2), t0.Add(4*time.Minute)); len(fresh) != 0 {
		t.Fatalf("a given-up seq was delivered: %v", seqs(fresh))
	}
}

func TestCursorOverflow(t *testing.T) {
	c := &cursor{gaps: map[int64]time.Time{}, maxGaps: 3}
	if _, overflow := c.take(rows(1, 5), t0); overflow {
		t.Fatal("3 gaps overflowed a cursor that keeps 3")
	}
	if _, overflow := c.take(rows(7), t0); !overflow {
		t.Fatal("a 4th gap did not overflow")
	}
	if len(c.gaps) > 3 {
		t.Fatalf("cursor keeps %d gaps, more than 3", len(c.gaps))
	}
}

func TestCursorReset(t *testing.T) {
	c := newCursor()
	c.take(rows(1, 3), t0)
	c.reset([]int64{10, 8, 7, 5}, t0)
	if c.high != 10 || !slices.Equal(c.missing(), []int64{6, 9}) {
		t.Fatalf("after reset: high %d, missing %v; want 10, [6 9]", c.high, c.missing())
	}
	c.reset(nil, t0)
	if c.high != 0 || len(c.missing()) != 0 {
		t.Fatalf("reset on an empty log: high %d, missing %v", c.high, c.missing())
	}
}
