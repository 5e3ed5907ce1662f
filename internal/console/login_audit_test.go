package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
)

// events returns the tenant's audit events after seq.
func (f *fixture) events(tenantID string, after int64) []audit.Event {
	f.t.Helper()
	es, err := f.db.AuditEvents(context.Background(), tenantID, after, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

// appendTo writes flushed events to the fixture's store, as serve does.
func (f *fixture) appendTo(ctx context.Context, es []*audit.Event) error {
	return account.AppendAudit(ctx, f.db, es)
}

// noText fails when any of texts appears anywhere in the events.
func noText(t *testing.T, es []audit.Event, texts ...string) {
	t.Helper()
	b, err := json.Marshal(es)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range texts {
		if strings.Contains(string(b), s) {
			t.Fatalf("%q reached the audit trail: %s", s, b)
		}
	}
}

// Every sign-in through the page is audited in its tenant, from the
// address the limits count.
func TestLoginAudit(t *testing.T) {
	f := newFixture(t, "http://id.test")
	ctx := context.Background()
	// Ana holds an admin role: her sign-ins are marked.
	ana, err := f.db.User(ctx, anaID)
	if err != nil {
		t.Fatal(err)
	}
	ana.Roles = []string{authz.Viewer}
	if err := f.db.UpdateUser(ctx, ana); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	const wrong = "Tr0ub4dor&3 is wrong"
	for _, try := range []url.Values{
		{"email": {" ANA@example.com "}, "password": {wrong}},
		{"email": {disEmail}, "password": {password}},
		{"email": {"Nobody@Example.com"}, "password": {password}},
		{"email": {bettyMail}, "password": {password}}, // of the other tenant: unknown here
	} {
		wantCode(t, b.submit("/account/login", try), http.StatusBadRequest)
	}
	b.signIn(anaEmail)
	wantCode(t, b.submit("/t/beta/account/login", url.Values{"email": {bettyMail}, "password": {wrong}}), http.StatusBadRequest)

	type shape struct{ action, target, result, addr, details string }
	check := func(tenantID string, want []shape) {
		t.Helper()
		es := f.events(tenantID, 0)
		noText(t, es, wrong, password)
		if len(es) != len(want) {
			t.Fatalf("%s: %d events, want %d: %+v", tenantID, len(es), len(want), es)
		}
		for i, w := range want {
			e := es[i]
			d := e.Details
			if sid := d["session_id"]; sid != "" {
				d = map[string]string{}
				for k, v := range e.Details {
					if k != "session_id" {
						d[k] = v
					}
				}
			}
			details, _ := json.Marshal(d)
			got := shape{e.Action, e.TargetID, e.Result, e.SourceAddr, string(details)}
			if got != w || e.TargetType != "user" || !e.At.Equal(f.now) {
				t.Errorf("%s event %d = %+v\nwant %+v", tenantID, i, got, w)
			}
		}
	}
	check("ten_a", []shape{
		{"user.login_failed", anaID, "failure", "192.0.2.10", `{"admin":"true","reason":"bad_password"}`},
		{"user.login_failed", "usr_dis", "failure", "192.0.2.10", `{"reason":"disabled"}`},
		{"user.login_failed", "", "failure", "192.0.2.10", `{"email":"nobody@example.com","reason":"unknown_user"}`},
		{"user.login_failed", "", "failure", "192.0.2.10", `{"email":"betty@example.com","reason":"unknown_user"}`},
		{"user.login", anaID, "success", "192.0.2.10", `{"admin":"true","methods":"pwd"}`},
	})
	check("ten_b", []shape{
		{"user.login_failed", bettyID, "failure", "192.0.2.10", `{"reason":"bad_password"}`},
	})
}

// Attempts the limits refuse are not an event each: they are counted per
// address, and a flush writes one event per address with the count.
func TestLoginRefusalsAreAggregated(t *testing.T) {
	refused := &audit.Tally{}
	f := newFixture(t, "http://id.test", func(c *Config) {
		c.LoginFailures, c.AddressFailures = 100, 2
		c.Refused = refused
	})
	refused.Now = func() time.Time { return f.now }
	start := f.now
	const wrong = "a wrong password, typed"
	spray := func(b *browser, n int) {
		t.Helper()
		for i := range n {
			email := "guess" + strings.Repeat("x", i) + "@example.com"
			b.submit("/account/login", url.Values{"email": {email}, "password": {wrong}})
		}
	}
	one, two := f.browser(), f.browser()
	two.addr = "[2001:db8:1:2::5]:443"
	spray(one, 50)
	f.now = f.now.Add(20 * time.Second)
	spray(two, 10)
	// Another address of the same /64 counts with it.
	two.addr = "[2001:db8:1:2::6]:443"
	spray(two, 5)

	// Two failures from each address were checked, and are events of
	// their own; the 61 refusals made no event yet.
	checked := f.events("ten_a", 0)
	if len(checked) != 4 {
		t.Fatalf("%d events before the flush, want the 4 checked failures: %+v", len(checked), checked)
	}
	f.now = f.now.Add(40 * time.Second)
	if err := refused.Flush(context.Background(), f.appendTo); err != nil {
		t.Fatal(err)
	}
	es := f.events("ten_a", checked[len(checked)-1].Seq)
	noText(t, es, wrong)
	if len(es) != 2 {
		t.Fatalf("%d events from the flush, want one per address: %+v", len(es), es)
	}
	for i, w := range []struct{ addr, count, addrs string }{
		{"192.0.2.10", "48", ""},
		{"2001:db8:1:2::/64", "13", ""},
	} {
		e := es[i]
		if e.Action != account.ActionLoginFailed || e.Result != audit.ResultFailure || e.TargetType != "user" || e.TargetID != "" ||
			e.SourceAddr != w.addr || e.Details["count"] != w.count || e.Details["reason"] != "rate_limited" ||
			e.Details["window_start"] != start.Format(time.RFC3339) || e.Details["source_addrs"] != w.addrs ||
			e.ActorKind != authz.KindAnonymous || !e.At.Equal(f.now) {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}
