package notify

import "time"

// Stage is a warning before a secret's expiry, named by how many days
// before it falls: 30, 14, 7, 1, or 0 for the expiry day itself.
type Stage int

// Stages are the warning stages, the earliest first (seed Breeze).
var Stages = [...]Stage{30, 14, 7, 1, 0}

const day = 24 * time.Hour

// StaleAfter is how long after a secret's expiry its on-expiry warning
// may still go out. A sweep down for longer than that (or a secret that
// had long expired when warnings began) sends nothing about it: a mail
// weeks late tells nobody anything they could still act on.
const StaleAfter = 7 * day

// DueAt is when stage s of a secret that expires at expires is due.
func (s Stage) DueAt(expires time.Time) time.Time { return expires.Add(-time.Duration(s) * day) }

// Applies reports whether stage s belongs to the schedule of a secret
// issued at created that expires at expires: a stage applies only if the
// secret's whole lifetime is longer than it, so a secret that lives three
// days gets the 1-day and the on-expiry warnings, and one that lives 60
// gets all five. The on-expiry warning always applies.
func (s Stage) Applies(created, expires time.Time) bool {
	return s == 0 || expires.Sub(created) > time.Duration(s)*day
}

// FirstDue is when the first warning of a secret issued at created that
// expires at expires is due; false for a secret that never expires.
func FirstDue(created, expires time.Time) (time.Time, bool) {
	if expires.IsZero() {
		return time.Time{}, false
	}
	for _, s := range Stages {
		if s.Applies(created, expires) {
			return s.DueAt(expires), true
		}
	}
	return time.Time{}, false // unreachable: stage 0 always applies
}

// Plan is what a sweep at one instant does with one secret's schedule.
type Plan struct {
	// Send is the stage to warn of now; ok is false when none is.
	Send Stage
	ok   bool
	// Skip are stages come due that are not sent: superseded by a more
	// urgent one (the sweep was down, so nobody gets a burst of stale
	// mails), or Send itself when the warning is stale.
	Skip []Stage
	// Next is when the next stage falls due; zero when none is left.
	Next time.Time
}

// Sends reports whether the plan sends a warning.
func (p Plan) Sends() bool { return p.ok }

// PlanAt works out, at now, the schedule of a secret issued at created
// that expires at expires, given the stages already recorded (sent or
// skipped). Of the stages come due and not yet recorded only the most
// urgent is sent; an on-expiry warning more than StaleAfter late is
// skipped too.
func PlanAt(created, expires, now time.Time, recorded []Stage) Plan {
	var p Plan
	if expires.IsZero() {
		return p
	}
	done := func(s Stage) bool {
		for _, r := range recorded {
			if r == s {
				return true
			}
		}
		return false
	}
	for _, s := range Stages {
		if !s.Applies(created, expires) || done(s) {
			continue
		}
		due := s.DueAt(expires)
		if due.After(now) {
			p.Next = due
			break
		}
		if p.ok {
			p.Skip = append(p.Skip, p.Send)
		}
		p.Send, p.ok = s, true
	}
	if p.ok && p.Send == 0 && !now.Before(expires.Add(StaleAfter)) {
		p.Skip, p.ok = append(p.Skip, 0), false
	}
	return p
}
