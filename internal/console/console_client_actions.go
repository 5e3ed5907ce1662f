package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// clientAction is one of the actions of the detail panel that a
// confirmation stands before.
type clientAction string

const (
	actRotate       clientAction = "rotate"
	actRevoke       clientAction = "revoke"
	actDelete       clientAction = "delete"
	actActivate     clientAction = "activate"
	actDeactivate   clientAction = "deactivate"
	actRevokeSecret clientAction = "revoke-secret"
)

// permission is what the action needs in the client's division: the
// confirmation page is refused to an admin whose form the domain would
// refuse anyway.
func (a clientAction) permission() authz.Permission {
	switch a {
	case actRotate, actRevokeSecret:
		return authz.ClientRotate
	case actRevoke:
		return authz.ClientRevoke
	case actDelete:
		return authz.ClientDelete
	}
	return authz.ClientEdit
}

// clientChoice is one option of a select.
type clientChoice struct{ Value, Label string }

// graceChoices are the rotation's grace periods, in seconds: none (the
// old secret stops at once, seed Breeze) or a dual-use period (seed
// Genesys).
var graceChoices = []clientChoice{
	{"0", "None: the old secret stops working now"},
	{"3600", "1 hour"},
	{"86400", "1 day"},
	{"604800", "7 days"},
	{"2592000", "30 days"},
}

// secretLifetimeChoices are the lifetimes a new secret may be given, in
// days, and never.
var secretLifetimeChoices = []clientChoice{
	{"30", "30 days"}, {"90", "90 days"}, {"180", "180 days"}, {"365", "365 days"}, {"never", "Never"},
}

// defaultSecretLifetime is the choice selected at first: the domain's
// default lifetime, 180 days (seed Breeze).
var defaultSecretLifetime = strconv.Itoa(int(client.DefaultSecretLifetime / (24 * time.Hour)))

// secretLifetime reads a secret lifetime choice as the domain takes it:
// the default lifetime is sent as 0 (the default, which a public client
// may be given too, as it is given no secret), "never" as NeverExpires,
// and anything this form does not offer as a lifetime the domain refuses,
// so its message answers.
func secretLifetime(s string) time.Duration {
	if s == "" {
		return 0
	}
	if s == "never" {
		return client.NeverExpires
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 100000 {
		return -time.Second
	}
	d := time.Duration(n) * 24 * time.Hour
	if d == client.DefaultSecretLifetime {
		return 0
	}
	return d
}

// formSeconds reads a number of seconds from a form. Empty is 0; a value
// that is not a whole number becomes one the domain refuses (so its
// message, with the range, answers), and a huge one saturates far beyond
// any lifetime it accepts rather than wrapping around.
func formSeconds(s string) time.Duration {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) && s[0] != '-' {
			return maxFormDuration
		}
		return -time.Second
	}
	if n > int64(maxFormDuration/time.Second) {
		return maxFormDuration
	}
	if n < 0 {
		return -time.Second
	}
	return time.Duration(n) * time.Second
}

// maxFormDuration is where formSeconds saturates: two hundred years, near
// the most a time.Duration holds.
const maxFormDuration = 200 * 365 * 24 * time.Hour

// clientConfirm serves the confirmation page of an action: the form the
// detail panel's dialog holds, for a browser without script.
func (p *Pages) clientConfirm(act clientAction) consoleHandler {
	return func(w http.ResponseWriter, r *http.Request, d *desk) {
		c, secrets, ok := p.loadClient(w, r, d)
		if !ok {
			return
		}
		if err := d.actor.RequireIn(act.permission(), c.DivisionID); err != nil {
			p.fail(w, r, d, err)
			return
		}
		v, ok := p.confirmPage(w, r, d, act, c, secrets)
		if !ok {
			return
		}
		p.renderConsole(w, r, http.StatusOK, "client_detail", d.view("clients", v))
	}
}

// confirmPage is the confirmation page of act on c; on failure (no such
// secret) it has answered.
func (p *Pages) confirmPage(w http.ResponseWriter, r *http.Request, d *desk, act clientAction, c *client.Client, secrets []client.Secret) (*clientPage, bool) {
	v, err := p.clientPageOf(r.Context(), d, c, secrets, false)
	if err != nil {
		p.fail(w, r, d, err)
		return nil, false
	}
	v.Action = string(act)
	if act == actRevokeSecret {
		id := r.PathValue("secret")
		for _, row := range v.Secrets {
			if row.ID == id {
				v.Secret = row
			}
		}
		if v.Secret.ID == "" {
			p.fail(w, r, d, client.ErrNotFound)
			return nil, false
		}
	}
	return v, true
}

// refuseAction shows an action's confirmation page again with the
// domain's refusal: its field errors next to their fields, a protected
// client's need for confirmation, or its words. Anything else is fail's.
func (p *Pages) refuseAction(w http.ResponseWriter, r *http.Request, d *desk, act clientAction, err error) {
	fe := fieldErrors(err)
	status := http.StatusUnprocessableEntity
	msg := ""
	switch {
	case fe != nil:
		msg = "This cannot be done: see below."
		if len(fe) == 1 {
			for _, m := range fe {
				msg = m
			}
		}
	case errProtected(err):
		status, msg = http.StatusConflict, protectedText(err)
	default:
		p.fail(w, r, d, err)
		return
	}
	c, secrets, ok := p.loadClient(w, r, d)
	if !ok {
		return
	}
	v, ok := p.confirmPage(w, r, d, act, c, secrets)
	if !ok {
		return
	}
	f := r.PostForm
	v.Error, v.Errors = msg, fe
	v.Grace, v.Lifetime = f.Get("grace"), f.Get("secret_expires")
	v.ConfirmName, v.Confirm = f.Get("confirm_name"), f.Get("confirm") != ""
	p.renderConsole(w, r, status, "client_detail", d.view("clients", v))
}

// protectedText is the domain's refusal of a change to a protected
// client, as a sentence: the domain words what follows its sentinel.
func protectedText(err error) string {
	msg, _ := strings.CutPrefix(err.Error(), client.ErrProtected.Error()+": ")
	return "This client is protected: " + strings.TrimSuffix(msg, ".") + "."
}

// doneAt redirects to the client's page with an action's notice.
func doneAt(w http.ResponseWriter, r *http.Request, d *desk, id, done string) {
	redirect(w, r, d.url(clientPath(id, ""), url.Values{"done": {done}}))
}

// clientRotate rotates the client's secret and shows the new one, once.
// The form carries the version of the client it was opened on: sent
// again (a reload, the back button), it finds the version the rotation
// changed, and nothing is rotated a second time.
func (p *Pages) clientRotate(w http.ResponseWriter, r *http.Request, d *desk) {
	f := r.PostForm
	id := r.PathValue("id")
	grace := formSeconds(f.Get("grace"))
	sec, err := p.cfg.Admin.Clients.RotateSecret(r.Context(), d.actor, id, client.RotateParams{
		Grace: grace, Lifetime: secretLifetime(f.Get("secret_expires")),
		Confirm: f.Get("confirm") != "", IfVersion: f.Get("version")})
	switch {
	case errors.Is(err, client.ErrStale):
		p.consoleMessage(w, r, d, http.StatusPreconditionFailed, messageView{Heading: "The secret was not rotated again",
			Text: "This client changed since the form was opened: its secret may already have been rotated from it. " +
				"A new secret is shown only once and cannot be shown again; to get another, rotate the secret again from the client's page.",
			Link: consolePrefix + clientPath(id, ""), LinkLabel: "Go to the client"})
		return
	case err != nil:
		p.refuseAction(w, r, d, actRotate, err)
		return
	}
	c, _, err := p.cfg.Admin.Clients.Get(r.Context(), d.actor, id)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	v := &clientSecretPage{C: c, Secret: sec, Rotated: true, Grace: grace}
	if grace > 0 {
		v.GraceEnds = p.now().Add(grace)
	}
	p.showSecret(w, r, d, http.StatusOK, v)
}

// clientRevoke revokes the client for good.
func (p *Pages) clientRevoke(w http.ResponseWriter, r *http.Request, d *desk) {
	id := r.PathValue("id")
	if _, err := p.cfg.Admin.Clients.Revoke(r.Context(), d.actor, id); err != nil {
		p.refuseAction(w, r, d, actRevoke, err)
		return
	}
	doneAt(w, r, d, id, "revoked")
}

// clientSetStatus activates or deactivates the client.
func (p *Pages) clientSetStatus(act clientAction) consoleHandler {
	to, done := client.StatusActive, "activated"
	if act == actDeactivate {
		to, done = client.StatusInactive, "deactivated"
	}
	return func(w http.ResponseWriter, r *http.Request, d *desk) {
		id := r.PathValue("id")
		if _, err := p.cfg.Admin.Clients.SetStatus(r.Context(), d.actor, id, to, r.PostForm.Get("confirm") != ""); err != nil {
			p.refuseAction(w, r, d, act, err)
			return
		}
		doneAt(w, r, d, id, done)
	}
}

// clientRevokeSecret revokes one of the client's secrets: while a
// rotation's grace period runs, revoking the old secret finishes it now.
func (p *Pages) clientRevokeSecret(w http.ResponseWriter, r *http.Request, d *desk) {
	id := r.PathValue("id")
	if _, err := p.cfg.Admin.Clients.RevokeSecret(r.Context(), d.actor, id, r.PathValue("secret"), r.PostForm.Get("confirm") != ""); err != nil {
		p.refuseAction(w, r, d, actRevokeSecret, err)
		return
	}
	doneAt(w, r, d, id, "secret-revoked")
}

// clientDelete deletes the client. An active or protected client is
// deleted only with its name typed, so a slip of the hand cannot delete
// one in use; the domain refuses a protected one in its own words.
func (p *Pages) clientDelete(w http.ResponseWriter, r *http.Request, d *desk) {
	c, _, ok := p.loadClient(w, r, d)
	if !ok {
		return
	}
	if (c.Protected || c.Status == client.StatusActive) && r.PostForm.Get("confirm_name") != c.Name {
		p.refuseAction(w, r, d, actDelete, &client.ValidationError{Fields: []client.FieldError{
			{Field: "confirm_name", Message: "type the client's name exactly as shown to delete it"}}})
		return
	}
	if err := p.cfg.Admin.Clients.Delete(r.Context(), d.actor, c.ID); err != nil {
		p.refuseAction(w, r, d, actDelete, err)
		return
	}
	redirect(w, r, d.url("/clients", url.Values{"done": {"deleted"}}))
}

// clientSecretPage is the one page that shows a secret: the answer to the
// create or rotate form's POST, never reachable by a GET and never in a
// URL.
type clientSecretPage struct {
	C       *client.Client
	Secret  *client.IssuedSecret
	Rotated bool
	// Grace is the rotation's grace period; the old secret works until
	// GraceEnds.
	Grace     time.Duration
	GraceEnds time.Time
}

// Path is the client's page, where Close leads.
func (v *clientSecretPage) Path() string { return clientPath(v.C.ID, "") }

// Done is the notice the client's page shows after Close.
func (v *clientSecretPage) Done() string {
	if v.Rotated {
		return "rotated"
	}
	return "created"
}

// showSecret renders the secret display.
func (p *Pages) showSecret(w http.ResponseWriter, r *http.Request, d *desk, status int, v *clientSecretPage) {
	p.renderConsole(w, r, status, "client_secret", d.view("clients", v))
}
