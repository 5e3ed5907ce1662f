package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// specURL names the document for the schema compiler; $refs inside it
// resolve against it.
const specURL = "urn:latchkey:admin:openapi.json"

// spec is the OpenAPI document as the tests read it: parsed once, each
// schema compiled on first use and kept, so a handler test pays for a
// schema once however many responses it checks.
var spec struct {
	once     sync.Once
	doc      map[string]any
	err      error
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

// loadSpec returns the parsed document, failing tb when it does not parse.
func loadSpec(tb testing.TB) map[string]any {
	tb.Helper()
	spec.once.Do(func() {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(openAPI))
		if err != nil {
			spec.err = fmt.Errorf("openapi.json is not JSON: %w", err)
			return
		}
		doc, ok := v.(map[string]any)
		if !ok {
			spec.err = fmt.Errorf("openapi.json is not a JSON object")
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if err := c.AddResource(specURL, doc); err != nil {
			spec.err = err
			return
		}
		spec.doc, spec.compiler, spec.schemas = doc, c, map[string]*jsonschema.Schema{}
	})
	if spec.err != nil {
		tb.Fatal(spec.err)
	}
	return spec.doc
}

// compileAt compiles the schema at a JSON pointer of the document
// ("/components/schemas/Client"), once.
func compileAt(tb testing.TB, ptr string) (*jsonschema.Schema, error) {
	tb.Helper()
	loadSpec(tb)
	spec.mu.Lock()
	defer spec.mu.Unlock()
	if s, ok := spec.schemas[ptr]; ok {
		return s, nil
	}
	s, err := spec.compiler.Compile(specURL + "#" + docFragment(ptr))
	if err != nil {
		return nil, err
	}
	spec.schemas[ptr] = s
	return s, nil
}

// pointer joins tokens into a JSON pointer (RFC 6901).
func docPointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// fragment writes a JSON pointer as a URI fragment: the compiler
// percent-decodes it, and path templates hold braces.
func docFragment(ptr string) string {
	parts := strings.Split(ptr, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

// lookup returns the value at a JSON pointer of doc, or nil.
func docLookup(doc any, ptr string) any {
	if ptr == "" {
		return doc
	}
	v := doc
	for _, t := range strings.Split(ptr[1:], "/") {
		t = strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
		switch x := v.(type) {
		case map[string]any:
			v = x[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// deref follows a {"$ref": "#/..."} object at ptr to what it names,
// returning the pointer of the value reached and the value.
func docDeref(doc map[string]any, ptr string) (string, any) {
	for range 10 {
		m, _ := docLookup(doc, ptr).(map[string]any)
		r, ok := m["$ref"].(string)
		if !ok || len(m) != 1 || !strings.HasPrefix(r, "#") {
			break
		}
		ptr = r[1:]
	}
	return ptr, docLookup(doc, ptr)
}

// checkResponse fails tb unless the document says the operation of
// method and pattern (a route's Path, like "/clients/{id}") may answer
// status with contentType, and body validates against the schema it
// gives: the response of that status, else "4XX"-style ranges, else
// "default". An application/problem+json body is checked against the
// Problem schema, and its status against the response's. It only reports
// with Errorf, so the caller's test goes on.
func checkResponse(tb testing.TB, method, pattern string, status int, contentType string, body []byte) {
	tb.Helper()
	doc := loadSpec(tb)
	what := fmt.Sprintf("%s %s → %d", method, pattern, status)
	opPtr := docPointer("paths", pattern, strings.ToLower(method))
	if _, ok := docLookup(doc, opPtr).(map[string]any); !ok {
		tb.Errorf("%s: the document has no operation %s %s", what, method, pattern)
		return
	}
	var respPtr string
	for _, key := range []string{strconv.Itoa(status), strconv.Itoa(status/100) + "XX", "default"} {
		if docLookup(doc, docPointer("paths", pattern, strings.ToLower(method), "responses", key)) != nil {
			respPtr = opPtr + docPointer("responses", key)
			break
		}
	}
	if respPtr == "" {
		tb.Errorf("%s: status %d is not documented for this operation", what, status)
		return
	}
	respPtr, resp := docDeref(doc, respPtr)
	content, _ := resp.(map[string]any)["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) > 0 {
			tb.Errorf("%s: the document gives this response no body, but it has %d bytes: %.200s", what, len(body), body)
		}
		return
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || content[mt] == nil {
		tb.Errorf("%s: Content-Type %q is not documented; the document gives %v", what, contentType, docKeys(content))
		return
	}
	schemaPtr, _ := docDeref(doc, respPtr+docPointer("content", mt, "schema"))
	if mt == "application/problem+json" {
		schemaPtr = "/components/schemas/Problem"
	}
	sch, err := compileAt(tb, schemaPtr)
	if err != nil {
		tb.Errorf("%s: compiling the schema at %s: %v", what, schemaPtr, err)
		return
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		tb.Errorf("%s: the body is not JSON (%v): %.200s", what, err, body)
		return
	}
	if err := sch.Validate(v); err != nil {
		tb.Errorf("%s: the body does not match the document's schema %s:\n%v\nbody: %.2000s", what, schemaPtr, err, body)
		return
	}
	if mt == "application/problem+json" {
		if got := v.(map[string]any)["status"]; got != json.Number(strconv.Itoa(status)) {
			tb.Errorf("%s: the problem says status %v", what, got)
		}
	}
}

func docKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// recordingTB is a testing.TB that keeps what checkResponse reports instead
// of failing the test, so the tests below can see it fail.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func marshalView(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// editJSON returns b, a JSON object, changed by edit.
func editView(tb testing.TB, b []byte, edit func(map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	edit(m)
	return marshalView(tb, m)
}

// viewFixtures are records as the views are made from: one with every
// optional part and one as bare as a stored record can be.
type viewFixtures struct {
	fullClient, bareClient *client.Client
	secrets                []client.Secret
	issued                 *client.IssuedSecret
	user, bareUser         *account.User
	event                  *audit.Event
}

func newViewFixtures() viewFixtures {
	t0 := time.Date(2026, 3, 1, 9, 30, 15, 123456789, time.UTC)
	var f viewFixtures

	f.fullClient = &client.Client{
		ID: "billing-api", TenantID: "ten_default", Name: "Billing", Description: "Invoices\nand receipts",
		Type: client.Confidential, GrantTypes: []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken},
		RedirectURIs: []string{"https://billing.example.com/cb"}, Scopes: []string{"openid", "invoices:read"},
		TokenEndpointAuthMethod: client.AuthSecretPost, IDTokenAlg: client.IDTokenES256,
		PostLogoutRedirectURIs: []string{"https://billing.example.com/"}, OwnerUserID: "usr_1", DivisionID: "finance",
		AccessTokenTTL: time.Hour, RefreshTokenTTL: 30 * 24 * time.Hour, TokenFormat: client.TokenOpaque,
		RequireConsent: true, Status: client.StatusInactive, Protected: true,
		CreatedAt: t0, CreatedBy: "usr_admin", UpdatedAt: t0.Add(time.Minute), LastUsedAt: t0.Add(time.Hour),
		SecretExpiresAt:   t0.Add(180 * 24 * time.Hour),
		LastAuthorization: client.Authorization{At: t0.Add(time.Hour), UserID: "usr_2", RedirectURI: "https://billing.example.com/cb"},
		LastToken:         client.Issue{At: t0.Add(2 * time.Hour), Grant: client.GrantRefreshToken},
	}
	f.bareClient = &client.Client{
		ID: "cli", TenantID: "ten_default", Name: "CLI", Type: client.Public,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, TokenEndpointAuthMethod: client.AuthNone,
		AccessTokenTTL: time.Hour, RefreshTokenTTL: time.Hour, TokenFormat: client.TokenJWT, Status: client.StatusActive,
		CreatedAt: t0, CreatedBy: "system", UpdatedAt: t0,
	}
	f.secrets = []client.Secret{
		{ID: "sec_1", ClientID: "billing-api", Hint: "x9Qa", Status: client.SecretRetiring, CreatedAt: t0, CreatedBy: "usr_admin",
			ExpiresAt: t0.Add(time.Hour), LastUsedAt: t0.Add(time.Minute)},
		{ID: "sec_2", ClientID: "billing-api", Hint: "Zz01", Status: client.SecretRevoked, CreatedAt: t0, CreatedBy: "usr_admin",
			RevokedAt: t0.Add(time.Hour)},
		{ID: "sec_3", ClientID: "billing-api", Hint: "abcd", Status: client.SecretActive, CreatedAt: t0, CreatedBy: "usr_admin"},
	}
	f.issued = &client.IssuedSecret{Secret: f.secrets[2], Plaintext: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"}
	f.user = &account.User{ID: "usr_1", TenantID: "ten_default", Email: "ada@example.com", Name: "Ada",
		Status: account.UserDisabled, Roles: []string{"oauth_admin@finance"}, Locale: "nb", PasswordHash: "$argon2id$…",
		CreatedAt: t0, UpdatedAt: t0}
	f.bareUser = &account.User{ID: "usr_2", TenantID: "ten_default", Email: "bob@example.com", Locale: "en",
		CreatedAt: t0, UpdatedAt: t0}
	f.event = &audit.Event{TenantID: "ten_default", Seq: 7, At: t0, ActorKind: authz.KindUser, ActorID: "usr_1",
		ActorName: "ada@example.com", Action: "client.updated", TargetType: "client", TargetID: "billing-api",
		Result: audit.ResultSuccess, SourceAddr: "192.0.2.1", RequestID: "req-1", Changes: []string{"name"},
		Before: map[string]string{"name": "Old"}, After: map[string]string{"name": "Billing"}, PrevHash: "ab", Hash: "cd"}
	return f
}

// TestViewsMatchDocument checks each view, as its constructor writes it,
// against the document's schema for the response that carries it.
func TestViewsMatchDocument(t *testing.T) {
	f := newViewFixtures()
	t0 := f.fullClient.CreatedAt
	problem := NewProblem(http.StatusUnprocessableEntity, "invalid_input", "the input is not valid")
	problem.Fields = []errs.FieldError{{Field: "name", Message: "is required"}}
	tests := []struct {
		name, method, pattern string
		status                int
		contentType           string
		body                  any
	}{
		{"me", "GET", "/me", 200, "application/json", Me{Kind: "user", ID: "usr_1", Name: "ada@example.com",
			TenantID: "ten_default", Roles: []string{"viewer"}, Permissions: []string{"oauth:client:view", "audit:view"}}},
		{"full client", "GET", "/clients/{id}", 200, "application/json", NewClient(f.fullClient, f.secrets)},
		{"bare client", "GET", "/clients/{id}", 200, "application/json", NewClient(f.bareClient, nil)},
		{"created client", "POST", "/clients", 201, "application/json", NewClient(f.fullClient, f.secrets[2:]).WithSecret(f.issued)},
		{"client page", "GET", "/clients", 200, "application/json", ClientList{
			Clients: []Client{NewClient(f.fullClient, nil), NewClient(f.bareClient, nil)}, NextPageToken: "abc", Total: 2}},
		{"last client page", "GET", "/clients", 200, "application/json", ClientList{Clients: []Client{}, TotalEstimated: true}},
		{"patched client", "PATCH", "/clients/{id}", 200, "application/json; charset=utf-8", NewClient(f.fullClient, f.secrets)},
		{"rotated", "POST", "/clients/{id}/rotate-secret", 200, "application/json", issuedView(f.issued, false)},
		{"added", "POST", "/clients/{id}/secrets", 201, "application/json", issuedView(f.issued, false)},
		{"secrets", "GET", "/clients/{id}/secrets", 200, "application/json", SecretList{Secrets: []Secret{NewSecret(f.secrets[0])}}},
		{"revoked secret", "POST", "/clients/{id}/secrets/{secret}/revoke", 200, "application/json", NewSecret(f.secrets[1])},
		{"users", "GET", "/users", 200, "application/json", UserList{Users: []User{NewUser(f.user), NewUser(f.bareUser)}, Total: 2}},
		{"user", "PATCH", "/users/{id}", 200, "application/json", NewUser(f.user)},
		{"tenants", "GET", "/tenants", 200, "application/json", TenantList{Tenants: []Tenant{
			NewTenant(&account.Tenant{ID: "ten_default", Name: "Default", Default: true, CreatedAt: t0}, "https://id.example.com"),
			NewTenant(&account.Tenant{ID: "ten_acme", Name: "Acme", Slug: "acme", CreatedAt: t0}, "https://id.example.com"),
		}}},
		{"audit", "GET", "/audit/events", 200, "application/json", AuditList{
			Events: []AuditEvent{NewAuditEvent(f.event), NewAuditEvent(&audit.Event{TenantID: "t", Seq: 1, At: t0})}, NextPageToken: "6"}},
		{"roles", "GET", "/roles", 200, "application/json", RoleList{Roles: []Role{
			NewRole(&authz.Role{Name: authz.Viewer, Description: "Sees clients", Permissions: []authz.Permission{authz.ClientView}, BuiltIn: true}),
			NewRole(&authz.Role{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}, CreatedAt: t0, UpdatedAt: t0}),
		}}},
		{"divisions", "GET", "/divisions", 200, "application/json", DivisionList{Divisions: []Division{
			newDivision(&account.Division{TenantID: "ten_default", ID: "home", Name: "Home Division", CreatedAt: t0})}}},
		{"conflict", "DELETE", "/roles/{name}", 409, "application/problem+json", NewProblem(409, "in_use", "role is held")},
		{"invalid", "POST", "/users", 422, "application/problem+json", problem},
		{"unauthorized", "GET", "/me", 401, "application/problem+json", NewProblem(401, "unauthorized", "a bearer access token is required")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkResponse(t, tt.method, tt.pattern, tt.status, tt.contentType, marshalView(t, tt.body))
		})
	}
	t.Run("stream", func(t *testing.T) {
		cl := marshalView(t, NewClient(f.bareClient, nil))
		prob := marshalView(t, NewProblem(503, "timeout", "the operation took too long; try again"))
		for _, body := range []string{
			`{"clients":[` + string(cl) + "\n" + `],"total":1,"total_estimated":false,"truncated":false}` + "\n",
			`{"clients":[],"total":3,"total_estimated":true,"truncated":true,"error":` + string(prob) + `}`,
		} {
			checkResponse(t, "GET", "/clients", 200, "application/json", []byte(body))
		}
	})
	t.Run("no content", func(t *testing.T) {
		checkResponse(t, "DELETE", "/clients/{id}", 204, "", nil)
	})
}

// TestCheckResponseFails proves the helper catches what it is for.
func TestCheckResponseFails(t *testing.T) {
	f := newViewFixtures()
	clientBody := marshalView(t, NewClient(f.fullClient, f.secrets))
	problem := marshalView(t, NewProblem(404, "not_found", "not found"))
	tests := []struct {
		name, method, pattern string
		status                int
		contentType           string
		body                  []byte
		want                  string
	}{
		{"extra property", "GET", "/clients/{id}", 200, "application/json",
			editView(t, clientBody, func(m map[string]any) { m["surprise"] = 1 }), "surprise"},
		{"extra property deep", "GET", "/clients/{id}", 200, "application/json",
			editView(t, clientBody, func(m map[string]any) { m["secrets"].([]any)[0].(map[string]any)["hash"] = "x" }), "hash"},
		{"missing required", "GET", "/clients/{id}", 200, "application/json",
			editView(t, clientBody, func(m map[string]any) { delete(m, "status") }), "status"},
		{"wrong type", "GET", "/clients/{id}", 200, "application/json",
			editView(t, clientBody, func(m map[string]any) { m["access_token_ttl"] = "1h" }), "access_token_ttl"},
		{"bad time", "GET", "/clients/{id}", 200, "application/json",
			editView(t, clientBody, func(m map[string]any) { m["created_at"] = "yesterday" }), "created_at"},
		{"null where a time is required", "GET", "/clients/{id}", 200, "application/json",
			editView(t, clientBody, func(m map[string]any) { m["updated_at"] = nil }), "updated_at"},
		{"undocumented status", "GET", "/me", 418, "application/json", []byte(`{}`), "not documented"},
		{"undocumented operation", "PUT", "/me", 200, "application/json", []byte(`{}`), "no operation"},
		{"undocumented content type", "GET", "/clients/{id}", 200, "text/html", clientBody, "Content-Type"},
		{"problem as JSON", "GET", "/clients/{id}", 404, "application/json", problem, "Content-Type"},
		{"problem of another status", "GET", "/clients/{id}", 403, "application/problem+json", problem, "status"},
		{"problem with an extra member", "GET", "/clients/{id}", 404, "application/problem+json",
			editView(t, problem, func(m map[string]any) { m["stack"] = "…" }), "stack"},
		{"unknown problem code", "GET", "/clients/{id}", 404, "application/problem+json",
			editView(t, problem, func(m map[string]any) { m["code"] = "oops" }), "code"},
		{"body on 204", "DELETE", "/clients/{id}", 204, "application/json", []byte(`{}`), "no body"},
		{"not JSON", "GET", "/me", 200, "application/json", []byte(`{"kind":`), "not JSON"},
		{"stream with a page token", "GET", "/clients", 200, "application/json",
			[]byte(`{"clients":[],"total":0,"total_estimated":false,"truncated":false,"next_page_token":"x"}`), "next_page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			checkResponse(rec, tt.method, tt.pattern, tt.status, tt.contentType, tt.body)
			if len(rec.errors) == 0 {
				t.Fatalf("checkResponse passed %s", tt.body)
			}
			if msg := strings.Join(rec.errors, "\n"); !strings.Contains(msg, tt.want) {
				t.Errorf("the failure does not mention %q:\n%s", tt.want, msg)
			}
		})
	}
}
