package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
)

var tallyT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// writes collects what a Tally flushes, one slice per write.
type writes struct {
	batches [][]*audit.Event
	fail    error
}

func (w *writes) write(_ context.Context, es []*audit.Event) error {
	if w.fail != nil {
		return w.fail
	}
	w.batches = append(w.batches, es)
	return nil
}

func (w *writes) events() []*audit.Event {
	var out []*audit.Event
	for _, b := range w.batches {
		out = append(out, b...)
	}
	return out
}

func clientKey(tenant, id, reason string) audit.TallyKey {
	return audit.TallyKey{TenantID: tenant, Action: "client.auth_failed", TargetType: "client", TargetID: id, Reason: reason}
}

func TestTallyCountsPerKeyAndWindow(t *testing.T) {
	now := tallyT0
	tl := &audit.Tally{Now: func() time.Time { return now }}
	var w writes
	if err := tl.Flush(context.Background(), w.write); err != nil || len(w.batches) != 0 {
		t.Fatalf("an empty flush wrote %v, %v", w.batches, err)
	}

	now = tallyT0.Add(5 * time.Second)
	for i := range 7 {
		tl.Add(clientKey("ten_b", "app", "wrong_secret"), fmt.Sprintf("192.0.2.%d", i%6+1))
	}
	now = now.Add(10 * time.Second)
	tl.Add(clientKey("ten_a", "app", "wrong_secret"), "198.51.100.1")
	tl.Add(clientKey("ten_a", "app", "unknown_client"), "198.51.100.1")
	login := audit.TallyKey{TenantID: "ten_a", Action: "user.login_failed", TargetType: "user", Reason: "rate_limited",
		SourceAddr: "203.0.113.9"}
	tl.Add(login, "203.0.113.9")
	tl.Add(login, "203.0.113.9")

	now = tallyT0.Add(time.Minute)
	if err := tl.Flush(context.Background(), w.write); err != nil {
		t.Fatal(err)
	}
	got := w.events()
	want := []struct {
		tenant, action, target, reason, count, addrs, source string
	}{
		{"ten_a", "client.auth_failed", "app", "unknown_client", "1", "198.51.100.1", ""},
		{"ten_a", "client.auth_failed", "app", "wrong_secret", "1", "198.51.100.1", ""},
		{"ten_a", "user.login_failed", "", "rate_limited", "2", "", "203.0.113.9"},
		// Five addresses of the six, the first seen, sorted.
		{"ten_b", "client.auth_failed", "app", "wrong_secret", "7", "192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, wt := range want {
		e := got[i]
		if e.TenantID != wt.tenant || e.Action != wt.action || e.TargetID != wt.target || e.Result != audit.ResultFailure ||
			e.Details["reason"] != wt.reason || e.Details["count"] != wt.count || e.Details["source_addrs"] != wt.addrs ||
			e.SourceAddr != wt.source || e.ActorKind != authz.KindAnonymous || e.ActorID != "" {
			t.Errorf("event %d = %+v, want %+v", i, e, wt)
		}
		if e.Details["window_start"] != "2026-03-01T12:00:05Z" || !e.At.Equal(now) {
			t.Errorf("event %d: window from %s to %s, want from 12:00:05 to %s", i, e.Details["window_start"], e.At, now)
		}
		if _, ok := e.Details["source_addrs"]; ok && wt.source != "" {
			t.Errorf("event %d keyed by address also lists addresses: %v", i, e.Details)
		}
	}

	// The window closed: nothing again until the next attempt, which
	// opens a new window.
	w = writes{}
	if err := tl.Flush(context.Background(), w.write); err != nil || len(w.batches) != 0 {
		t.Fatalf("a second flush wrote %v, %v", w.batches, err)
	}
	now = now.Add(30 * time.Second)
	tl.Add(clientKey("ten_a", "app", "wrong_secret"), "198.51.100.1")
	now = now.Add(30 * time.Second)
	if err := tl.Flush(context.Background(), w.write); err != nil {
		t.Fatal(err)
	}
	if es := w.events(); len(es) != 1 || es[0].Details["count"] != "1" || es[0].Details["window_start"] != "2026-03-01T12:01:30Z" {
		t.Fatalf("the next window: %+v", es)
	}
}

func TestTallyIsBounded(t *testing.T) {
	tl := &audit.Tally{Now: func() time.Time { return tallyT0 }, MaxKeys: 3}
	// A spray of client IDs and addresses: three keys are counted apart,
	// the rest in one overflow key per tenant, action and reason.
	for i := range 1000 {
		tl.Add(clientKey("ten_a", fmt.Sprintf("guess-%04d", i), "unknown_client"), fmt.Sprintf("192.0.2.%d", i%250))
	}
	tl.Add(clientKey("ten_a", "real", "wrong_secret"), "198.51.100.7")
	// A key counted apart before the tally filled still counts apart.
	tl.Add(clientKey("ten_a", "guess-0001", "unknown_client"), "198.51.100.8")
	var w writes
	if err := tl.Flush(context.Background(), w.write); err != nil {
		t.Fatal(err)
	}
	got := map[string]*audit.Event{}
	for _, e := range w.events() {
		got[e.TargetID+" "+e.Details["reason"]] = e
	}
	if len(got) != 5 {
		t.Fatalf("%d events, want 3 counted apart and 2 overflows: %v", len(got), got)
	}
	for k, n := range map[string]string{
		"guess-0000 unknown_client": "1", "guess-0001 unknown_client": "2", "guess-0002 unknown_client": "1",
		"(other) unknown_client": "997", "(other) wrong_secret": "1",
	} {
		if e := got[k]; e == nil || e.Details["count"] != n {
			t.Errorf("%s: %+v, want count %s", k, e, n)
		}
	}
	if o := got["(other) unknown_client"]; o.Details["source_addrs"] != "192.0.2.3,192.0.2.4,192.0.2.5,192.0.2.6,192.0.2.7" {
		t.Errorf("overflow addresses: %q", o.Details["source_addrs"])
	}

	// Keyed by address, the overflow drops the address too.
	tl = &audit.Tally{Now: func() time.Time { return tallyT0 }, MaxKeys: 1}
	for i := range 3 {
		tl.Add(audit.TallyKey{TenantID: "ten_a", Action: "user.login_failed", TargetType: "user", Reason: "rate_limited",
			SourceAddr: fmt.Sprintf("203.0.113.%d", i)}, fmt.Sprintf("203.0.113.%d", i))
	}
	w = writes{}
	if err := tl.Flush(context.Background(), w.write); err != nil {
		t.Fatal(err)
	}
	es := w.events()
	if len(es) != 2 || es[0].SourceAddr != "203.0.113.0" || es[0].Details["count"] != "1" ||
		es[1].TargetID != audit.TallyOverflow || es[1].SourceAddr != "" || es[1].Details["count"] != "2" ||
		es[1].Details["source_addrs"] != "203.0.113.1,203.0.113.2" {
		t.Fatalf("address overflow: %+v", es)
	}
}

func TestTallyKeepsWhatAWriteFailed(t *testing.T) {
	now := tallyT0
	tl := &audit.Tally{Now: func() time.Time { return now }}
	tl.Add(clientKey("ten_a", "app", "wrong_secret"), "192.0.2.1")
	tl.Add(clientKey("ten_a", "app", "wrong_secret"), "192.0.2.1")
	w := writes{fail: errors.New("database gone")}
	if err := tl.Flush(context.Background(), w.write); err == nil {
		t.Fatal("a failed write was not reported")
	}
	now = now.Add(time.Minute)
	tl.Add(clientKey("ten_a", "app", "wrong_secret"), "192.0.2.2")
	w.fail = nil
	if err := tl.Flush(context.Background(), w.write); err != nil {
		t.Fatal(err)
	}
	es := w.events()
	if len(es) != 1 || es[0].Details["count"] != "3" || es[0].Details["window_start"] != "2026-03-01T12:00:00Z" ||
		es[0].Details["source_addrs"] != "192.0.2.1,192.0.2.2" {
		t.Fatalf("after the retry: %+v", es)
	}
}

func TestTallyWritesInBatches(t *testing.T) {
	tl := &audit.Tally{Now: func() time.Time { return tallyT0 }}
	for i := range 600 {
		tl.Add(clientKey("ten_a", fmt.Sprintf("client-%04d", i), "unknown_client"), "192.0.2.1")
	}
	var w writes
	if err := tl.Flush(context.Background(), w.write); err != nil {
		t.Fatal(err)
	}
	if len(w.batches) != 3 || len(w.batches[0]) != 256 || len(w.batches[2]) != 600-512 {
		t.Fatalf("batches of %d, %d, …", len(w.batches[0]), len(w.batches[len(w.batches)-1]))
	}
	if es := w.events(); es[0].TargetID != "client-0000" || es[599].TargetID != "client-0599" {
		t.Errorf("events out of order: %s … %s", es[0].TargetID, es[599].TargetID)
	}
}

func TestTallyRunFlushesOnStop(t *testing.T) {
	tl := &audit.Tally{Now: func() time.Time { return tallyT0 }}
	tl.Add(clientKey("ten_a", "app", "wrong_secret"), "192.0.2.1")
	ctx, cancel := context.WithCancel(context.Background())
	var w writes
	done := make(chan struct{})
	go func() {
		defer close(done)
		tl.Run(ctx, time.Hour, func(ctx context.Context, es []*audit.Event) error {
			if ctx.Err() != nil {
				return ctx.Err() // the last flush must not inherit the cancellation
			}
			return w.write(ctx, es)
		}, func(err error) { t.Error(err) })
	}()
	cancel()
	<-done
	if es := w.events(); len(es) != 1 || es[0].Details["count"] != "1" {
		t.Fatalf("on stop: %+v", es)
	}
}
