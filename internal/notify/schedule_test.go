package notify

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2027, 1, 10, 9, 30, 0, 0, time.UTC)

// simulate sweeps a secret's schedule at every instant of at, recording
// as a sweep would, and returns the stages sent and skipped in order.
func simulate(created, expires time.Time, at []time.Time) (sent, skipped []Stage) {
	var recorded []Stage
	for _, now := range at {
		p := PlanAt(created, expires, now, recorded)
		skipped = append(skipped, p.Skip...)
		recorded = append(recorded, p.Skip...)
		if p.Sends() {
			sent = append(sent, p.Send)
			recorded = append(recorded, p.Send)
		}
	}
	return sent, skipped
}

// hourly returns every hour from from to to.
func hourly(from, to time.Time) []time.Time {
	var out []time.Time
	for t := from; !t.After(to); t = t.Add(time.Hour) {
		out = append(out, t)
	}
	return out
}

func TestScheduleByLifetime(t *testing.T) {
	for _, tc := range []struct {
		days int
		want []Stage
	}{
		{1, []Stage{0}},
		{3, []Stage{1, 0}},
		{7, []Stage{1, 0}},
		{8, []Stage{7, 1, 0}},
		{10, []Stage{7, 1, 0}},
		{14, []Stage{7, 1, 0}},
		{29, []Stage{14, 7, 1, 0}},
		{30, []Stage{14, 7, 1, 0}},
		{31, []Stage{30, 14, 7, 1, 0}},
		{60, []Stage{30, 14, 7, 1, 0}},
		{180, []Stage{30, 14, 7, 1, 0}},
	} {
		expires := t0.Add(time.Duration(tc.days) * day)
		sent, skipped := simulate(t0, expires, hourly(t0, expires.Add(10*day)))
		if !slices.Equal(sent, tc.want) || len(skipped) != 0 {
			t.Errorf("%d-day secret swept hourly: sent %v, skipped %v; want sent %v, none skipped", tc.days, sent, skipped, tc.want)
		}
	}
}

func TestStageDueTimes(t *testing.T) {
	expires := t0.Add(60 * day)
	for _, s := range Stages {
		due := s.DueAt(expires)
		if p := PlanAt(t0, expires, due.Add(-time.Microsecond), stagesBefore(s)); p.Sends() {
			t.Errorf("stage %d sent a microsecond before it is due", s)
		}
		if p := PlanAt(t0, expires, due, stagesBefore(s)); !p.Sends() || p.Send != s {
			t.Errorf("stage %d at its due time: plan %+v", s, p)
		}
	}
	if at, ok := FirstDue(t0, expires); !ok || !at.Equal(expires.Add(-30*day)) {
		t.Errorf("FirstDue of a 60-day secret: %v %v", at, ok)
	}
	if at, ok := FirstDue(t0, t0.Add(10*day)); !ok || !at.Equal(t0.Add(3*day)) {
		t.Errorf("FirstDue of a 10-day secret: %v %v, want its 7-day stage", at, ok)
	}
	if _, ok := FirstDue(t0, time.Time{}); ok {
		t.Error("a secret that never expires has a first warning")
	}
	if p := PlanAt(t0, time.Time{}, t0.Add(400*day), nil); p.Sends() || !p.Next.IsZero() {
		t.Errorf("a secret that never expires: plan %+v", p)
	}
}

// stagesBefore lists the stages earlier than s, as recorded by sweeps
// that ran on time.
func stagesBefore(s Stage) []Stage {
	var out []Stage
	for _, st := range Stages {
		if st > s {
			out = append(out, st)
		}
	}
	return out
}

// TestMissedWeek: a sweep down for a week sends only the most urgent of
// the stages that came due meanwhile, and records the others as skipped.
func TestMissedWeek(t *testing.T) {
	expires := t0.Add(60 * day)
	at := append(hourly(t0, expires.Add(-20*day)), hourly(expires.Add(-6*day), expires.Add(8*day))...)
	sent, skipped := simulate(t0, expires, at)
	if want := []Stage{30, 7, 1, 0}; !slices.Equal(sent, want) {
		t.Errorf("sent %v, want %v", sent, want)
	}
	if want := []Stage{14}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	// Down from before the first stage until the day before expiry.
	sent, skipped = simulate(t0, expires, []time.Time{t0, expires.Add(-23 * time.Hour), expires})
	if want := []Stage{1, 0}; !slices.Equal(sent, want) || !slices.Equal(skipped, []Stage{30, 14, 7}) {
		t.Errorf("down until the last day: sent %v skipped %v", sent, skipped)
	}
	p := PlanAt(t0, expires, expires.Add(-23*time.Hour), nil)
	if !p.Next.Equal(expires) {
		t.Errorf("after the 1-day stage the next is due at expiry, got %v", p.Next)
	}
}

// TestStaleExpiry: an on-expiry warning more than StaleAfter late is not
// sent; up to then it is.
func TestStaleExpiry(t *testing.T) {
	expires := t0.Add(60 * day)
	done := []Stage{30, 14, 7, 1}
	if p := PlanAt(t0, expires, expires.Add(StaleAfter-time.Second), done); !p.Sends() || p.Send != 0 {
		t.Errorf("6 days late: plan %+v, want the on-expiry warning", p)
	}
	p := PlanAt(t0, expires, expires.Add(StaleAfter), done)
	if p.Sends() || !slices.Equal(p.Skip, []Stage{0}) || !p.Next.IsZero() {
		t.Errorf("7 days late: plan %+v, want it skipped and nothing next", p)
	}
	// Every stage missed and the expiry long past: nothing is sent.
	p = PlanAt(t0, expires, expires.Add(90*day), nil)
	if p.Sends() || !slices.Equal(p.Skip, []Stage{30, 14, 7, 1, 0}) {
		t.Errorf("long expired, never swept: plan %+v", p)
	}
}

func TestPlanIgnoresRecorded(t *testing.T) {
	expires := t0.Add(60 * day)
	// A stage recorded is never planned again, even when due.
	p := PlanAt(t0, expires, expires.Add(-29*day), []Stage{30})
	if p.Sends() || !p.Next.Equal(expires.Add(-14*day)) {
		t.Errorf("30-day stage recorded: plan %+v", p)
	}
}
