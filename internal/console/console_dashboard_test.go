package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

const day = 24 * time.Hour

// withDashboardFleet creates, at t0, six clients:
//
//	Soon     active, 10-day secret
//	Later    active, 40-day secret
//	Lapsing  active, 5-day secret
//	Idle     inactive, 5-day secret (not counted: only active secrets are)
//	Gone     revoked
//	Public   active, public (no secret)
//
// and tokens issued to Soon; then moves the clock to t0+7d (8 Mar 2026),
// when Lapsing has expired, Soon expires in 3 days and Later in 33.
func (cf *consoleFixture) withDashboardFleet() map[string]string {
	cf.t.Helper()
	ctx := context.Background()
	cf.now = t0
	cc := []client.GrantType{client.GrantClientCredentials}
	ids := map[string]string{}
	for _, p := range []client.CreateParams{
		{Name: "Soon", GrantTypes: cc, SecretLifetime: 10 * day},
		{Name: "Later", GrantTypes: cc, SecretLifetime: 40 * day},
		{Name: "Lapsing", GrantTypes: cc, SecretLifetime: 5 * day},
		{Name: "Idle", GrantTypes: cc, SecretLifetime: 5 * day, Status: client.StatusInactive},
		{Name: "Gone", GrantTypes: cc},
		{Name: "Public", Type: client.Public, GrantTypes: []client.GrantType{client.GrantAuthorizationCode},
			RedirectURIs: []string{"https://app.example/cb"}},
	} {
		c, _ := cf.createClient(p)
		ids[p.Name] = c.ID
	}
	if _, err := cf.admin.Clients.SetStatus(ctx, system, ids["Gone"], client.StatusRevoked, true); err != nil {
		cf.t.Fatal(err)
	}
	cf.now = t0.Add(7 * day)
	today := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	if err := cf.db.AddTokenCounts(ctx, []client.TokenCount{
		{ClientID: ids["Soon"], TenantID: "ten_a", DivisionID: authz.HomeDivision, Day: today, Tokens: 1204},
		{ClientID: ids["Soon"], TenantID: "ten_a", DivisionID: authz.HomeDivision, Day: today.Add(-2 * day), Tokens: 50},
	}); err != nil {
		cf.t.Fatal(err)
	}
	return ids
}

// The dashboard counts the fleet by status, each count a link to the
// list; a banner says how many secrets expire within 30 days and have
// expired, linking to those clients; the charts draw the weeks' expiries
// and the days' tokens, with their numbers as tables.
func TestDashboardFigures(t *testing.T) {
	cf := newConsoleFixture(t)
	ids := cf.withDashboardFleet()
	b := cf.signedIn(rootEmail)
	r := b.get("/console/")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r,
		`<a href="/console/clients"><span class="value">6</span> <span class="label">All clients</span></a>`,
		`<a href="/console/clients?status=active"><span class="value">4</span> <span class="label">Active</span></a>`,
		`<a href="/console/clients?status=inactive"><span class="value">1</span> <span class="label">Inactive</span></a>`,
		`<a href="/console/clients?status=revoked"><span class="value">1</span> <span class="label">Revoked</span></a>`,
		// 8 Mar + 30 days is 7 Apr.
		`<a href="/console/clients?expires_before=2026-04-07&amp;sort=secret_expires_at&amp;status=active">1 client secret expires within 30 days</a>; 1 client secret has expired.`,
		// The charts and their tables.
		`aria-labelledby="expiry-chart-title expiry-chart-desc"`,
		`<desc id="expiry-chart-desc">2 client secrets expire in the next 26 weeks, most (1) in the week starting 8 Mar.</desc>`,
		`<tr><th scope="row">8 Mar</th><td class="num">1</td></tr><tr><th scope="row">15 Mar</th><td class="num">0</td></tr>`,
		`<tr><th scope="row">5 Apr</th><td class="num">1</td></tr>`,
		`<desc id="tokens-chart-desc">Tokens issued per day, last 30 days: 1,254 in all, most on 8 Mar.</desc>`,
		`<tr><th scope="row">6 Mar</th><td class="num">50</td></tr><tr><th scope="row">7 Mar</th><td class="num">0</td></tr><tr><th scope="row">8 Mar</th><td class="num">1,204</td></tr></tbody>`,
		"Show the numbers", `aria-current="page">Dashboard`,
	)
	if n := strings.Count(r.Body, `<rect class="bar-fill`); n != 26+30 {
		t.Errorf("%d bars, want 56", n)
	}
	// The weeks inside the banner's window are drawn in its colour.
	if n := strings.Count(r.Body, `<rect class="bar-fill warn"`); n != 5 {
		t.Errorf("%d warning bars, want 5 (weeks starting within 30 days)", n)
	}
	checkConsoleAccessible(t, r.Body)

	// The banner's link lists the expired secret and the one expiring.
	wantListed(t, b.get("/console/clients?expires_before=2026-04-07&sort=secret_expires_at&status=active"), ids["Lapsing"], ids["Soon"])

	// Once both have expired, and Later is within the window. (Days on,
	// the session has long timed out: sign in again.)
	cf.now = t0.Add(12 * day)
	r = cf.signedIn(rootEmail).get("/console/")
	wantBody(t, r, `<a href="/console/clients?expires_before=2026-04-12&amp;sort=secret_expires_at&amp;status=active">1 client secret expires within 30 days</a>; 2 client secrets have expired.`)
	// Past every expiry, the banner says only what expired.
	cf.now = t0.Add(50 * day)
	r = cf.signedIn(rootEmail).get("/console/")
	wantBody(t, r, `status=active">3 client secrets have expired</a>.`)
	if strings.Contains(r.Body, "expire within") {
		t.Error("the banner counts secrets expiring soon")
	}
	// The expiry chart is then empty, and says so.
	wantBody(t, r, `<desc id="expiry-chart-desc">No client secret expires in the next 26 weeks.</desc>`)
}

// No secret expiring or expired: no banner.
func TestDashboardWithoutBanner(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.createClient(client.CreateParams{Name: "Fine", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	r := cf.signedIn(opsEmail).get("/console/")
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(r.Body, `id="expiry-banner"`) {
		t.Error("a banner with nothing to say")
	}
	wantBody(t, r, `<span class="value">1</span> <span class="label">All clients</span>`,
		`Tokens issued per day, last 30 days: none.`, `href="/console/clients/new">Create OAuth Client`)
	checkConsoleAccessible(t, r.Body)
}

// An empty fleet starts with an invitation to create a client, for those
// who may; a viewer is told who can.
func TestDashboardEmptyFleet(t *testing.T) {
	cf := newConsoleFixture(t)
	r := cf.signedIn(rootEmail).get("/console/")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `id="dashboard-empty"`, "No OAuth clients yet",
		`<a class="button" id="create-client" href="/console/clients/new">Create OAuth Client</a>`)
	if strings.Count(r.Body, "Create OAuth Client") != 1 || strings.Contains(r.Body, "<svg") {
		t.Error("the empty dashboard shows charts or two create buttons")
	}
	checkConsoleAccessible(t, r.Body)
	r = cf.signedIn(viewerEmail).get("/console/")
	wantBody(t, r, "No OAuth clients yet")
	if strings.Contains(r.Body, "Create OAuth Client") {
		t.Error("a viewer is offered to create a client")
	}
	checkConsoleAccessible(t, r.Body)
}

// An admin who may not view clients sees no client figure, only links to
// what they may open.
func TestDashboardWithoutClientView(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withDashboardFleet()
	cf.withUserAdmin()
	r := cf.signedIn(hrEmail).get("/console/")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "no client figures for you", `<li><a href="/console/users">Users</a></li>`)
	for _, no := range []string{`class="card"`, "<svg", `href="/console/clients`, "expire", `href="/console/audit"`} {
		if strings.Contains(r.Body, no) {
			t.Errorf("the dashboard of a user admin has %q", no)
		}
	}
	checkConsoleAccessible(t, r.Body)
}

// An admin limited to a division counts that division's clients only.
func TestDashboardDivisionAdmin(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	cf.withDashboardFleet()
	if _, err := cf.admin.Divisions.Create(ctx, system, account.NewDivision{ID: "div_emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.admin.Users.Create(ctx, system, account.NewUser{Email: "emea@example.com", Name: "Emea",
		Password: password, Roles: []string{"viewer@div_emea"}}); err != nil {
		t.Fatal(err)
	}
	cf.createClient(client.CreateParams{Name: "EMEA", GrantTypes: []client.GrantType{client.GrantClientCredentials},
		DivisionID: "div_emea", SecretLifetime: 2 * day})
	r := cf.signedIn("emea@example.com").get("/console/")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<span class="value">1</span> <span class="label">All clients</span>`,
		`<span class="value">1</span> <span class="label">Active</span>`, "1 client secret expires within 30 days</a>.",
		`Tokens issued per day, last 30 days: none.`)
	if strings.Contains(r.Body, "Create OAuth Client") {
		t.Error("a viewer is offered to create a client")
	}
	r = cf.signedIn(rootEmail).get("/console/")
	wantBody(t, r, `<span class="value">7</span> <span class="label">All clients</span>`, "2 client secrets expire within 30 days")
}

// failingStats is a client store whose counts fail.
type failingStats struct{ client.Repository }

func (failingStats) FleetCounts(context.Context, client.FleetQuery) (*client.FleetCounts, error) {
	return nil, errors.New("store: counter on fire")
}

func TestDashboardStoreFailure(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.admin.Clients.Repo = failingStats{cf.admin.Clients.Repo}
	r := cf.signedIn(rootEmail).get("/console/")
	wantStatus(t, r, http.StatusInternalServerError)
	if strings.Contains(r.Body, "on fire") || !strings.Contains(cf.logs.String(), "counter on fire") {
		t.Error("the failure is shown, or not logged")
	}
}
