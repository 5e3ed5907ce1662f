package console

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// clientListRoutes are the client list.
func (p *Pages) clientListRoutes() []consoleRoute {
	return []consoleRoute{{path: "/clients", handlers: map[string]consoleHandler{"GET": p.clientList}}}
}

// The list's page sizes on offer; any size the domain allows is served.
var listPageSizes = []int{25, client.DefaultListLimit, 100, 250}

// listGrantNames are the grant types in words, for the badges and the
// grant filter.
var listGrantNames = []struct {
	Grant client.GrantType
	Label string
}{
	{client.GrantClientCredentials, "Client credentials"},
	{client.GrantAuthorizationCode, "Authorization code"},
	{client.GrantRefreshToken, "Refresh token"},
}

func grantName(g client.GrantType) string {
	for _, n := range listGrantNames {
		if n.Grant == g {
			return n.Label
		}
	}
	return string(g)
}

// listColumns are the list's sortable columns, in the table's order, with
// the direction a first click sorts them: names ascending, times newest
// first.
var listColumns = []struct {
	Sort  client.SortField
	Label string
	Desc  bool
}{
	{client.SortName, "Name", false},
	{client.SortClientID, "Client ID", false},
	{client.SortStatus, "Status", false},
	{client.SortCreatedAt, "Created", true},
	{client.SortLastUsedAt, "Last used", true},
	{client.SortSecretExpiresAt, "Secret expires", false},
}

// listFilter is the list's query as the admin typed it: every parameter
// kept as text, so a form with a mistake shows what was entered.
type listFilter struct {
	Q, Status, Type, Grant, CreatedBy string
	ExpiresBefore, UnusedSince        string
	Division, Owner                   string
	NeverUsed                         bool

	Sort, Dir, Limit string
	All              bool

	// After, Before and Start place the page: a cursor of the domain and
	// the page's first row's position, which keyset paging cannot know
	// and the links carry along (it only labels the range).
	After, Before string
	Start         int
}

func readListFilter(v url.Values) listFilter {
	f := listFilter{Q: v.Get("q"), Status: v.Get("status"), Type: v.Get("type"), Grant: v.Get("grant"),
		CreatedBy: v.Get("created_by"), ExpiresBefore: v.Get("expires_before"), UnusedSince: v.Get("unused_since"),
		Division: v.Get("division"), Owner: v.Get("owner"), NeverUsed: v.Get("never_used") != "",
		Sort: v.Get("sort"), Dir: v.Get("dir"), Limit: v.Get("limit"), All: v.Get("all") != "",
		After: v.Get("after"), Before: v.Get("before")}
	// Start only labels the range: a wrong one is ignored, not an error.
	if n, err := strconv.Atoi(v.Get("start")); err == nil && n > 0 {
		f.Start = n
	} else {
		f.Start = 1
	}
	return f
}

// values is the filter as a query string, without the page's place:
// what every link of the list starts from.
func (f listFilter) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", f.Q)
	set("status", f.Status)
	set("type", f.Type)
	set("grant", f.Grant)
	set("created_by", f.CreatedBy)
	set("expires_before", f.ExpiresBefore)
	set("unused_since", f.UnusedSince)
	set("division", f.Division)
	set("owner", f.Owner)
	if f.NeverUsed {
		v.Set("never_used", "on")
	}
	set("sort", f.Sort)
	set("dir", f.Dir)
	if f.All {
		v.Set("all", "1")
	} else {
		set("limit", f.Limit)
	}
	return v
}

// More reports whether a filter beyond the search and status is set, so
// the form opens its "More filters".
func (f listFilter) More() bool {
	return f.Type != "" || f.Grant != "" || f.CreatedBy != "" || f.ExpiresBefore != "" || f.UnusedSince != "" ||
		f.NeverUsed || f.Division != "" || f.Owner != ""
}

// Filtered reports whether any filter is set: an empty list then says
// nothing matches rather than that there are no clients.
func (f listFilter) Filtered() bool { return f.Q != "" || f.Status != "" || f.More() }

// listDate reads a date filter: a day, meaning its start (UTC).
func listDate(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// msgDate is the message of a date the list cannot read.
const msgDate = "Enter a date as YYYY-MM-DD."

// query turns the filter into the domain's query, with the field errors
// of what is wrong keyed by parameter. The console checks only what it
// reads itself (dates, numbers, words of its own); the domain checks the
// rest (ListQuery.Normalize), its field errors renamed to the parameters.
func (f listFilter) query() (client.ListQuery, map[string]string) {
	fe := map[string]string{}
	q := client.ListQuery{Search: f.Q, Status: client.Status(f.Status), Type: client.Type(f.Type),
		GrantType: client.GrantType(f.Grant), CreatedBy: f.CreatedBy, OwnerUserID: f.Owner,
		NeverUsed: f.NeverUsed, Sort: client.SortField(f.Sort), After: f.After, Before: f.Before}
	if f.Division != "" {
		q.Divisions = []string{f.Division}
	}
	if s := f.ExpiresBefore; s != "" {
		if t, ok := listDate(s); ok {
			q.SecretExpiresBefore = t
		} else {
			fe["expires_before"] = msgDate
		}
	}
	if s := f.UnusedSince; s != "" && !f.NeverUsed {
		if t, ok := listDate(s); ok {
			q.UnusedSince = t
		} else {
			fe["unused_since"] = msgDate
		}
	}
	switch f.Dir {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		fe["dir"] = "Choose ascending or descending order."
	}
	switch {
	case f.All:
		q.Limit = client.MaxListLimit
	case f.Limit != "":
		n, err := strconv.Atoi(f.Limit)
		if err != nil || n < 1 || n > client.MaxListLimit {
			fe["limit"] = "Choose from 1 to " + groupDigits(client.MaxListLimit) + " clients a page."
		}
		q.Limit = n
	}
	// The domain's checks too, so that every mistake is told at once (the
	// console's own message first, where both found one).
	check := q
	if err := check.Normalize(); err != nil {
		for field, msg := range listFieldErrors(err) {
			if fe[field] == "" {
				fe[field] = msg
			}
		}
	}
	if len(fe) > 0 {
		return q, fe
	}
	return q, nil
}

// listFieldNames are the domain's names of the list's fields where the
// console's parameters differ.
var listFieldNames = map[string]string{"search": "q", "grant_type": "grant", "owner_user_id": "owner",
	"secret_expires_before": "expires_before", "limit": "limit", "after": "page", "before": "page"}

// listFieldErrors are err's field errors keyed by the list's parameters.
func listFieldErrors(err error) map[string]string {
	return fieldErrors(errs.Rename(err, listFieldNames))
}

// listFieldOrder is the order of the list's fields in the error summary,
// which is the form's.
// Input says the field is a control of the form, which the summary links
// to; the others come from links (the order, the page's place).
var listFieldOrder = []struct {
	Field, Label string
	Input        bool
}{
	{"q", "Search", true}, {"status", "Status", true}, {"type", "Type", true}, {"grant", "Grant type", true},
	{"created_by", "Created by", true}, {"expires_before", "Secret expires before", true},
	{"unused_since", "Unused since", true}, {"division", "Division", true}, {"owner", "Owner", true},
	{"sort", "Sort", false}, {"dir", "Order", false}, {"limit", "Clients a page", true}, {"page", "Page", false},
}

// listError is one line of the error summary.
type listError struct{ Anchor, Text string }

// clientRow is one client of the list.
type clientRow struct {
	ID, Name    string
	Grants      []string
	Status      client.Status
	StatusLabel string
	Created     time.Time
	LastUsed    time.Time // zero when never used
	Expiry      expiryView
	// N numbers the row on its page, for element IDs.
	N int
}

// expiryView is a secret's expiry as the list says it.
type expiryView struct {
	Text string
	// Class is "expires soon", "expires expired" or "never"; empty for
	// an expiry far enough off to need no attention.
	Class string
	// At is the expiry's date, for the element's datetime and title; zero
	// for none.
	At time.Time
}

// soonDays is how near, in whole days, an expiry is highlighted: the
// dashboard's banner counts the same window.
const soonDays = int(client.ExpiringSoon / (24 * time.Hour))

// secretExpiry says when a client's secret expires, in days from now as
// client.DaysLeft counts them (as the CLI's list does): "Expires in 1
// day", "Expires in N days" (marked soon up to soonDays, the banner's
// window), "Expired"; "Never expires" for a secret without an expiry and
// "No secret" for a public client.
func secretExpiry(c *client.Client, now time.Time) expiryView {
	switch {
	case c.Type == client.Public:
		return expiryView{Text: "No secret", Class: "never"}
	case c.SecretExpiresAt.IsZero():
		return expiryView{Text: "Never expires", Class: "never"}
	case !c.SecretExpiresAt.After(now):
		return expiryView{Text: "Expired", Class: "expires expired", At: c.SecretExpiresAt}
	}
	days := client.DaysLeft(c.SecretExpiresAt, now)
	v := expiryView{At: c.SecretExpiresAt}
	switch days {
	case 1:
		v.Text = "Expires in 1 day"
	default:
		v.Text = "Expires in " + groupDigits(int64(days)) + " days"
	}
	if days <= soonDays {
		v.Class = "expires soon"
	}
	return v
}

// listHeader is one column heading of the table.
type listHeader struct {
	Sort  string
	Label string
	// Href sorts by the column: the other way when it is the sort.
	Href string
	// AriaSort is "ascending" or "descending" on the sorted column.
	AriaSort string
	Mark     string
}

// listOption is one choice of a select.
type listOption struct{ Value, Label string }

// clientListView is the client list page.
type clientListView struct {
	F      listFilter
	Errors map[string]string
	// Summary lists the errors in the form's order, for the alert at top.
	Summary []listError
	Rows    []clientRow
	Headers []listHeader
	// Range is the rows shown, "1–50 of 1,203"; Count says how many
	// clients match, for the live region's announcement.
	Range, Count string
	// Next, Prev, First and ShowAll are the pager's links; empty when
	// there is no such page.
	Next, Prev, First, ShowAll, Paged string
	// More says Show all stopped at client.MaxListLimit.
	More      bool
	CanCreate bool
	// Owner heads a list of one user's clients.
	Owner                   string
	Statuses, Types, Grants []listOption
	Divisions               []listOption
	PageSizes               []listOption
	Action                  string
	Empty                   bool
	MaxAll                  string
}

// Err is the message of field f.
func (v *clientListView) Err(f string) string { return v.Errors[f] }

// PageSize is the page size the form shows chosen.
func (v *clientListView) PageSize() string {
	if v.F.Limit == "" || v.Errors["limit"] != "" {
		return strconv.Itoa(client.DefaultListLimit)
	}
	return v.F.Limit
}

// Clear is the list without any filter, in the same order.
func (v *clientListView) Clear() string {
	if q := (listFilter{Sort: v.F.Sort, Dir: v.F.Dir}).values(); len(q) > 0 {
		return v.Action + "?" + q.Encode()
	}
	return v.Action
}

// clientList is GET /clients: one page of the clients the admin may see,
// filtered, sorted and paged as the query says, in one domain call.
func (p *Pages) clientList(w http.ResponseWriter, r *http.Request, d *desk) {
	ctx := r.Context()
	if err := d.actor.RequireSome(authz.ClientView); err != nil {
		p.fail(w, r, d, err)
		return
	}
	f := readListFilter(r.URL.Query())
	v := &clientListView{F: f, Action: d.url("/clients", nil), MaxAll: groupDigits(client.MaxListLimit),
		CanCreate: d.actor.RequireSome(authz.ClientAdd) == nil}
	p.listChoices(ctx, d, v)
	if f.Owner != "" {
		v.Owner = p.ownerName(ctx, d, f.Owner)
	}
	q, fe := f.query()
	var page *client.ListPage
	if fe == nil {
		var err error
		if page, err = p.cfg.Admin.Clients.List(ctx, d.actor, q); err != nil {
			if fe = listFieldErrors(err); fe == nil {
				p.fail(w, r, d, err)
				return
			}
		}
	}
	if fe != nil {
		v.Errors = fe
		for _, o := range listFieldOrder {
			if msg := fe[o.Field]; msg != "" {
				e := listError{Text: o.Label + ": " + msg}
				if o.Input {
					e.Anchor = "#" + o.Field
				}
				v.Summary = append(v.Summary, e)
			}
		}
		v.Headers = listHeaders(d, f)
		p.renderConsole(w, r, http.StatusBadRequest, "clients", d.view("clients", v))
		return
	}
	p.fillList(d, v, q, page)
	p.renderConsole(w, r, http.StatusOK, "clients", d.view("clients", v))
}

// fillList puts a page of clients into the view: its rows, the range
// they are of the whole, and the pager's links.
func (p *Pages) fillList(d *desk, v *clientListView, q client.ListQuery, page *client.ListPage) {
	f := v.F
	now := p.now()
	for i, c := range page.Clients {
		row := clientRow{ID: c.ID, Name: c.Name, Status: c.Status, StatusLabel: statusLabel(c.Status),
			Created: c.CreatedAt, LastUsed: c.LastUsedAt, Expiry: secretExpiry(c, now), N: i + 1}
		for _, g := range c.GrantTypes {
			row.Grants = append(row.Grants, grantName(g))
		}
		v.Rows = append(v.Rows, row)
	}
	v.Headers = listHeaders(d, f)
	v.Empty = len(page.Clients) == 0 && page.Prev == "" && page.Next == ""
	start := f.Start
	if page.Prev == "" {
		start = 1 // the first page, however it was reached
	}
	total := "of " + groupDigits(int64(page.Total))
	if page.TotalEstimated {
		total = "of about " + groupDigits(int64(page.Total))
	}
	switch n := len(page.Clients); {
	case n == 0:
		v.Range, v.Count = "No clients", "No clients match"
	default:
		v.Range = groupDigits(int64(start)) + "–" + groupDigits(int64(start+n-1)) + " " + total
		v.Count = plural(int64(page.Total), "client")
		if page.TotalEstimated {
			v.Count = "About " + v.Count
		}
		v.Count += " found"
	}
	base := f.values()
	link := func(set map[string]string) string {
		u := url.Values{}
		for k, vs := range base {
			u[k] = vs
		}
		for k, s := range set {
			u.Set(k, s)
		}
		return d.url("/clients", u)
	}
	if page.Next != "" {
		v.Next = link(map[string]string{"after": page.Next, "start": strconv.Itoa(start + len(page.Clients))})
	}
	if page.Prev != "" {
		limit := cmp.Or(q.Limit, client.DefaultListLimit)
		v.Prev = link(map[string]string{"before": page.Prev, "start": strconv.Itoa(max(start-limit, 1))})
		v.First = d.url("/clients", base)
	}
	if f.All {
		v.More = page.Next != ""
		paged := f
		paged.All = false
		v.Paged = d.url("/clients", paged.values())
	} else if page.Prev != "" || page.Next != "" {
		all := f
		all.All, all.Limit = true, ""
		v.ShowAll = d.url("/clients", all.values())
	}
}

// listHeaders are the table's column headings, each a link sorting by it.
func listHeaders(d *desk, f listFilter) []listHeader {
	sort := client.SortField(f.Sort)
	if sort == "" {
		sort = client.SortCreatedAt
	}
	desc := f.Dir == "desc"
	out := make([]listHeader, 0, len(listColumns))
	for _, c := range listColumns {
		h := listHeader{Sort: string(c.Sort), Label: c.Label}
		next := f
		next.Sort, next.Dir = string(c.Sort), "asc"
		if c.Desc {
			next.Dir = "desc"
		}
		if c.Sort == sort {
			h.AriaSort, h.Mark, next.Dir = "ascending", "▲", "desc"
			if desc {
				h.AriaSort, h.Mark, next.Dir = "descending", "▼", "asc"
			}
		}
		h.Href = d.url("/clients", next.values())
		out = append(out, h)
	}
	return out
}

// listChoices fills the filter form's choices. The divisions are offered
// only when the tenant has more than its home division, and only to an
// admin who may list them.
func (p *Pages) listChoices(ctx context.Context, d *desk, v *clientListView) {
	v.Statuses = []listOption{{"", "All"}, {string(client.StatusActive), "Active"},
		{string(client.StatusInactive), "Inactive"}, {string(client.StatusRevoked), "Revoked"}}
	v.Types = []listOption{{"", "Any type"}, {string(client.Confidential), "Confidential"}, {string(client.Public), "Public"}}
	v.Grants = []listOption{{"", "Any grant type"}}
	for _, g := range listGrantNames {
		v.Grants = append(v.Grants, listOption{string(g.Grant), g.Label})
	}
	sizes := listPageSizes
	if n, err := strconv.Atoi(v.F.Limit); err == nil && n >= 1 && n <= client.MaxListLimit && !containsInt(sizes, n) {
		sizes = append(append([]int(nil), sizes...), n)
	}
	for _, n := range sizes {
		v.PageSizes = append(v.PageSizes, listOption{strconv.Itoa(n), strconv.Itoa(n)})
	}
	if p.cfg.Admin.Divisions == nil {
		return
	}
	divs, err := p.cfg.Admin.Divisions.List(ctx, d.actor)
	if err != nil || len(divs) < 2 && v.F.Division == "" {
		return
	}
	v.Divisions = []listOption{{"", "Every division"}}
	for _, dv := range divs {
		if all, ids := d.actor.Divisions(authz.ClientView); all || contains(ids, dv.ID) {
			v.Divisions = append(v.Divisions, listOption{dv.ID, dv.Name})
		}
	}
}

func containsInt(set []int, n int) bool {
	for _, s := range set {
		if s == n {
			return true
		}
	}
	return false
}

// ownerName names the user whose clients the list shows: their name or
// email when the admin may read them, else the ID the link carried.
func (p *Pages) ownerName(ctx context.Context, d *desk, id string) string {
	if p.cfg.Admin.Users == nil || d.actor.RequireSome(authz.UsersManage) != nil {
		return id
	}
	u, err := p.cfg.Admin.Users.Get(ctx, d.actor, id)
	if err != nil {
		return id
	}
	return ownerLabel(u)
}

func ownerLabel(u *account.User) string {
	if u.Name != "" {
		return u.Name + " (" + u.Email + ")"
	}
	return u.Email
}
