package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/testpg"
)

func TestParseNotifyOptions(t *testing.T) {
	t.Setenv("LATCHKEY_TEST_POSTGRES_URL", "")
	o, err := parseNotifyOptions(nil, io.Discard)
	if err != nil || o.clients != 1_000_000 || o.postgres != defaultPostgres || o.span != 365*24*time.Hour {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	pg := "postgres://postgres@db.example:5432/postgres"
	t.Setenv("LATCHKEY_TEST_POSTGRES_URL", pg)
	o, err = parseNotifyOptions([]string{"-clients", "2000", "-secrets-over", "90d"}, io.Discard)
	if err != nil || o.clients != 2000 || o.postgres != pg || o.span != 90*24*time.Hour {
		t.Fatalf("flags: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-clients", "0"}, {"-clients", "5000001"}, {"-secrets-over", "1h"}, {"-secrets-over", "soon"},
		{"-postgres", "latchkey.db"}, {"extra"},
	} {
		if _, err := parseNotifyOptions(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// The secrets expire within the span, were issued before now and not
// before their client, and some live less than a month.
func TestSecretOf(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	span := 365 * 24 * time.Hour
	f := newNotifyFleet("ten_a", now, 4000)
	short := 0
	for range 4000 {
		c := f.next()
		s := secretOf(c, now, span)
		if again := secretOf(c, now, span); again != s {
			t.Fatalf("%s: %+v, then %+v", c.ID, s, again)
		}
		if !s.Expires.After(now) || s.Expires.After(now.Add(span)) || s.Created.After(now) || s.Created.Before(c.CreatedAt) {
			t.Fatalf("%s: created %s, expires %s (client created %s, now %s)", c.ID, s.Created, s.Expires, c.CreatedAt, now)
		}
		if s.Expires.Sub(s.Created) < 30*24*time.Hour {
			short++
		}
	}
	if short < 20 {
		t.Errorf("%d secrets live less than 30 days", short)
	}
}

// sweepCounts are what one sweep should find and do.
type sweepCounts struct {
	due int
	rep notify.SweepReport
}

// expectSweeps works out from the fleet alone, with notify.PlanAt, what
// sweeps at each of ats, in turn, find and do: the first warning of each
// secret is due at notify.FirstDue and each later one at the plan's Next;
// a revoked client's secret is warned of no more, an inactive client's
// stages are all skipped, and an active one's stage sent is mailed to its
// owner and its creator (once when the same), when they are users; a
// disabled user is recorded as no address.
func expectSweeps(nf *notifyFleet, ats ...time.Time) []sweepCounts {
	disabled := map[string]bool{}
	for i, id := range nf.users {
		disabled[id] = fleetUserDisabled(i)
	}
	type schedule struct {
		c        *client.Client
		s        fleetSecret
		next     time.Time // zero for none
		recorded []notify.Stage
	}
	f := newNotifyFleet(nf.tenantID, nf.now, nf.clients)
	var all []*schedule
	for range nf.clients {
		c := f.next()
		s := secretOf(c, nf.now, nf.span)
		first, _ := notify.FirstDue(s.Created, s.Expires)
		all = append(all, &schedule{c: c, s: s, next: first})
	}
	var out []sweepCounts
	for _, at := range ats {
		var want sweepCounts
		for _, sc := range all {
			if sc.next.IsZero() || sc.next.After(at) {
				continue
			}
			want.due++
			want.rep.Secrets++
			if sc.c.Status == client.StatusRevoked {
				sc.next = time.Time{}
				continue
			}
			p := notify.PlanAt(sc.s.Created, sc.s.Expires, at, sc.recorded)
			sc.next = p.Next
			sc.recorded = append(sc.recorded, p.Skip...)
			want.rep.Skipped += len(p.Skip)
			if !p.Sends() {
				continue
			}
			sc.recorded = append(sc.recorded, p.Send)
			if sc.c.Status != client.StatusActive {
				want.rep.Skipped++
				continue
			}
			want.rep.Warned++
			want.rep.Events++
			people := map[string]bool{}
			for _, u := range []string{sc.c.OwnerUserID, sc.c.CreatedBy} {
				if _, ok := disabled[u]; !ok || people[u] {
					continue
				}
				people[u] = true
				if disabled[u] {
					want.rep.NoAddress++
				} else {
					want.rep.Mails++
				}
			}
		}
		out = append(out, want)
	}
	return out
}

// The benchmark's core on a small fleet: the sweeps queue the mails the
// schedule implies, the second finds nothing, and the due secrets are read
// through the warn_at index.
func TestNotifyBench(t *testing.T) {
	u := testpg.Database(t, "latchkey_bench_")
	ctx := t.Context()
	o := notifyOptions{clients: 2000, span: 365 * 24 * time.Hour}
	st, nf, err := setupNotify(ctx, u, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := runNotify(ctx, st, u, nf, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := expectSweeps(nf, nf.now, nf.now, nf.now.Add(24*time.Hour))
	if len(res.sweeps) != len(want) {
		t.Fatalf("%d sweeps, want %d", len(res.sweeps), len(want))
	}
	mails, skipped := 0, 0
	for i, s := range res.sweeps {
		if s.due != want[i].due || s.rep != want[i].rep {
			t.Errorf("sweep %q: %d due, %+v; want %d due, %+v", s.name, s.due, s.rep, want[i].due, want[i].rep)
		}
		if s.webhooks != s.rep.Events {
			t.Errorf("sweep %q: %d webhook deliveries for %d events", s.name, s.webhooks, s.rep.Events)
		}
		mails, skipped = mails+s.rep.Mails, skipped+s.rep.NoAddress
	}
	if first := want[0].rep; first.Mails < 50 || first.Skipped == 0 || first.NoAddress == 0 {
		t.Errorf("the first sweep exercises too little of the schedule: %+v", first)
	}
	if again := res.sweeps[1]; again.due != 0 || again.rep != (notify.SweepReport{}) {
		t.Errorf("the second sweep at the same instant did something: %d due, %+v", again.due, again.rep)
	}

	// The outbox holds one row per mail, pending, and one per recipient
	// without an address, skipped.
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pending, noAddress int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'skipped')
		FROM outbox WHERE channel = 'email'`).Scan(&pending, &noAddress); err != nil {
		t.Fatal(err)
	}
	if pending != mails || noAddress != skipped {
		t.Errorf("outbox: %d pending and %d skipped mails; the sweeps reported %d and %d", pending, noAddress, mails, skipped)
	}
	for _, plan := range []string{res.plan, res.analyzed} {
		if !strings.Contains(plan, "client_secrets_warn_due") || strings.Contains(plan, "Seq Scan on client_secrets") {
			t.Errorf("the due secrets are not read through the warn_at index:\n%s", plan)
		}
	}
}
