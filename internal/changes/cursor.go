package changes

import (
	"maps"
	"slices"
	"time"
)

// cursor is a reader's position in the change log: the highest seq seen,
// and the seqs below it not seen yet (gaps), each with when it was first
// missed. Every seq at or below the low watermark (the lowest gap minus
// one, or high when there is no gap) has been delivered or given up.
type cursor struct {
	high int64
	gaps map[int64]time.Time
	// maxGaps bounds gaps; a jump that would pass it sets overflow.
	maxGaps int
}

// low returns the low watermark.
func (c *cursor) low() int64 {
	low := c.high
	for s := range c.gaps {
		low = min(low, s-1)
	}
	return low
}

// missing returns the gaps in ascending order.
func (c *cursor) missing() []int64 {
	return slices.Sorted(maps.Keys(c.gaps))
}

// take advances the cursor past rows (in seq order) read at now and
// returns those not delivered before. overflow reports that more gaps
// opened than the cursor keeps: the oldest were given up, so changes may
// have been missed.
func (c *cursor) take(rows []Change, now time.Time) (fresh []Change, overflow bool) {
	for _, r := range rows {
		_, gap := c.gaps[r.Seq]
		switch {
		case r.Seq > c.high:
			for s := c.high + 1; s < r.Seq; s++ {
				if len(c.gaps) >= c.maxGaps {
					// A jump this wide is rare (a sequence's cached values
					// lost in a crash, a burst of rollbacks): give up the
					// gaps from here on rather than grow without bound.
					overflow = true
					break
				}
				c.gaps[s] = now
			}
			c.high = r.Seq
		case gap:
			delete(c.gaps, r.Seq)
		default:
			continue // delivered before
		}
		fresh = append(fresh, r)
	}
	return fresh, overflow
}

// expire gives up the gaps first missed more than grace before now and
// returns how many.
func (c *cursor) expire(now time.Time, grace time.Duration) int {
	n := 0
	for s, first := range c.gaps {
		if now.Sub(first) > grace {
			delete(c.gaps, s)
			n++
		}
	}
	return n
}

// reset places the cursor after the log's latest seqs (highest first), as
// a reader that has just loaded everything: seqs missing among them are
// gaps, since their transactions may still commit.
func (c *cursor) reset(latest []int64, now time.Time) {
	c.gaps = map[int64]time.Time{}
	c.high = 0
	if len(latest) == 0 {
		return
	}
	c.high = latest[0]
	seen := make(map[int64]bool, len(latest))
	for _, s := range latest {
		seen[s] = true
	}
	for s := latest[len(latest)-1] + 1; s < c.high && len(c.gaps) < c.maxGaps; s++ {
		if !seen[s] {
			c.gaps[s] = now
		}
	}
}
