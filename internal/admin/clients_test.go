package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/admin/idempotency"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

var billing = map[string]any{"name": "Billing sync", "grant_types": []string{"client_credentials"},
	"scopes": []string{"read", "write"}}

func TestCreateClientShowsSecretOnce(t *testing.T) {
	h := newHarness(t)
	resp := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: billing, pattern: "/clients"})
	if resp.status != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var c Client
	resp.json(t, &c)
	if !strings.HasPrefix(c.ClientSecret, "lks_") || c.ClientSecretShown != SecretNotice || len(c.Secrets) != 1 {
		t.Fatalf("created: %+v", c)
	}
	if resp.header.Get("Cache-Control") != "no-store" || resp.header.Get("Location") != Prefix+"/clients/"+c.ClientID ||
		resp.header.Get("ETag") == "" || resp.header.Get("X-Request-Id") == "" {
		t.Errorf("headers %v", resp.header)
	}
	got := h.do(request{method: "GET", path: Prefix + "/clients/" + c.ClientID, token: adminToken, pattern: "/clients/{id}"})
	if got.status != http.StatusOK || strings.Contains(string(got.body), c.ClientSecret) || strings.Contains(string(got.body), "client_secret\"") {
		t.Fatalf("get shows the secret again: %s", got.body)
	}
	if got.header.Get("ETag") != resp.header.Get("ETag") {
		t.Errorf("ETag %q after create, %q on get", resp.header.Get("ETag"), got.header.Get("ETag"))
	}
	// An admin-supplied ID and secret.
	supplied := map[string]any{"client_id": "billing-prod", "name": "Supplied", "grant_types": []string{"client_credentials"},
		"client_secret": "an-operator-chosen-secret-of-32-chars-or-more", "secret_never_expires": true}
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: supplied, pattern: "/clients"})
	resp.json(t, &c)
	if resp.status != http.StatusCreated || c.ClientID != "billing-prod" || c.Secrets[0].ExpiresAt != nil {
		t.Fatalf("supplied: %d %s", resp.status, resp.body)
	}
	if strings.Contains(string(resp.body), "an-operator-chosen-secret") {
		t.Errorf("an admin-chosen secret was echoed back: %s", resp.body)
	}
	// The same ID again is the domain's field error, unchanged.
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: supplied, pattern: "/clients"})
	if p := resp.problem(t); resp.status != http.StatusUnprocessableEntity || len(p.Fields) != 1 || p.Fields[0].Field != "client_id" {
		t.Fatalf("duplicate ID: %d %+v", resp.status, p)
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	key := http.Header{"Idempotency-Key": {"create-billing-1"}}
	first := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: billing, header: key, pattern: "/clients"})
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	var c1, c2 Client
	first.json(t, &c1)
	again := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: billing, header: key, pattern: "/clients"})
	again.json(t, &c2)
	if again.status != http.StatusCreated || again.header.Get("Idempotent-Replayed") != "true" || c2.ClientID != c1.ClientID {
		t.Fatalf("replay: %d %v %s", again.status, again.header, again.body)
	}
	if c2.ClientSecret != "" || strings.Contains(string(again.body), c1.ClientSecret) {
		t.Errorf("the replay showed the secret a second time: %s", again.body)
	}
	page := h.do(request{method: "GET", path: Prefix + "/clients?q=Billing", token: adminToken, pattern: "/clients"})
	var list ClientList
	page.json(t, &list)
	if list.Total != 1 {
		t.Errorf("%d clients named Billing after a retried create, want 1", list.Total)
	}
	other := map[string]any{"name": "Something else", "grant_types": []string{"client_credentials"}}
	resp := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: other, header: key, pattern: "/clients"})
	if resp.status != http.StatusUnprocessableEntity || resp.problem(t).Code != "idempotency_key_reused" {
		t.Fatalf("same key, other body: %d %s", resp.status, resp.body)
	}
	// The stored hash of the request is keyed: a body holding a password
	// or a chosen secret cannot be tested against it.
	plain := sha256.Sum256(append([]byte("POST "+Prefix+"/clients\n"), first.sentBody...))
	probe := &idempotency.Record{TenantID: h.tenant, ActorID: "latchkey-admin", Key: "create-billing-1",
		RequestHash: "probe", CreatedAt: h.now, ExpiresAt: h.now.Add(time.Minute)}
	if rec, err := h.db.ReserveIdempotency(t.Context(), probe); err != nil || rec == nil || rec.RequestHash == hex.EncodeToString(plain[:]) {
		t.Errorf("stored request hash: %+v, %v", rec, err)
	}
	// Keys belong to their principal: another's same key creates anew.
	resp = h.do(request{method: "POST", path: Prefix + "/clients", token: "tok-" + authz.SuperAdmin, body: billing, header: key, pattern: "/clients"})
	if resp.status != http.StatusCreated || resp.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("another principal's key: %d %v", resp.status, resp.header)
	}
	// A failed create frees its key for the corrected retry.
	bad := map[string]any{"name": "", "grant_types": []string{"client_credentials"}}
	retry := http.Header{"Idempotency-Key": {"create-2"}}
	if resp := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: bad, header: retry}); resp.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid create: %d", resp.status)
	}
	if resp := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: billing, header: retry}); resp.status != http.StatusCreated {
		t.Fatalf("the corrected retry after a failure: %d %s", resp.status, resp.body)
	}
	if resp := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: bad, header: http.Header{"Idempotency-Key": {"k", "k2"}}}); resp.status != http.StatusBadRequest {
		t.Errorf("two keys: %d", resp.status)
	}
}

func TestPatchMergeAndETag(t *testing.T) {
	h := newHarness(t)
	id, _ := h.newClient("Patch me")
	path := Prefix + "/clients/" + id
	got := h.do(request{method: "GET", path: path, token: adminToken})
	tag := got.header.Get("ETag")
	h.now = h.now.Add(time.Second)
	resp := h.do(request{method: "PATCH", path: path, token: adminToken, contentType: "application/merge-patch+json",
		body: map[string]any{"name": "Patched", "description": "set", "scopes": nil}, header: http.Header{"If-Match": {tag}},
		pattern: "/clients/{id}"})
	var c Client
	resp.json(t, &c)
	if resp.status != http.StatusOK || c.Name != "Patched" || c.Description != "set" || len(c.Scopes) != 0 {
		t.Fatalf("patch: %d %s", resp.status, resp.body)
	}
	if resp.header.Get("ETag") == tag {
		t.Error("the ETag did not change with the client")
	}
	// The old tag is stale now: 412, and nothing changes.
	resp = h.do(request{method: "PATCH", path: path, token: adminToken, body: map[string]any{"name": "Lost update"},
		header: http.Header{"If-Match": {tag}}, pattern: "/clients/{id}"})
	if resp.status != http.StatusPreconditionFailed || resp.problem(t).Code != "stale" {
		t.Fatalf("stale If-Match: %d %s", resp.status, resp.body)
	}
	if c, _, _ := h.svc.Get(t.Context(), authz.SystemActor(h.tenant), id); c.Name != "Patched" {
		t.Errorf("a stale update changed the name to %q", c.Name)
	}
	for _, tt := range []struct {
		body  any
		field string
	}{
		{map[string]any{"client_id": "other"}, "client_id"},
		{map[string]any{"colour": "blue"}, "colour"},
		{map[string]any{"name": 7}, "name"},
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"grant_types": []string{"implicit"}}, "grant_types"},
	} {
		resp := h.do(request{method: "PATCH", path: path, token: adminToken, body: tt.body, pattern: "/clients/{id}"})
		if p := resp.problem(t); resp.status != http.StatusUnprocessableEntity || len(p.Fields) == 0 || !strings.HasPrefix(p.Fields[0].Field, tt.field) {
			t.Errorf("PATCH %v: %d %+v", tt.body, resp.status, p)
		}
	}
	// A protected client needs confirm=true.
	resp = h.do(request{method: "PATCH", path: Prefix + "/clients/latchkey-admin", token: adminToken, body: map[string]any{"description": "x"}, pattern: "/clients/{id}"})
	if resp.status != http.StatusConflict || resp.problem(t).Code != "protected" {
		t.Fatalf("protected: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "PATCH", path: Prefix + "/clients/latchkey-admin?confirm=true", token: adminToken, body: map[string]any{"description": "x"}, pattern: "/clients/{id}"})
	if resp.status != http.StatusOK {
		t.Fatalf("confirmed: %d %s", resp.status, resp.body)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		name   string
		rq     request
		status int
		code   string
	}{
		{"no token", request{method: "GET", path: Prefix + "/clients"}, 401, "unauthorized"},
		{"unknown token", request{method: "GET", path: Prefix + "/clients", token: "nope"}, 401, "invalid_token"},
		{"basic scheme", request{method: "GET", path: Prefix + "/clients", header: http.Header{"Authorization": {"Basic eDp5"}}}, 401, "invalid_token"},
		{"unknown tenant", request{method: "GET", path: "/t/nowhere" + Prefix + "/clients", token: adminToken}, 404, "not_found"},
		{"unknown path", request{method: "GET", path: Prefix + "/nothing", token: adminToken}, 404, "not_found"},
		{"wrong method", request{method: "PUT", path: Prefix + "/clients", token: adminToken}, 405, "method_not_allowed"},
		{"unknown client", request{method: "GET", path: Prefix + "/clients/lkc_nope", token: adminToken, pattern: "/clients/{id}"}, 404, "not_found"},
		{"wrong media type", request{method: "POST", path: Prefix + "/clients", token: adminToken, body: "name=x", contentType: "application/x-www-form-urlencoded", pattern: "/clients"}, 415, "unsupported_media_type"},
		{"not JSON", request{method: "POST", path: Prefix + "/clients", token: adminToken, body: "{", pattern: "/clients"}, 400, "malformed"},
		{"duplicate key", request{method: "POST", path: Prefix + "/clients", token: adminToken, body: `{"name":"a","name":"b"}`, pattern: "/clients"}, 400, "malformed"},
		{"too large", request{method: "POST", path: Prefix + "/clients", token: adminToken, body: `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, pattern: "/clients"}, 413, "too_large"},
		{"unknown query parameter", request{method: "GET", path: Prefix + "/clients?colour=blue", token: adminToken, pattern: "/clients"}, 422, "invalid_input"},
		{"repeated query parameter", request{method: "GET", path: Prefix + "/clients?status=active&status=revoked", token: adminToken, pattern: "/clients"}, 422, "invalid_input"},
		{"nested too deep", request{method: "POST", path: Prefix + "/clients", token: adminToken, body: `{"name":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, pattern: "/clients"}, 400, "malformed"},
		{"absurd lifetime", request{method: "POST", path: Prefix + "/clients", token: adminToken, body: `{"name":"a","grant_types":["client_credentials"],"access_token_ttl":36028797018967568}`, pattern: "/clients"}, 422, "invalid_input"},
		{"delete protected", request{method: "DELETE", path: Prefix + "/clients/latchkey-admin", token: adminToken, pattern: "/clients/{id}"}, 409, "protected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			resp := h.do(tt.rq)
			if resp.status != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tt.status, resp.body)
			}
			if p := resp.problem(t); p.Code != tt.code {
				t.Errorf("code %q, want %q (%s)", p.Code, tt.code, p.Message)
			}
			if tt.status == 401 {
				want := `Bearer realm="latchkey"`
				if tt.code == "invalid_token" {
					want += `, error="invalid_token"`
				}
				if got := resp.header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate %q, want %q", got, want)
				}
			}
		})
	}
	// Field errors are the domain's, unchanged.
	resp := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, pattern: "/clients",
		body: map[string]any{"name": "", "grant_types": []string{"authorization_code"}}})
	p := resp.problem(t)
	fields := map[string]bool{}
	for _, f := range p.Fields {
		fields[f.Field] = true
	}
	if resp.status != 422 || !fields["name"] || !fields["redirect_uris"] {
		t.Errorf("field errors %+v", p.Fields)
	}
}

func TestRateLimitedAuthentication(t *testing.T) {
	h := newHarness(t)
	h.api.AuthFailures = ratelimit.New(3, time.Minute)
	for i := range 3 {
		if resp := h.do(request{method: "GET", path: Prefix + "/clients", token: "guess"}); resp.status != 401 {
			t.Fatalf("guess %d: %d", i, resp.status)
		}
	}
	resp := h.do(request{method: "GET", path: Prefix + "/clients", token: adminToken})
	if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") == "" || resp.problem(t).Code != "rate_limited" {
		t.Fatalf("after the threshold: %d %v %s", resp.status, resp.header, resp.body)
	}
	// Successes do not count: a fresh limiter lets a good token through
	// any number of times.
	h.api.AuthFailures = ratelimit.New(3, time.Minute)
	for range 10 {
		if resp := h.do(request{method: "GET", path: Prefix + "/me", token: adminToken}); resp.status != 200 {
			t.Fatalf("good token: %d", resp.status)
		}
	}
}

func TestListClients(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"Alpha reporting", "Beta ingest", "Gamma reporting"} {
		h.newClient(n)
	}
	get := func(query string) ClientList {
		t.Helper()
		resp := h.do(request{method: "GET", path: Prefix + "/clients?" + query, token: adminToken, pattern: "/clients"})
		if resp.status != 200 {
			t.Fatalf("%s: %d %s", query, resp.status, resp.body)
		}
		var l ClientList
		resp.json(t, &l)
		return l
	}
	if l := get("q=REPORT"); l.Total != 2 || len(l.Clients) != 2 || l.TotalEstimated {
		t.Errorf("q=REPORT: %+v", l)
	}
	first := get("q=a&sort=name&order=desc&page_size=1")
	if len(first.Clients) != 1 || first.NextPageToken == "" {
		t.Fatalf("first page: %+v", first)
	}
	second := get("q=a&sort=name&order=desc&page_size=1&page_token=" + first.NextPageToken)
	if len(second.Clients) != 1 || second.Clients[0].Name >= first.Clients[0].Name {
		t.Errorf("second page %+v after %+v", second.Clients, first.Clients)
	}
	if l := get("type=public"); l.Total != 2 { // the provisioned console and CLI clients
		t.Errorf("type=public: %d", l.Total)
	}
	if l := get("unused_since=never&grant_type=client_credentials"); l.Total != 4 {
		t.Errorf("never used client_credentials clients: %d", l.Total)
	}
	for _, q := range []string{"page_size=0", "page_size=1001", "order=up", "unused_since=yesterday",
		"secret_expires_within=soon", "type=secret", "sort=colour", "page_token=zzz"} {
		resp := h.do(request{method: "GET", path: Prefix + "/clients?" + q, token: adminToken, pattern: "/clients"})
		field, _, _ := strings.Cut(q, "=")
		if p := resp.problem(t); resp.status != 422 || len(p.Fields) != 1 || p.Fields[0].Field != field {
			t.Errorf("%s: %d %+v", q, resp.status, p.Fields)
		}
	}
	// Show all streams every match in one body.
	resp := h.do(request{method: "GET", path: Prefix + "/clients?page_size=all&sort=client_id", token: adminToken, pattern: "/clients"})
	var all struct {
		ClientList
		Truncated bool `json:"truncated"`
	}
	resp.json(t, &all)
	if resp.status != 200 || len(all.Clients) != 6 || all.Total != 6 || all.Truncated {
		t.Errorf("show all: %d clients of %d: %s", len(all.Clients), all.Total, resp.body)
	}
}

func TestSecrets(t *testing.T) {
	h := newHarness(t)
	id, oldSecret := h.newClient("Rotating")
	base := Prefix + "/clients/" + id
	resp := h.do(request{method: "POST", path: base + "/rotate-secret", token: adminToken,
		body: map[string]any{"grace_period": 3600, "secret_lifetime": 30 * 86400}, pattern: "/clients/{id}/rotate-secret"})
	var issued IssuedSecretView
	resp.json(t, &issued)
	if resp.status != 200 || !strings.HasPrefix(issued.ClientSecret, "lks_") || issued.Secret.ExpiresAt == nil ||
		!issued.Secret.ExpiresAt.Equal(h.now.Add(30*24*time.Hour)) {
		t.Fatalf("rotate: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "POST", path: base + "/secrets", token: adminToken, pattern: "/clients/{id}/secrets"})
	var added IssuedSecretView
	resp.json(t, &added)
	if resp.status != 201 || added.ClientSecret == "" || added.ClientSecret == issued.ClientSecret {
		t.Fatalf("add: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "POST", path: base + "/secrets/" + oldSecret + "/revoke", token: adminToken, pattern: "/clients/{id}/secrets/{secret}/revoke"})
	var revoked Secret
	resp.json(t, &revoked)
	if resp.status != 200 || revoked.Status != "revoked" || revoked.RevokedAt == nil {
		t.Fatalf("revoke: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "GET", path: base + "/secrets", token: adminToken, pattern: "/clients/{id}/secrets"})
	var list SecretList
	resp.json(t, &list)
	status := map[string]string{}
	for _, s := range list.Secrets {
		status[s.ID] = s.Status
	}
	if len(list.Secrets) != 3 || status[oldSecret] != "revoked" || status[issued.Secret.ID] != "active" || status[added.Secret.ID] != "active" {
		t.Errorf("secrets after rotate, add and revoke: %+v", list.Secrets)
	}
	if strings.Contains(string(resp.body), issued.ClientSecret) || strings.Contains(string(resp.body), "sha256:") {
		t.Errorf("the secret list leaks a secret or hash: %s", resp.body)
	}
	if resp := h.do(request{method: "POST", path: base + "/secrets/sec_nope/revoke", token: adminToken, pattern: "/clients/{id}/secrets/{secret}/revoke"}); resp.status != 404 {
		t.Errorf("unknown secret: %d", resp.status)
	}
	resp = h.do(request{method: "POST", path: base + "/rotate-secret", token: adminToken, body: map[string]any{"grace_period": -1}, pattern: "/clients/{id}/rotate-secret"})
	if p := resp.problem(t); resp.status != 422 || p.Fields[0].Field != "grace_period" {
		t.Errorf("negative grace: %d %+v", resp.status, p)
	}
}

func TestUsersAndTenants(t *testing.T) {
	h := newHarness(t)
	resp := h.do(request{method: "POST", path: Prefix + "/users", token: "tok-" + authz.SuperAdmin, pattern: "/users",
		body: map[string]any{"email": "New.Person@Example.com", "name": "New Person", "roles": []string{authz.Viewer}}})
	var u User
	resp.json(t, &u)
	if resp.status != 201 || u.Email != "new.person@example.com" || u.PasswordSet {
		t.Fatalf("create user: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "PATCH", path: Prefix + "/users/" + u.ID, token: "tok-" + authz.SuperAdmin, pattern: "/users/{id}",
		body: map[string]any{"roles": []string{authz.OAuthAdmin}, "locale": "nb"}})
	resp.json(t, &u)
	if resp.status != 200 || u.Locale != "nb" || len(u.Roles) != 1 || u.Roles[0] != authz.OAuthAdmin {
		t.Fatalf("patch user: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "POST", path: Prefix + "/users/" + u.ID + "/disable", token: "tok-" + authz.SuperAdmin, pattern: "/users/{id}/disable"})
	resp.json(t, &u)
	if resp.status != 200 || u.Status != "disabled" {
		t.Fatalf("disable: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "PATCH", path: Prefix + "/users/" + u.ID, token: "tok-" + authz.SuperAdmin, pattern: "/users/{id}",
		body: map[string]any{"password": "hunter2hunter2", "status": "active"}})
	if p := resp.problem(t); resp.status != 422 || len(p.Fields) != 2 || strings.Contains(string(resp.body), "hunter2") {
		t.Errorf("password and status through PATCH: %d %s", resp.status, resp.body)
	}

	resp = h.do(request{method: "POST", path: Prefix + "/tenants", token: "tok-" + authz.SuperAdmin, pattern: "/tenants",
		body: map[string]any{"name": "Gamma Corp", "slug": "gamma"}})
	var tn Tenant
	resp.json(t, &tn)
	if resp.status != 201 || tn.Issuer != "https://auth.example/t/gamma" {
		t.Fatalf("create tenant: %d %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "GET", path: Prefix + "/tenants", token: "tok-" + authz.SuperAdmin, pattern: "/tenants"})
	var tl TenantList
	resp.json(t, &tl)
	if resp.status != 200 || len(tl.Tenants) != 3 {
		t.Errorf("tenants: %s", resp.body)
	}
}

func TestMe(t *testing.T) {
	h := newHarness(t)
	resp := h.do(request{method: "GET", path: Prefix + "/me", token: "tok-" + authz.Viewer, pattern: "/me"})
	var me Me
	resp.json(t, &me)
	if resp.status != 200 || me.Kind != "user" || strings.Join(me.Permissions, " ") != "oauth:client:view audit:view" {
		t.Fatalf("me: %s", resp.body)
	}
	// A token's scopes cap its principal's roles.
	e := h.tokens["tok-"+authz.SuperAdmin]
	e.tok.Scopes = []string{"openid", string(authz.ClientView)}
	h.tokens["tok-narrow"] = e
	resp = h.do(request{method: "GET", path: Prefix + "/me", token: "tok-narrow", pattern: "/me"})
	resp.json(t, &me)
	if strings.Join(me.Permissions, " ") != "oauth:client:view" {
		t.Errorf("narrow token: %v", me.Permissions)
	}
	if resp := h.do(request{method: "POST", path: Prefix + "/clients", token: "tok-narrow", body: billing}); resp.status != 403 {
		t.Errorf("a view-only token created a client: %d", resp.status)
	}
}

func TestAuditThroughAPI(t *testing.T) {
	h := newHarness(t)
	resp := h.do(request{method: "POST", path: Prefix + "/clients", token: adminToken, body: billing,
		header: http.Header{"X-Request-Id": {"req-42"}}})
	var c Client
	resp.json(t, &c)
	h.do(request{method: "POST", path: Prefix + "/clients/" + c.ClientID + "/rotate-secret", token: adminToken})
	resp = h.do(request{method: "GET", path: Prefix + "/audit/events?action=client.&target_id=" + c.ClientID, token: adminToken, pattern: "/audit/events"})
	var l AuditList
	resp.json(t, &l)
	if resp.status != 200 || len(l.Events) != 2 || l.Events[0].Action != "client.secret_rotated" || l.Events[1].Action != "client.created" {
		t.Fatalf("events: %d %s", resp.status, resp.body)
	}
	created := l.Events[1]
	if created.RequestID != "req-42" || created.SourceAddr != "192.0.2.10" || created.ActorID != "latchkey-admin" {
		t.Errorf("created event %+v", created)
	}
	if strings.Contains(string(resp.body), c.ClientSecret) {
		t.Errorf("the audit log holds a secret: %s", resp.body)
	}
	resp = h.do(request{method: "GET", path: Prefix + "/audit/events?page_size=1&order=asc", token: adminToken, pattern: "/audit/events"})
	resp.json(t, &l)
	if len(l.Events) != 1 || l.NextPageToken == "" {
		t.Fatalf("first page: %s", resp.body)
	}
	next := h.do(request{method: "GET", path: Prefix + "/audit/events?page_size=1&order=asc&page_token=" + l.NextPageToken, token: adminToken, pattern: "/audit/events"})
	var l2 AuditList
	next.json(t, &l2)
	if len(l2.Events) != 1 || l2.Events[0].Seq != l.Events[0].Seq+1 {
		t.Errorf("second page %+v after %+v", l2.Events, l.Events)
	}
	if resp := h.do(request{method: "GET", path: Prefix + "/audit/events?since=nope", token: adminToken, pattern: "/audit/events"}); resp.status != 422 {
		t.Errorf("bad since: %d", resp.status)
	}
}
