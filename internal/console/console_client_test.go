package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// Each template pre-fills the create form with its own client, named at
// the top of the form; the form as rendered creates that client.
func TestClientCreateFromEachTemplate(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	// A role made for directory sync: users:manage and nothing more.
	if _, err := cf.admin.Roles.Create(ctx, system, account.NewRole{Name: "directory_sync",
		Description: "Writes users", Permissions: []authz.Permission{authz.UsersManage}}); err != nil {
		t.Fatal(err)
	}
	root := cf.signedIn(rootEmail)
	code := []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken}
	for _, tc := range []struct {
		key, name string
		extra     url.Values
		typ       client.Type
		grants    []client.GrantType
		scopes    []string
		roles     []string
		method    client.AuthMethod
	}{
		{key: "custom", name: "Custom client", extra: url.Values{"grant_types": {"client_credentials"}},
			typ: client.Confidential, grants: []client.GrantType{client.GrantClientCredentials}, method: client.AuthSecretBasic},
		{key: "service", name: "Service (client credentials)", typ: client.Confidential,
			grants: []client.GrantType{client.GrantClientCredentials}, method: client.AuthSecretBasic},
		{key: "web", name: "Web app", extra: url.Values{"redirect_uris": {"https://app.example/cb\r\nhttp://localhost:3000/cb\r\n"}},
			typ: client.Confidential, grants: code, scopes: []string{"openid", "profile", "email", "offline_access"}, method: client.AuthSecretBasic},
		{key: "spa", name: "SPA / native (public, PKCE)", extra: url.Values{"redirect_uris": {"com.example.app:/cb"}},
			typ: client.Public, grants: code, scopes: []string{"openid", "profile", "email", "offline_access"}, method: client.AuthNone},
		{key: "directory-sync", name: "Directory sync", typ: client.Confidential,
			grants: []client.GrantType{client.GrantClientCredentials}, scopes: []string{"users:manage"},
			roles: []string{"directory_sync"}, method: client.AuthSecretBasic},
	} {
		t.Run(tc.key, func(t *testing.T) {
			r := root.get("/console/clients/new?template=" + tc.key)
			wantStatus(t, r, http.StatusOK)
			checkClientPage(t, r.Body)
			wantBody(t, r, `id="client-form"`, "Template: <strong>"+tc.name+"</strong>",
				`data-template="`+tc.key+`" aria-current="true"`)
			for _, other := range clientTemplates {
				wantBody(t, r, `data-template="`+other.Key+`"`)
			}
			f := pageForm(t, r.Body, "client-form")
			if got := f["grant_types"]; !slices.Equal(got, clientStrs(tc.grants)) && tc.key != "custom" {
				t.Errorf("pre-filled grants %v, want %v", got, tc.grants)
			}
			if tc.key == "custom" && len(f["grant_types"]) != 0 {
				t.Errorf("the custom template pre-fills grants %v", f["grant_types"])
			}
			f.Set("name", "From "+tc.key)
			for k, vs := range tc.extra {
				f[k] = vs
			}
			r = root.post("/console/clients/new", f)
			var id string
			if tc.typ == client.Public {
				// No secret to show: straight to the client's page.
				wantCode(t, r, http.StatusSeeOther)
				loc := r.Header.Get("Location")
				id = strings.TrimPrefix(strings.TrimSuffix(loc, "?done=created-public"), "/console/clients/")
				wantBody(t, root.get(loc), "It is a public client: it has no secret.")
			} else {
				wantStatus(t, r, http.StatusCreated)
				id = shownClientID(t, r.Body)
			}
			c, _ := cf.client(id)
			if c.Type != tc.typ || !slices.Equal(c.GrantTypes, tc.grants) || !slices.Equal(c.Scopes, tc.scopes) ||
				!slices.Equal(c.Roles, tc.roles) || c.TokenEndpointAuthMethod != tc.method {
				t.Errorf("created %+v", c)
			}
			if c.AccessTokenTTL != client.DefaultAccessTTL || c.Status != client.StatusActive || c.CreatedBy != rootID || c.DivisionID != authz.HomeDivision {
				t.Errorf("defaults not kept: %+v", c)
			}
		})
	}
	// Directory sync never picks super_admin: in a tenant without a role
	// for it, none is pre-selected.
	other := newConsoleFixture(t)
	r := other.signedIn(rootEmail).get("/console/clients/new?template=directory-sync")
	if f := pageForm(t, r.Body, "client-form"); len(f["roles"]) != 0 {
		t.Errorf("directory sync pre-selects %v without a role made for it", f["roles"])
	}
	// An admin who does not hold users:manage is not handed a scope the
	// domain would refuse them.
	r = other.signedIn(opsEmail).get("/console/clients/new?template=directory-sync")
	if f := pageForm(t, r.Body, "client-form"); f.Get("scopes") != "" {
		t.Errorf("ops is offered the scope %q", f.Get("scopes"))
	}
	// An unknown template is the custom one.
	wantBody(t, root.get("/console/clients/new?template=nope"), "Template: <strong>Custom client</strong>")
}

// ?owner= pre-selects the owner (the users page's "Manage OAuth Clients"),
// and the template links keep it.
func TestClientCreateForOwner(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	r := root.get("/console/clients/new?owner=" + anaID)
	wantBody(t, r, `<option value="usr_ana" selected>ana@example.com</option>`,
		`href="/console/clients/new?owner=usr_ana&amp;template=service"`)
	f := pageForm(t, r.Body, "client-form")
	f.Set("name", "Ana's sync")
	f.Set("grant_types", "client_credentials")
	id := shownClientID(t, root.post("/console/clients/new", f).Body)
	if c, _ := cf.client(id); c.OwnerUserID != anaID {
		t.Errorf("owner %q", c.OwnerUserID)
	}
	// Someone who may not list users is offered only themself.
	r = cf.signedIn(opsEmail).get("/console/clients/new")
	wantBody(t, r, `<option value="usr_ops">ops@example.com (you)</option>`)
	wantAbsent(t, r, "ana@example.com")
}

// The secret is shown once, in the create form's answer, and never again:
// not on the client's page, not when the form is sent again (a reload),
// which meets the ID the first post took and creates nothing.
func TestClientSecretShownOnce(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	f := newClientForm(t, root, "service", "Nightly export")
	r := root.post("/console/clients/new", f)
	wantStatus(t, r, http.StatusCreated)
	checkClientPage(t, r.Body)
	secret, id := shownSecret(t, r.Body), shownClientID(t, r.Body)
	wantBody(t, r, "This secret will only be shown once. Make sure to copy it now.",
		`id="copy-client-id" data-copy="#client-id-value"`, `id="copy-secret" data-copy="#secret-value"`,
		"I have saved this secret securely", "28 Aug 2026 12:00 UTC")
	if !strings.HasPrefix(secret, client.SecretPrefix) || !cf.authenticates(id, secret) {
		t.Fatalf("the secret shown (%q) does not authenticate %s", secret, id)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	// Close is gated: the script keeps it disabled until the box is
	// ticked, and without script the box is required by the GET form
	// that leads to the client's page.
	els, err := parseHTML(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	var saved, closer, form *element
	for i, e := range els {
		switch {
		case e.attrs["id"] == "saved":
			saved = &els[i]
		case e.attrs["id"] == "close-secret":
			closer = &els[i]
		case e.name == "form" && e.attrs["method"] == "get":
			form = &els[i]
		}
	}
	switch {
	case saved == nil || closer == nil || form == nil:
		t.Fatal("the secret display has no saved box, Close button or closing form")
	case saved.attrs["type"] != "checkbox" || saved.attrs["data-enables"] != "close-secret":
		t.Errorf("the saved box does not gate Close: %v", saved.attrs)
	case !hasAttr(r.Body, `id="saved"`, "required"):
		t.Error("the saved box is not required")
	case closer.attrs["type"] != "submit" || form.attrs["action"] != "/console/clients/"+id:
		t.Errorf("Close: %v in %v", closer.attrs, form.attrs)
	}

	page := root.get("/console/clients/" + id + "?done=created")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Its secret is not shown again.")
	wantAbsent(t, page, secret)

	// The reload: the same form again.
	again := root.post("/console/clients/new", f)
	wantStatus(t, again, http.StatusConflict)
	wantBody(t, again, "This client was already created. Its secret was shown once and cannot be shown again.",
		`href="/console/clients/`+id+`"`)
	wantAbsent(t, again, secret, "secret-value")
	list, err := cf.admin.Clients.List(context.Background(), system, client.ListQuery{})
	if err != nil || len(list.Clients) != 1 {
		t.Fatalf("%d clients after the reload, want 1 (%v)", len(list.Clients), err)
	}
	for _, p := range []string{"/console/clients/" + id, "/console/clients/" + id + "/edit", "/console/clients/" + id + "/rotate",
		"/console/clients/new"} {
		wantAbsent(t, root.get(p), secret)
	}
	if strings.Contains(cf.logs.String(), secret) {
		t.Error("the secret reached the log")
	}

	// An ID the admin typed plays the proposed one's part.
	f = newClientForm(t, root, "service", "Typed")
	f.Set("client_id", "my-typed-client")
	wantStatus(t, root.post("/console/clients/new", f), http.StatusCreated)
	wantBody(t, root.post("/console/clients/new", f), "This client was already created.")
	// A taken ID of another client is the domain's field error.
	f.Set("name", "Someone else")
	r = root.post("/console/clients/new", f)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="client_id-error"`, "is already taken")
}

// hasAttr reports whether the start tag holding marker also holds attr.
func hasAttr(body, marker, attr string) bool {
	i := strings.Index(body, marker)
	if i < 0 {
		return false
	}
	start := strings.LastIndex(body[:i], "<")
	end := strings.Index(body[i:], ">")
	return start >= 0 && end >= 0 && strings.Contains(" "+body[start:i+end]+" ", " "+attr)
}

// Field errors come back next to their fields, in the domain's words,
// with what was entered kept.
func TestClientCreateFieldErrors(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	for _, tc := range []struct {
		name   string
		change url.Values
		field  string
		want   string
	}{
		{"empty name", url.Values{"name": {" "}}, "name", "Is required."},
		{"implicit", url.Values{"grant_types": {"implicit"}}, "grant_types", "The implicit grant is not supported"},
		{"javascript redirect", url.Values{"grant_types": {"authorization_code"}, "redirect_uris": {"javascript:alert(1)"}}, "redirect_uris", "javascript"},
		{"no redirect", url.Values{"grant_types": {"authorization_code"}}, "redirect_uris", ""},
		{"lifetime not a number", url.Values{"access_token_ttl": {"soon"}}, "access_token_ttl", "from 300 to 172800"},
		{"lifetime too long", url.Values{"access_token_ttl": {"99999999999999999999999"}}, "access_token_ttl", "from 300 to 172800"},
		{"secret lifetime not offered", url.Values{"secret_expires": {"5000"}}, "secret_expires", "from 1 day to 3 years"},
		{"public with a secret lifetime", url.Values{"type": {"public"}, "secret_expires": {"30"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://a.example/cb"}}, "secret_expires", "A public client has no secret"},
		{"unknown division", url.Values{"division": {"mars"}}, "division", "No division"},
		{"unknown owner", url.Values{"owner_user_id": {"usr_nobody"}}, "owner_user_id", "No such user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClientForm(t, root, "service", "Keep <me>")
			f.Set("description", "Entered description")
			for k, v := range tc.change {
				f[k] = v
			}
			r := root.post("/console/clients/new", f)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			checkClientPage(t, r.Body)
			wantBody(t, r, `role="alert"`, `href="#`+tc.field+`"`, `id="`+tc.field+`-error"`, tc.want,
				">Entered description</textarea>")
			if tc.field != "grant_types" && !hasAttr(r.Body, `id="`+tc.field+`"`, `aria-invalid="true"`) {
				t.Errorf("%s is not marked invalid", tc.field)
			}
			if tc.name != "empty name" {
				wantBody(t, r, `value="Keep &lt;me&gt;"`)
			}
			wantAbsent(t, r, "secret-value")
		})
	}
	if list, _ := cf.admin.Clients.List(context.Background(), system, client.ListQuery{}); len(list.Clients) != 0 {
		t.Errorf("%d clients created from refused forms", len(list.Clients))
	}
}

// The roles offered are those the admin may assign; one posted anyway is
// refused by the domain.
func TestClientCreateOffersOnlyAssignableRoles(t *testing.T) {
	cf := newConsoleFixture(t)
	ops := cf.signedIn(opsEmail)
	r := ops.get("/console/clients/new?template=service")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `name="roles" value="oauth_admin"`)
	wantAbsent(t, r, `value="super_admin"`, `value="viewer"`)
	f := pageForm(t, r.Body, "client-form")
	f.Set("name", "Too strong")
	f["roles"] = []string{"super_admin"}
	r = ops.post("/console/clients/new", f)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="roles-error"`, "You cannot assign &#34;super_admin&#34;")
	wantAbsent(t, r, `value="super_admin"`)
	// What ops may assign goes through.
	f["roles"] = []string{"oauth_admin"}
	wantStatus(t, ops.post("/console/clients/new", f), http.StatusCreated)

	root := cf.signedIn(rootEmail)
	r = root.get("/console/clients/new")
	for _, role := range authz.RoleNames() {
		wantBody(t, r, `name="roles" value="`+role+`"`)
	}
}

// The create form is refused to those who may not add clients; the
// viewer meets 403 on every form and action.
func TestClientPagesRefuseViewer(t *testing.T) {
	cf := newConsoleFixture(t)
	c, _ := cf.createClient(serviceParams("Watched"))
	viewer := cf.signedIn(viewerEmail)
	for _, p := range []string{"/new", "/" + c.ID + "/edit", "/" + c.ID + "/rotate", "/" + c.ID + "/revoke",
		"/" + c.ID + "/delete", "/" + c.ID + "/deactivate"} {
		r := viewer.get("/console/clients" + p)
		wantStatus(t, r, http.StatusForbidden)
		wantBody(t, r, "You may not do this")
	}
	for _, p := range []string{"/new", "/" + c.ID + "/edit", "/" + c.ID + "/rotate", "/" + c.ID + "/revoke",
		"/" + c.ID + "/delete", "/" + c.ID + "/deactivate"} {
		r := viewer.post("/console/clients"+p, url.Values{"name": {"x"}, "grant_types": {"client_credentials"},
			"confirm_name": {"Watched"}, "version": {c.Version()}})
		wantStatus(t, r, http.StatusForbidden)
	}
	if got, _ := cf.client(c.ID); got.Status != client.StatusActive || got.Name != "Watched" {
		t.Errorf("a viewer changed the client: %+v", got)
	}
	if list, _ := cf.admin.Clients.List(context.Background(), system, client.ListQuery{}); len(list.Clients) != 1 {
		t.Errorf("a viewer created a client")
	}
}

// The detail page shows the client whole; the actions appear for those
// who may take them, none for a viewer.
func TestClientDetailByRole(t *testing.T) {
	cf := newConsoleFixture(t)
	c, secret := cf.createClient(client.CreateParams{Name: "Reporting", Description: "Pulls the numbers",
		GrantTypes:   []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken},
		RedirectURIs: []string{"https://reports.example/cb"}, Scopes: []string{"openid", "reports:read"},
		OwnerUserID: anaID, AccessTokenTTL: 2 * time.Hour})
	actions := []string{`id="edit"`, `id="rotate"`, `id="deactivate"`, `id="revoke"`, `id="delete"`,
		`id="rotate-dialog"`, `id="revoke-dialog"`, `id="delete-dialog"`, `id="deactivate-dialog"`}
	for _, tc := range []struct {
		email     string
		actions   bool
		ownerLink bool
	}{
		{rootEmail, true, true}, {opsEmail, true, false}, {viewerEmail, false, false},
	} {
		r := cf.signedIn(tc.email).get("/console/clients/" + c.ID)
		wantStatus(t, r, http.StatusOK)
		checkClientPage(t, r.Body)
		wantBody(t, r, `<code id="client-id-value">`+c.ID+`</code>`, `id="copy-client-id"`, "Pulls the numbers",
			`<span class="badge active">Active</span>`, `<span class="badge grant">authorization_code</span>`,
			`<span class="badge grant">reports:read</span>`, "https://reports.example/cb", "7,200 seconds (2 hours)",
			"Never used", `<table id="secrets">`, `<svg class="sparkline"`, "Tokens issued per day, last 30 days: none",
			"client.created", `href="/console/audit?client=`+c.ID+`"`, `aria-current="page">OAuth Clients`)
		wantAbsent(t, r, secret)
		for _, a := range actions {
			if got := strings.Contains(r.Body, a); got != tc.actions {
				t.Errorf("%s: %s shown = %v", tc.email, a, got)
			}
		}
		if got := strings.Contains(r.Body, `href="/console/users/usr_ana">ana@example.com</a>`); got != tc.ownerLink {
			t.Errorf("%s: owner linked = %v", tc.email, got)
		}
	}
	// Ops sees the owner by ID, not a link it could not follow.
	wantBody(t, cf.signedIn(opsEmail).get("/console/clients/"+c.ID), "<dd>usr_ana</dd>")
}

// A client of another tenant, or none, is not found; the paths of another
// tenant's console serve that tenant's clients only.
func TestClientNotFound(t *testing.T) {
	cf := newConsoleFixture(t)
	theirs, _, err := cf.admin.Clients.Create(context.Background(), authz.SystemActor("ten_b"), serviceParams("Beta's"))
	if err != nil {
		t.Fatal(err)
	}
	root := cf.signedIn(rootEmail)
	for _, p := range []string{"/" + theirs.ID, "/" + theirs.ID + "/edit", "/" + theirs.ID + "/rotate", "/lkc_nothing",
		"/lkc_nothing/secrets/sec_x/revoke", "/" + theirs.ID + "/delete"} {
		r := root.get("/console/clients" + p)
		wantStatus(t, r, http.StatusNotFound)
		wantAbsent(t, r, "Beta&#39;s")
	}
	r := root.post("/console/clients/"+theirs.ID+"/revoke", url.Values{})
	wantStatus(t, r, http.StatusNotFound)
	if c, _, _ := cf.admin.Clients.Get(context.Background(), authz.SystemActor("ten_b"), theirs.ID); c.Status != client.StatusActive {
		t.Error("another tenant's client was revoked")
	}
	mine, _ := cf.createClient(serviceParams("Mine"))
	wantStatus(t, root.get("/console/clients/"+mine.ID+"/secrets/sec_unknown/revoke"), http.StatusNotFound)
}

// Rotation without a grace period stops the old secret at once; with
// one, both work until the admin finishes the rotation (revoking the
// old secret, whose last use the page shows). A rotation sent again from
// the same form rotates nothing.
func TestClientRotate(t *testing.T) {
	cf := newConsoleFixture(t)
	c, first := cf.createClient(serviceParams("Rotated"))
	cf.now = cf.now.Add(time.Hour)
	ops := cf.signedIn(opsEmail)

	// The confirmation page without script holds the dialog's form.
	r := ops.get("/console/clients/" + c.ID + "/rotate")
	wantStatus(t, r, http.StatusOK)
	checkClientPage(t, r.Body)
	wantBody(t, r, `id="grace"`, `id="rotate-confirm"`, "None: the old secret stops working now", "30 days")
	rotate := pageForm(t, r.Body, "rotate-form")
	if rotate.Get("version") != c.Version() || rotate.Get("grace") != "0" || rotate.Get("secret_expires") != "180" {
		t.Fatalf("rotate form %v", rotate)
	}
	r = ops.post("/console/clients/"+c.ID+"/rotate", rotate)
	wantStatus(t, r, http.StatusOK)
	checkClientPage(t, r.Body)
	second := shownSecret(t, r.Body)
	wantBody(t, r, "This secret will only be shown once.", "Stopped working now", `value="rotated"`)
	if cf.authenticates(c.ID, first) || !cf.authenticates(c.ID, second) {
		t.Fatal("after a rotation without grace, the old secret works or the new one does not")
	}
	page := ops.get("/console/clients/" + c.ID + "?done=rotated")
	wantBody(t, page, "The secret was rotated.")
	wantAbsent(t, page, second)

	// Sent again (a reload): refused, nothing rotated.
	r = ops.post("/console/clients/"+c.ID+"/rotate", rotate)
	wantStatus(t, r, http.StatusPreconditionFailed)
	wantBody(t, r, "The secret was not rotated again", "cannot be shown again")
	wantAbsent(t, r, "secret-value")
	if _, secrets := cf.client(c.ID); len(secrets) != 2 || !cf.authenticates(c.ID, second) {
		t.Fatalf("a repeated rotation changed the secrets: %d secrets", len(secrets))
	}

	// With a grace period, from the detail page's dialog.
	cf.now = cf.now.Add(time.Hour)
	ops = cf.signedIn(opsEmail) // an hour idle ended the console session
	page = ops.get("/console/clients/" + c.ID)
	rotate = pageForm(t, page.Body, "rotate-form")
	rotate.Set("grace", "86400")
	rotate.Set("secret_expires", "90")
	r = ops.post("/console/clients/"+c.ID+"/rotate", rotate)
	wantStatus(t, r, http.StatusOK)
	third := shownSecret(t, r.Body)
	wantBody(t, r, "Keeps working until <time datetime=\"2026-03-02T14:00:00Z\">2 Mar 2026 14:00 UTC</time>",
		"<time datetime=\"2026-05-30T14:00:00Z\">")
	if !cf.authenticates(c.ID, second) || !cf.authenticates(c.ID, third) {
		t.Fatal("during the grace period, one of the secrets does not work")
	}
	// The panel shows the old secret in grace, when it was last used,
	// and the way to finish the rotation now.
	_, secrets := cf.client(c.ID)
	var old client.Secret
	for _, s := range secrets {
		if s.Status == client.SecretRetiring {
			old = s
		}
	}
	if old.ID == "" {
		t.Fatalf("no secret in grace among %+v", secrets)
	}
	page = ops.get("/console/clients/" + c.ID)
	checkClientPage(t, page.Body)
	wantBody(t, page, `<tr data-secret-id="`+old.ID+`">`, "In grace until 2 Mar 2026 14:00 UTC",
		`id="revoke-secret-`+old.ID+`" href="/console/clients/`+c.ID+`/secrets/`+old.ID+`/revoke" data-dialog="revoke-secret-`+old.ID+`-dialog">Finish rotation now`,
		`id="revoke-secret-`+old.ID+`-dialog"`, "Never used")
	if n := strings.Count(page.Body, "<tr data-secret-id="); n != 3 {
		t.Errorf("%d secret rows, want 3", n)
	}
	confirm := ops.get("/console/clients/" + c.ID + "/secrets/" + old.ID + "/revoke")
	wantStatus(t, confirm, http.StatusOK)
	checkClientPage(t, confirm.Body)
	wantBody(t, confirm, "Finish the rotation of Rotated now", "Last used")
	r = ops.post("/console/clients/"+c.ID+"/secrets/"+old.ID+"/revoke", pageForm(t, confirm.Body, "revoke-secret-"+old.ID+"-form"))
	wantRedirect(t, r, "/console/clients/"+c.ID+"?done=secret-revoked")
	if cf.authenticates(c.ID, second) || !cf.authenticates(c.ID, third) {
		t.Fatal("finishing the rotation left the old secret working or stopped the new one")
	}
	page = ops.get("/console/clients/" + c.ID + "?done=secret-revoked")
	wantBody(t, page, "The secret was revoked", "Revoked 1 Mar 2026 14:00 UTC", "Revoked 1 Mar 2026 13:00 UTC")
	wantAbsent(t, page, "Finish rotation now")

	// A refused rotation shows its confirmation again with the domain's
	// words.
	rotate = pageForm(t, ops.get("/console/clients/"+c.ID+"/rotate").Body, "rotate-form")
	rotate.Set("grace", "9999999")
	r = ops.post("/console/clients/"+c.ID+"/rotate", rotate)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	checkClientPage(t, r.Body)
	wantBody(t, r, `id="grace-error"`, "Must be from 0 to 30 days", `role="alert"`)
}

// Revoking ends the client for good, in the seed's words.
func TestClientRevoke(t *testing.T) {
	cf := newConsoleFixture(t)
	c, secret := cf.createClient(serviceParams("Ended"))
	root := cf.signedIn(rootEmail)
	page := root.get("/console/clients/" + c.ID)
	wantBody(t, page, `<dialog id="revoke-dialog" aria-labelledby="revoke-dialog-title">`, "Revoked clients cannot be reactivated.",
		`id="revoke-confirm"`, `href="/console/clients/`+c.ID+`/revoke" data-dialog="revoke-dialog"`)
	confirm := root.get("/console/clients/" + c.ID + "/revoke")
	wantStatus(t, confirm, http.StatusOK)
	checkClientPage(t, confirm.Body)
	wantBody(t, confirm, "Revoked clients cannot be reactivated.")
	r := root.post("/console/clients/"+c.ID+"/revoke", pageForm(t, confirm.Body, "revoke-form"))
	wantRedirect(t, r, "/console/clients/"+c.ID+"?done=revoked")
	if got, _ := cf.client(c.ID); got.Status != client.StatusRevoked || cf.authenticates(c.ID, secret) {
		t.Fatalf("after revoking: %s, secret works %v", got.Status, cf.authenticates(c.ID, secret))
	}
	page = root.get("/console/clients/" + c.ID + "?done=revoked")
	checkClientPage(t, page.Body)
	wantBody(t, page, `<span class="badge revoked">Revoked</span>`, "Revoked clients cannot be reactivated.", `id="delete"`)
	wantAbsent(t, page, `id="edit"`, `id="rotate"`, `id="activate"`, `id="revoke"`)
	// Terminal: revoking or activating again is refused in the domain's
	// words.
	r = root.post("/console/clients/"+c.ID+"/revoke", url.Values{})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "A revoked client cannot be changed")
	r = root.post("/console/clients/"+c.ID+"/activate", url.Values{})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got, _ := cf.client(c.ID); got.Status != client.StatusRevoked {
		t.Fatalf("a revoked client became %s", got.Status)
	}
	// A protected client cannot be revoked: the domain says so.
	p, _ := cf.createClient(client.CreateParams{Name: "Default", GrantTypes: []client.GrantType{client.GrantClientCredentials}, Protected: true})
	r = root.post("/console/clients/"+p.ID+"/revoke", url.Values{})
	wantStatus(t, r, http.StatusConflict)
	wantBody(t, r, "This client is protected: "+p.ID+" was provisioned at first start and cannot be revoked; deactivate it instead.")
}

// Deleting an active or protected client needs its name typed; the domain
// refuses deleting a protected one, in its words.
func TestClientDelete(t *testing.T) {
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	active, _ := cf.createClient(serviceParams("Busy <one>"))
	page := root.get("/console/clients/" + active.ID)
	wantBody(t, page, `id="confirm-name"`, `data-must-match="Busy &lt;one&gt;" data-enables-text="delete-confirm"`, `id="delete-confirm"`)
	for _, typed := range []string{"", "busy <one>", "Busy"} {
		r := root.post("/console/clients/"+active.ID+"/delete", url.Values{"confirm_name": {typed}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		checkClientPage(t, r.Body)
		wantBody(t, r, `id="confirm-name-error"`, "Type the client&#39;s name exactly as shown to delete it.", `aria-invalid="true"`)
	}
	cf.client(active.ID) // still there
	r := root.post("/console/clients/"+active.ID+"/delete", url.Values{"confirm_name": {"Busy <one>"}})
	wantRedirect(t, r, "/console/clients?done=deleted")
	if _, _, err := cf.admin.Clients.Get(context.Background(), system, active.ID); !isNotFound(err) {
		t.Fatalf("after deleting: %v", err)
	}

	// An inactive client asks no name.
	idle, _ := cf.createClient(client.CreateParams{Name: "Idle", GrantTypes: []client.GrantType{client.GrantClientCredentials}, Status: client.StatusInactive})
	confirm := root.get("/console/clients/" + idle.ID + "/delete")
	checkClientPage(t, confirm.Body)
	wantAbsent(t, confirm, `id="confirm-name"`)
	wantRedirect(t, root.post("/console/clients/"+idle.ID+"/delete", pageForm(t, confirm.Body, "delete-form")), "/console/clients?done=deleted")

	// Protected: the name typed, and the domain refuses.
	prot, _ := cf.createClient(client.CreateParams{Name: "Default", GrantTypes: []client.GrantType{client.GrantClientCredentials},
		Protected: true, Status: client.StatusInactive})
	wantBody(t, root.get("/console/clients/"+prot.ID+"/delete"), `id="confirm-name"`, "This client is protected.")
	r = root.post("/console/clients/"+prot.ID+"/delete", url.Values{"confirm_name": {"Default"}})
	wantStatus(t, r, http.StatusConflict)
	checkClientPage(t, r.Body)
	wantBody(t, r, "This client is protected: "+prot.ID+" was provisioned at first start and cannot be deleted.")
	cf.client(prot.ID)
}

// Activate and deactivate, each behind its confirmation; a protected
// client's status changes only with the confirmation ticked.
func TestClientActivateDeactivate(t *testing.T) {
	cf := newConsoleFixture(t)
	c, _ := cf.createClient(serviceParams("Switch"))
	ops := cf.signedIn(opsEmail)
	page := ops.get("/console/clients/" + c.ID)
	wantBody(t, page, `id="deactivate"`, `id="deactivate-dialog"`)
	wantAbsent(t, page, `id="activate"`)
	r := ops.post("/console/clients/"+c.ID+"/deactivate", pageForm(t, page.Body, "deactivate-form"))
	wantRedirect(t, r, "/console/clients/"+c.ID+"?done=deactivated")
	if got, _ := cf.client(c.ID); got.Status != client.StatusInactive {
		t.Fatalf("status %s", got.Status)
	}
	page = ops.get("/console/clients/" + c.ID + "?done=deactivated")
	wantBody(t, page, "cannot obtain tokens until it is activated again", `<span class="badge inactive">Inactive</span>`, `id="activate"`)
	confirm := ops.get("/console/clients/" + c.ID + "/activate")
	checkClientPage(t, confirm.Body)
	r = ops.post("/console/clients/"+c.ID+"/activate", pageForm(t, confirm.Body, "activate-form"))
	wantRedirect(t, r, "/console/clients/"+c.ID+"?done=activated")
	if got, _ := cf.client(c.ID); got.Status != client.StatusActive {
		t.Fatalf("status %s", got.Status)
	}

	prot, _ := cf.createClient(client.CreateParams{Name: "Default", GrantTypes: []client.GrantType{client.GrantClientCredentials}, Protected: true})
	confirm = ops.get("/console/clients/" + prot.ID + "/deactivate")
	wantBody(t, confirm, `id="deactivate-protected"`)
	form := pageForm(t, confirm.Body, "deactivate-form")
	r = ops.post("/console/clients/"+prot.ID+"/deactivate", form)
	wantStatus(t, r, http.StatusConflict)
	checkClientPage(t, r.Body)
	wantBody(t, r, "This client is protected: confirm the change to edit it.")
	form.Set("confirm", "on")
	wantRedirect(t, ops.post("/console/clients/"+prot.ID+"/deactivate", form), "/console/clients/"+prot.ID+"?done=deactivated")
}

// The edit form is the create form filled with the client; saving a form
// opened on an older version is refused with the current values shown.
func TestClientEdit(t *testing.T) {
	cf := newConsoleFixture(t)
	c, _ := cf.createClient(client.CreateParams{Name: "Editable", GrantTypes: []client.GrantType{client.GrantClientCredentials},
		Roles: []string{authz.SuperAdmin}, Scopes: []string{"reports:read"}})
	ops := cf.signedIn(opsEmail)
	r := ops.get("/console/clients/" + c.ID + "/edit")
	wantStatus(t, r, http.StatusOK)
	checkClientPage(t, r.Body)
	wantBody(t, r, `value="Editable"`, `id="save"`, ">reports:read</textarea>")
	wantAbsent(t, r, `name="client_id"`, `name="secret_expires"`)
	f := pageForm(t, r.Body, "client-form")
	if f.Get("version") != c.Version() || !slices.Contains(f["roles"], authz.SuperAdmin) {
		t.Fatalf("edit form %v", f)
	}
	// A held role ops could not give is kept, not dropped, by saving.
	cf.now = cf.now.Add(time.Minute)
	f.Set("name", "Edited")
	f.Set("access_token_ttl", "600")
	wantRedirect(t, ops.post("/console/clients/"+c.ID+"/edit", f), "/console/clients/"+c.ID+"?done=updated")
	got, _ := cf.client(c.ID)
	if got.Name != "Edited" || got.AccessTokenTTL != 10*time.Minute || !slices.Equal(got.Roles, []string{authz.SuperAdmin}) {
		t.Fatalf("after editing: %+v", got)
	}
	wantBody(t, ops.get("/console/clients/"+c.ID+"?done=updated"), "Your changes were saved.")

	// The same form again is stale: nothing saved, the current values
	// shown with the new version.
	f.Set("name", "Stale edit")
	r = ops.post("/console/clients/"+c.ID+"/edit", f)
	wantStatus(t, r, http.StatusPreconditionFailed)
	checkClientPage(t, r.Body)
	wantBody(t, r, "This client was changed since you opened it", `value="Edited"`, `value="`+got.Version()+`"`)
	wantAbsent(t, r, `value="Stale edit"`)
	if now, _ := cf.client(c.ID); now.Name != "Edited" {
		t.Fatalf("a stale form saved %q", now.Name)
	}

	// Field errors keep what was entered.
	f = pageForm(t, ops.get("/console/clients/"+c.ID+"/edit").Body, "client-form")
	f.Set("name", "")
	f.Set("description", "Kept")
	r = ops.post("/console/clients/"+c.ID+"/edit", f)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="name-error"`, ">Kept</textarea>")

	// A protected client needs the confirmation box.
	prot, _ := cf.createClient(client.CreateParams{Name: "Default", GrantTypes: []client.GrantType{client.GrantClientCredentials}, Protected: true})
	r = ops.get("/console/clients/" + prot.ID + "/edit")
	wantBody(t, r, "avoid modifying it", `id="confirm"`)
	f = pageForm(t, r.Body, "client-form")
	f.Set("description", "Changed")
	r = ops.post("/console/clients/"+prot.ID+"/edit", f)
	wantStatus(t, r, http.StatusConflict)
	checkClientPage(t, r.Body)
	wantBody(t, r, `id="confirm-error"`, "This client is protected: confirm the change to edit it.", ">Changed</textarea>")
	f.Set("confirm", "on")
	wantRedirect(t, ops.post("/console/clients/"+prot.ID+"/edit", f), "/console/clients/"+prot.ID+"?done=updated")
	if got, _ := cf.client(prot.ID); got.Description != "Changed" {
		t.Fatalf("description %q", got.Description)
	}
}

// A client named like a script renders as text on every page that shows
// it, and the create form's errors keep it as text too.
func TestClientPagesEscape(t *testing.T) {
	const xss = "<script>alert(1)</script>"
	cf := newConsoleFixture(t)
	root := cf.signedIn(rootEmail)
	f := newClientForm(t, root, "service", xss)
	f.Set("description", xss)
	created := root.post("/console/clients/new", f)
	wantStatus(t, created, http.StatusCreated)
	id := shownClientID(t, created.Body)
	pages := []*response{created}
	for _, p := range []string{"", "/edit", "/rotate", "/revoke", "/delete", "/deactivate"} {
		pages = append(pages, root.get("/console/clients/"+id+p))
	}
	bad := newClientForm(t, root, "service", xss)
	bad.Set("grant_types", "implicit")
	bad.Set("description", xss)
	pages = append(pages, root.post("/console/clients/new", bad))
	rot := pageForm(t, pages[3].Body, "rotate-form")
	pages = append(pages, root.post("/console/clients/"+id+"/rotate", rot))
	for i, r := range pages {
		if strings.Contains(r.Body, xss) {
			t.Errorf("page %d renders the name as markup:\n%s", i, r.Body)
		}
		wantBody(t, r, "&lt;script&gt;alert(1)&lt;/script&gt;")
	}
}

// An audit log that fails is the 500 page, logged; the client's page
// shows no half-built panel.
func TestClientDetailStoreFailure(t *testing.T) {
	cf := newConsoleFixture(t)
	c, _ := cf.createClient(serviceParams("Fine"))
	cf.admin.Audit = clientAuditDown{}
	r := cf.signedIn(rootEmail).get("/console/clients/" + c.ID)
	wantStatus(t, r, http.StatusInternalServerError)
	wantBody(t, r, "Something went wrong")
	if !strings.Contains(cf.logs.String(), "audit store down") {
		t.Error("the failure was not logged")
	}
}

func TestClientFormReading(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": 0, "300": 5 * time.Minute, "abc": -time.Second, "-5": -time.Second, "1.5": -time.Second,
		"99999999999999999999": maxFormDuration, "9223372036854775807": maxFormDuration,
	} {
		if got := formSeconds(in); got != want {
			t.Errorf("formSeconds(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]time.Duration{
		"": 0, "180": 0, "30": 30 * 24 * time.Hour, "never": client.NeverExpires, "x": -time.Second, "0": -time.Second,
	} {
		if got := secretLifetime(in); got != want {
			t.Errorf("secretLifetime(%q) = %v, want %v", in, got, want)
		}
	}
	if got := formLines(" https://a.example/cb \r\n\n\thttps://b.example/cb\n"); !slices.Equal(got, []string{"https://a.example/cb", "https://b.example/cb"}) {
		t.Errorf("formLines = %q", got)
	}
	for d, want := range map[time.Duration]string{
		time.Hour: "3,600 seconds (1 hour)", 2 * 24 * time.Hour: "172,800 seconds (2 days)",
		5 * time.Minute: "300 seconds (5 minutes)", 301 * time.Second: "301 seconds",
	} {
		if got := lifetimeText(d); got != want {
			t.Errorf("lifetimeText(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSecretRows(t *testing.T) {
	now := t0
	rows := secretRows([]client.Secret{
		{ID: "sec_old", Status: client.SecretRevoked, CreatedAt: now.Add(-3 * time.Hour), RevokedAt: now.Add(-time.Hour)},
		{ID: "sec_exp", Status: client.SecretActive, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Minute)},
		{ID: "sec_grace", Status: client.SecretRetiring, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{ID: "sec_new", Status: client.SecretActive, CreatedAt: now},
	}, now, true)
	want := []struct{ id, state, revoke string }{
		{"sec_new", "working", "Revoke"}, {"sec_grace", "grace", "Finish rotation now"}, {"sec_exp", "expired", ""}, {"sec_old", "revoked", ""},
	}
	for i, w := range want {
		if rows[i].ID != w.id || rows[i].State != w.state || rows[i].RevokeLabel != w.revoke {
			t.Errorf("row %d: %s %s %q, want %+v", i, rows[i].ID, rows[i].State, rows[i].RevokeLabel, w)
		}
	}
	// One working secret has no revoke button: revoking it would leave
	// the client without one (rotate instead); nor has any without the
	// permission.
	for _, rows := range [][]secretRow{
		secretRows([]client.Secret{{ID: "a", Status: client.SecretActive}}, now, true),
		secretRows([]client.Secret{{ID: "a", Status: client.SecretActive}, {ID: "b", Status: client.SecretActive}}, now, false),
	} {
		for _, r := range rows {
			if r.RevokeLabel != "" {
				t.Errorf("%s has a revoke button", r.ID)
			}
		}
	}
}

// A division's admin is offered that division only, and the roles they
// may give there; the client they create is theirs to manage, and their
// form for it carries the division's grants.
func TestClientFormForDivisionAdmin(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	if _, err := cf.admin.Divisions.Create(ctx, system, account.NewDivision{ID: "emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	u := account.User{ID: "usr_emea", TenantID: "ten_a", Email: "emea@example.com", Status: account.UserActive,
		Roles: []string{"oauth_admin@emea"}, DivisionID: "emea", Locale: "en", CreatedAt: t0, UpdatedAt: t0}
	root, _ := cf.db.User(ctx, rootID)
	u.PasswordHash = root.PasswordHash
	if err := cf.db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	b := cf.signedIn(u.Email)
	r := b.get("/console/clients/new?template=service")
	wantStatus(t, r, http.StatusOK)
	checkClientPage(t, r.Body)
	wantBody(t, r, `<option value="emea" selected>EMEA</option>`, `name="roles" value="oauth_admin@emea"`, "oauth_admin in EMEA")
	wantAbsent(t, r, `<option value="home"`, `value="oauth_admin"`)
	f := pageForm(t, r.Body, "client-form")
	f.Set("name", "EMEA sync")
	f.Set("roles", "oauth_admin@emea")
	r = b.post("/console/clients/new", f)
	wantStatus(t, r, http.StatusCreated)
	id := shownClientID(t, r.Body)
	c, _ := cf.client(id)
	if c.DivisionID != "emea" || !slices.Equal(c.Roles, []string{"oauth_admin@emea"}) {
		t.Fatalf("created %+v", c)
	}
	page := b.get("/console/clients/" + id)
	wantBody(t, page, "<dd>EMEA</dd>", "oauth_admin in EMEA", `id="rotate"`)
	// The audit log is read tenant-wide only: not on this admin's panel.
	wantAbsent(t, page, `id="audit-heading"`)
	// The home division's clients are not theirs to see.
	home, _ := cf.createClient(serviceParams("Home's"))
	wantStatus(t, b.get("/console/clients/"+home.ID), http.StatusNotFound)
	// Posting the home division anyway is the domain's refusal.
	f.Set("division", authz.HomeDivision)
	f.Set("proposed_id", "")
	r = b.post("/console/clients/new", f)
	wantStatus(t, r, http.StatusForbidden)
}

// Under another tenant's base, every link, form and redirect stays in it.
func TestClientPagesUnderTenantBase(t *testing.T) {
	cf := newConsoleFixture(t)
	ctx := context.Background()
	betty, err := cf.db.User(ctx, bettyID)
	if err != nil {
		t.Fatal(err)
	}
	betty.Roles = []string{authz.SuperAdmin}
	if err := cf.db.UpdateUser(ctx, betty); err != nil {
		t.Fatal(err)
	}
	b := cf.browser()
	if r := b.submit("/t/beta/account/login", url.Values{"email": {bettyMail}, "password": {password}}); r.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.Code)
	}
	r := b.get("/t/beta/console/clients/new?template=service")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `action="/t/beta/console/clients/new"`, `href="/t/beta/console/clients/new?template=web"`)
	f := pageForm(t, r.Body, "client-form")
	f.Set("name", "Beta service")
	r = b.post("/t/beta/console/clients/new", f)
	wantStatus(t, r, http.StatusCreated)
	id := shownClientID(t, r.Body)
	wantBody(t, r, `action="/t/beta/console/clients/`+id+`"`)
	page := b.get("/t/beta/console/clients/" + id)
	wantBody(t, page, `href="/t/beta/console/clients/`+id+`/rotate"`, `action="/t/beta/console/clients/`+id+`/revoke"`)
	wantRedirect(t, b.post("/t/beta/console/clients/"+id+"/revoke", url.Values{}), "/t/beta/console/clients/"+id+"?done=revoked")
	again := b.post("/t/beta/console/clients/new", f)
	wantStatus(t, again, http.StatusConflict)
	wantBody(t, again, `href="/t/beta/console/clients/`+id+`"`)
	// The default tenant's console knows nothing of it.
	wantStatus(t, cf.signedIn(rootEmail).get("/console/clients/"+id), http.StatusNotFound)
}

// A protected client's secret rotates only with the confirmation ticked.
func TestClientRotateProtected(t *testing.T) {
	cf := newConsoleFixture(t)
	c, old := cf.createClient(client.CreateParams{Name: "Default", GrantTypes: []client.GrantType{client.GrantClientCredentials}, Protected: true})
	cf.now = cf.now.Add(time.Minute)
	root := cf.signedIn(rootEmail)
	page := root.get("/console/clients/" + c.ID)
	checkClientPage(t, page.Body)
	wantBody(t, page, `<span class="badge protected">Protected</span>`, "avoid modifying or deleting it", `id="rotate-protected"`)
	f := pageForm(t, page.Body, "rotate-form")
	r := root.post("/console/clients/"+c.ID+"/rotate", f)
	wantStatus(t, r, http.StatusConflict)
	checkClientPage(t, r.Body)
	wantBody(t, r, "This client is protected: confirm the rotation to change its secret.")
	if !cf.authenticates(c.ID, old) {
		t.Fatal("a refused rotation stopped the secret")
	}
	f.Set("confirm", "on")
	r = root.post("/console/clients/"+c.ID+"/rotate", f)
	wantStatus(t, r, http.StatusOK)
	if s := shownSecret(t, r.Body); !cf.authenticates(c.ID, s) || cf.authenticates(c.ID, old) {
		t.Fatal("the confirmed rotation did not replace the secret")
	}
}
