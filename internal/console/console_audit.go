package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/oauth"
)

// auditRoutes are the audit log page and the verification of its chain.
func (p *Pages) auditRoutes() []consoleRoute {
	return []consoleRoute{
		{path: "/audit", handlers: map[string]consoleHandler{"GET": p.auditLog}},
		{path: "/audit/verify", handlers: map[string]consoleHandler{"POST": p.verifyAudit}},
	}
}

// auditPageSize is how many events one page of the log shows.
const auditPageSize = audit.DefaultLimit

// auditAction is an action the filter offers, with its name in words.
type auditAction struct {
	Value, Label string
}

// auditActionGroup is a group of the action filter's choices.
type auditActionGroup struct {
	Label   string
	Actions []auditAction
}

// auditActions are the actions the domain packages record, grouped by
// what they act on; each group starts with its prefix, which selects all
// of them (see audit.Query's Action).
var auditActions = []auditActionGroup{
	{"OAuth clients", []auditAction{
		{"client.", "Any client action"},
		{client.ActionCreated, "Client created"},
		{client.ActionUpdated, "Client updated"},
		{client.ActionActivated, "Client activated"},
		{client.ActionDeactivated, "Client deactivated"},
		{client.ActionRevoked, "Client revoked"},
		{client.ActionDeleted, "Client deleted"},
		{client.ActionSecretRotated, "Secret rotated"},
		{client.ActionSecretAdded, "Secret added"},
		{client.ActionSecretRevoked, "Secret revoked"},
		{client.ActionRotationFinished, "Rotation finished"},
		{oauth.ActionClientAuthFailed, "Client authentication failed"},
	}},
	{"Users and sign-in", []auditAction{
		{"user.", "Any user action"},
		{account.ActionLogin, "Signed in"},
		{account.ActionLoginFailed, "Sign-in failed"},
		{account.ActionUserCreated, "User created"},
		{account.ActionUserUpdated, "User updated"},
		{account.ActionUserDisabled, "User disabled"},
		{account.ActionUserEnabled, "User enabled"},
		{account.ActionUserPassword, "Password set by an admin"},
		{account.ActionPasswordChanged, "Password changed"},
		{account.ActionMFAEnrolled, "Second factor enrolled"},
		{account.ActionMFARemoved, "Second factor removed"},
		{account.ActionMFAVerified, "Second factor verified"},
		{account.ActionMFAFailed, "Second factor failed"},
		{account.ActionRecoveryCodesRenewed, "Recovery codes generated"},
		{account.ActionRecoveryCodeUsed, "Recovery code used"},
	}},
	{"Consents", []auditAction{
		{"consent.", "Any consent action"},
		{account.ActionConsentApproved, "Consent approved"},
		{account.ActionConsentRevoked, "Consent revoked"},
	}},
	{"Roles, divisions and tenants", []auditAction{
		{"role.", "Any role action"},
		{account.ActionRoleCreated, "Role created"},
		{account.ActionRoleUpdated, "Role updated"},
		{account.ActionRoleDeleted, "Role deleted"},
		{"division.", "Any division action"},
		{account.ActionDivisionCreated, "Division created"},
		{account.ActionDivisionRenamed, "Division renamed"},
		{account.ActionDivisionDeleted, "Division deleted"},
		{"tenant.", "Any tenant action"},
		{account.ActionTenantCreated, "Tenant created"},
		{account.ActionTenantUpdated, "Tenant updated"},
	}},
	{"Webhooks", []auditAction{
		{"webhook.", "Any webhook action"},
		{notify.ActionWebhookCreated, "Webhook added"},
		{notify.ActionWebhookDeleted, "Webhook deleted"},
	}},
}

// auditActionLabel names an action in words; "" for one not listed.
func auditActionLabel(action string) string {
	for _, g := range auditActions {
		for _, a := range g.Actions {
			if a.Value == action {
				return a.Label
			}
		}
	}
	return ""
}

// auditFilter is the log's filters as entered; every field is a query
// parameter of the page.
type auditFilter struct {
	// Client and User select the events about one client or one user.
	Client, User string
	// Actor is an actor's ID or, for a user the admin manages, their
	// email.
	Actor  string
	Action string
	// From and To are dates (UTC), both included.
	From, To string
}

// values is the filter as a query, without empty fields.
func (f auditFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"client": f.Client, "user": f.User, "actor": f.Actor, "action": f.Action,
		"from": f.From, "to": f.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// auditChange is one changed field of an event: its values before and
// after, when the event records them (a secret's never are).
type auditChange struct {
	Field, Before, After string
	Shown                bool
}

// auditDetail is one extra fact of an event.
type auditDetail struct{ Key, Value string }

// auditRow is one event as the log shows it.
type auditRow struct {
	audit.Event
	ActionLabel string
	// TargetURL is the console page of the event's target, linked by ID:
	// it may no longer exist, which its page says.
	TargetURL string
	// ActorURL filters the log by the event's actor.
	ActorURL string
	Diff     []auditChange
	Facts    []auditDetail
}

// When is the event's time, to the second, in UTC.
func (r auditRow) When() string { return r.At.UTC().Format("2 Jan 2006 15:04:05 UTC") }

// Failed reports whether the action was refused.
func (r auditRow) Failed() bool { return r.Result == audit.ResultFailure }

// auditView is the log page.
type auditView struct {
	Filter  auditFilter
	Errors  map[string]string
	Actions []auditActionGroup
	// OtherAction is a filtered action the select does not list, offered
	// so the select shows it.
	OtherAction string
	Events      []auditRow
	// Paged is whether this page is not the newest; Next is the URL of
	// the page after it, "" at the end.
	Paged  bool
	Next   string
	Newest string
	Chain  *chainCheck
}

// auditInput is one filter field of the form, as its template draws it.
type auditInput struct {
	Name, Label, Hint, Placeholder, Value, Error string
}

// Field describes the filter named for the form: its value as entered
// and its error.
func (v *auditView) Field(name, label, hint, placeholder string) auditInput {
	return auditInput{Name: name, Label: label, Hint: hint, Placeholder: placeholder,
		Value: v.Filter.values().Get(name), Error: v.Errors[name]}
}

// auditFieldOrder is the order of the filters, for the error summary; a
// field not listed (the page cursor) goes last.
var auditFieldOrder = []string{"client", "user", "actor", "action", "from", "to", "before"}

// Summary lists the filters' errors in the form's order, each with the ID
// of its control ("" for the cursor, which has none).
func (v *auditView) Summary() []auditDetail {
	var out []auditDetail
	for _, f := range auditFieldOrder {
		if msg := v.Errors[f]; msg != "" {
			id := "a-" + f
			if f == "before" {
				id = ""
			}
			out = append(out, auditDetail{Key: id, Value: msg})
		}
	}
	return out
}

// auditDomainFields are the audit query's field names, as Query.Normalize
// names them, and the filters they come from.
var auditDomainFields = map[string]string{"since": "from", "until": "to", "actor_id": "actor", "action": "action",
	"before": "before", "after": "before", "limit": "before"}

// auditLog serves the tenant's audit log, newest first, filtered and
// paginated by the chain's sequence numbers as audit.Query supports.
// Reading it needs audit:view tenant-wide, as in the admin API: the log
// speaks of every division's records.
func (p *Pages) auditLog(w http.ResponseWriter, r *http.Request, d *desk) {
	if err := d.actor.Require(authz.AuditView); err != nil {
		p.fail(w, r, d, err)
		return
	}
	in := r.URL.Query()
	f := auditFilter{Client: strings.TrimSpace(in.Get("client")), User: strings.TrimSpace(in.Get("user")),
		Actor: strings.TrimSpace(in.Get("actor")), Action: in.Get("action"), From: in.Get("from"), To: in.Get("to")}
	v := &auditView{Filter: f, Actions: auditActions, Chain: p.chains.last(d.actor.TenantID)}
	if f.Action != "" && auditActionLabel(f.Action) == "" {
		v.OtherAction = f.Action
	}
	bad := map[string]string{}
	q := audit.Query{TenantID: d.actor.TenantID, Desc: true, Limit: auditPageSize, Action: f.Action}
	switch {
	case f.Client != "" && f.User != "":
		bad["user"] = "Filter by a client or by a user, not both."
	case f.Client != "":
		q.TargetType, q.TargetID = audit.TargetClient, f.Client
	case f.User != "":
		q.TargetType, q.TargetID = audit.TargetUser, f.User
	}
	if from, ok := auditDate(f.From); !ok {
		bad["from"] = "Enter the first day as a date, such as 2026-01-31."
	} else {
		q.Since = from
	}
	if to, ok := auditDate(f.To); !ok {
		bad["to"] = "Enter the last day as a date, such as 2026-01-31."
	} else if !to.IsZero() {
		q.Until = to.AddDate(0, 0, 1) // the last day is included
	}
	if s := in.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			bad["before"] = "This page of the log does not exist: start again from the newest."
		}
		q.Before, v.Paged = n, true
	}
	if f.Actor != "" {
		id, msg := p.auditActorID(r, d, f.Actor)
		if msg != "" {
			bad["actor"] = msg
		}
		q.ActorID = id
	}
	if len(bad) == 0 {
		page, err := p.cfg.Admin.Audit.ListAudit(r.Context(), q)
		if fe := fieldErrors(err); fe != nil {
			for field, msg := range fe {
				name := auditDomainFields[field]
				if field == "target_id" || field == "target_type" {
					name = "client"
					if f.User != "" {
						name = "user"
					}
				}
				switch name {
				case "":
					name = "before"
				case "to":
					msg = "The last day must not be before the first."
				}
				bad[name] = msg
			}
		} else if err != nil {
			p.fail(w, r, d, err)
			return
		} else {
			p.auditRows(d, v, page)
		}
	}
	status := http.StatusOK
	if len(bad) > 0 {
		v.Errors, status = bad, http.StatusBadRequest
	}
	p.renderConsole(w, r, status, "audit", d.view("audit", v))
}

// auditDate reads a filter's date, in UTC; "" is no date.
func auditDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation(time.DateOnly, s, time.UTC)
	return t, err == nil
}

// auditActorID is the actor ID a filter's actor names: the ID as
// entered, or the ID of the user the admin manages with that email (the
// log records actors by ID, and a user's email may have changed since).
// msg says why it names none.
func (p *Pages) auditActorID(r *http.Request, d *desk, actor string) (id, msg string) {
	if !strings.Contains(actor, "@") {
		return actor, ""
	}
	if d.actor.RequireSome(authz.UsersManage) != nil {
		return "", "Enter the actor's ID: finding a user by email needs the users:manage permission."
	}
	u, err := p.cfg.Admin.Users.Find(r.Context(), d.actor, actor)
	switch {
	case err == nil:
		return u.ID, ""
	case isNotFound(err):
		return "", "No user you manage has this email: enter the actor's ID instead."
	}
	p.cfg.Logger.ErrorContext(r.Context(), "finding an audit actor", "err", err)
	return "", "This email could not be looked up: enter the actor's ID instead."
}

// auditRows turns a page of events into rows, with the links to the
// next page and back to the newest.
func (p *Pages) auditRows(d *desk, v *auditView, page *audit.Page) {
	// Targets link to their pages when the admin may open that section.
	clients, users := d.actor.RequireSome(authz.ClientView) == nil, d.actor.RequireSome(authz.UsersManage) == nil
	filter := v.Filter.values()
	for i := range page.Events {
		e := page.Events[i]
		row := auditRow{Event: e, ActionLabel: auditActionLabel(e.Action)}
		switch {
		case e.TargetID == "":
		case e.TargetType == audit.TargetClient && clients:
			row.TargetURL = d.url("/clients/"+url.PathEscape(e.TargetID), nil)
		case e.TargetType == audit.TargetUser && users:
			row.TargetURL = d.url("/users/"+url.PathEscape(e.TargetID), nil)
		}
		if e.ActorID != "" {
			row.ActorURL = d.url("/audit", url.Values{"actor": {e.ActorID}})
		}
		for _, field := range e.Changes {
			before, shown := e.Before[field]
			row.Diff = append(row.Diff, auditChange{Field: field, Before: before, After: e.After[field], Shown: shown})
		}
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			row.Facts = append(row.Facts, auditDetail{Key: k, Value: e.Details[k]})
		}
		v.Events = append(v.Events, row)
	}
	v.Newest = d.url("/audit", filter)
	if page.Next != 0 {
		next := v.Filter.values()
		next.Set("before", strconv.FormatInt(page.Next, 10))
		v.Next = d.url("/audit", next)
	}
}

// chainCheck is the result of one verification of a tenant's chain.
type chainCheck struct {
	At time.Time
	// By is the admin who asked for it.
	By string
	// Checked is how many events verified: all of them when Break is nil,
	// those before it otherwise.
	Checked int64
	Break   *audit.Break
}

// BreakAt is the Seq of the first broken event, 0 when intact.
func (c *chainCheck) BreakAt() int64 {
	if c.Break == nil {
		return 0
	}
	return c.Break.Seq
}

// BreakBefore is the page cursor that starts the log at the broken
// event: pages run newest first, before a Seq.
func (c *chainCheck) BreakBefore() int64 { return c.BreakAt() + 1 }

// Reason is the break in words.
func (c *chainCheck) Reason() string {
	if c.Break == nil {
		return ""
	}
	return c.Break.Reason()
}

// chainChecks remembers the last verification of each tenant's chain, in
// this process's memory: a verification reads the whole trail, so the
// page shows the last one rather than running one per view. Its zero
// value is ready to use.
type chainChecks struct {
	mu   sync.Mutex
	byID map[string]chainCheck
}

func (c *chainChecks) last(tenantID string) *chainCheck {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byID[tenantID]
	if !ok {
		return nil
	}
	return &r
}

func (c *chainChecks) remember(tenantID string, r chainCheck) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]chainCheck{}
	}
	c.byID[tenantID] = r
}

// verifyAudit verifies the tenant's whole chain (audit.VerifyChain),
// remembers the result and shows it on the log page. It needs audit:view
// tenant-wide, as reading the log does. A store error is not a result: it
// is shown as the error page and not remembered.
func (p *Pages) verifyAudit(w http.ResponseWriter, r *http.Request, d *desk) {
	if err := d.actor.Require(authz.AuditView); err != nil {
		p.fail(w, r, d, err)
		return
	}
	checked, err := audit.VerifyChain(r.Context(), p.cfg.Admin.Chain, d.actor.TenantID, 0)
	res := chainCheck{At: p.cfg.Now().UTC(), By: d.user.Email, Checked: checked}
	var brk *audit.Break
	switch {
	case errors.As(err, &brk):
		res.Break = brk
	case err != nil:
		p.fail(w, r, d, err)
		return
	}
	p.chains.remember(d.actor.TenantID, res)
	redirect(w, r, d.url("/audit", nil))
}
