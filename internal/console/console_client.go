package console

import (
	"cmp"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// clientRoutes are the pages of one client: the create form (from a
// template), the detail panel, the edit form and every action. Each action
// has a confirmation page that works without script; the detail panel
// opens the same form in a dialog. Every rule is client.Service's: the
// pages ask the actor only which buttons to show.
func (p *Pages) clientRoutes() []consoleRoute {
	return []consoleRoute{
		{path: "/clients/new", handlers: map[string]consoleHandler{"GET": p.clientNew, "POST": p.clientCreate}},
		{path: "/clients/{id}", handlers: map[string]consoleHandler{"GET": p.clientDetail}},
		{path: "/clients/{id}/edit", handlers: map[string]consoleHandler{"GET": p.clientEdit, "POST": p.clientUpdate}},
		{path: "/clients/{id}/rotate", handlers: map[string]consoleHandler{"GET": p.clientConfirm(actRotate), "POST": p.clientRotate}},
		{path: "/clients/{id}/revoke", handlers: map[string]consoleHandler{"GET": p.clientConfirm(actRevoke), "POST": p.clientRevoke}},
		{path: "/clients/{id}/delete", handlers: map[string]consoleHandler{"GET": p.clientConfirm(actDelete), "POST": p.clientDelete}},
		{path: "/clients/{id}/activate", handlers: map[string]consoleHandler{
			"GET": p.clientConfirm(actActivate), "POST": p.clientSetStatus(actActivate)}},
		{path: "/clients/{id}/deactivate", handlers: map[string]consoleHandler{
			"GET": p.clientConfirm(actDeactivate), "POST": p.clientSetStatus(actDeactivate)}},
		{path: "/clients/{id}/secrets/{secret}/revoke", handlers: map[string]consoleHandler{
			"GET": p.clientConfirm(actRevokeSecret), "POST": p.clientRevokeSecret}},
	}
}

// clientPath is the console path of a client's page, or of one of its
// actions when sub is set ("rotate", "secrets/sec_…/revoke").
func clientPath(id, sub string) string {
	p := "/clients/" + url.PathEscape(id)
	if sub != "" {
		p += "/" + sub
	}
	return p
}

// clientDone are the one-line notices the detail page shows after an
// action, by the done parameter the action's redirect carries. Nothing
// else of the action travels in the URL.
var clientDone = map[string]string{
	"created":        "The client was created. Its secret is not shown again.",
	"created-public": "The client was created. It is a public client: it has no secret.",
	"updated":        "Your changes were saved.",
	"rotated":        "The secret was rotated. The new secret is not shown again.",
	"revoked":        "The client was revoked. Revoked clients cannot be reactivated.",
	"activated":      "The client was activated: it can obtain tokens again.",
	"deactivated":    "The client was deactivated: it cannot obtain tokens until it is activated again.",
	"secret-revoked": "The secret was revoked: it no longer authenticates.",
}

// clientRights are the actions the admin may take on one client, as the
// actor answers for the client's division; the detail page shows a button
// for each. The client's state decides the rest: a revoked client is
// changed no more, a public one has no secret to rotate.
type clientRights struct {
	Edit, Rotate, Revoke, Delete, Activate, Deactivate, RevokeSecrets bool
}

// Any reports whether any action is open to the admin.
func (r clientRights) Any() bool {
	return r.Edit || r.Rotate || r.Revoke || r.Delete || r.Activate || r.Deactivate
}

func rightsOn(a authz.Actor, c *client.Client) clientRights {
	div := c.DivisionID
	live := c.Status != client.StatusRevoked
	return clientRights{
		Edit:          live && a.CanIn(authz.ClientEdit, div),
		Rotate:        live && c.Type == client.Confidential && a.CanIn(authz.ClientRotate, div),
		Revoke:        client.CanTransition(c.Status, client.StatusRevoked) && a.CanIn(authz.ClientRevoke, div),
		Delete:        a.CanIn(authz.ClientDelete, div),
		Activate:      c.Status == client.StatusInactive && a.CanIn(authz.ClientEdit, div),
		Deactivate:    c.Status == client.StatusActive && a.CanIn(authz.ClientEdit, div),
		RevokeSecrets: live && c.Type == client.Confidential && a.CanIn(authz.ClientRotate, div),
	}
}

// personRef is a user or client named on a page: its label and, when the
// admin may open it, a link.
type personRef struct {
	ID, Label, Link string
}

// secretRow is one of a client's secrets on the detail page.
type secretRow struct {
	client.Secret
	// State is "working", "grace", "revoked" or "expired"; Label says it
	// in words and Badge is its badge's class.
	State, Label, Badge string
	// RevokeLabel, when set, is the secret's revoke button: "Revoke", or,
	// for the old secret of a rotation still in its grace period, "Finish
	// rotation now".
	RevokeLabel string
}

// secretRows describes secrets as the detail page lists them, newest
// first. Several working secrets each get a revoke button when the admin
// may revoke them.
func secretRows(secrets []client.Secret, now time.Time, mayRevoke bool) []secretRow {
	rows := make([]secretRow, 0, len(secrets))
	working := 0
	for _, s := range secrets {
		if s.Usable(now) {
			working++
		}
	}
	for _, s := range secrets {
		row := secretRow{Secret: s}
		switch {
		case s.Status == client.SecretRevoked:
			row.State, row.Label, row.Badge = "revoked", "Revoked", "revoked"
			if !s.RevokedAt.IsZero() {
				row.Label = "Revoked " + fmtDateTime(s.RevokedAt)
			}
		case s.Expired(now):
			row.State, row.Label, row.Badge = "expired", "Expired", "expired"
		case s.Status == client.SecretRetiring:
			row.State, row.Label, row.Badge = "grace", "In grace until "+fmtDateTime(s.ExpiresAt), "grace"
		default:
			row.State, row.Label, row.Badge = "working", "Working", "active"
		}
		if !s.LeakedAt.IsZero() {
			row.Label = "Reported leaked " + fmtDateTime(s.LeakedAt) + " · " + row.Label
			if s.Usable(now) {
				row.Label += ": rotate it and revoke this one"
				row.Badge = "expired"
			}
		}
		if mayRevoke && working > 1 && s.Usable(now) {
			row.RevokeLabel = "Revoke"
			if s.Status == client.SecretRetiring {
				row.RevokeLabel = "Finish rotation now"
			}
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b secretRow) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return rows
}

// clientEventRow is one audit event of the client, as the detail page lists it.
type clientEventRow struct {
	audit.Event
	Actor string
}

// clientPage is the detail panel of one client, and, when Action is set,
// the confirmation page of one of its actions (the same form the panel's
// dialog holds, for a browser without script).
type clientPage struct {
	C        *client.Client
	Notice   string
	Division string
	Roles    []string
	Owner    *personRef
	Creator  personRef
	Secrets  []secretRow
	// Spark is the token volume sparkline of the last 30 days; Tokens its
	// summary in words.
	Spark  template.HTML
	Tokens string
	// Events are the client's latest audit events, when the admin may
	// read the audit log (ShowAudit).
	Events    []clientEventRow
	ShowAudit bool
	// Warnings are the expiry warnings of the client's secrets, newest
	// first: each stage recorded, sent or skipped, and to whom.
	Warnings     []warningRow
	ShowWarnings bool
	Can          clientRights
	// NeedName says that deleting the client asks for its name typed.
	NeedName bool
	// Version is the client's version, which the rotate form carries.
	Version string
	// Graces and Lifetimes are the rotate form's choices.
	Graces    []clientChoice
	Lifetimes []clientChoice

	// Action names the confirmation page's action; "" on the detail page.
	Action string
	// Secret is the secret a revoke-secret page is about.
	Secret secretRow
	// Error is a failure of the confirmation's form, in the domain's
	// words; Errors are its field errors by field.
	Error  string
	Errors map[string]string
	// Grace, Lifetime, ConfirmName and Confirm are the values entered.
	Grace, Lifetime, ConfirmName string
	Confirm                      bool
}

// Path is the console path of the client's page, or of its action sub.
func (v *clientPage) Path(sub string) string { return clientPath(v.C.ID, sub) }

// SecretPath is the path of the revoke action of one of its secrets.
func (v *clientPage) SecretPath(secretID string) string {
	return clientPath(v.C.ID, "secrets/"+url.PathEscape(secretID)+"/revoke")
}

// SecretActions reports whether any secret has a revoke button, for the
// table's column of them.
func (v *clientPage) SecretActions() bool {
	return slices.ContainsFunc(v.Secrets, func(s secretRow) bool { return s.RevokeLabel != "" })
}

// AuditQuery is the audit log's filter for the client's events.
func (v *clientPage) AuditQuery() url.Values { return url.Values{"client": {v.C.ID}} }

// secretForm is what the revoke form of one secret is drawn from: the
// page, the console's base and the form's CSRF token.
type secretForm struct {
	Console, CSRF string
	P             *clientPage
	S             secretRow
}

// SecretForm is the revoke form of secret s, for a template that holds
// the page's values only through its arguments.
func (v *clientPage) SecretForm(console, csrf string, s secretRow) secretForm {
	return secretForm{Console: console, CSRF: csrf, P: v, S: s}
}

// Err is the message of field f of the confirmation's form.
func (v *clientPage) Err(f string) string { return v.Errors[f] }

// StatusLabel is the client's status in words.
func (v *clientPage) StatusLabel() string { return statusLabel(v.C.Status) }

func statusLabel(s client.Status) string {
	switch s {
	case client.StatusActive:
		return "Active"
	case client.StatusInactive:
		return "Inactive"
	case client.StatusRevoked:
		return "Revoked"
	}
	return string(s)
}

// TTL writes a token lifetime in seconds and in words.
func (v *clientPage) TTL(d time.Duration) string { return lifetimeText(d) }

func lifetimeText(d time.Duration) string {
	s := groupDigits(int64(d/time.Second)) + " seconds"
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return s + " (" + plural(int64(d/(24*time.Hour)), "day") + ")"
	case d >= time.Hour && d%time.Hour == 0:
		return s + " (" + plural(int64(d/time.Hour), "hour") + ")"
	case d >= time.Minute && d%time.Minute == 0:
		return s + " (" + plural(int64(d/time.Minute), "minute") + ")"
	}
	return s
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return groupDigits(n) + " " + unit + "s"
}

// loadClient reads the client the path names, with its secrets; on
// failure it has answered (404 for one the admin may not see).
func (p *Pages) loadClient(w http.ResponseWriter, r *http.Request, d *desk) (*client.Client, []client.Secret, bool) {
	c, secrets, err := p.cfg.Admin.Clients.Get(r.Context(), d.actor, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, d, err)
		return nil, nil, false
	}
	return c, secrets, true
}

// clientDetail serves the detail panel.
func (p *Pages) clientDetail(w http.ResponseWriter, r *http.Request, d *desk) {
	c, secrets, ok := p.loadClient(w, r, d)
	if !ok {
		return
	}
	v, err := p.clientPageOf(r.Context(), d, c, secrets, true)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	v.Notice = clientDone[r.URL.Query().Get("done")]
	p.renderConsole(w, r, http.StatusOK, "client_detail", d.view("clients", v))
}

// clientPageOf gathers what the detail panel shows of c; full adds what
// only the panel shows (names, usage, audit), not the confirmation pages.
func (p *Pages) clientPageOf(ctx context.Context, d *desk, c *client.Client, secrets []client.Secret, full bool) (*clientPage, error) {
	can := rightsOn(d.actor, c)
	v := &clientPage{C: c, Can: can, Version: c.Version(),
		Secrets:  secretRows(secrets, p.now(), can.RevokeSecrets),
		NeedName: c.Protected || c.Status == client.StatusActive,
		Graces:   graceChoices, Lifetimes: secretLifetimeChoices, Lifetime: defaultSecretLifetime, Grace: "0"}
	if !full {
		return v, nil
	}
	names, err := p.clientDivisions(ctx, d)
	if err != nil {
		return nil, err
	}
	v.Division = names.name(c.DivisionID)
	for _, g := range c.Roles {
		v.Roles = append(v.Roles, names.grantLabel(g))
	}
	if c.OwnerUserID != "" {
		o := p.person(ctx, d, c.OwnerUserID)
		v.Owner = &o
	}
	v.Creator = p.person(ctx, d, c.CreatedBy)
	if p.cfg.Admin.Notify != nil {
		v.ShowWarnings = true
		if v.Warnings, err = p.clientWarnings(ctx, d, c, secrets); err != nil {
			return nil, err
		}
	}
	days, err := p.cfg.Admin.Clients.TokenVolume(ctx, d.actor, c.ID, 30)
	if err != nil {
		return nil, err
	}
	v.Tokens = tokenSummary(days)
	v.Spark = sparkline(tokenPoints(days), v.Tokens)
	// The audit log speaks of every division's records: the admin API
	// lets only those who hold audit:view tenant-wide read it, and so
	// does the panel.
	if d.actor.Require(authz.AuditView) == nil && p.cfg.Admin.Audit != nil {
		v.ShowAudit = true
		page, err := p.cfg.Admin.Audit.ListAudit(ctx, audit.Query{TenantID: d.actor.TenantID,
			TargetType: audit.TargetClient, TargetID: c.ID, Desc: true, Limit: clientEvents})
		if err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			v.Events = append(v.Events, clientEventRow{Event: e, Actor: cmp.Or(e.ActorName, e.ActorID)})
		}
	}
	return v, nil
}

// clientEvents is how many of a client's audit events its panel lists;
// the audit log, filtered by the client, has the rest.
const clientEvents = 10

// person names a user (or another principal) by ID: the signed-in admin
// as themself, a user the admin manages by email with a link to their
// profile, anyone else by ID alone.
func (p *Pages) person(ctx context.Context, d *desk, id string) personRef {
	ref := personRef{ID: id, Label: id}
	switch {
	case id == "":
		ref.Label = "Unknown"
	case id == d.user.ID:
		ref.Label = d.user.Email + " (you)"
	}
	if id == "" || p.cfg.Admin.Users == nil || d.actor.RequireSome(authz.UsersManage) != nil {
		return ref
	}
	u, err := p.cfg.Admin.Users.Get(ctx, d.actor, id)
	if err != nil {
		// Not a user the admin manages (or not a user: a client or
		// Latchkey itself created it): named by ID.
		return ref
	}
	if id != d.user.ID {
		ref.Label = u.Email
	}
	ref.Link = "/users/" + url.PathEscape(u.ID)
	return ref
}

// clientDivisionNames are a tenant's divisions: their IDs in the
// domain's order (the home division first) and their names by ID.
type clientDivisionNames struct {
	ids   []string
	names map[string]string
}

func (p *Pages) clientDivisions(ctx context.Context, d *desk) (*clientDivisionNames, error) {
	n := &clientDivisionNames{names: map[string]string{}}
	if p.cfg.Admin.Divisions != nil {
		list, err := p.cfg.Admin.Divisions.List(ctx, d.actor)
		if err != nil {
			return nil, err
		}
		for _, dv := range list {
			n.ids = append(n.ids, dv.ID)
			n.names[dv.ID] = dv.Name
		}
	}
	if _, ok := n.names[authz.HomeDivision]; !ok {
		n.ids = append([]string{authz.HomeDivision}, n.ids...)
		n.names[authz.HomeDivision] = authz.HomeDivisionName
	}
	return n, nil
}

func (n *clientDivisionNames) name(id string) string {
	if s := n.names[id]; s != "" {
		return s
	}
	return id
}

// grantLabel is a grant in words: "oauth_admin", or "oauth_admin in EMEA"
// for one limited to a division.
func (n *clientDivisionNames) grantLabel(g string) string {
	role, div, scoped := strings.Cut(g, "@")
	if !scoped {
		return role
	}
	return role + " in " + n.name(div)
}

// errProtected reports whether err is the domain's refusal of a change
// to a protected client.
func errProtected(err error) bool { return errors.Is(err, client.ErrProtected) }
