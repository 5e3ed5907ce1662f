package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// A division admin sees and manages only their division's clients, and
// another division's client is not found (never forbidden); a custom
// role carries exactly its permissions.
func TestDivisionsAndCustomRoles(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	system := authz.SystemActor(h.tenant)
	emea, err := h.api.Divisions.Create(ctx, system, account.NewDivision{ID: "emea", Name: "EMEA"})
	if err != nil {
		t.Fatal(err)
	}
	inEMEA, _, err := h.svc.Create(ctx, system, client.CreateParams{Name: "EMEA billing", DivisionID: emea.ID,
		GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	atHome, _ := h.newClient("Home billing")
	users := h.api.Users
	divAdmin, err := users.Create(ctx, system, account.NewUser{Email: "emea-admin@example.com", DivisionID: emea.ID,
		Roles: []string{authz.OAuthAdmin + "@" + emea.ID}})
	if err != nil {
		t.Fatal(err)
	}
	e := h.tokens["tok-"+authz.SuperAdmin]
	e.tok.Subject = divAdmin.ID
	h.tokens["tok-emea"] = e

	resp := h.do(request{method: "GET", path: Prefix + "/clients", token: "tok-emea", pattern: "/clients"})
	var l ClientList
	resp.json(t, &l)
	if resp.status != 200 || l.Total != 1 || l.Clients[0].ClientID != inEMEA.ID {
		t.Fatalf("the division admin's list: %d %s", resp.status, resp.body)
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/clients/" + atHome, token: "tok-emea", pattern: "/clients/{id}"}); resp.status != 404 {
		t.Errorf("another division's client: %d %s", resp.status, resp.body)
	}
	if resp := h.do(request{method: "POST", path: Prefix + "/clients/" + atHome + "/deactivate", token: "tok-emea", pattern: "/clients/{id}/deactivate"}); resp.status != 404 {
		t.Errorf("deactivating another division's client: %d", resp.status)
	}
	if resp := h.do(request{method: "POST", path: Prefix + "/clients/" + inEMEA.ID + "/deactivate", token: "tok-emea", pattern: "/clients/{id}/deactivate"}); resp.status != 200 {
		t.Errorf("deactivating its own division's client: %d %s", resp.status, resp.body)
	}
	// Creating in the home division is refused; in its own it works.
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: "tok-emea", pattern: "/clients",
		body: map[string]any{"name": "Where", "grant_types": []string{"client_credentials"}}})
	if resp.status != 403 {
		t.Errorf("create in the home division: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: "tok-emea", pattern: "/clients",
		body: map[string]any{"name": "Here", "grant_types": []string{"client_credentials"}, "division_id": "emea"}})
	if resp.status != 201 {
		t.Errorf("create in its division: %d %s", resp.status, resp.body)
	}
	// No escalation: it cannot give a client a role tenant-wide.
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: "tok-emea", pattern: "/clients",
		body: map[string]any{"name": "Escalate", "grant_types": []string{"client_credentials"}, "division_id": "emea",
			"roles": []string{authz.OAuthAdmin}}})
	if p := resp.problem(t); resp.status != 422 || len(p.Fields) != 1 || p.Fields[0].Field != "roles" {
		t.Errorf("escalation: %d %s", resp.status, resp.body)
	}

	// One division's audit viewer may not read the tenant's log, which
	// speaks of every division's records.
	e.tok.Subject = divAdmin.ID
	if resp := h.do(request{method: "GET", path: Prefix + "/audit/events", token: "tok-emea", pattern: "/audit/events"}); resp.status != 403 {
		t.Errorf("a division admin read the tenant's audit log: %d", resp.status)
	}
	// A custom role: audit:view alone.
	resp = h.do(request{method: "POST", path: Prefix + "/roles", token: "tok-" + authz.SuperAdmin, pattern: "/roles",
		body: map[string]any{"name": "auditor", "description": "Reads the audit log", "permissions": []string{"audit:view"}}})
	if resp.status != 201 {
		t.Fatalf("create role: %d %s", resp.status, resp.body)
	}
	auditor, err := users.Create(ctx, system, account.NewUser{Email: "auditor@example.com", Roles: []string{"auditor"}})
	if err != nil {
		t.Fatal(err)
	}
	e.tok.Subject = auditor.ID
	h.tokens["tok-auditor"] = e
	if resp := h.do(request{method: "GET", path: Prefix + "/audit/events", token: "tok-auditor", pattern: "/audit/events"}); resp.status != 200 {
		t.Errorf("the auditor reads the audit log: %d %s", resp.status, resp.body)
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/clients", token: "tok-auditor", pattern: "/clients"}); resp.status != 403 {
		t.Errorf("the auditor lists clients: %d", resp.status)
	}
	// An assigned role cannot be deleted.
	resp = h.do(request{method: "DELETE", path: Prefix + "/roles/auditor", token: "tok-" + authz.SuperAdmin, pattern: "/roles/{name}"})
	if resp.status != http.StatusConflict || !strings.Contains(resp.problem(t).Message, "1") {
		t.Errorf("delete an assigned role: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "GET", path: Prefix + "/roles", token: "tok-" + authz.SuperAdmin, pattern: "/roles"})
	var rl RoleList
	resp.json(t, &rl)
	if len(rl.Roles) != len(authz.RoleNames())+1 {
		t.Errorf("roles: %s", resp.body)
	}
}
