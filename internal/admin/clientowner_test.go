package admin

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// ownedClientToken registers a client_credentials client holding roles,
// owned by owner, and a token of it carrying every permission scope, so
// that only the client's roles and its owner's grants limit it.
func ownedClientToken(t *testing.T, h *harness, name, division string, roles []string, owner *account.User) (*client.Client, string) {
	t.Helper()
	c, _, err := h.svc.Create(context.Background(), authz.SystemActor(h.tenant), client.CreateParams{Name: name,
		DivisionID: division, GrantTypes: []client.GrantType{client.GrantClientCredentials}, Scopes: []string{"*"},
		Roles: roles, OwnerUserID: owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, p := range authz.AllPermissions() {
		scopes = append(scopes, string(p))
	}
	tok := "tok-" + c.ID
	h.tokens[tok] = tokenEntry{"", Token{TenantID: h.tenant, DefaultTenant: true, Subject: c.ID, ClientID: c.ID,
		Scopes: scopes, Client: c}}
	return c, tok
}

// A client holding a role tenant-wide acts, through the admin API, only in
// the divisions where its owner holds the permissions too.
func TestOwnedClientActsOnlyInItsOwnersDivisions(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	system := authz.SystemActor(h.tenant)
	if _, err := h.api.Divisions.Create(ctx, system, account.NewDivision{ID: "emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	owner, err := h.api.Users.Create(ctx, system, account.NewUser{Email: "emea-admin@example.com", DivisionID: "emea",
		Roles: []string{"oauth_admin@emea"}})
	if err != nil {
		t.Fatal(err)
	}
	home, _ := h.newClient("Home payroll")
	inEMEA, _, err := h.svc.Create(ctx, system, client.CreateParams{Name: "EMEA payroll", DivisionID: "emea",
		GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	robot, tok := ownedClientToken(t, h, "EMEA automation", "emea", []string{authz.OAuthAdmin}, owner)

	var l ClientList
	resp := h.do(request{method: "GET", path: Prefix + "/clients", token: tok, pattern: "/clients"})
	resp.json(t, &l)
	if resp.status != 200 || l.Total != 2 {
		t.Errorf("the list: %d %s", resp.status, resp.body)
	}
	for _, c := range l.Clients {
		if c.ClientID != robot.ID && c.ClientID != inEMEA.ID {
			t.Errorf("the list shows %s of division %s", c.ClientID, c.DivisionID)
		}
	}
	for _, path := range []string{"", "/rotate-secret", "/deactivate"} {
		method := "POST"
		if path == "" {
			method = "GET"
		}
		if resp := h.do(request{method: method, path: Prefix + "/clients/" + home + path, token: tok}); resp.status != 404 {
			t.Errorf("%s the home division's client%s: %d %s", method, path, resp.status, resp.body)
		}
	}
	if resp := h.do(request{method: "POST", path: Prefix + "/clients/" + inEMEA.ID + "/rotate-secret", token: tok}); resp.status != 200 {
		t.Errorf("rotating a client of the owner's division: %d %s", resp.status, resp.body)
	}
	// Its own secret carries oauth_admin tenant-wide, which the owner
	// could not give.
	if resp := h.do(request{method: "POST", path: Prefix + "/clients/" + robot.ID + "/rotate-secret", token: tok}); resp.status != 403 {
		t.Errorf("rotating its own secret: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: tok, pattern: "/clients",
		body: map[string]any{"name": "Wider", "grant_types": []string{"client_credentials"}, "division_id": "emea",
			"roles": []string{authz.OAuthAdmin}}})
	if p := resp.problem(t); resp.status != 422 || len(p.Fields) != 1 || p.Fields[0].Field != "roles" {
		t.Errorf("giving a role tenant-wide that the owner holds in one division: %d %s", resp.status, resp.body)
	}

	// Once its owner is disabled, the client may do nothing at all.
	if _, err := h.api.Users.SetStatus(ctx, system, owner.ID, account.UserDisabled); err != nil {
		t.Fatal(err)
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/clients", token: tok}); resp.status != 403 {
		t.Errorf("listing after the owner was disabled: %d %s", resp.status, resp.body)
	}
}

// A client holding super_admin, owned by someone who manages the users of
// one division, gives only grants its owner could give, only there.
func TestOwnedClientAssignsOnlyWhatItsOwnerCould(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	system := authz.SystemActor(h.tenant)
	if _, err := h.api.Divisions.Create(ctx, system, account.NewDivision{ID: "emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.Roles.Create(ctx, system, account.NewRole{Name: "hr", Permissions: []authz.Permission{authz.UsersManage}}); err != nil {
		t.Fatal(err)
	}
	owner, err := h.api.Users.Create(ctx, system, account.NewUser{Email: "emea-hr@example.com", DivisionID: "emea",
		Roles: []string{"hr@emea", "viewer@emea"}})
	if err != nil {
		t.Fatal(err)
	}
	_, tok := ownedClientToken(t, h, "EMEA onboarding", "emea", []string{authz.SuperAdmin}, owner)

	create := func(email, division string, roles ...string) *response {
		t.Helper()
		return h.do(request{method: "POST", path: Prefix + "/users", token: tok, pattern: "/users",
			body: map[string]any{"email": email, "division_id": division, "roles": roles}})
	}
	for _, g := range []string{authz.SuperAdmin, authz.Viewer, "viewer@home", "oauth_admin@emea"} {
		if resp := create("x@example.com", "emea", g); resp.status != 422 {
			t.Errorf("granting %s: %d %s", g, resp.status, resp.body)
		}
	}
	if resp := create("home@example.com", authz.HomeDivision); resp.status != 403 {
		t.Errorf("creating a user of the home division: %d %s", resp.status, resp.body)
	}
	if resp := create("new@example.com", "emea", "viewer@emea"); resp.status != 201 {
		t.Errorf("granting what the owner holds where it holds it: %d %s", resp.status, resp.body)
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/users/" + h.users[authz.Viewer].ID, token: tok}); resp.status != 404 {
		t.Errorf("reading a user of the home division: %d %s", resp.status, resp.body)
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/tenants", token: tok}); resp.status != 403 {
		t.Errorf("listing tenants: %d %s", resp.status, resp.body)
	}
}
