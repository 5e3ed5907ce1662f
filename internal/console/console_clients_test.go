package console

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

var clientRowID = regexp.MustCompile(`<tr data-client-id="([^"]+)"`)

// listedClients are the IDs of the client table's rows, in order.
func listedClients(body string) []string {
	out := []string{}
	for _, m := range clientRowID.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// link returns the href of the element with the given id, unescaped, or
// "" when the page has none.
func link(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `" href="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func wantListed(t *testing.T, r *response, want ...string) {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	if want == nil {
		want = []string{}
	}
	if got := listedClients(r.Body); !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
}

// The fleet's IDs, in the order they were created.
const (
	idBilling = "lkc_a_billing_0000000001"
	idMobile  = "lkc_b_mobile"
	idReports = "lkc_c_reports"
	idArchive = "lkc_d_archive"
)

// withFleet creates four clients an hour apart from t0:
//
//	Billing sync    confidential, client credentials, active, 180-day secret, last used t0+48h
//	Mobile app      public, authorization code and refresh token, active, never used
//	Reports export  confidential, inactive, 20-day secret, owned by Ana, last used t0+4h
//	Archive import  confidential, revoked, a secret that never expires, never used
//
// and leaves the clock at t0+3h.
func (cf *consoleFixture) withFleet() {
	cf.t.Helper()
	ctx := context.Background()
	cc := []client.GrantType{client.GrantClientCredentials}
	for i, p := range []client.CreateParams{
		{ClientID: idBilling, Name: "Billing sync", GrantTypes: cc},
		{ClientID: idMobile, Name: "Mobile app", Type: client.Public, RedirectURIs: []string{"https://app.example/cb"},
			GrantTypes: []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken}},
		{ClientID: idReports, Name: "Reports export", GrantTypes: cc, SecretLifetime: 20 * 24 * time.Hour,
			OwnerUserID: anaID, Status: client.StatusInactive},
		{ClientID: idArchive, Name: "Archive import", GrantTypes: cc, SecretLifetime: client.NeverExpires},
	} {
		cf.now = t0.Add(time.Duration(i) * time.Hour)
		cf.createClient(p)
	}
	if _, err := cf.admin.Clients.SetStatus(ctx, system, idArchive, client.StatusRevoked, true); err != nil {
		cf.t.Fatal(err)
	}
	if err := cf.db.RecordUse(ctx, []client.Use{{ClientID: idBilling, At: t0.Add(48 * time.Hour)},
		{ClientID: idReports, At: t0.Add(4 * time.Hour)}}); err != nil {
		cf.t.Fatal(err)
	}
}

// Each row shows the client's name (a link to its page), its ID shortened
// with a copy button for the whole, its grants and status as badges, its
// dates and its secret's expiry.
func TestClientListRows(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	r := cf.signedIn(rootEmail).get("/console/clients")
	wantListed(t, r, idBilling, idMobile, idReports, idArchive)
	wantBody(t, r,
		`<a href="/console/clients/lkc_a_billing_0000000001">Billing sync</a>`,
		`<code aria-hidden="true" title="lkc_a_billing_0000000001">lkc_a_bill…0001</code>`,
		`<span class="visually-hidden" id="client-id-1">lkc_a_billing_0000000001</span>`,
		`<code aria-hidden="true" title="lkc_b_mobile">lkc_b_mobile</code>`,
		`class="copy small secondary" data-copy="#client-id-1"`,
		`<span class="badge grant">Client credentials</span>`,
		`<span class="badge grant">Authorization code</span><span class="badge grant">Refresh token</span>`,
		`<span class="badge active">Active</span>`, `<span class="badge inactive">Inactive</span>`, `<span class="badge revoked">Revoked</span>`,
		`<time datetime="2026-03-01T12:00:00Z">1 Mar 2026</time>`,
		`<time datetime="2026-03-03T12:00:00Z">3 Mar 2026</time>`, // Billing's last use
		`<span class="never">Never used</span>`,
		// At t0+3h: Billing's secret was made at t0, Reports' at t0+2h.
		`title="28 Aug 2026">Expires in 180 days</time>`,
		`<time class="expires soon" datetime="2026-03-21T14:00:00Z" title="21 Mar 2026">Expires in 20 days</time>`,
		`<span class="never">No secret</span>`, `<span class="never">Never expires</span>`,
		`<span data-count>4 clients found</span>`, `<p class="count" id="page-range">1–4 of 4</p>`,
		`id="q" name="q"`, `<select id="status" name="status">`, `<table id="clients-table">`, `<div id="results">`,
		`data-live="results"`, `id="create-client-head" href="/console/clients/new"`,
		`aria-current="page">OAuth Clients`,
	)
	// One page: no pager links.
	for _, id := range []string{"next-page", "prev-page", "first-page", "show-all", "empty-state"} {
		if strings.Contains(r.Body, `id="`+id+`"`) {
			t.Errorf("a single page has #%s", id)
		}
	}
	checkConsoleAccessible(t, r.Body)

	// The expiry counts from the injected clock.
	cf.now = t0.Add(30 * 24 * time.Hour)
	r = cf.signedIn(rootEmail).get("/console/clients?q=reports")
	wantBody(t, r, `<time class="expires expired" datetime="2026-03-21T14:00:00Z" title="21 Mar 2026">Expired</time>`)
}

// The expiry's words, in whole days from now: highlighted up to and
// including 30 days.
func TestSecretExpiryText(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	conf := func(in time.Duration) *client.Client {
		return &client.Client{Type: client.Confidential, SecretExpiresAt: now.Add(in)}
	}
	const d = 24 * time.Hour
	for _, tc := range []struct {
		name  string
		c     *client.Client
		text  string
		class string
	}{
		{"public", &client.Client{Type: client.Public}, "No secret", "never"},
		{"no expiry", &client.Client{Type: client.Confidential}, "Never expires", "never"},
		{"a second ago", conf(-time.Second), "Expired", "expires expired"},
		{"right now", conf(0), "Expired", "expires expired"},
		{"in a second", conf(time.Second), "Expires in 1 day", "expires soon"},
		{"in 23h59m", conf(d - time.Minute), "Expires in 1 day", "expires soon"},
		{"in exactly a day", conf(d), "Expires in 1 day", "expires soon"},
		{"in a day and a second", conf(d + time.Second), "Expires in 2 days", "expires soon"},
		{"in 47h", conf(2*d - time.Hour), "Expires in 2 days", "expires soon"},
		{"in 2 days", conf(2 * d), "Expires in 2 days", "expires soon"},
		{"in exactly 30 days", conf(30 * d), "Expires in 30 days", "expires soon"},
		{"a second over 30 days", conf(30*d + time.Second), "Expires in 31 days", ""},
		{"in exactly 31 days", conf(31 * d), "Expires in 31 days", ""},
		{"a second under 180 days", conf(180*d - time.Second), "Expires in 180 days", ""},
		{"in 180 days", conf(180 * d), "Expires in 180 days", ""},
		{"in 1,200 days", conf(1200 * d), "Expires in 1,200 days", ""},
	} {
		got := secretExpiry(tc.c, now)
		if got.Text != tc.text || got.Class != tc.class {
			t.Errorf("%s: %q %q, want %q %q", tc.name, got.Text, got.Class, tc.text, tc.class)
		}
		if want := tc.c.SecretExpiresAt; tc.c.Type == client.Confidential && !got.At.Equal(want) {
			t.Errorf("%s: at %v, want %v", tc.name, got.At, want)
		}
	}
}

// The search matches a substring of the name or of the client ID, in any
// case.
func TestClientListSearch(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	b := cf.signedIn(rootEmail)
	for q, want := range map[string][]string{
		"mobi":    {idMobile},
		"MOBILE":  {idMobile},
		"port":    {idReports, idArchive}, // "Reports export", "Archive import"
		"LKC_C":   {idReports},
		"a_bill":  {idBilling},
		"nothing": nil,
	} {
		t.Run(q, func(t *testing.T) {
			r := b.get("/console/clients?q=" + url.QueryEscape(q))
			wantListed(t, r, want...)
			wantBody(t, r, `value="`+q+`"`)
			if want == nil {
				wantBody(t, r, `id="empty-state"`, `No clients match these filters.`, `href="/console/clients">Clear filters`)
				if strings.Contains(r.Body, `id="create-client"`) {
					t.Error("a search that matches nothing offers to create a client")
				}
			}
		})
	}
}

func TestClientListStatusFilter(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	b := cf.signedIn(rootEmail)
	for status, want := range map[string][]string{
		"":         {idBilling, idMobile, idReports, idArchive},
		"active":   {idBilling, idMobile},
		"inactive": {idReports},
		"revoked":  {idArchive},
	} {
		r := b.get("/console/clients?status=" + status)
		wantListed(t, r, want...)
		wantBody(t, r, fmt.Sprintf(`<option value="%s" selected>`, status))
	}
}

// The admin API's fleet filters, one by one and together.
func TestClientListFleetFilters(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	b := cf.signedIn(rootEmail)
	for query, want := range map[string][]string{
		"type=public":                               {idMobile},
		"type=confidential":                         {idBilling, idReports, idArchive},
		"grant=refresh_token":                       {idMobile},
		"grant=client_credentials":                  {idBilling, idReports, idArchive},
		"grant=authorization_code&type=public":      {idMobile},
		"expires_before=2026-04-01":                 {idReports},
		"expires_before=2026-09-01":                 {idBilling, idReports},
		"expires_before=2026-03-01":                 nil,
		"unused_since=2026-03-02":                   {idMobile, idReports, idArchive},
		"unused_since=2026-03-01":                   {idMobile, idArchive},
		"never_used=on":                             {idMobile, idArchive},
		"never_used=on&unused_since=2026-12-31":     {idMobile, idArchive},
		"owner=" + anaID:                            {idReports},
		"owner=usr_nobody":                          nil,
		"created_by=system":                         {idBilling, idMobile, idReports, idArchive},
		"created_by=" + rootID:                      nil,
		"status=active&type=confidential":           {idBilling},
		"status=inactive&expires_before=2026-04-01": {idReports},
		"division=" + authz.HomeDivision:            {idBilling, idMobile, idReports, idArchive},
	} {
		t.Run(query, func(t *testing.T) {
			r := b.get("/console/clients?" + query)
			wantListed(t, r, want...)
			// The form keeps what was chosen, with More filters open.
			if !strings.Contains(r.Body, "<details open>") && !strings.HasPrefix(query, "status=") {
				t.Error("More filters is closed")
			}
		})
	}
}

// A client created by an admin is found by its creator.
func TestClientListCreatedBy(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	root := authz.Actor{Kind: authz.KindUser, ID: rootID, Name: rootEmail, TenantID: "ten_a", Roles: []string{authz.SuperAdmin}}
	c, _, err := cf.admin.Clients.Create(context.Background(), root, client.CreateParams{Name: "Root's own",
		GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	b := cf.signedIn(rootEmail)
	wantListed(t, b.get("/console/clients?created_by="+rootID), c.ID)
	wantListed(t, b.get("/console/clients?created_by=system&status=revoked"), idArchive)
	r := b.get("/console/clients?created_by=" + rootID)
	wantBody(t, r, `id="created_by" name="created_by" value="usr_root"`)
}

// Every column sorts both ways; a first click on a time sorts newest
// first, on the sorted column the other way round.
func TestClientListSort(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	b := cf.signedIn(rootEmail)
	for _, tc := range []struct {
		sort string
		asc  []string
	}{
		{"name", []string{idArchive, idBilling, idMobile, idReports}},
		{"client_id", []string{idBilling, idMobile, idReports, idArchive}},
		{"created_at", []string{idBilling, idMobile, idReports, idArchive}},
		// Never used sorts first; ties go by client ID.
		{"last_used_at", []string{idMobile, idArchive, idReports, idBilling}},
		// No secret and a secret that never expires sort first.
		{"secret_expires_at", []string{idMobile, idArchive, idReports, idBilling}},
		{"status", []string{idBilling, idMobile, idReports, idArchive}},
	} {
		t.Run(tc.sort, func(t *testing.T) {
			r := b.get("/console/clients?sort=" + tc.sort + "&dir=asc")
			wantListed(t, r, tc.asc...)
			wantBody(t, r, `<th scope="col" aria-sort="ascending"><a href="/console/clients?dir=desc&amp;sort=`+tc.sort+`" data-sort="`+tc.sort+`">`)
			if n := strings.Count(r.Body, "aria-sort="); n != 1 {
				t.Errorf("%d sorted columns", n)
			}
			desc := make([]string, len(tc.asc))
			for i, id := range tc.asc {
				desc[len(desc)-1-i] = id
			}
			r = b.get("/console/clients?sort=" + tc.sort + "&dir=desc")
			wantListed(t, r, desc...)
			wantBody(t, r, `aria-sort="descending"><a href="/console/clients?dir=asc&amp;sort=`+tc.sort+`"`)
			// The form keeps the order for the next search.
			wantBody(t, r, `<input type="hidden" name="sort" value="`+tc.sort+`">`, `<input type="hidden" name="dir" value="desc">`)
		})
	}
	// Without a sort, the list is by creation, oldest first, and the
	// headers' first clicks: names ascending, times newest first.
	r := b.get("/console/clients?q=a")
	wantBody(t, r, `aria-sort="ascending"><a href="/console/clients?dir=desc&amp;q=a&amp;sort=created_at" data-sort="created_at">`,
		`<a href="/console/clients?dir=asc&amp;q=a&amp;sort=name" data-sort="name">`,
		`<a href="/console/clients?dir=desc&amp;q=a&amp;sort=last_used_at" data-sort="last_used_at">`)
}

// Next, Previous and First page walk the list by keyset cursors, with
// the range each page covers; going back lands on the same pages.
func TestClientListPagination(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	b := cf.signedIn(rootEmail)
	r := b.get("/console/clients?limit=1&sort=name")
	wantListed(t, r, idArchive)
	wantBody(t, r, `id="page-range">1–1 of 4<`, `<option value="1" selected>1</option>`)
	if link(r.Body, "prev-page") != "" || link(r.Body, "first-page") != "" {
		t.Error("the first page links back")
	}
	next := link(r.Body, "next-page")
	if !strings.Contains(next, "after=") || !strings.Contains(next, "start=2") || !strings.Contains(next, "sort=name") {
		t.Fatalf("next = %q", next)
	}
	pages := []string{idArchive, idBilling, idMobile, idReports}
	for i := 1; i < len(pages); i++ {
		r = b.get(next)
		wantListed(t, r, pages[i])
		wantBody(t, r, fmt.Sprintf(`id="page-range">%d–%d of 4<`, i+1, i+1))
		if link(r.Body, "first-page") != "/console/clients?limit=1&sort=name" {
			t.Errorf("page %d: first = %q", i+1, link(r.Body, "first-page"))
		}
		next = link(r.Body, "next-page")
	}
	if next != "" {
		t.Errorf("the last page links on: %q", next)
	}
	for i := len(pages) - 2; i >= 0; i-- {
		prev := link(r.Body, "prev-page")
		if !strings.Contains(prev, "before=") {
			t.Fatalf("page %d: prev = %q", i+2, prev)
		}
		r = b.get(prev)
		wantListed(t, r, pages[i])
		wantBody(t, r, fmt.Sprintf(`id="page-range">%d–%d of 4<`, i+1, i+1))
	}
	if link(r.Body, "prev-page") != "" {
		t.Error("back on the first page, it links back")
	}
	wantListed(t, b.get(link(r.Body, "next-page")), idBilling)

	// A page of three, then the rest, then back.
	r = b.get("/console/clients?limit=3")
	wantListed(t, r, idBilling, idMobile, idReports)
	r = b.get(link(r.Body, "next-page"))
	wantListed(t, r, idArchive)
	wantBody(t, r, `id="page-range">4–4 of 4<`)
	r = b.get(link(r.Body, "prev-page"))
	wantListed(t, r, idBilling, idMobile, idReports)
	wantBody(t, r, `id="page-range">1–3 of 4<`)

	// Going back from a start that moved lands on a full first page.
	r = b.get("/console/clients?limit=2")
	r = b.get(link(r.Body, "next-page"))
	wantListed(t, r, idReports, idArchive)
	prev := link(r.Body, "prev-page")
	if err := cf.admin.Clients.Delete(context.Background(), system, idBilling); err != nil {
		t.Fatal(err)
	}
	r = b.get(prev)
	wantListed(t, r, idMobile, idReports)
	wantBody(t, r, `id="page-range">1–2 of 3<`)
}

// Show all lists every client on one page, up to the domain's most, and
// says so when there are more.
func TestClientListShowAll(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	b := cf.signedIn(rootEmail)
	r := b.get("/console/clients?limit=1&status=active")
	all := link(r.Body, "show-all")
	if all != "/console/clients?all=1&status=active" {
		t.Fatalf("show all = %q", all)
	}
	r = b.get("/console/clients?limit=1")
	r = b.get(link(r.Body, "show-all"))
	wantListed(t, r, idBilling, idMobile, idReports, idArchive)
	if link(r.Body, "show-all") != "" || link(r.Body, "next-page") != "" {
		t.Error("show all links on")
	}
	if got := link(r.Body, "show-pages"); got != "/console/clients" {
		t.Errorf("show pages = %q", got)
	}

	// Past the most, it shows the first MaxListLimit and says there are more.
	ctx := context.Background()
	err := cf.db.InTx(ctx, func(tx client.Tx) error {
		for i := range client.MaxListLimit {
			c := &client.Client{ID: fmt.Sprintf("lkc_bulk_%04d", i), TenantID: "ten_a", Name: fmt.Sprintf("Bulk %04d", i),
				Type: client.Confidential, GrantTypes: []client.GrantType{client.GrantClientCredentials},
				TokenEndpointAuthMethod: client.AuthSecretBasic, DivisionID: authz.HomeDivision, AccessTokenTTL: time.Hour,
				TokenFormat: client.TokenJWT, Status: client.StatusActive, CreatedAt: t0.Add(time.Duration(i+10) * time.Hour),
				CreatedBy: "system", UpdatedAt: t0}
			if err := tx.CreateClient(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r = b.get("/console/clients?all=1")
	wantStatus(t, r, http.StatusOK)
	if n := len(listedClients(r.Body)); n != client.MaxListLimit {
		t.Fatalf("show all listed %d", n)
	}
	wantBody(t, r, `<span data-count>1,004 clients found</span>: showing the first 1,000`,
		"Show all lists 1,000 clients at most", `id="page-range">1–1,000 of 1,004<`)
	// Past the count's cap, a filtered total is the store's estimate.
	est := b.get("/console/clients?all=1&status=active")
	wantBody(t, est, `<span data-count>About `, ` of about `)
	r = b.get(link(r.Body, "next-page"))
	if got := listedClients(r.Body); len(got) != 4 || got[3] != "lkc_bulk_0999" {
		t.Errorf("after show all: %v", got)
	}
}

// Filters the list cannot read are told next to their field, with a
// summary at the top; the list is not shown at all.
func TestClientListBadFilters(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	b := cf.signedIn(rootEmail)
	for _, tc := range []struct {
		query, field, msg string
	}{
		{"expires_before=2026-13-01", "expires_before", "Enter a date as YYYY-MM-DD."},
		{"expires_before=tomorrow", "expires_before", "Enter a date as YYYY-MM-DD."},
		{"unused_since=01/03/2026", "unused_since", "Enter a date as YYYY-MM-DD."},
		{"unused_since=1969-07-20", "unused_since", "Must be a time after 1970 and before the year 10000."},
		{"status=deleted", "status", `Must be &#34;active&#34;, &#34;inactive&#34; or &#34;revoked&#34;.`},
		{"type=secret", "type", `Must be &#34;confidential&#34; or &#34;public&#34;.`},
		{"grant=password", "grant", "Must be client_credentials, authorization_code or refresh_token."},
		{"created_by=usr%201", "created_by", "Must be the ID of a user, a client or the system."},
		{"owner=not%20an%20id", "owner", "Must be a user ID."},
		{"division=bad%20division", "division", "Must be division IDs."},
		{"limit=0", "limit", "Choose from 1 to 1,000 clients a page."},
		{"limit=lots", "limit", "Choose from 1 to 1,000 clients a page."},
		{"limit=1001", "limit", "Choose from 1 to 1,000 clients a page."},
		{"q=" + url.QueryEscape(strings.Repeat("x", 201)), "q", ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := b.get("/console/clients?" + tc.query)
			wantStatus(t, r, http.StatusBadRequest)
			wantBody(t, r, `role="alert" id="error-summary"`, `<a href="#`+tc.field+`">`,
				`id="`+tc.field+`-error">`+tc.msg, `aria-invalid="true"`)
			if !strings.Contains(r.Body, `aria-describedby="`+tc.field+`-error"`) &&
				!strings.Contains(r.Body, `aria-describedby="`+tc.field+`-hint `+tc.field+`-error"`) {
				t.Error("the field is not described by its error")
			}
			if strings.Contains(r.Body, `id="clients-table"`) {
				t.Error("the list is shown")
			}
			checkConsoleAccessible(t, r.Body)
		})
	}
	// Values from links rather than the form: told in the summary.
	for _, tc := range []struct{ query, msg string }{
		{"sort=password", "Sort: Must be one of name"},
		{"dir=sideways", "Order: Choose ascending or descending order."},
		{"after=garbage", "Page: Is not a cursor this server issued."},
		{"before=garbage", "Page: Is not a cursor this server issued."},
	} {
		r := b.get("/console/clients?" + tc.query)
		wantStatus(t, r, http.StatusBadRequest)
		wantBody(t, r, `role="alert"`, "<li>"+tc.msg)
	}
	// Every mistake is told at once, the console's and the domain's.
	r := b.get("/console/clients?expires_before=soon&status=deleted&limit=0")
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, `<a href="#status">Status: Must be`, `<a href="#expires_before">Secret expires before: Enter a date`,
		`<a href="#limit">Clients a page: Choose from 1 to 1,000`)
	if strings.Index(r.Body, `href="#status"`) > strings.Index(r.Body, `href="#expires_before"`) {
		t.Error("the summary is not in the form's order")
	}
	// A wrong start only labels the range: it is ignored.
	wantListed(t, b.get("/console/clients?start=-5"), idBilling, idMobile, idReports, idArchive)
}

// With no clients at all, the list says so and offers to create one to
// an admin who may add clients, and only to them.
func TestClientListEmpty(t *testing.T) {
	cf := newConsoleFixture(t)
	r := cf.signedIn(opsEmail).get("/console/clients")
	wantListed(t, r)
	wantBody(t, r, `<div class="empty" id="empty-state">`, "No OAuth clients yet.",
		`<a class="button" id="create-client" href="/console/clients/new">Create OAuth Client</a>`)
	if strings.Contains(r.Body, `id="create-client-head"`) || strings.Contains(r.Body, `id="clients-table"`) {
		t.Error("the empty state has a table or a second create button")
	}
	checkConsoleAccessible(t, r.Body)

	r = cf.signedIn(viewerEmail).get("/console/clients")
	wantBody(t, r, `id="empty-state"`, "No OAuth clients yet.")
	if strings.Contains(r.Body, "Create OAuth Client") {
		t.Error("a viewer is offered to create a client")
	}
	checkConsoleAccessible(t, r.Body)
}

// A viewer sees the list but no way to create a client.
func TestClientListViewerCannotCreate(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	r := cf.signedIn(viewerEmail).get("/console/clients")
	wantListed(t, r, idBilling, idMobile, idReports, idArchive)
	if strings.Contains(r.Body, "/console/clients/new") {
		t.Error("a viewer is offered to create a client")
	}
	r = cf.signedIn(opsEmail).get("/console/clients")
	wantBody(t, r, `id="create-client-head"`)
}

// Only admins who may view clients see the list: a user admin is told
// the page is not theirs, a user with no role the console is not.
func TestClientListRefusals(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	cf.withUserAdmin()
	r := cf.signedIn(hrEmail).get("/console/clients")
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "You do not have access to this page")
	if strings.Contains(r.Body, "Billing sync") {
		t.Error("the refusal shows a client")
	}
	r = cf.signedIn(anaEmail).get("/console/clients")
	wantStatus(t, r, http.StatusForbidden)
	wantRedirect(t, cf.browser().get("/console/clients?q=x"), "http://latchkey.test/account/login?next=%2Fconsole%2Fclients%3Fq%3Dx")
	r = cf.signedIn(rootEmail).do(http.MethodPost, "/console/clients", url.Values{})
	wantStatus(t, r, http.StatusMethodNotAllowed)
}

// An admin whose role is limited to a division lists that division's
// clients only, whatever the filter asks.
func TestClientListDivisionAdmin(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	if _, err := cf.admin.Divisions.Create(ctx, system, account.NewDivision{ID: "div_emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.admin.Users.Create(ctx, system, account.NewUser{Email: "emea@example.com", Name: "Emea",
		Password: password, Roles: []string{"oauth_admin@div_emea"}}); err != nil {
		t.Fatal(err)
	}
	cc := []client.GrantType{client.GrantClientCredentials}
	home, _ := cf.createClient(client.CreateParams{Name: "Home client", GrantTypes: cc})
	cf.now = t0.Add(time.Minute) // the list is by creation: one after the other
	emea, _ := cf.createClient(client.CreateParams{Name: "EMEA client", GrantTypes: cc, DivisionID: "div_emea"})

	b := cf.signedIn("emea@example.com")
	wantListed(t, b.get("/console/clients"), emea.ID)
	wantListed(t, b.get("/console/clients?division="+authz.HomeDivision))
	r := b.get("/console/clients?division=div_emea")
	wantListed(t, r, emea.ID)
	// The division filter offers only their division.
	wantBody(t, r, `<option value="div_emea" selected>EMEA</option>`)
	if strings.Contains(r.Body, `<option value="`+authz.HomeDivision+`"`) {
		t.Error("the division filter offers a division the admin cannot see")
	}

	root := cf.signedIn(rootEmail)
	wantListed(t, root.get("/console/clients"), home.ID, emea.ID)
	wantListed(t, root.get("/console/clients?division=div_emea"), emea.ID)
	wantListed(t, root.get("/console/clients?division="+authz.HomeDivision), home.ID)
}

// The users page links to a user's clients: the heading names the owner
// for an admin who may read users, and says the ID to one who may not.
func TestClientListOfOwner(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withFleet()
	r := cf.signedIn(rootEmail).get("/console/clients?owner=" + anaID)
	wantListed(t, r, idReports)
	wantBody(t, r, "<h1>OAuth clients of Ana (ana@example.com)</h1>", `<title>OAuth clients of Ana (ana@example.com) · Latchkey console</title>`)
	checkConsoleAccessible(t, r.Body)
	r = cf.signedIn(opsEmail).get("/console/clients?owner=" + anaID)
	wantListed(t, r, idReports)
	wantBody(t, r, "<h1>OAuth clients of usr_ana</h1>")
	r = cf.signedIn(rootEmail).get("/console/clients?owner=usr_gone")
	wantListed(t, r)
	wantBody(t, r, "<h1>OAuth clients of usr_gone</h1>", "No clients match these filters.")
}

// A name is text wherever it is shown: in the row, the copy button's
// label and the owner heading.
func TestClientListEscapes(t *testing.T) {
	cf := newConsoleFixture(t)
	const evil = `<script>alert(1)</script>`
	cf.createClient(client.CreateParams{Name: evil, GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	b := cf.signedIn(rootEmail)
	r := b.get("/console/clients?q=" + url.QueryEscape(evil[:10]))
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(r.Body, evil) || strings.Contains(r.Body, "<script>alert") {
		t.Fatalf("the name is not escaped:\n%s", r.Body)
	}
	wantBody(t, r, `&lt;script&gt;alert(1)&lt;/script&gt;</a>`, `aria-label="Copy the client ID of &lt;script&gt;alert(1)&lt;/script&gt;"`,
		`value="&lt;script&gt;al"`)
	checkConsoleAccessible(t, r.Body)
	// A hostile query is text in the form and in the links.
	r = b.get(`/console/clients?q=%22%3E%3Cb%3E&owner=%22%3E%3Cscript%3E`)
	if strings.Contains(r.Body, `"><b>`) || strings.Contains(r.Body, `"><script>`) {
		t.Fatalf("the query is not escaped:\n%s", r.Body)
	}
}

// The list is served under another tenant's base for that tenant's
// admins, with links under the same base.
func TestClientListOtherTenant(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	beta := authz.SystemActor("ten_b")
	if _, err := cf.admin.Users.Create(ctx, beta, account.NewUser{Email: "boss@example.com", Name: "Boss",
		Password: password, Roles: []string{authz.SuperAdmin}}); err != nil {
		t.Fatal(err)
	}
	c, _, err := cf.admin.Clients.Create(ctx, beta, client.CreateParams{Name: "Beta client", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	cf.withFleet()
	b := cf.browser()
	if r := b.submit("/t/beta/account/login", url.Values{"email": {"boss@example.com"}, "password": {password}}); r.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.Code)
	}
	r := b.get("/t/beta/console/clients")
	wantListed(t, r, c.ID)
	wantBody(t, r, `href="/t/beta/console/clients/`+c.ID+`"`, `action="/t/beta/console/clients"`)
}

// failingList is a client store whose list fails.
type failingList struct{ client.Repository }

func (failingList) ListClients(context.Context, client.ListQuery) (*client.ListPage, error) {
	return nil, errors.New("store: disk on fire")
}

// A store that fails is the 500 page, logged, with nothing of the error
// shown.
func TestClientListStoreFailure(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.admin.Clients.Repo = failingList{cf.admin.Clients.Repo}
	r := cf.signedIn(rootEmail).get("/console/clients")
	wantStatus(t, r, http.StatusInternalServerError)
	if strings.Contains(r.Body, "disk on fire") {
		t.Error("the error is shown")
	}
	if !strings.Contains(cf.logs.String(), "disk on fire") {
		t.Error("the error is not logged")
	}
}
