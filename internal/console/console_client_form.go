package console

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// clientTemplate is a starting point of the create form (seed
// ThetaSecure's "Custom Client" beside presets): a name, what it is for,
// and what it fills in (see applyTemplate).
type clientTemplate struct {
	Key, Name, Summary string
}

// clientTemplates are the create form's templates, the custom one first.
var clientTemplates = []clientTemplate{
	{Key: "custom", Name: "Custom client",
		Summary: "Full control over the type, grant types, scopes and redirect URIs: for custom integrations and third-party applications."},
	{Key: "service", Name: "Service (client credentials)",
		Summary: "A backend service or scheduled job calling an API as itself, with no user: the client_credentials grant, a secret, and roles for what it may do."},
	{Key: "web", Name: "Web app",
		Summary: "A server-side web application that signs users in: confidential, with the authorization_code and refresh_token grants, its redirect URIs, and the OpenID Connect scopes."},
	{Key: "spa", Name: "SPA / native (public, PKCE)",
		Summary: "A single-page, mobile or desktop app that cannot keep a secret: public, no secret, PKCE required, with the authorization_code and refresh_token grants."},
	{Key: "directory-sync", Name: "Directory sync",
		Summary: "Synchronises a user directory (LDAP, Active Directory) into this tenant: client_credentials with the users:manage scope, " +
			"and the tenant's least-privileged role that grants users:manage. A super admin role is never picked for you: when the tenant has no other, choose or define one."},
}

// templateOf returns the template named key; the custom one for any other.
func templateOf(key string) clientTemplate {
	for _, t := range clientTemplates {
		if t.Key == key {
			return t
		}
	}
	return clientTemplates[0]
}

// oidcScopes are the scopes a sign-in client's templates start with.
const oidcScopes = "openid profile email offline_access"

// applyTemplate fills v as template key starts it, with the roles f
// offers.
func applyTemplate(key string, v *clientValues, f *clientForm, actor authz.Actor) {
	code := []string{string(client.GrantAuthorizationCode), string(client.GrantRefreshToken)}
	switch key {
	case "service":
		v.Grants = []string{string(client.GrantClientCredentials)}
	case "web":
		v.Grants, v.Scopes = code, oidcScopes
	case "spa":
		v.Type, v.AuthMethod, v.Grants, v.Scopes = string(client.Public), string(client.AuthNone), code, oidcScopes
	case "directory-sync":
		v.Grants = []string{string(client.GrantClientCredentials)}
		// A scope naming a permission is one only its holder may put on
		// a client: offered only to an admin the domain would let.
		if actor.RequireSome(authz.UsersManage) == nil {
			v.Scopes = string(authz.UsersManage)
		}
		if r := f.syncRole(); r != "" {
			v.Roles = []string{r}
		}
	}
}

// syncRole is the role a directory sync is given: of those offered, the
// one with the fewest permissions that grants users:manage, and never one
// that manages tenants (super_admin).
func (f *clientForm) syncRole() string {
	best, fewest := "", 0
	for _, o := range f.Roles {
		if o.held || !slices.Contains(o.perms, authz.UsersManage) || slices.Contains(o.perms, authz.TenantsManage) {
			continue
		}
		if best == "" || len(o.perms) < fewest {
			best, fewest = o.Value, len(o.perms)
		}
	}
	return best
}

// clientValues are the create and edit form's fields as entered, by the
// domain's names (form names too), kept to show the form again.
type clientValues struct {
	// Template is the template the create form started from; Proposed the
	// client ID it will create unless one is typed (see clientCreate).
	Template, Proposed string
	// Version is the version of the client the edit form was opened on.
	Version string

	Name, Description, ClientID string
	Type                        string
	Grants                      []string
	// RedirectURIs and PostLogoutURIs hold one URI per line, Scopes are
	// space or line separated.
	RedirectURIs, PostLogoutURIs, Scopes string
	Roles                                []string
	Division, Owner                      string
	AccessTTL, RefreshTTL                string
	TokenFormat, AuthMethod              string
	RequireConsent, Active               bool
	SecretExpires                        string
	// Confirm confirms a change to a protected client.
	Confirm bool
}

// newClientValues are the create form's defaults, the domain's; the
// division is the first the admin may add clients to (see clientFormOf).
func newClientValues() clientValues {
	return clientValues{Type: string(client.Confidential), Active: true,
		AccessTTL:   strconv.Itoa(int(client.DefaultAccessTTL.Seconds())),
		RefreshTTL:  strconv.Itoa(int(client.DefaultRefreshTTL.Seconds())),
		TokenFormat: string(client.TokenJWT), SecretExpires: defaultSecretLifetime}
}

// valuesOf are the edit form's fields for c as it is.
func valuesOf(c *client.Client) clientValues {
	return clientValues{Version: c.Version(), Name: c.Name, Description: c.Description, ClientID: c.ID,
		Type: string(c.Type), Grants: clientStrs(c.GrantTypes), RedirectURIs: strings.Join(c.RedirectURIs, "\n"),
		PostLogoutURIs: strings.Join(c.PostLogoutRedirectURIs, "\n"), Scopes: strings.Join(c.Scopes, " "),
		Roles: slices.Clone(c.Roles), Division: c.DivisionID, Owner: c.OwnerUserID,
		AccessTTL: strconv.FormatInt(int64(c.AccessTokenTTL.Seconds()), 10), RefreshTTL: strconv.FormatInt(int64(c.RefreshTokenTTL.Seconds()), 10),
		TokenFormat: string(c.TokenFormat), AuthMethod: string(c.TokenEndpointAuthMethod),
		RequireConsent: c.RequireConsent, Active: c.Status == client.StatusActive}
}

func clientStrs[T ~string](in []T) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		out = append(out, string(v))
	}
	return out
}

// readClientValues reads the form as posted.
func readClientValues(f url.Values) clientValues {
	return clientValues{Template: f.Get("template"), Proposed: f.Get("proposed_id"), Version: f.Get("version"),
		Name: f.Get("name"), Description: f.Get("description"), ClientID: strings.TrimSpace(f.Get("client_id")),
		Type: f.Get("type"), Grants: f["grant_types"], RedirectURIs: f.Get("redirect_uris"),
		PostLogoutURIs: f.Get("post_logout_redirect_uris"), Scopes: f.Get("scopes"), Roles: f["roles"],
		Division: f.Get("division"), Owner: f.Get("owner_user_id"),
		AccessTTL: strings.TrimSpace(f.Get("access_token_ttl")), RefreshTTL: strings.TrimSpace(f.Get("refresh_token_ttl")),
		TokenFormat: f.Get("token_format"), AuthMethod: f.Get("token_endpoint_auth_method"),
		RequireConsent: f.Get("require_consent") != "", Active: f.Get("active") != "",
		SecretExpires: f.Get("secret_expires"), Confirm: f.Get("confirm") != ""}
}

// formLines splits a textarea into its non-empty lines, trimmed.
func formLines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func grantList(gs []string) []client.GrantType {
	out := make([]client.GrantType, 0, len(gs))
	for _, g := range gs {
		out = append(out, client.GrantType(g))
	}
	return out
}

func (v clientValues) status() client.Status {
	if v.Active {
		return client.StatusActive
	}
	return client.StatusInactive
}

// createParams are the domain's reading of the create form, as the admin
// API maps its body: empty fields take the domain's defaults and every
// rule is the domain's. id is the client ID to create.
func (v clientValues) createParams(id string) client.CreateParams {
	return client.CreateParams{ClientID: id, Name: v.Name, Description: v.Description, Type: client.Type(v.Type),
		GrantTypes: grantList(v.Grants), RedirectURIs: formLines(v.RedirectURIs), PostLogoutRedirectURIs: formLines(v.PostLogoutURIs),
		Scopes: strings.Fields(v.Scopes), Roles: v.Roles, OwnerUserID: v.Owner, DivisionID: v.Division,
		AccessTokenTTL: formSeconds(v.AccessTTL), RefreshTokenTTL: formSeconds(v.RefreshTTL),
		TokenFormat: client.TokenFormat(v.TokenFormat), RequireConsent: v.RequireConsent, Status: v.status(),
		TokenEndpointAuthMethod: client.AuthMethod(v.AuthMethod), SecretLifetime: secretLifetime(v.SecretExpires)}
}

// updateParams are the domain's reading of the edit form: every field it
// shows is set (an emptied lifetime is one the domain refuses, not the
// old one kept), and the update applies only to the version the form was
// opened on.
func (v clientValues) updateParams() client.UpdateParams {
	name, desc, owner, div := v.Name, v.Description, v.Owner, v.Division
	grants, redirects, logouts := grantList(v.Grants), formLines(v.RedirectURIs), formLines(v.PostLogoutURIs)
	scopes, roles := strings.Fields(v.Scopes), v.Roles
	if roles == nil {
		roles = []string{}
	}
	access, refresh := formSeconds(v.AccessTTL), formSeconds(v.RefreshTTL)
	format, consent, status := client.TokenFormat(v.TokenFormat), v.RequireConsent, v.status()
	p := client.UpdateParams{Name: &name, Description: &desc, GrantTypes: &grants, RedirectURIs: &redirects,
		PostLogoutRedirectURIs: &logouts, Scopes: &scopes, Roles: &roles, OwnerUserID: &owner, DivisionID: &div,
		AccessTokenTTL: &access, RefreshTokenTTL: &refresh, TokenFormat: &format, RequireConsent: &consent,
		Status: &status, Confirm: v.Confirm, IfVersion: v.Version}
	if v.AuthMethod != "" {
		m := client.AuthMethod(v.AuthMethod)
		p.TokenEndpointAuthMethod = &m
	}
	return p
}

// roleOffer is a role the form offers as a checkbox.
type roleOffer struct {
	Value, Label, Description string
	// held marks a grant the client holds that the admin could not give
	// again: offered so that saving the form keeps it.
	held  bool
	perms []authz.Permission
}

// grantOffer is a grant type the form offers; Reason, when set, is why it
// is not offered (in the domain's words).
type grantOffer struct {
	Value, Label, Hint, Reason string
}

// grantOffers are the grant types, with implicit shown as not offered.
var grantOffers = []grantOffer{
	{Value: string(client.GrantClientCredentials), Label: "Client credentials", Hint: "Machine to machine, with no user: the client authenticates with its secret."},
	{Value: string(client.GrantAuthorizationCode), Label: "Authorization code", Hint: "A user signs in and approves; needs redirect URIs. PKCE is required for public clients."},
	{Value: string(client.GrantRefreshToken), Label: "Refresh token", Hint: "Lets an authorization code client renew its access tokens."},
	{Value: "implicit", Label: "Implicit (not offered)", Reason: upperFirst(client.CheckGrantType("implicit").Error()) + "."},
}

// clientFieldLabels name the form's fields, by the domain's field names,
// in the form's order: the error summary lists them so.
var clientFieldLabels = []struct{ field, label string }{
	{"name", "Client name"}, {"description", "Description"}, {"client_id", "Client ID"}, {"type", "Client type"},
	{"grant_types", "Grant types"}, {"redirect_uris", "Redirect URIs"}, {"post_logout_redirect_uris", "Post-logout redirect URIs"},
	{"scopes", "Scopes"}, {"roles", "Roles"}, {"division", "Division"}, {"owner_user_id", "Owner"},
	{"access_token_ttl", "Access token lifetime"}, {"refresh_token_ttl", "Refresh token lifetime"},
	{"token_format", "Token format"}, {"token_endpoint_auth_method", "Token endpoint authentication method"},
	{"require_consent", "Require user consent"}, {"secret_expires", "Secret expiration"}, {"status", "Active"},
	{"confirm", "Confirmation"},
}

// clientFieldShown maps a domain field the form does not show by that
// name to the one it does: a public client's refused secret is its secret
// expiration's.
var clientFieldShown = map[string]string{"client_secret": "secret_expires"}

// summaryItem is one entry of the form's error summary: a message and the
// field it links to ("" for none the form shows).
type summaryItem struct {
	Field, Label, Message string
}

// clientForm is the create and edit form.
type clientForm struct {
	// Edit is the edit form of C; otherwise the create form, started from
	// Template.
	Edit      bool
	C         *client.Client
	Template  clientTemplate
	Templates []clientTemplate
	V         clientValues
	// Errors are the field errors by field; Summary lists them, with
	// Error, a refusal that is not about one field.
	Errors    map[string]string
	Summary   []summaryItem
	Error     string
	Roles     []roleOffer
	Grants    []grantOffer
	Divisions []clientChoice
	Owners    []clientChoice
	Lifetimes []clientChoice
	// Max* are the domain's limits, for the hints.
	MaxRedirects, MaxName, MaxDescription int
}

// Err is field f's error message.
func (f *clientForm) Err(field string) string { return f.Errors[field] }

// TemplateQuery is the create form's query for template key, keeping
// the owner chosen.
func (f *clientForm) TemplateQuery(key string) url.Values {
	q := url.Values{"template": {key}}
	if f.V.Owner != "" {
		q.Set("owner", f.V.Owner)
	}
	return q
}

// Action is where the form posts.
func (f *clientForm) Action() string {
	if f.Edit {
		return clientPath(f.C.ID, "edit")
	}
	return "/clients/new"
}

// Cancel is where the form's cancel link leads.
func (f *clientForm) Cancel() string {
	if f.Edit {
		return clientPath(f.C.ID, "")
	}
	return "/clients"
}

// setErrors puts err's field errors on the form, each next to the field
// the form shows it by, and lists them in the summary in the form's order.
func (f *clientForm) setErrors(err error) {
	fe := fieldErrors(err)
	if len(fe) == 0 && f.Error == "" {
		return
	}
	f.Errors = map[string]string{}
	for field, msg := range fe {
		// A list's rule names the entry that breaks it
		// ("redirect_uris[2]"); its message quotes the entry.
		if i := strings.IndexByte(field, '['); i > 0 {
			field = field[:i]
		}
		if shown, ok := clientFieldShown[field]; ok {
			field = shown
		}
		if f.Errors[field] == "" {
			f.Errors[field] = msg
		}
	}
	seen := map[string]bool{}
	for _, l := range clientFieldLabels {
		if msg := f.Errors[l.field]; msg != "" {
			f.Summary = append(f.Summary, summaryItem{Field: l.field, Label: l.label, Message: msg})
			seen[l.field] = true
		}
	}
	// A field the form does not show (the domain's own bookkeeping) is
	// still said, without a link.
	var rest []string
	for field := range f.Errors {
		if !seen[field] {
			rest = append(rest, field)
		}
	}
	slices.Sort(rest)
	for _, field := range rest {
		f.Summary = append(f.Summary, summaryItem{Label: field, Message: f.Errors[field]})
	}
}

// clientFormOf builds the form for values v: of c when editing, of a new
// client when c is nil. The choices come from the domain: the roles the
// admin may assign, the divisions where they may add (or edit) clients,
// the users they may list as owners.
func (p *Pages) clientFormOf(ctx context.Context, d *desk, c *client.Client, v clientValues) (*clientForm, error) {
	f := &clientForm{Edit: c != nil, C: c, V: v, Templates: clientTemplates, Grants: grantOffers,
		Lifetimes: secretLifetimeChoices, MaxRedirects: client.MaxRedirectURIs,
		MaxName: client.MaxNameLen, MaxDescription: client.MaxDescriptionLen}
	if c == nil {
		f.Template = templateOf(v.Template)
		f.V.Template = f.Template.Key
	}
	divs, err := p.clientDivisions(ctx, d)
	if err != nil {
		return nil, err
	}
	perm := authz.ClientAdd
	if c != nil {
		perm = authz.ClientEdit
	}
	for _, id := range divs.ids {
		if d.actor.CanIn(perm, id) || c != nil && id == c.DivisionID {
			f.Divisions = append(f.Divisions, clientChoice{id, divs.name(id)})
		}
	}
	// A new client starts in the first division the admin may add to;
	// a division posted that is not offered stays selected, for the
	// domain's refusal to be read beside it.
	if f.V.Division == "" && len(f.Divisions) > 0 {
		f.V.Division = f.Divisions[0].Value
	}
	if !slices.ContainsFunc(f.Divisions, func(o clientChoice) bool { return o.Value == f.V.Division }) && f.V.Division != "" {
		f.Divisions = append(f.Divisions, clientChoice{f.V.Division, divs.name(f.V.Division)})
	}
	var held []string
	if c != nil {
		held = c.Roles
	}
	if f.Roles, err = p.roleOffers(ctx, d, divs, held); err != nil {
		return nil, err
	}
	if f.Owners, err = p.ownerChoices(ctx, d, v.Owner); err != nil {
		return nil, err
	}
	return f, nil
}

// roleOffers are the roles the form offers: each role of the tenant's
// catalog that the admin may assign tenant-wide, or else in each division
// where they may, and the grants the client already holds, so that saving
// the form keeps them. A role posted that was not offered is not offered
// back: the domain's refusal says why.
func (p *Pages) roleOffers(ctx context.Context, d *desk, divs *clientDivisionNames, held []string) ([]roleOffer, error) {
	cat := d.actor.Catalog
	if p.cfg.Admin.Roles != nil {
		// Reading the catalog needs users:manage; an admin without it can
		// assign only roles they hold, which their own catalog names.
		full, err := p.cfg.Admin.Roles.Catalog(ctx, d.actor)
		switch {
		case err == nil:
			cat = full
		case !errors.Is(err, client.ErrForbidden):
			return nil, err
		}
	}
	var out []roleOffer
	offered := map[string]bool{}
	add := func(grant, label string, r authz.Role, isHeld bool) {
		if offered[grant] {
			return
		}
		offered[grant] = true
		out = append(out, roleOffer{Value: grant, Label: label, Description: r.Description, held: isHeld, perms: r.Permissions})
	}
	for _, r := range cat.Roles() {
		if d.actor.CanAssign(r.Name) {
			add(r.Name, r.Name, r, false)
			continue
		}
		for _, div := range divs.ids {
			if g := r.Name + "@" + div; d.actor.CanAssign(g) {
				add(g, divs.grantLabel(g), r, false)
			}
		}
	}
	for _, g := range held {
		role, _, _ := strings.Cut(g, "@")
		r, _ := cat.Role(role)
		add(g, divs.grantLabel(g), r, true)
	}
	return out, nil
}

// ownerChoices are the users the client may be given as its owner: the
// tenant's users when the admin may list them, otherwise the admin
// themself; and the current one, whoever it is.
func (p *Pages) ownerChoices(ctx context.Context, d *desk, current string) ([]clientChoice, error) {
	out := []clientChoice{{"", "No owner"}}
	listed := false
	if p.cfg.Admin.Users != nil && d.actor.RequireSome(authz.UsersManage) == nil {
		users, err := p.cfg.Admin.Users.List(ctx, d.actor)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			label := u.Email
			if u.ID == d.user.ID {
				label += " (you)"
			}
			out = append(out, clientChoice{u.ID, label})
		}
		listed = true
	}
	if !listed {
		out = append(out, clientChoice{d.user.ID, d.user.Email + " (you)"})
	}
	if current != "" && !slices.ContainsFunc(out, func(o clientChoice) bool { return o.Value == current }) {
		out = append(out, clientChoice{current, current})
	}
	return out, nil
}

// renderClientForm shows the form.
func (p *Pages) renderClientForm(w http.ResponseWriter, r *http.Request, d *desk, status int, f *clientForm) {
	p.renderConsole(w, r, status, "client_form", d.view("clients", f))
}

// clientNew serves the create form, started from the template the query
// names (?template=service) and with the owner it names pre-selected
// (?owner=usr_…, from a user's "Manage OAuth Clients").
func (p *Pages) clientNew(w http.ResponseWriter, r *http.Request, d *desk) {
	if err := d.actor.RequireSome(authz.ClientAdd); err != nil {
		p.fail(w, r, d, err)
		return
	}
	q := r.URL.Query()
	v := newClientValues()
	v.Template, v.Owner = templateOf(q.Get("template")).Key, q.Get("owner")
	proposed, err := client.NewClientID(p.cfg.Random)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	v.Proposed = proposed
	f, err := p.clientFormOf(r.Context(), d, nil, v)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	applyTemplate(f.Template.Key, &f.V, f, d.actor)
	p.renderClientForm(w, r, d, http.StatusOK, f)
}

// clientCreate creates the client and shows its secret, once.
//
// The form carries the client ID it creates, proposed when it was
// rendered (or typed by the admin): sent again (a reload, the back
// button, the history), it meets the domain's refusal of a taken ID, and
// the admin is told the client exists rather than shown a second client
// or the secret again.
func (p *Pages) clientCreate(w http.ResponseWriter, r *http.Request, d *desk) {
	ctx := r.Context()
	v := readClientValues(r.PostForm)
	if client.ValidateClientID(v.Proposed) != nil {
		id, err := client.NewClientID(p.cfg.Random)
		if err != nil {
			p.fail(w, r, d, err)
			return
		}
		v.Proposed = id
	}
	id := cmp.Or(v.ClientID, v.Proposed)
	c, sec, err := p.cfg.Admin.Clients.Create(ctx, d.actor, v.createParams(id))
	if err != nil {
		fe := fieldErrors(err)
		if fe == nil {
			p.fail(w, r, d, err)
			return
		}
		if fe["client_id"] != "" {
			if done := p.alreadyCreated(ctx, d, id, v.Name); done != nil {
				text := "This client was already created."
				if done.Type == client.Confidential {
					text += " Its secret was shown once and cannot be shown again."
				}
				p.consoleMessage(w, r, d, http.StatusConflict, messageView{Heading: "Already created", Text: text,
					Link: consolePrefix + clientPath(done.ID, ""), LinkLabel: "Go to " + done.Name})
				return
			}
		}
		f, ferr := p.clientFormOf(ctx, d, nil, v)
		if ferr != nil {
			p.fail(w, r, d, ferr)
			return
		}
		f.setErrors(err)
		p.renderClientForm(w, r, d, http.StatusUnprocessableEntity, f)
		return
	}
	if sec == nil {
		doneAt(w, r, d, c.ID, "created-public")
		return
	}
	p.showSecret(w, r, d, http.StatusCreated, &clientSecretPage{C: c, Secret: sec})
}

// alreadyCreated returns the client id when it is the one this form
// created before: made by this admin, with this name. Any other client
// holding the ID is the domain's field error to show.
func (p *Pages) alreadyCreated(ctx context.Context, d *desk, id, name string) *client.Client {
	c, _, err := p.cfg.Admin.Clients.Get(ctx, d.actor, id)
	if err != nil || c.CreatedBy != d.actor.ID || c.Name != name {
		return nil
	}
	return c
}

// clientEdit serves the edit form, filled with the client as it is.
func (p *Pages) clientEdit(w http.ResponseWriter, r *http.Request, d *desk) {
	c, _, ok := p.loadClient(w, r, d)
	if !ok {
		return
	}
	if err := d.actor.RequireIn(authz.ClientEdit, c.DivisionID); err != nil {
		p.fail(w, r, d, err)
		return
	}
	f, err := p.clientFormOf(r.Context(), d, c, valuesOf(c))
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	p.renderClientForm(w, r, d, http.StatusOK, f)
}

// msgStaleClient says why an edit form came back with other values.
const msgStaleClient = "This client was changed since you opened it, by someone else or in another window. " +
	"Nothing was saved: the form now shows its current values. Make your changes again."

// clientUpdate saves the edit form, if the client is still the version
// the form was opened on.
func (p *Pages) clientUpdate(w http.ResponseWriter, r *http.Request, d *desk) {
	ctx := r.Context()
	v := readClientValues(r.PostForm)
	_, err := p.cfg.Admin.Clients.Update(ctx, d.actor, r.PathValue("id"), v.updateParams())
	if err == nil {
		doneAt(w, r, d, r.PathValue("id"), "updated")
		return
	}
	stale := errors.Is(err, client.ErrStale)
	if !stale && fieldErrors(err) == nil && !errProtected(err) {
		p.fail(w, r, d, err)
		return
	}
	c, _, ok := p.loadClient(w, r, d)
	if !ok {
		return
	}
	status := http.StatusUnprocessableEntity
	if stale {
		v, status = valuesOf(c), http.StatusPreconditionFailed
	}
	f, ferr := p.clientFormOf(ctx, d, c, v)
	if ferr != nil {
		p.fail(w, r, d, ferr)
		return
	}
	switch {
	case stale:
		f.Error = msgStaleClient
	case errProtected(err):
		status = http.StatusConflict
		err = &client.ValidationError{Fields: []client.FieldError{{Field: "confirm", Message: strings.TrimSuffix(protectedText(err), ".")}}}
	}
	f.setErrors(err)
	p.renderClientForm(w, r, d, status, f)
}
