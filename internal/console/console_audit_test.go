package console

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// rootActor is the super admin acting through the domain, as their
// console session would.
var rootActor = authz.Actor{Kind: authz.KindUser, ID: rootID, Name: rootEmail, TenantID: "ten_a",
	Roles: []string{authz.SuperAdmin}, SourceAddr: "198.51.100.7", RequestID: "req-root-1"}

var eventRow = regexp.MustCompile(`<tr id="event-(\d+)" data-event-id="(\d+)"`)

// listedEvents are the Seqs of the audit table's rows, in order.
func listedEvents(t *testing.T, body string) []int64 {
	t.Helper()
	var out []int64
	for _, m := range eventRow.FindAllStringSubmatch(body, -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil || m[1] != m[2] {
			t.Fatalf("row %q", m[0])
		}
		out = append(out, n)
	}
	return out
}

// seqs are the Seqs of the tenant's events that match, newest first.
func (cf *consoleFixture) seqs(match func(audit.Event) bool) []int64 {
	cf.t.Helper()
	var out []int64
	for _, e := range cf.events("") {
		if match(e) {
			out = append(out, e.Seq)
		}
	}
	slices.Reverse(out)
	return out
}

// auditStory arranges a few days of events in ten_a: the system creates
// client Alpha on day 1; root renames it on day 2 and disables Ana on
// day 3; the system creates Beta on day 5.
type auditStory struct {
	alpha, beta *client.Client
	day         func(n int) time.Time
}

func (cf *consoleFixture) auditStory() auditStory {
	cf.t.Helper()
	ctx := context.Background()
	day := func(n int) time.Time { return time.Date(2026, 3, n, 9, 30, 0, 0, time.UTC) }
	s := auditStory{day: day}
	cf.now = day(1)
	s.alpha, _ = cf.createClient(client.CreateParams{Name: "Alpha", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	cf.now = day(2)
	name := "Alpha 2"
	if _, err := cf.admin.Clients.Update(ctx, rootActor, s.alpha.ID, client.UpdateParams{Name: &name}); err != nil {
		cf.t.Fatal(err)
	}
	cf.now = day(3)
	if _, err := cf.admin.Users.SetStatus(ctx, rootActor, anaID, account.UserDisabled); err != nil {
		cf.t.Fatal(err)
	}
	cf.now = day(5)
	s.beta, _ = cf.createClient(client.CreateParams{Name: "Beta", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	cf.now = day(6)
	return s
}

// Each filter narrows the log to the events it names, and they combine.
func TestAuditLogFilters(t *testing.T) {
	cf := newConsoleFixture(t)
	s := cf.auditStory()
	b := cf.signedIn(rootEmail) // signing in is an event too
	all := cf.seqs(func(audit.Event) bool { return true })
	if len(all) < 5 {
		t.Fatalf("only %d events", len(all))
	}
	for _, tc := range []struct {
		query string
		want  func(audit.Event) bool
	}{
		{"", func(audit.Event) bool { return true }},
		{"client=" + s.alpha.ID, func(e audit.Event) bool { return e.TargetType == "client" && e.TargetID == s.alpha.ID }},
		{"user=" + anaID, func(e audit.Event) bool { return e.TargetType == "user" && e.TargetID == anaID }},
		{"actor=" + rootID, func(e audit.Event) bool { return e.ActorID == rootID }},
		{"actor=" + url.QueryEscape(" ROOT@example.com "), func(e audit.Event) bool { return e.ActorID == rootID }},
		{"actor=system", func(e audit.Event) bool { return e.ActorID == "system" }},
		{"action=client.created", func(e audit.Event) bool { return e.Action == client.ActionCreated }},
		{"action=client.", func(e audit.Event) bool { return strings.HasPrefix(e.Action, "client.") }},
		{"action=client.nothing", func(audit.Event) bool { return false }},
		{"from=2026-03-05", func(e audit.Event) bool { return !e.At.Before(s.day(5).Truncate(24 * time.Hour)) }},
		{"to=2026-03-02", func(e audit.Event) bool { return e.At.Before(s.day(3).Truncate(24 * time.Hour)) }},
		{"from=2026-03-02&to=2026-03-03", func(e audit.Event) bool { return e.At.Day() == 2 || e.At.Day() == 3 }},
		{"actor=" + rootID + "&action=client.", func(e audit.Event) bool { return e.ActorID == rootID && e.TargetType == "client" }},
	} {
		r := b.get("/console/audit?" + tc.query)
		wantStatus(t, r, http.StatusOK)
		want := cf.seqs(tc.want)
		if got := listedEvents(t, r.Body); !slices.Equal(got, want) {
			t.Errorf("%q lists %v, want %v", tc.query, got, want)
		}
		if tc.query != "" && len(cf.seqs(tc.want)) == len(all) {
			t.Errorf("%q does not narrow", tc.query)
		}
		wantBody(t, r, fmt.Sprintf("<p class=\"count\" data-count>%d events", len(want)))
		checkConsoleAccessible(t, r.Body)
	}

	// The form shows the filters as entered; an action it does not list
	// is offered so the select says what is shown.
	r := b.get("/console/audit?client=" + s.alpha.ID + "&action=client.nothing&from=2026-03-01")
	wantBody(t, r, `id="audit-filters"`, `name="client" value="`+s.alpha.ID+`"`, `<option value="client.nothing" selected>`,
		`name="from" value="2026-03-01"`, "No event matches these filters.")
	r = b.get("/console/audit?action=client.secret_rotated")
	wantBody(t, r, `<option value="client.secret_rotated" selected>Secret rotated</option>`)
	wantNoBody(t, r, `<option value="client.secret_rotated" selected>client.secret_rotated`)
}

// Filters the log cannot use are field messages, 400, beside the field
// and summed up; no event is listed.
func TestAuditLogBadFilters(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.auditStory()
	b := cf.signedIn(rootEmail)
	for _, tc := range []struct{ query, field, msg string }{
		{"from=yesterday", "from", "Enter the first day as a date, such as 2026-01-31."},
		{"to=2026-02-30", "to", "Enter the last day as a date, such as 2026-01-31."},
		{"from=2026-03-05&to=2026-03-01", "to", "The last day must not be before the first."},
		{"client=lkc_x&user=usr_x", "user", "Filter by a client or by a user, not both."},
		{"actor=nobody@example.com", "actor", "No user you manage has this email"},
		{"action=.", "action", "Must name an action"},
		{"client=" + strings.Repeat("x", 201), "client", "Must be at most 200 characters"},
	} {
		r := b.get("/console/audit?" + tc.query)
		wantStatus(t, r, http.StatusBadRequest)
		wantBody(t, r, `role="alert"`, `href="#a-`+tc.field+`"`, `id="a-`+tc.field+`-error">`+tc.msg, `aria-invalid="true"`)
		if got := listedEvents(t, r.Body); got != nil {
			t.Errorf("%s lists %v", tc.query, got)
		}
		checkConsoleAccessible(t, r.Body)
	}
	r := b.get("/console/audit?before=abc")
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "This page of the log does not exist")
	checkConsoleAccessible(t, r.Body)

	// A viewer may read the log but finds no one by email.
	r = cf.signedIn(viewerEmail).get("/console/audit?actor=" + url.QueryEscape(rootEmail))
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "Enter the actor&#39;s ID: finding a user by email needs the users:manage permission.")
}

// Pages run newest first, by the chain's sequence numbers: Next goes
// further back with the filters kept, Newest starts again.
func TestAuditLogPagination(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	c, _ := cf.createClient(client.CreateParams{Name: "Busy", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	for i := range auditPageSize + 10 {
		desc := fmt.Sprintf("take %d", i)
		if _, err := cf.admin.Clients.Update(ctx, rootActor, c.ID, client.UpdateParams{Description: &desc}); err != nil {
			t.Fatal(err)
		}
	}
	b := cf.signedIn(rootEmail)
	want := cf.seqs(func(e audit.Event) bool { return e.TargetID == c.ID })
	if len(want) != auditPageSize+11 {
		t.Fatalf("%d events", len(want))
	}
	r := b.get("/console/audit?client=" + c.ID)
	wantStatus(t, r, http.StatusOK)
	if got := listedEvents(t, r.Body); !slices.Equal(got, want[:auditPageSize]) {
		t.Fatalf("page 1: %v", got)
	}
	next := fmt.Sprintf("/console/audit?before=%d&amp;client=%s", want[auditPageSize-1], c.ID)
	wantBody(t, r, `href="`+next+`" id="audit-next"`)
	wantNoBody(t, r, `id="audit-newest"`)
	checkConsoleAccessible(t, r.Body)

	r = b.get(strings.ReplaceAll(next, "&amp;", "&"))
	wantStatus(t, r, http.StatusOK)
	if got := listedEvents(t, r.Body); !slices.Equal(got, want[auditPageSize:]) {
		t.Fatalf("page 2: %v", got)
	}
	wantBody(t, r, `href="/console/audit?client=`+c.ID+`" id="audit-newest">Newest</a>`)
	wantNoBody(t, r, `id="audit-next"`)
	checkConsoleAccessible(t, r.Body)

	r = b.get("/console/audit?before=1")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "There are no older events.", `id="audit-newest"`)
}

// An event shows who did what to what, from where, with its changed
// fields before and after; targets link to their pages by ID, actors to
// their events. Only sections the admin may open are linked.
func TestAuditLogEvent(t *testing.T) {
	cf := newConsoleFixture(t)
	s := cf.auditStory()
	r := cf.signedIn(rootEmail).get("/console/audit?actor=" + rootID)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `id="audit-table"`, "2 Mar 2026 09:30:00 UTC", `datetime="2026-03-02T09:30:00Z"`,
		`<a href="/console/audit?actor=`+rootID+`" title="Events by this actor">`+rootEmail+`</a>`,
		"Client updated<br><code>client.updated</code>",
		`<a href="/console/clients/`+s.alpha.ID+`"><code>`+s.alpha.ID+`</code></a>`,
		`<a href="/console/users/`+anaID+`"><code>`+anaID+`</code></a>`,
		`<span class="badge active">Success</span>`, "198.51.100.7", "req-root-1",
		"<summary>1 changed</summary>", "<dt>name</dt>",
		`<del><span class="visually-hidden">Before: </span>Alpha</del> → <ins><span class="visually-hidden">After: </span>Alpha 2</ins>`,
		`<del><span class="visually-hidden">Before: </span>active</del>`)

	// A viewer manages no users: user targets are not linked.
	r = cf.signedIn(viewerEmail).get("/console/audit?actor=" + rootID)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<a href="/console/clients/`+s.alpha.ID+`">`, "<code>"+anaID+"</code>")
	wantNoBody(t, r, `href="/console/users/`+anaID+`"`)

	// A failed sign-in is a failure by someone anonymous.
	cf.browser().submit("/account/login", url.Values{"email": {anaEmail}, "password": {"wrong wrong wrong"}})
	r = cf.signedIn(rootEmail).get("/console/audit?action=" + account.ActionLoginFailed)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<span class="badge revoked">Failure</span>`, "Sign-in failed")
}

// The log needs audit:view tenant-wide, as in the admin API; so does
// verifying its chain.
func TestAuditLogNeedsAuditView(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withUserAdmin()
	for _, email := range []string{rootEmail, opsEmail, viewerEmail} {
		wantStatus(t, cf.signedIn(email).get("/console/audit"), http.StatusOK)
	}
	hr := cf.signedIn(hrEmail)
	r := hr.get("/console/audit")
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "audit:view")
	wantNoBody(t, r, `id="audit-table"`)
	wantStatus(t, hr.post("/console/audit/verify", nil), http.StatusForbidden)
	if cf.pages.chains.last("ten_a") != nil {
		t.Fatal("a refused verification was remembered")
	}
	// The page is read with GET; verification with POST only.
	r = cf.signedIn(rootEmail).get("/console/audit/verify")
	wantStatus(t, r, http.StatusMethodNotAllowed)
	if got := r.Header.Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q", got)
	}
}

// tamper opens the fixture's SQLite file beside the store, as someone
// with the file could, and runs query with the append-only triggers
// dropped.
func (cf *consoleFixture) tamper(query string) {
	cf.t.Helper()
	// The fixture's database is the test's first temporary directory's
	// l.db: every t.TempDir of a test shares one parent.
	files, err := filepath.Glob(filepath.Join(filepath.Dir(cf.t.TempDir()), "*", "l.db"))
	if err != nil || len(files) != 1 {
		cf.t.Fatalf("the fixture's database: %v %v", files, err)
	}
	raw, err := sql.Open("sqlite", files[0])
	if err != nil {
		cf.t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{"DROP TRIGGER IF EXISTS audit_events_no_update", "DROP TRIGGER IF EXISTS audit_events_no_delete", query} {
		if _, err := raw.Exec(q); err != nil {
			cf.t.Fatalf("%s: %v", q, err)
		}
	}
}

// Verifying walks the whole chain on request, says what it found, and the
// page remembers it, with its time, for later views; a tampered event is
// named, and linked.
func TestAuditChainVerification(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.auditStory()
	cf.now = time.Date(2026, 12, 2, 10, 4, 0, 0, time.UTC)
	b := cf.signedIn(rootEmail)
	r := b.get("/console/audit")
	wantBody(t, r, `<p id="chain-status" role="status">The chain has not been verified since the server started.</p>`,
		`id="verify-chain"`, `action="/console/audit/verify"`)

	n := len(cf.events(""))
	r = b.post("/console/audit/verify", nil)
	wantRedirect(t, r, "/console/audit")
	r = b.get("/console/audit")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, fmt.Sprintf(`<p id="chain-status" class="verify ok" role="status">Verified: %d events, chain intact.</p>`, n),
		`Last verified <time datetime="2026-12-02T10:04:00Z">2 Dec 2026 10:04 UTC</time>: intact, by root@example.com.`)
	checkConsoleAccessible(t, r.Body)
	// Another admin of the tenant sees the same result, without a walk.
	wantBody(t, cf.signedIn(viewerEmail).get("/console/audit"), "chain intact", "2 Dec 2026 10:04 UTC")

	cf.tamper("UPDATE audit_events SET actor_name = 'nobody' WHERE tenant_id = 'ten_a' AND seq = 2")
	cf.now = cf.now.Add(10 * time.Minute)
	wantRedirect(t, b.post("/console/audit/verify", nil), "/console/audit")
	r = b.get("/console/audit")
	wantBody(t, r, `<p id="chain-status" class="verify broken" role="status">Chain broken: event 2 was altered. 1 events before it verified.`,
		`<a href="/console/audit?before=3#event-2">Show event 2</a>`, "2 Dec 2026 10:14 UTC</time>: broken")
	wantNoBody(t, r, "chain intact")
	if got := listedEvents(t, b.get("/console/audit?before=3").Body); len(got) == 0 || got[0] != 2 {
		t.Fatalf("the break's link lists %v", got)
	}
	// Another tenant's chain is its own: nothing was verified there.
	if cf.pages.chains.last("ten_b") != nil {
		t.Fatal("ten_b has a result")
	}
}

// failingAudit is an audit store that fails.
type failingAudit struct{}

var errAuditStore = errors.New("audit store: disk on fire")

func (failingAudit) ListAudit(context.Context, audit.Query) (*audit.Page, error) {
	return nil, errAuditStore
}
func (failingAudit) AuditEvents(context.Context, string, int64, int) ([]audit.Event, error) {
	return nil, errAuditStore
}
func (failingAudit) AuditHead(context.Context, string) (int64, string, error) {
	return 0, "", errAuditStore
}

// A store that fails is the 500 page, logged; a verification that could
// not run is no result.
func TestAuditStoreFailure(t *testing.T) {
	cf := newConsoleFixture(t, func(c *Config) { c.Admin.Audit, c.Admin.Chain = failingAudit{}, failingAudit{} })
	b := cf.signedIn(rootEmail)
	r := b.get("/console/audit")
	wantStatus(t, r, http.StatusInternalServerError)
	wantNoBody(t, r, errAuditStore.Error())
	r = b.post("/console/audit/verify", nil)
	wantStatus(t, r, http.StatusInternalServerError)
	wantNoBody(t, r, errAuditStore.Error())
	if cf.pages.chains.last("ten_a") != nil {
		t.Fatal("a failed verification was remembered")
	}
	if !strings.Contains(cf.logs.String(), errAuditStore.Error()) {
		t.Error("the failure was not logged")
	}
}

// Whatever events hold renders as text: a client's name, before and
// after, and an actor's.
func TestAuditLogEscapes(t *testing.T) {
	cf := newConsoleFixture(t)
	xss := "<script>alert(1)</script>"
	c, _ := cf.createClient(client.CreateParams{Name: xss, GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	name := xss + " 2"
	actor := rootActor
	actor.Name = `<img src=x onerror="alert(2)">`
	if _, err := cf.admin.Clients.Update(context.Background(), actor, c.ID, client.UpdateParams{Name: &name}); err != nil {
		t.Fatal(err)
	}
	r := cf.signedIn(rootEmail).get("/console/audit?client=" + c.ID)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;")
	wantNoBody(t, r, xss, "<img src=x")
	checkConsoleAccessible(t, r.Body)
}
