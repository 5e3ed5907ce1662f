package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// userRoutes are the users pages: the list, a user's profile, the edit
// form, disabling and enabling, and adding a user. Every rule (who may see
// or change whom, which roles may be granted) is account.Users'; these
// pages only ask it and show its answer.
func (p *Pages) userRoutes() []consoleRoute {
	return []consoleRoute{
		{path: "/users", handlers: map[string]consoleHandler{"GET": p.userList}},
		{path: "/users/new", handlers: map[string]consoleHandler{"GET": p.newUserForm, "POST": p.createUser}},
		{path: "/users/{id}", handlers: map[string]consoleHandler{"GET": p.userProfile}},
		{path: "/users/{id}/edit", handlers: map[string]consoleHandler{"GET": p.editUserForm, "POST": p.updateUser}},
		{path: "/users/{id}/disable", handlers: map[string]consoleHandler{
			"GET": p.confirmUserDisable, "POST": p.setUserStatus(account.UserDisabled)}},
		{path: "/users/{id}/enable", handlers: map[string]consoleHandler{"POST": p.setUserStatus(account.UserActive)}},
	}
}

// userGrant is one of a user's grants as the pages show it: the role and,
// for a grant limited to one division, that division's name.
type userGrant struct {
	Grant, Role, Division, DivisionName string
}

// Label is the grant in words: "oauth_admin", or "oauth_admin in EMEA".
func (g userGrant) Label() string {
	if g.Division == "" {
		return g.Role
	}
	return g.Role + " in " + g.DivisionName
}

// userDivisionNames names the tenant's divisions by ID, for showing grants
// and users' divisions; the list is the domain's, in its order.
type userDivisionNames struct {
	list  []account.Division
	names map[string]string
}

func (p *Pages) userDivisions(ctx context.Context, d *desk) (*userDivisionNames, error) {
	list, err := p.cfg.Admin.Divisions.List(ctx, d.actor)
	if err != nil {
		return nil, err
	}
	dn := &userDivisionNames{list: list, names: make(map[string]string, len(list))}
	for _, dv := range list {
		dn.names[dv.ID] = dv.Name
	}
	return dn, nil
}

// name is a division's name; its ID when the tenant no longer has it.
func (dn *userDivisionNames) name(id string) string {
	if n := dn.names[id]; n != "" {
		return n
	}
	if id == authz.HomeDivision {
		return authz.HomeDivisionName
	}
	return id
}

func (dn *userDivisionNames) grant(g string) userGrant {
	role, div, _ := strings.Cut(g, "@")
	v := userGrant{Grant: g, Role: role, Division: div}
	if div != "" {
		v.DivisionName = dn.name(div)
	}
	return v
}

func (dn *userDivisionNames) grants(gs []string) []userGrant {
	out := make([]userGrant, 0, len(gs))
	for _, g := range gs {
		out = append(out, dn.grant(g))
	}
	return out
}

// userRow is one user of the list.
type userRow struct {
	account.User
	Grants       []userGrant
	DivisionName string
}

// usersView is the users list: the filters as entered, the users they
// select, and how many the tenant has in all (of those the admin manages).
type usersView struct {
	Search, Status string
	Errors         map[string]string
	Users          []userRow
	Total          int
}

// userStatusFilters are the list's status filter values.
var userStatusFilters = []string{"", string(account.UserActive), string(account.UserDisabled)}

// userList serves the users list. The domain returns every user the admin
// manages, unpaginated (a tenant has hundreds, not millions); the search
// (a substring of the email or the name, any case) and the status filter
// run here, over that list.
func (p *Pages) userList(w http.ResponseWriter, r *http.Request, d *desk) {
	q := r.URL.Query()
	v := usersView{Search: strings.TrimSpace(q.Get("q")), Status: q.Get("status")}
	if !slices.Contains(userStatusFilters, v.Status) {
		v.Errors = map[string]string{"status": "Choose All, Active or Disabled."}
	}
	users, err := p.cfg.Admin.Users.List(r.Context(), d.actor)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	dn, err := p.userDivisions(r.Context(), d)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	v.Total = len(users)
	status := http.StatusOK
	if v.Errors != nil {
		status = http.StatusBadRequest
		users = nil
	}
	needle := strings.ToLower(v.Search)
	for _, u := range users {
		if needle != "" && !strings.Contains(strings.ToLower(u.Email), needle) && !strings.Contains(strings.ToLower(u.Name), needle) {
			continue
		}
		if v.Status == string(account.UserActive) && !u.Active() || v.Status == string(account.UserDisabled) && u.Active() {
			continue
		}
		v.Users = append(v.Users, userRow{User: u, Grants: dn.grants(u.Roles), DivisionName: dn.name(u.Division())})
	}
	p.renderConsole(w, r, status, "users", d.view("users", v))
}

// userDone are the notices a profile shows after a change, by the done
// parameter the change redirects with.
var userDone = map[string]string{
	"updated":  "Changes saved.",
	"disabled": "The user is disabled: their sessions ended and their tokens stopped working.",
	"enabled":  "The user is enabled again and may sign in.",
}

// userView is a user's profile.
type userView struct {
	User         *account.User
	Grants       []userGrant
	DivisionName string
	// ManageClients is whether the admin sees "Manage OAuth Clients": a
	// super admin's alone (seed Breeze).
	ManageClients bool
	Done          string
}

// userProfile serves a user's profile, with its Actions section.
func (p *Pages) userProfile(w http.ResponseWriter, r *http.Request, d *desk) {
	u, err := p.cfg.Admin.Users.Get(r.Context(), d.actor, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	dn, err := p.userDivisions(r.Context(), d)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	v := userView{User: u, Grants: dn.grants(u.Roles), DivisionName: dn.name(u.Division()),
		ManageClients: d.actor.IsSuperAdmin(), Done: userDone[r.URL.Query().Get("done")]}
	p.renderConsole(w, r, http.StatusOK, "user", d.view("users", v))
}

// confirmUserDisable is the confirmation of disabling a user for a browser
// without script; with script, the profile's dialog asks instead.
func (p *Pages) confirmUserDisable(w http.ResponseWriter, r *http.Request, d *desk) {
	u, err := p.cfg.Admin.Users.Get(r.Context(), d.actor, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	p.renderConsole(w, r, http.StatusOK, "user_disable", d.view("users", userView{User: u}))
}

// setUserStatus disables or enables a user and returns to the profile.
func (p *Pages) setUserStatus(st account.UserStatus) consoleHandler {
	done := "enabled"
	if st == account.UserDisabled {
		done = "disabled"
	}
	return func(w http.ResponseWriter, r *http.Request, d *desk) {
		u, err := p.cfg.Admin.Users.SetStatus(r.Context(), d.actor, r.PathValue("id"), st)
		if err != nil {
			p.fail(w, r, d, err)
			return
		}
		redirect(w, r, d.url("/users/"+url.PathEscape(u.ID), url.Values{"done": {done}}))
	}
}

// userGrantChoice is a grant the form offers, ticked or not.
type userGrantChoice struct {
	Grant, Label, Description string
	Checked                   bool
}

// userOption is one choice of a select.
type userOption struct {
	Value, Label string
}

// userLocaleNames are the locales' own names, for the locale select.
var userLocaleNames = map[string]string{"en": "English", "nb": "Norsk bokmål", "sv": "Svenska", "fr": "Français",
	"fi": "Suomi", "da": "Dansk"}

// userForm is the form of a new user or of an edited one: the values as
// entered, the choices the admin may make, and the domain's field errors.
type userForm struct {
	// User is the user edited; nil for a new one.
	User                *account.User
	Email, Name, Locale string
	Division            string
	Locales, Divisions  []userOption
	// Roles are the roles the admin may give tenant-wide; Scoped the
	// division-limited grants held or entered; Kept those held that the
	// admin could not give, which the form keeps as they are.
	Roles, Scoped []userGrantChoice
	Kept          []userGrant
	// AddOptions are the division-limited grants the admin may give, Add
	// the one chosen.
	AddOptions []userOption
	Add        string
	Errors     map[string]string

	catalog    *authz.Catalog
	names      *userDivisionNames
	heldGrants []string
}

// userFieldOrder is the order of the form's fields, for the error summary.
var userFieldOrder = []string{"email", "name", "locale", "division", "roles"}

// Summary lists the form's errors in the order of its fields, each with
// the ID of the control it is about.
func (f *userForm) Summary() []userOption {
	var out []userOption
	for _, field := range userFieldOrder {
		if msg := f.Errors[field]; msg != "" {
			out = append(out, userOption{Value: "f-" + field, Label: msg})
		}
	}
	var rest []string
	for field := range f.Errors {
		if !slices.Contains(userFieldOrder, field) {
			rest = append(rest, field)
		}
	}
	slices.Sort(rest)
	for _, field := range rest {
		out = append(out, userOption{Label: upperFirst(strings.ReplaceAll(field, "_", " ")) + ": " + f.Errors[field]})
	}
	return out
}

// fill fills in what the form offers: the locales, the divisions where
// the admin manages users, and the grants it may give, as the actor
// answers CanIn and CanAssign. chosen are the grants ticked.
func (f *userForm) fill(d *desk, chosen []string) {
	for _, l := range account.Locales {
		f.Locales = append(f.Locales, userOption{Value: l, Label: userLocaleNames[l]})
	}
	for _, dv := range f.names.list {
		if d.actor.CanIn(authz.UsersManage, dv.ID) || dv.ID == f.Division {
			f.Divisions = append(f.Divisions, userOption{Value: dv.ID, Label: dv.Name})
		}
	}
	if !slices.ContainsFunc(f.Divisions, func(o userOption) bool { return o.Value == f.Division }) {
		f.Divisions = append(f.Divisions, userOption{Value: f.Division, Label: f.names.name(f.Division)})
	}
	offered := map[string]bool{}
	for _, role := range f.catalog.Roles() {
		if !d.actor.CanAssign(role.Name) {
			continue
		}
		offered[role.Name] = true
		f.Roles = append(f.Roles, userGrantChoice{Grant: role.Name, Label: role.Name, Description: role.Description,
			Checked: slices.Contains(chosen, role.Name)})
		for _, dv := range f.names.list {
			g := role.Name + "@" + dv.ID
			if d.actor.CanAssign(g) && !slices.Contains(chosen, g) && !slices.Contains(f.heldGrants, g) {
				f.AddOptions = append(f.AddOptions, userOption{Value: g, Label: role.Name + " in " + dv.Name})
			}
		}
	}
	// The user's own grants and those entered, beyond the roles above:
	// each a box of its own, so one entered in error can be taken off
	// again; one held that the admin could not give is kept as it is.
	seen := map[string]bool{}
	for _, g := range slices.Concat(f.heldGrants, chosen) {
		if seen[g] || offered[g] || g == "" {
			continue
		}
		seen[g] = true
		if !d.actor.CanAssign(g) && slices.Contains(f.heldGrants, g) {
			if slices.Contains(chosen, g) {
				f.Kept = append(f.Kept, f.names.grant(g))
			}
			continue
		}
		gv := f.names.grant(g)
		f.Scoped = append(f.Scoped, userGrantChoice{Grant: g, Label: gv.Label(), Checked: slices.Contains(chosen, g)})
	}
}

// userFormFor loads what a user form needs from the domain: the tenant's
// divisions and its roles.
func (p *Pages) userFormFor(ctx context.Context, d *desk, u *account.User) (*userForm, error) {
	dn, err := p.userDivisions(ctx, d)
	if err != nil {
		return nil, err
	}
	cat, err := p.cfg.Admin.Roles.Catalog(ctx, d.actor)
	if err != nil {
		return nil, err
	}
	f := &userForm{User: u, names: dn, catalog: cat, Locale: "en", Division: authz.HomeDivision}
	if u != nil {
		f.Email, f.Name, f.Locale, f.Division, f.heldGrants = u.Email, u.Name, u.Locale, u.Division(), u.Roles
	}
	return f, nil
}

// editFormOf is the edit form of the user the path names, as they are.
func (p *Pages) editFormOf(r *http.Request, d *desk) (*account.User, *userForm, error) {
	u, err := p.cfg.Admin.Users.Get(r.Context(), d.actor, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	f, err := p.userFormFor(r.Context(), d, u)
	return u, f, err
}

// readForm takes the entered values from the posted form, keeping them
// for a form shown again, and returns the grants chosen: those ticked, in
// the user's own order where they held them already (so an unchanged set
// is no change), then the one added.
func (f *userForm) read(form url.Values) []string {
	f.Email = strings.TrimSpace(form.Get("email"))
	f.Name = form.Get("name")
	f.Locale = form.Get("locale")
	f.Division = form.Get("division")
	ticked := form["roles"]
	f.Add = form.Get("add_role")
	var out []string
	for _, g := range f.heldGrants {
		if slices.Contains(ticked, g) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	for _, g := range ticked {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	if f.Add != "" && !slices.Contains(out, f.Add) {
		out = append(out, f.Add)
	}
	return out
}

// editUserForm shows the form editing a user's name, locale, division
// and roles.
func (p *Pages) editUserForm(w http.ResponseWriter, r *http.Request, d *desk) {
	u, f, err := p.editFormOf(r, d)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	f.fill(d, u.Roles)
	p.renderConsole(w, r, http.StatusOK, "user_edit", d.view("users", f))
}

// updateUser applies the edit form through Users.Update; its field
// errors show the form again with the values entered.
func (p *Pages) updateUser(w http.ResponseWriter, r *http.Request, d *desk) {
	u, f, err := p.editFormOf(r, d)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	roles := f.read(r.PostForm)
	_, err = p.cfg.Admin.Users.Update(r.Context(), d.actor, u.ID, account.UserChanges{
		Name: &f.Name, Locale: &f.Locale, DivisionID: &f.Division, Roles: &roles})
	if fe := fieldErrors(err); fe != nil {
		f.Errors, f.Add = fe, ""
		f.fill(d, roles)
		p.renderConsole(w, r, http.StatusUnprocessableEntity, "user_edit", d.view("users", f))
		return
	}
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	redirect(w, r, d.url("/users/"+url.PathEscape(u.ID), url.Values{"done": {"updated"}}))
}

// newUserForm shows the form adding a user.
func (p *Pages) newUserForm(w http.ResponseWriter, r *http.Request, d *desk) {
	if err := d.actor.RequireSome(authz.UsersManage); err != nil {
		p.fail(w, r, d, err)
		return
	}
	f, err := p.userFormFor(r.Context(), d, nil)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	f.fill(d, nil)
	p.renderConsole(w, r, http.StatusOK, "user_edit", d.view("users", f))
}

// userCreated is the page after adding a user: the password generated
// for them, shown this once. It is the answer to the POST itself, never
// stored, so no later request can show it again.
type userCreated struct {
	User     *account.User
	Password string
}

// createUser adds a user through Users.Create with a generated password,
// which the user must change at their first sign-in, and shows it once.
func (p *Pages) createUser(w http.ResponseWriter, r *http.Request, d *desk) {
	f, err := p.userFormFor(r.Context(), d, nil)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	roles := f.read(r.PostForm)
	// A generated password as first start makes the super admin's: 20
	// base62 characters, about 119 bits.
	pw, err := client.NewID(p.cfg.Random, "")
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	u, err := p.cfg.Admin.Users.Create(r.Context(), d.actor, account.NewUser{Email: f.Email, Name: f.Name,
		Locale: f.Locale, Password: pw, Roles: roles, DivisionID: f.Division, PasswordChangeRequired: true})
	if fe := fieldErrors(err); fe != nil {
		f.Errors, f.Add = fe, ""
		f.fill(d, roles)
		p.renderConsole(w, r, http.StatusUnprocessableEntity, "user_edit", d.view("users", f))
		return
	}
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	p.renderConsole(w, r, http.StatusOK, "user_created", d.view("users", userCreated{User: u, Password: pw}))
}
