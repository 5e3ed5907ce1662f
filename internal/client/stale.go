package client

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
)

// MaxStaleDays bounds the stale report's days.
const MaxStaleDays = 3650

// Stale lists, as List does and with its filters, the clients unused for
// days days at now: last used before then, or never used and created
// before then (a client made yesterday is not stale for never having been
// used). The actor needs oauth:client:view.
func (s *Service) Stale(ctx context.Context, actor Actor, days int, q ListQuery) (*ListPage, error) {
	if days < 1 || days > MaxStaleDays {
		return nil, errs.Invalid("days", "must be a whole number of days from 1 to 3650")
	}
	cut := StaleSince(s.now(), days)
	q.UnusedSince, q.CreatedBefore, q.NeverUsed = cut, cut, false
	return s.List(ctx, actor, q)
}

// StaleSince is the instant before which a client unused for days days
// at now was last used.
func StaleSince(now time.Time, days int) time.Time {
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}
