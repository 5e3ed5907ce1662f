package admin

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// GET and PUT /policy: the document in seconds, its ETag and If-Match,
// field errors naming the field, the permission, and the audit event.
func TestPolicyAPI(t *testing.T) {
	h := newHarness(t)
	super, viewer, oauthAdmin := "tok-"+authz.SuperAdmin, "tok-"+authz.Viewer, "tok-"+authz.OAuthAdmin

	resp := h.do(request{method: "GET", path: Prefix + "/policy", token: viewer, pattern: "/policy"})
	var p Policy
	resp.json(t, &p)
	if resp.status != 200 || p.UpdatedAt != nil || p.MaxSecretLifetime != 0 || p.LeakAction != "revoke" || resp.header.Get("ETag") != `"0"` {
		t.Fatalf("unset policy: %d %s %q", resp.status, resp.body, resp.header.Get("ETag"))
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/policy", token: "tok-none", pattern: "/policy"}); resp.status != 403 {
		t.Errorf("a user without roles read the policy: %d", resp.status)
	}

	body := map[string]any{"max_secret_lifetime": 90 * 86400, "require_pkce": true, "max_access_token_ttl": 3600,
		"allowed_grant_types": []string{"client_credentials"}, "redirect_hosts": []string{"app.example", "*.corp.example"}}
	if resp := h.do(request{method: "PUT", path: Prefix + "/policy", token: oauthAdmin, body: body, pattern: "/policy"}); resp.status != 403 {
		t.Errorf("an OAuth admin set the policy: %d %s", resp.status, resp.body)
	}
	bad := map[string]any{"max_secret_lifetime": 60, "redirect_hosts": []string{"Not A Host"}}
	resp = h.do(request{method: "PUT", path: Prefix + "/policy", token: super, body: bad, pattern: "/policy"})
	if resp.status != 422 {
		t.Fatalf("invalid policy: %d %s", resp.status, resp.body)
	}
	if prob := resp.problem(t); len(prob.Fields) != 2 || prob.Fields[0].Field != "max_secret_lifetime" || prob.Fields[1].Field != "redirect_hosts" {
		t.Errorf("invalid policy's fields %+v", prob.Fields)
	}
	if resp := h.do(request{method: "PUT", path: Prefix + "/policy", token: super, body: `{"max_secret_lifetim":1}`, pattern: "/policy"}); resp.status != 400 && resp.status != 422 {
		t.Errorf("an unknown field: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "PUT", path: Prefix + "/policy", token: super, body: body, pattern: "/policy",
		header: http.Header{"If-Match": {`"0"`}}})
	resp.json(t, &p)
	if resp.status != 200 || p.MaxSecretLifetime != 90*86400 || !p.RequirePKCE || p.UpdatedAt == nil || p.UpdatedBy != h.users[authz.SuperAdmin].ID {
		t.Fatalf("set policy: %d %s", resp.status, resp.body)
	}
	etag := resp.header.Get("ETag")
	if resp := h.do(request{method: "PUT", path: Prefix + "/policy", token: super, body: map[string]any{}, pattern: "/policy",
		header: http.Header{"If-Match": {`"0"`}}}); resp.status != 412 {
		t.Errorf("a stale If-Match: %d %s", resp.status, resp.body)
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/policy", token: viewer, pattern: "/policy"}); resp.header.Get("ETag") != etag {
		t.Errorf("ETag %q after the change, PUT said %q", resp.header.Get("ETag"), etag)
	}
	page, err := h.db.ListAudit(context.Background(), audit.Query{TenantID: h.tenant, Action: client.ActionPolicyUpdated})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("policy events %v, %v", page, err)
	}
	if e := page.Events[0]; e.After["max_access_token_ttl"] != "3600" || e.Before["require_pkce"] != "false" || e.ActorID != h.users[authz.SuperAdmin].ID {
		t.Errorf("event %+v", e)
	}

	// A write that breaks the policy names the rule in its field error,
	// and the client JSON carries require_pkce.
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: super, pattern: "/clients",
		body: map[string]any{"name": "Web", "grant_types": []string{"client_credentials"}, "access_token_ttl": 7200}})
	if resp.status != 422 {
		t.Fatalf("a client over the TTL cap: %d %s", resp.status, resp.body)
	}
	if prob := resp.problem(t); len(prob.Fields) != 1 || prob.Fields[0].Policy != client.RuleMaxAccessTokenTTL || prob.Fields[0].Field != "access_token_ttl" {
		t.Errorf("fields %+v", prob.Fields)
	}
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: super, pattern: "/clients",
		body: map[string]any{"name": "Web", "grant_types": []string{"client_credentials"}, "require_pkce": true}})
	var cl Client
	resp.json(t, &cl)
	if resp.status != 201 || !cl.RequirePKCE {
		t.Fatalf("create with require_pkce: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "PATCH", path: Prefix + "/clients/" + cl.ClientID, token: super, pattern: "/clients/{id}",
		body: map[string]any{"require_pkce": false}, contentType: "application/merge-patch+json"})
	resp.json(t, &cl)
	if resp.status != 200 || cl.RequirePKCE {
		t.Errorf("patch require_pkce: %d %s", resp.status, resp.body)
	}
}

// GET /compliance lists exactly the clients that break the policy, with
// their reasons, and only those the caller can view.
func TestComplianceAPI(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	system := authz.SystemActor(h.tenant)
	long := client.CreateParams{Name: "Long TTL", GrantTypes: []client.GrantType{client.GrantClientCredentials}, AccessTokenTTL: 2 * time.Hour}
	bad, _, err := h.svc.Create(ctx, system, long)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SetPolicy(ctx, system, client.Policy{MaxAccessTokenTTL: time.Hour}, ""); err != nil {
		t.Fatal(err)
	}
	h.newClient("Fine")
	if resp := h.do(request{method: "GET", path: Prefix + "/compliance", token: "tok-none", pattern: "/compliance"}); resp.status != 403 {
		t.Errorf("a user without roles read the report: %d", resp.status)
	}
	resp := h.do(request{method: "GET", path: Prefix + "/compliance", token: "tok-" + authz.Viewer, pattern: "/compliance"})
	var rep ComplianceReport
	resp.json(t, &rep)
	if resp.status != 200 || rep.Count != 1 || len(rep.Clients) != 1 || rep.Error != nil {
		t.Fatalf("report: %d %s", resp.status, resp.body)
	}
	got := rep.Clients[0]
	if got.ClientID != bad.ID || got.Name != "Long TTL" || len(got.Violations) != 1 ||
		got.Violations[0].Policy != client.RuleMaxAccessTokenTTL || got.Violations[0].Field != "access_token_ttl" {
		t.Errorf("report line %+v", got)
	}
}
