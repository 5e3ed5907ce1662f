package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
)

// A user admin holds users:manage alone, through a custom role: an admin
// who may manage users but is no super admin.
const (
	hrEmail = "hr@example.com"
	hrRole  = "user_admin"
)

// withUserAdmin adds the custom role user_admin (users:manage) and a user
// holding it, and the division EMEA; it returns the user admin's ID.
func (cf *consoleFixture) withUserAdmin() string {
	cf.t.Helper()
	ctx := context.Background()
	if _, err := cf.admin.Roles.Create(ctx, system, account.NewRole{Name: hrRole, Description: "Manages users",
		Permissions: []authz.Permission{authz.UsersManage}}); err != nil {
		cf.t.Fatal(err)
	}
	if _, err := cf.admin.Divisions.Create(ctx, system, account.NewDivision{ID: "emea", Name: "EMEA <Europe>"}); err != nil {
		cf.t.Fatal(err)
	}
	u, err := cf.admin.Users.Create(ctx, system, account.NewUser{Email: hrEmail, Name: "HR", Password: password,
		Roles: []string{hrRole}})
	if err != nil {
		cf.t.Fatal(err)
	}
	return u.ID
}

// user reads a user straight from the store.
func (cf *consoleFixture) user(id string) *account.User {
	cf.t.Helper()
	u, err := cf.db.User(context.Background(), id)
	if err != nil {
		cf.t.Fatal(err)
	}
	return u
}

// events returns the tenant's events of one action, oldest first.
func (cf *consoleFixture) events(action string) []audit.Event {
	cf.t.Helper()
	page, err := cf.admin.Audit.ListAudit(context.Background(), audit.Query{TenantID: "ten_a", Action: action, Limit: audit.MaxLimit})
	if err != nil {
		cf.t.Fatal(err)
	}
	return page.Events
}

var userRowID = regexp.MustCompile(`<tr data-user-id="([^"]+)"`)

// listedUsers are the IDs of the users table's rows, in order.
func listedUsers(body string) []string {
	var out []string
	for _, m := range userRowID.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkConsoleAccessible is checkAccessible for a console page. The
// layout's main element takes focus from the skip link (tabindex="-1",
// which keeps it out of the tab order): that one tabindex is the
// layout's, not a page's, so it is left out of the check.
func checkConsoleAccessible(t *testing.T, body string) {
	t.Helper()
	checkAccessible(t, strings.Replace(body, `<main id="main" tabindex="-1">`, `<main id="main">`, 1))
}

func wantNoBody(t *testing.T, r *response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(r.Body, p) {
			t.Errorf("body has %q:\n%s", p, r.Body)
		}
	}
}

// The users list is for those who manage users: a super admin and a user
// admin see the tenant's users (never another tenant's); an OAuth admin
// and a viewer are refused by the domain.
func TestUsersListFollowsRoles(t *testing.T) {
	cf := newConsoleFixture(t)
	hrID := cf.withUserAdmin()
	all := []string{anaID, "usr_dis", hrID, opsID, rootID, viewerID} // by email, as the domain lists them
	for _, email := range []string{rootEmail, hrEmail} {
		r := cf.signedIn(email).get("/console/users")
		wantStatus(t, r, http.StatusOK)
		if got := listedUsers(r.Body); !slices.Equal(got, all) {
			t.Errorf("%s sees %v, want %v", email, got, all)
		}
		wantBody(t, r, `id="users-table"`, `aria-current="page">Users`, `href="/console/users/`+anaID+`"`,
			`<span class="badge inactive">Disabled</span>`, `<span class="badge active">Active</span>`,
			`<span class="badge grant">super_admin</span>`, "6 of 6 users", "Home Division")
		wantNoBody(t, r, bettyID)
		checkConsoleAccessible(t, r.Body)
	}
	for _, email := range []string{opsEmail, viewerEmail} {
		r := cf.signedIn(email).get("/console/users")
		wantStatus(t, r, http.StatusForbidden)
		wantBody(t, r, "users:manage")
		wantNoBody(t, r, anaEmail)
	}
}

// The search matches a substring of the email or the name, in any case;
// the status filter keeps active or disabled users; together they narrow
// further. A status the filter does not know is a field message.
func TestUsersListSearchAndFilter(t *testing.T) {
	cf := newConsoleFixture(t)
	b := cf.signedIn(rootEmail)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"q=ANA", []string{anaID}},
		{"q=" + url.QueryEscape("  viewer "), []string{viewerID}},
		{"q=example.com&status=disabled", []string{"usr_dis"}},
		{"status=active", []string{anaID, opsID, rootID, viewerID}},
		{"q=R&status=active", []string{rootID, viewerID}},
		{"q=nobody", nil},
	} {
		r := b.get("/console/users?" + tc.query)
		wantStatus(t, r, http.StatusOK)
		if got := listedUsers(r.Body); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	r := b.get("/console/users?q=nobody")
	wantBody(t, r, "No user matches these filters.", `value="nobody"`, "0 of 5 users", `data-live="users-results"`)
	checkConsoleAccessible(t, r.Body)

	r = b.get("/console/users?status=gone")
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, `role="alert"`, "Choose All, Active or Disabled.", `aria-invalid="true" aria-describedby="f-status-error"`)
	if got := listedUsers(r.Body); got != nil {
		t.Errorf("a bad filter lists %v", got)
	}
	checkConsoleAccessible(t, r.Body)
}

// A user's profile shows who they are and, in its Actions section,
// "Manage OAuth Clients" and "Create OAuth Client" for that user — to a
// super admin only (seed Breeze).
func TestUserProfileManageClientsForSuperAdminsOnly(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withUserAdmin()
	roles := []string{"viewer@emea"}
	if _, err := cf.admin.Users.Update(context.Background(), system, anaID, account.UserChanges{Roles: &roles}); err != nil {
		t.Fatal(err)
	}
	r := cf.signedIn(rootEmail).get("/console/users/" + anaID)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Ana</h1>", anaEmail, anaID, "Active", ">en<", "Home Division",
		`<span class="badge grant">viewer in EMEA &lt;Europe&gt;</span>`, "1 Mar 2026 12:00 UTC",
		`id="manage-clients" href="/console/clients?owner=`+anaID+`">Manage OAuth Clients</a>`,
		`id="create-client" href="/console/clients/new?owner=`+anaID+`">Create OAuth Client</a>`,
		`id="edit-user" href="/console/users/`+anaID+`/edit"`,
		`id="disable-user" href="/console/users/`+anaID+`/disable" data-dialog="disable-dialog"`,
		`<dialog id="disable-dialog" aria-labelledby="disable-title">`,
		`href="/console/audit?user=`+anaID+`"`)
	checkConsoleAccessible(t, r.Body)

	r = cf.signedIn(hrEmail).get("/console/users/" + anaID)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `id="disable-user"`, `id="edit-user"`)
	wantNoBody(t, r, "Manage OAuth Clients", `id="manage-clients"`, "Create OAuth Client",
		`href="/console/audit?user=`) // a user admin does not read the log
	checkConsoleAccessible(t, r.Body)

	r = cf.signedIn(viewerEmail).get("/console/users/" + anaID)
	wantStatus(t, r, http.StatusForbidden)
	wantNoBody(t, r, anaEmail)
}

// A user who is not there, or is another tenant's, is not found; the
// edit form and the confirmation say the same.
func TestUserPagesNotFound(t *testing.T) {
	cf := newConsoleFixture(t)
	b := cf.signedIn(rootEmail)
	for _, path := range []string{"/console/users/usr_nobody", "/console/users/" + bettyID,
		"/console/users/" + bettyID + "/edit", "/console/users/" + bettyID + "/disable"} {
		r := b.get(path)
		wantStatus(t, r, http.StatusNotFound)
		wantBody(t, r, "Not found")
		wantNoBody(t, r, bettyMail)
	}
	for _, path := range []string{"/console/users/" + bettyID + "/disable", "/console/users/" + bettyID + "/enable",
		"/console/users/" + bettyID + "/edit"} {
		wantStatus(t, b.post(path, url.Values{"name": {"Mallory"}}), http.StatusNotFound)
	}
	if u, err := cf.db.User(context.Background(), bettyID); err != nil || !u.Active() || u.Name != "Betty" {
		t.Fatalf("another tenant's user changed: %+v, %v", u, err)
	}
}

// Disabling asks first (a dialog, or a page without script), then
// disables through the domain, which audits it; enabling needs no
// confirmation. Who may not, is refused by the domain.
func TestUserDisableAndEnable(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withUserAdmin()
	root := cf.signedIn(rootEmail)

	r := root.get("/console/users/" + anaID + "/disable")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Disable ana@example.com?</h1>", `action="/console/users/`+anaID+`/disable"`, `name="csrf"`)
	checkConsoleAccessible(t, r.Body)

	cf.now = t0.Add(5 * time.Minute)
	r = root.post("/console/users/"+anaID+"/disable", nil)
	wantRedirect(t, r, "/console/users/"+anaID+"?done=disabled")
	if cf.user(anaID).Active() {
		t.Fatal("Ana is still active")
	}
	evs := cf.events(account.ActionUserDisabled)
	if len(evs) != 1 || evs[0].ActorID != rootID || evs[0].TargetID != anaID || !evs[0].At.Equal(cf.now) {
		t.Fatalf("events %+v", evs)
	}
	r = root.get("/console/users/" + anaID + "?done=disabled")
	wantBody(t, r, `class="success" role="status">The user is disabled`, `id="enable-user"`, `<span class="badge inactive">Disabled</span>`)
	wantNoBody(t, r, `id="disable-user"`, "<dialog")
	checkConsoleAccessible(t, r.Body)
	wantBody(t, root.get("/console/users/"+anaID+"/disable"), "This user is already disabled.")

	r = root.post("/console/users/"+anaID+"/enable", nil)
	wantRedirect(t, r, "/console/users/"+anaID+"?done=enabled")
	if !cf.user(anaID).Active() || len(cf.events(account.ActionUserEnabled)) != 1 {
		t.Fatal("Ana was not enabled, or not audited")
	}

	// No one disables themselves; a user admin does not disable someone
	// holding roles they could not grant; a viewer manages no one.
	r = root.post("/console/users/"+rootID+"/disable", nil)
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "you cannot disable yourself")
	r = cf.signedIn(hrEmail).post("/console/users/"+opsID+"/disable", nil)
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "oauth_admin")
	wantStatus(t, cf.signedIn(viewerEmail).post("/console/users/"+anaID+"/disable", nil), http.StatusForbidden)
	if !cf.user(opsID).Active() || !cf.user(rootID).Active() || !cf.user(anaID).Active() {
		t.Fatal("a refused disable disabled someone")
	}
	if n := len(cf.events(account.ActionUserDisabled)); n != 1 {
		t.Fatalf("%d disable events", n)
	}
}

// The edit form changes name, locale, division and roles through
// Users.Update, which audits each changed field with its values.
func TestUserEdit(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withUserAdmin()
	root := cf.signedIn(rootEmail)
	r := root.get("/console/users/" + anaID + "/edit")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Edit ana@example.com</h1>", `value="Ana"`, `<option value="en" selected>`,
		`<option value="emea">EMEA &lt;Europe&gt;</option>`, `value="super_admin"`, `value="user_admin"`,
		`<option value="viewer@emea">viewer in EMEA &lt;Europe&gt;</option>`)
	checkConsoleAccessible(t, r.Body)

	r = root.post("/console/users/"+anaID+"/edit", url.Values{"name": {"Ana Lima"}, "locale": {"fr"},
		"division": {"emea"}, "roles": {"viewer"}, "add_role": {"oauth_admin@emea"}})
	wantRedirect(t, r, "/console/users/"+anaID+"?done=updated")
	u := cf.user(anaID)
	if u.Name != "Ana Lima" || u.Locale != "fr" || u.Division() != "emea" || !slices.Equal(u.Roles, []string{"viewer", "oauth_admin@emea"}) {
		t.Fatalf("user %+v", u)
	}
	evs := cf.events(account.ActionUserUpdated)
	if len(evs) != 1 || evs[0].ActorID != rootID || !slices.Equal(evs[0].Changes, []string{"division_id", "locale", "name", "roles"}) ||
		evs[0].After["name"] != "Ana Lima" {
		t.Fatalf("events %+v", evs)
	}
	r = root.get("/console/users/" + anaID + "?done=updated")
	wantBody(t, r, "Changes saved.", "<h1>Ana Lima</h1>", "oauth_admin in EMEA &lt;Europe&gt;")

	// The form shows the division-limited grant as a box of its own; the
	// same values saved again, in another order, are no change at all.
	r = root.get("/console/users/" + anaID + "/edit")
	wantBody(t, r, `name="roles" value="oauth_admin@emea" checked`)
	checkConsoleAccessible(t, r.Body)
	r = root.post("/console/users/"+anaID+"/edit", url.Values{"name": {"Ana Lima"}, "locale": {"fr"},
		"division": {"emea"}, "roles": {"oauth_admin@emea", "viewer"}})
	wantRedirect(t, r, "/console/users/"+anaID+"?done=updated")
	if n := len(cf.events(account.ActionUserUpdated)); n != 1 {
		t.Fatalf("an unchanged form recorded %d updates", n)
	}
}

// The domain's field errors show the form again, 422, with the values
// entered, each message beside its field and summed up at the top.
func TestUserEditFieldErrors(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withUserAdmin()
	root := cf.signedIn(rootEmail)
	long := strings.Repeat("n", account.MaxUserName+1)
	r := root.post("/console/users/"+anaID+"/edit", url.Values{"name": {long}, "locale": {"xx"}, "division": {"home"},
		"roles": {"viewer"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `role="alert"`, `href="#f-name"`, `href="#f-locale"`, `value="`+long+`"`,
		`aria-invalid="true" aria-describedby="f-name-error"`, `id="f-name-error"`, `id="f-locale-error"`,
		`name="roles" value="viewer" checked`)
	checkConsoleAccessible(t, r.Body)

	r = root.post("/console/users/"+anaID+"/edit", url.Values{"name": {"Ana"}, "locale": {"en"}, "division": {"nowhere"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-division-error">No division &#34;nowhere&#34; in this tenant.`, `<option value="nowhere" selected>`)
	checkConsoleAccessible(t, r.Body)

	// One's own roles do not change.
	r = root.post("/console/users/"+rootID+"/edit", url.Values{"name": {"Root"}, "locale": {"en"}, "division": {"home"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-roles-error">You cannot change your own roles.`)

	if u := cf.user(anaID); u.Name != "Ana" || u.Locale != "en" || len(cf.events(account.ActionUserUpdated)) != 0 {
		t.Fatalf("a refused edit changed %+v", u)
	}
}

// A user admin is offered only the roles they may grant, and a role
// they may not, posted anyway, is refused by the domain.
func TestUserEditOffersOnlyAssignableRoles(t *testing.T) {
	cf := newConsoleFixture(t)
	cf.withUserAdmin()
	hr := cf.signedIn(hrEmail)
	r := hr.get("/console/users/" + anaID + "/edit")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `value="user_admin"`, `<option value="user_admin@emea">`)
	wantNoBody(t, r, `value="super_admin"`, `value="oauth_admin"`, `value="viewer"`)
	checkConsoleAccessible(t, r.Body)

	r = hr.post("/console/users/"+anaID+"/edit", url.Values{"name": {"Ana"}, "locale": {"en"}, "division": {"home"},
		"roles": {"oauth_admin"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-roles-error">You cannot grant or take away &#34;oauth_admin&#34;`)
	// The grant entered stays ticked, for the admin to take off.
	wantBody(t, r, `name="roles" value="oauth_admin" checked`)
	wantNoBody(t, r, `<input type="hidden" name="roles"`)
	checkConsoleAccessible(t, r.Body)
	if u := cf.user(anaID); len(u.Roles) != 0 {
		t.Fatalf("Ana holds %v", u.Roles)
	}

	r = hr.post("/console/users/"+anaID+"/edit", url.Values{"name": {"Ana"}, "locale": {"en"}, "division": {"home"},
		"roles": {hrRole}})
	wantRedirect(t, r, "/console/users/"+anaID+"?done=updated")
	if u := cf.user(anaID); !slices.Equal(u.Roles, []string{hrRole}) {
		t.Fatalf("Ana holds %v", u.Roles)
	}
	// Someone who holds more than the user admin is not theirs to change:
	// the form shows the grant as held, kept as it is, and the domain
	// refuses the change.
	r = hr.get("/console/users/" + opsID + "/edit")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "which you cannot grant or take away", `<span class="badge grant">oauth_admin</span><input type="hidden" name="roles" value="oauth_admin">`)
	checkConsoleAccessible(t, r.Body)
	r = hr.post("/console/users/"+opsID+"/edit", url.Values{"name": {"Ops 2"}, "locale": {"en"}, "division": {"home"},
		"roles": {"oauth_admin"}})
	wantStatus(t, r, http.StatusForbidden)
	if cf.user(opsID).Name != "Ops" {
		t.Fatal("ops was renamed")
	}
}

// Adding a user creates them through Users.Create with a generated
// password, shown once, that they must change at their first sign-in.
func TestUserCreate(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	r := root.get("/console/users/new")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Add a user</h1>", `id="f-email"`, `action="/console/users/new"`)
	checkConsoleAccessible(t, r.Body)
	wantBody(t, root.get("/console/users"), `href="/console/users/new"`)

	r = root.post("/console/users/new", url.Values{"email": {" New@Example.com "}, "name": {"Nina <b>"}, "locale": {"sv"},
		"division": {"home"}, "roles": {"viewer"}})
	wantStatus(t, r, http.StatusOK)
	m := regexp.MustCompile(`<code id="new-password">([^<]+)</code>`).FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no password shown:\n%s", r.Body)
	}
	wantBody(t, r, "This password will only be shown once.", `data-copy="#new-password"`, "new@example.com was added")
	checkConsoleAccessible(t, r.Body)
	u, err := cf.db.UserByEmail(context.Background(), "ten_a", "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := argon2id.Verify(u.PasswordHash, m[1]); err != nil || !ok {
		t.Fatalf("the password shown is not theirs: %v %v", ok, err)
	}
	if !u.PasswordChangeRequired || u.Name != "Nina <b>" || u.Locale != "sv" || !slices.Equal(u.Roles, []string{"viewer"}) {
		t.Fatalf("user %+v", u)
	}
	if strings.Contains(cf.logs.String(), m[1]) {
		t.Fatal("the password was logged")
	}
	if evs := cf.events(account.ActionUserCreated); len(evs) != 1 || evs[0].TargetID != u.ID || evs[0].ActorID != rootID {
		t.Fatalf("events %+v", evs)
	}
	wantBody(t, root.get("/console/users/"+u.ID), "Nina &lt;b&gt;", "to be changed at the next sign-in")

	// An email taken, or none, is a field error with the values kept.
	r = root.post("/console/users/new", url.Values{"email": {anaEmail}, "name": {"Other Ana"}, "locale": {"en"}, "division": {"home"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-email-error">Is taken by another user of this tenant.`, `value="Other Ana"`, `role="alert"`)
	checkConsoleAccessible(t, r.Body)
	r = root.post("/console/users/new", url.Values{"email": {""}, "locale": {"en"}, "division": {"home"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-email-error"`)

	// Granting beyond one's own is the domain's to refuse.
	cf.withUserAdmin()
	r = cf.signedIn(hrEmail).post("/console/users/new", url.Values{"email": {"x@example.com"}, "locale": {"en"},
		"division": {"home"}, "roles": {"viewer"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-roles-error">You cannot grant &#34;viewer&#34;`)
	// A viewer adds no one.
	wantStatus(t, cf.signedIn(viewerEmail).get("/console/users/new"), http.StatusForbidden)
	wantStatus(t, cf.signedIn(viewerEmail).post("/console/users/new", url.Values{"email": {"y@example.com"}}), http.StatusForbidden)
	for _, e := range []string{"x@example.com", "y@example.com"} {
		if _, err := cf.db.UserByEmail(context.Background(), "ten_a", e); err == nil {
			t.Errorf("%s was created", e)
		}
	}
}

// Names and emails render as text wherever the users pages show them.
func TestUserPagesEscape(t *testing.T) {
	cf := newConsoleFixture(t)
	name := "<script>alert(1)</script>"
	if _, err := cf.admin.Users.Update(context.Background(), system, anaID, account.UserChanges{Name: &name}); err != nil {
		t.Fatal(err)
	}
	b := cf.signedIn(rootEmail)
	for _, path := range []string{"/console/users", "/console/users/" + anaID, "/console/users/" + anaID + "/edit",
		"/console/users?q=" + url.QueryEscape(name)} {
		r := b.get(path)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, "&lt;script&gt;alert(1)&lt;/script&gt;")
		wantNoBody(t, r, name)
	}
}

// A store that fails is the 500 page, logged, with nothing of the error
// shown.
func TestUserPagesStoreFailure(t *testing.T) {
	cf := newConsoleFixture(t, func(c *Config) {
		// Users over the fixture's repository, which fails on demand.
		c.Admin.Users = &account.Users{Repo: c.Accounts, Now: c.Now, Hash: cheap}
	})
	b := cf.signedIn(rootEmail)
	cf.failing("tx")
	r := b.post("/console/users/"+anaID+"/disable", nil)
	wantStatus(t, r, http.StatusInternalServerError)
	wantNoBody(t, r, errStore.Error())
	if !strings.Contains(cf.logs.String(), errStore.Error()) {
		t.Error("the failure was not logged")
	}
}
