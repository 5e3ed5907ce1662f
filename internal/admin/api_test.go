package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/reqid"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// harness is the admin API over a real SQLite store, provisioned as a
// first start does, with a second tenant beside the default one. Tokens
// are looked up in a table: the protocol's own checks of a token are
// tested with the protocol; here each token stands for a principal.
type harness struct {
	t   testing.TB
	db  *sqlite.DB
	api *API
	// bulkRunner finishes the bulk jobs fixtures queue.
	bulkRunner *bulk.Runner
	mux        *http.ServeMux
	now        time.Time
	tokens     map[string]tokenEntry
	// tenant is the default tenant's ID; other the second tenant's.
	tenant, other string
	// users by role name in the default tenant; otherAdmin in the other.
	users      map[string]*account.User
	otherAdmin *account.User
	svc        *client.Service
}

type tokenEntry struct {
	slug string
	tok  Token
}

const (
	otherSlug = "beta"
	// adminToken is the provisioned latchkey-admin client's.
	adminToken = "tok-admin-client"
)

// roleTokens are the tokens of the default tenant's users, one per role
// ("none" holds no role), each with every permission scope.
var roleTokens = []string{authz.SuperAdmin, authz.OAuthAdmin, authz.Viewer, authz.ResourceServer, "none"}

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), tokens: map[string]tokenEntry{},
		users: map[string]*account.User{}}
	clock := func() time.Time { return h.now }
	res, err := provision.Run(ctx, db, provision.Params{Issuer: "https://auth.example", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h.tenant = res.Tenant.ID
	system := authz.SystemActor(h.tenant)
	users := &account.Users{Repo: db, Now: clock}
	tenants := &account.Tenants{Repo: db, Now: clock}
	other, err := tenants.Create(ctx, system, account.NewTenant{ID: "ten_beta", Name: "Beta", Slug: otherSlug})
	if err != nil {
		t.Fatal(err)
	}
	h.other = other.ID
	everything := make([]string, 0)
	for _, p := range authz.AllPermissions() {
		everything = append(everything, string(p))
	}
	for _, role := range roleTokens {
		var roles []string
		if role != "none" {
			roles = []string{role}
		}
		u, err := users.Create(ctx, system, account.NewUser{Email: role + "@example.com", Name: role, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		h.users[role] = u
		h.tokens["tok-"+role] = tokenEntry{"", Token{TenantID: h.tenant, DefaultTenant: true, Subject: u.ID,
			ClientID: provision.CLIClientID, Scopes: everything}}
	}
	if h.otherAdmin, err = users.Create(ctx, authz.SystemActor(h.other),
		account.NewUser{Email: "admin@beta.example", Roles: []string{authz.SuperAdmin}}); err != nil {
		t.Fatal(err)
	}
	h.tokens["tok-other"] = tokenEntry{otherSlug, Token{TenantID: h.other, Subject: h.otherAdmin.ID,
		ClientID: "lkc_beta_console", Scopes: everything}}
	adminClient, err := db.Client(ctx, provision.AdminClientID)
	if err != nil {
		t.Fatal(err)
	}
	h.tokens[adminToken] = tokenEntry{"", Token{TenantID: h.tenant, DefaultTenant: true, Subject: adminClient.ID,
		ClientID: adminClient.ID, Scopes: adminClient.Scopes, Client: adminClient}}

	h.svc = &client.Service{Repo: db, Now: clock}
	h.api = &API{Clients: h.svc, Users: users, Tenants: tenants, Accounts: db,
		Roles: &account.Roles{Repo: db, Now: clock}, Divisions: &account.Divisions{Repo: db, Now: clock}, Audit: db, Idempotency: db,
		Issuer: "https://auth.example", Now: clock,
		Authenticate: func(_ context.Context, slug, tok string) (*Token, error) {
			switch slug {
			case "", otherSlug:
			default:
				return nil, account.ErrNotFound
			}
			e, ok := h.tokens[tok]
			if !ok || e.slug != slug {
				return nil, nil
			}
			t := e.tok
			return &t, nil
		}}
	sealer, err := notify.NewSealer(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h.api.Notify = &notify.Service{Store: db, Roles: db, Clients: h.svc, Seal: sealer.Seal, Now: clock}
	bulkSealer, err := bulk.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h.api.Bulk = &bulk.Service{Store: db, Clients: h.svc, Sealer: bulkSealer, Now: clock}
	h.bulkRunner = &bulk.Runner{Store: db, Clients: h.svc, Sealer: bulkSealer, Owner: "harness", Now: clock}
	h.api.MailLink = func(d notify.MailData) string { return "https://auth.example/console/clients/" + d.ClientID }
	h.mux = http.NewServeMux()
	h.api.Mount(h.mux)
	return h
}

// response is one answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
	// sentBody is the request's body as sent.
	sentBody []byte
}

func (r *response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// problem decodes a problem details body.
func (r *response) problem(t testing.TB) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (status %d, body %s)", ct, r.status, r.body)
	}
	var p Problem
	r.json(t, &p)
	if p.Status != r.status || p.Type != ProblemType+p.Code || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, r.status)
	}
	return p
}

// request is one call of the API.
type request struct {
	method, path, token string
	body                any // a string is sent as is, anything else as JSON
	contentType         string
	header              http.Header
	// pattern is the route's path, for checking the response against
	// the OpenAPI document; "" skips that check.
	pattern string
}

func (h *harness) do(rq request) *response {
	h.t.Helper()
	var body io.Reader
	var sent []byte
	switch b := rq.body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		sent = buf
	}
	if rq.body != nil {
		body = bytes.NewReader(sent)
	}
	r := httptest.NewRequest(rq.method, rq.path, body)
	r.RemoteAddr = "192.0.2.10:5555"
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if body != nil {
		ct := rq.contentType
		if ct == "" {
			ct = "application/json"
		}
		r.Header.Set("Content-Type", ct)
	}
	for k, vs := range rq.header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	// As the server mounts it: behind the request-ID middleware.
	reqid.Middleware(h.mux).ServeHTTP(w, r)
	resp := &response{status: w.Code, header: w.Header(), body: w.Body.Bytes(), sentBody: sent}
	if rq.pattern != "" {
		checkResponse(h.t, rq.method, rq.pattern, resp.status, resp.header.Get("Content-Type"), resp.body)
	}
	return resp
}

// newClient registers a confidential client_credentials client in the
// default tenant and returns its ID and its secret's ID.
func (h *harness) newClient(name string) (id, secretID string) {
	h.t.Helper()
	c, sec, err := h.svc.Create(context.Background(), authz.SystemActor(h.tenant), client.CreateParams{
		Name: name, GrantTypes: []client.GrantType{client.GrantClientCredentials}, Scopes: []string{"read"}})
	if err != nil {
		h.t.Fatal(err)
	}
	return c.ID, sec.ID
}
