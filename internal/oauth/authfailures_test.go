package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
)

// countFailures makes the harness's server count failed client
// authentications in a tally of its own, on the harness's clock.
func (h *harness) countFailures(maxKeys int) *audit.Tally {
	tl := &audit.Tally{Now: h.clock.Now, MaxKeys: maxKeys}
	h.srv.AuthFailures = tl
	return tl
}

// flushTo writes what tl counted to the harness's store, as serve does,
// and returns the tenant's events after seq.
func (h *harness) flushTo(tl *audit.Tally, tenantID string, after int64) []audit.Event {
	h.t.Helper()
	ctx := context.Background()
	if err := tl.Flush(ctx, func(ctx context.Context, es []*audit.Event) error { return account.AppendAudit(ctx, h.db, es) }); err != nil {
		h.t.Fatal(err)
	}
	es, err := h.db.AuditEvents(ctx, tenantID, after, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return es
}

func lastSeq(t *testing.T, h *harness, tenantID string) int64 {
	t.Helper()
	es, err := h.db.AuditEvents(context.Background(), tenantID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// Failed client authentications at the token, introspection and
// revocation endpoints become one audit event per client ID presented
// and reason, with the count; never the secret presented.
func TestFailedClientAuthenticationsAreAudited(t *testing.T) {
	h := newHarness(t, 0)
	tl := h.countFailures(0)
	id, secret := h.create(client.CreateParams{})
	after := lastSeq(t, h, "ten_1")
	start := h.clock.Now()

	const wrong = "a-wrong-secret-never-to-be-stored"
	for range 3 {
		if r := h.token(id, wrong, nil); r.status != 401 {
			t.Fatalf("wrong secret: %d %s", r.status, r.raw)
		}
	}
	h.clock.Advance(10 * time.Second)
	if r := h.do("POST", "/oauth2/introspect", form, url.Values{"token": {"x"}}.Encode(), "Authorization", basicAuth(id, wrong)); r.status != 401 {
		t.Fatalf("introspect with a wrong secret: %d %s", r.status, r.raw)
	}
	if r := h.do("POST", "/oauth2/revoke", form, url.Values{"token": {"x"}}.Encode(), "Authorization", basicAuth(id, wrong)); r.status != 401 {
		t.Fatalf("revoke with a wrong secret: %d %s", r.status, r.raw)
	}
	if r := h.token("no-such-client", wrong+"-2", nil); r.status != 401 {
		t.Fatalf("unknown client: %d", r.status)
	}
	if r := h.token("not a client id <script>", wrong+"-3", nil); r.status != 401 {
		t.Fatalf("malformed client ID: %d", r.status)
	}
	// The client's own method is Basic: its secret in the body is refused.
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if r := h.do("POST", "/oauth2/token", form, body.Encode()); r.status != 401 {
		t.Fatalf("the wrong method: %d %s", r.status, r.raw)
	}
	if r := h.token(id, secret, nil); r.status != 200 {
		t.Fatalf("the right secret: %d %s", r.status, r.raw)
	}
	if es, _ := h.db.AuditEvents(context.Background(), "ten_1", after, 100); len(es) != 0 {
		t.Fatalf("failures were written one by one: %+v", es)
	}

	h.clock.Advance(50 * time.Second)
	es := h.flushTo(tl, "ten_1", after)
	b, _ := json.Marshal(es)
	for _, s := range []string{wrong, secret, "<script>"} {
		if strings.Contains(string(b), s) {
			t.Fatalf("%q reached the audit trail: %s", s, b)
		}
	}
	got := map[string]audit.Event{}
	for _, e := range es {
		got[e.TargetID+" "+e.Details["reason"]] = e
	}
	want := map[string]string{
		id + " wrong_secret":            "5",
		id + " wrong_auth_method":       "1",
		"no-such-client unknown_client": "1",
		"(invalid) unknown_client":      "1",
	}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for k, count := range want {
		e, ok := got[k]
		if !ok {
			t.Errorf("no event for %s in %v", k, got)
			continue
		}
		wantDetails := map[string]string{"count": count, "reason": e.Details["reason"],
			"window_start": start.Format(time.RFC3339), "source_addrs": "127.0.0.1"}
		if e.Action != oauth.ActionClientAuthFailed || e.Result != audit.ResultFailure || e.TargetType != "client" ||
			e.ActorKind != authz.KindAnonymous || e.SourceAddr != "" || !e.At.Equal(h.clock.Now()) ||
			fmt.Sprint(e.Details) != fmt.Sprint(wantDetails) {
			t.Errorf("%s: %+v, want details %v", k, e, wantDetails)
		}
	}
}

// A spray of client IDs grows neither memory nor the trail past the
// tally's bound: what does not fit is one event.
func TestFailedClientAuthenticationsAreBounded(t *testing.T) {
	h := newHarness(t, 0)
	tl := h.countFailures(3)
	after := lastSeq(t, h, "ten_1")
	for i := range 40 {
		if r := h.token(fmt.Sprintf("guess-%03d", i), "x", nil); r.status != 401 {
			t.Fatalf("%d", r.status)
		}
	}
	es := h.flushTo(tl, "ten_1", after)
	if len(es) != 4 {
		t.Fatalf("%d events, want 3 counted apart and one overflow: %+v", len(es), es)
	}
	if o := es[0]; o.TargetID != audit.TallyOverflow || o.Details["count"] != "37" || o.Details["reason"] != "unknown_client" {
		t.Fatalf("overflow event %+v", o)
	}
}

// Past the failure limit the attempts are answered 429 and counted as
// rate limited, still one event.
func TestRateLimitedClientAuthenticationsAreAudited(t *testing.T) {
	h := newHarness(t, 2)
	tl := h.countFailures(0)
	id, _ := h.create(client.CreateParams{})
	after := lastSeq(t, h, "ten_1")
	for range 6 {
		h.token(id, "wrong", nil)
	}
	got := map[string]string{}
	for _, e := range h.flushTo(tl, "ten_1", after) {
		got[e.TargetID+" "+e.Details["reason"]] = e.Details["count"]
	}
	if want := map[string]string{id + " wrong_secret": "2", id + " rate_limited": "4"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}
