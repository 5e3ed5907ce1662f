package client

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// The spans of the fleet's statistics.
const (
	// ExpiringSoon is how close a secret's expiry must be for it to count
	// as expiring soon: the dashboard's banner.
	ExpiringSoon = 30 * day
	// ExpiryWeeks is how many weeks ahead the expiry histogram reaches.
	ExpiryWeeks = 26
	// FleetTokenDays is how many days the fleet's daily token counts
	// cover, ending today.
	FleetTokenDays = 30
	// MaxTokenVolumeDays is the most days TokenVolume covers.
	MaxTokenVolumeDays = 90
	// TokenHistoryDays is how long the stores keep daily token counts:
	// older days are pruned.
	TokenHistoryDays = 400
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// DayCount is the number of tokens issued in one UTC day.
type DayCount struct {
	Day    time.Time // UTC midnight
	Tokens int64
}

// Stats are the figures of a fleet of clients: the console's dashboard.
type Stats struct {
	// ByStatus counts the clients of each status, every status present.
	ByStatus map[Status]int64
	Total    int64
	// ExpiringSoon counts the active clients whose secret expires from now
	// to ExpiringSoon later.
	ExpiringSoon int64
	// Expired counts the active clients whose secret has expired.
	Expired int64
	// ExpiringWeeks has ExpiryWeeks entries: entry i counts the active
	// clients whose secret expires from now plus i weeks to now plus i+1
	// weeks (excluded).
	ExpiringWeeks []int64
	// TokensDaily has FleetTokenDays entries, oldest first and ending
	// with today (UTC): the tokens issued to the clients each day, 0 for
	// days without tokens.
	TokensDaily []DayCount
}

// Stats returns the statistics of the clients the actor may view; the
// actor needs oauth:client:view. An actor who holds it in some divisions
// only sees figures over those divisions, never the tenant's: their
// clients' statuses and expiry, and the tokens issued to clients while
// they were in them (so the tokens of clients since deleted still count,
// and those of a client that moved stay where they were issued).
func (s *Service) Stats(ctx context.Context, actor Actor) (*Stats, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.ClientView); err != nil {
		return nil, err
	}
	now := s.now()
	from, to := dayRange(now, FleetTokenDays)
	q := FleetQuery{TenantID: actor.TenantID, TokensFrom: from, TokensTo: to}
	if all, ids := actor.Divisions(authz.ClientView); !all {
		q.Divisions = ids
	}
	// Bounds 0 to ExpiryWeeks are the weeks' edges, from now; the last
	// one ends the soon window.
	for i := range ExpiryWeeks + 1 {
		q.ExpiresBefore = append(q.ExpiresBefore, now.Add(time.Duration(i)*week))
	}
	q.ExpiresBefore = append(q.ExpiresBefore, now.Add(ExpiringSoon))
	fc, err := s.Repo.FleetCounts(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(fc.ExpiringBefore) != len(q.ExpiresBefore) {
		return nil, fmt.Errorf("client: stats: %d expiry counts for %d bounds", len(fc.ExpiringBefore), len(q.ExpiresBefore))
	}
	st := &Stats{ByStatus: map[Status]int64{}, TokensDaily: fillDays(from, FleetTokenDays, fc.Tokens)}
	for _, status := range []Status{StatusActive, StatusInactive, StatusRevoked} {
		st.ByStatus[status] = fc.ByStatus[status]
	}
	for _, n := range fc.ByStatus {
		st.Total += n
	}
	before := fc.ExpiringBefore
	st.Expired = before[0]
	st.ExpiringSoon = before[ExpiryWeeks+1] - before[0]
	st.ExpiringWeeks = make([]int64, ExpiryWeeks)
	for i := range st.ExpiringWeeks {
		st.ExpiringWeeks[i] = before[i+1] - before[i]
	}
	return st, nil
}

// TokenVolume returns the tokens issued to a client per UTC day over the
// last days days (1 to MaxTokenVolumeDays), oldest first and ending with
// today, 0 for days without tokens. The actor needs oauth:client:view
// where the client is: a client it may not view is ErrNotFound, as in Get.
func (s *Service) TokenVolume(ctx context.Context, actor Actor, clientID string, days int) ([]DayCount, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.ClientView); err != nil {
		return nil, err
	}
	if days < 1 || days > MaxTokenVolumeDays {
		return nil, errs.Invalid("days", fmt.Sprintf("must be from 1 to %d", MaxTokenVolumeDays))
	}
	if ValidateClientID(clientID) != nil {
		return nil, ErrNotFound
	}
	c, err := s.Repo.Client(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if c.TenantID != actor.TenantID || !actor.CanIn(authz.ClientView, c.DivisionID) {
		return nil, ErrNotFound
	}
	from, to := dayRange(s.now(), days)
	counts, err := s.Repo.ClientTokenDays(ctx, clientID, from, to)
	if err != nil {
		return nil, err
	}
	return fillDays(from, days, counts), nil
}

// unixDay is t's UTC day as days since 1970-01-01.
func unixDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// dayStart is the UTC midnight of a unixDay.
func dayStart(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// dayRange is the n UTC days ending with now's: the first one's midnight,
// and the midnight after now.
func dayRange(now time.Time, n int) (from, to time.Time) {
	today := unixDay(now)
	return dayStart(today - int64(n) + 1), dayStart(today + 1)
}

// fillDays returns the n days from from, with the tokens counts has for
// them and 0 for the others.
func fillDays(from time.Time, n int, counts []DayCount) []DayCount {
	out := make([]DayCount, n)
	first := unixDay(from)
	for i := range out {
		out[i].Day = dayStart(first + int64(i))
	}
	for _, c := range counts {
		if i := unixDay(c.Day) - first; i >= 0 && i < int64(n) {
			out[i].Tokens += c.Tokens
		}
	}
	return out
}
