package adminclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/admin/adminclient"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// site is the real admin API over a real SQLite store, provisioned as a
// first start does, served by httptest; each token stands for a user of
// the default tenant (the protocol's checks of tokens are tested with
// the protocol). local is the same domain the CLI uses on the database.
type site struct {
	url   string
	svc   *client.Service
	users *account.Users
	actor authz.Actor // a super admin, as the API's admin token is
}

func newSite(t *testing.T) *site {
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
	res, err := provision.Run(ctx, db, provision.Params{Issuer: "https://auth.example"})
	if err != nil {
		t.Fatal(err)
	}
	tenant := res.Tenant.ID
	users := &account.Users{Repo: db}
	viewer, err := users.Create(ctx, authz.SystemActor(tenant), account.NewUser{Email: "viewer@example.com", Roles: []string{authz.Viewer}})
	if err != nil {
		t.Fatal(err)
	}
	var every []string
	for _, p := range authz.AllPermissions() {
		every = append(every, string(p))
	}
	tokens := map[string]string{"tok-admin": res.Admin.ID, "tok-viewer": viewer.ID}
	svc := &client.Service{Repo: db}
	api := &admin.API{Clients: svc, Users: users, Tenants: &account.Tenants{Repo: db}, Accounts: db,
		Roles: &account.Roles{Repo: db}, Divisions: &account.Divisions{Repo: db}, Audit: db, Idempotency: db,
		Issuer: "https://auth.example",
		Authenticate: func(_ context.Context, slug, tok string) (*admin.Token, error) {
			if slug != "" {
				return nil, errs.ErrNotFound
			}
			sub, ok := tokens[tok]
			if !ok {
				return nil, nil
			}
			return &admin.Token{TenantID: tenant, DefaultTenant: true, Subject: sub, ClientID: provision.CLIClientID, Scopes: every}, nil
		}}
	mux := http.NewServeMux()
	api.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &site{url: srv.URL, svc: svc, users: users,
		actor: authz.Actor{Kind: authz.KindUser, ID: res.Admin.ID, TenantID: tenant, Roles: []string{authz.SuperAdmin}}}
}

func (s *site) client(token string) *adminclient.Client {
	return &adminclient.Client{BaseURL: s.url, Token: func(context.Context) (string, error) { return token, nil }}
}

func TestClientLifecycle(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	c := s.client("tok-admin")
	created, err := c.CreateClient(ctx, client.CreateParams{Name: "Billing", Description: "Nightly export",
		GrantTypes: []client.GrantType{client.GrantClientCredentials}, Scopes: []string{"read"}, SecretLifetime: client.NeverExpires})
	if err != nil {
		t.Fatal(err)
	}
	if created.ClientSecret == "" || len(created.Secrets) != 1 || created.Secrets[0].ExpiresAt != nil {
		t.Fatalf("created %+v", created)
	}
	id := created.ClientID
	page, err := c.ListClients(ctx, adminclient.ListParams{Q: "billing", PageSize: 1})
	if err != nil || len(page.Clients) != 1 || page.Clients[0].ClientID != id || page.Total != 1 {
		t.Fatalf("list: %+v %v", page, err)
	}
	// Only the fields given change; an empty list is cleared, not reset.
	name, scopes := "Billing sync", []string{}
	updated, err := c.UpdateClient(ctx, id, client.UpdateParams{Name: &name, Scopes: &scopes})
	if err != nil || updated.Name != name || updated.Description != "Nightly export" || len(updated.Scopes) != 0 {
		t.Fatalf("update: %+v %v", updated, err)
	}
	stale := "v0"
	if _, err := c.UpdateClient(ctx, id, client.UpdateParams{Name: &name, IfVersion: stale}); !errors.Is(err, errs.ErrStale) {
		t.Errorf("update from an outdated copy: %v", err)
	}
	if v, err := c.SetClientStatus(ctx, id, adminclient.Deactivate, false); err != nil || v.Status != "inactive" {
		t.Fatalf("deactivate: %+v %v", v, err)
	}
	sec, err := c.RotateSecret(ctx, id, client.RotateParams{})
	if err != nil || sec.ClientID != id || sec.ClientSecret == "" || sec.ClientSecret == created.ClientSecret {
		t.Fatalf("rotate: %+v %v", sec, err)
	}
	if err := c.DeleteClient(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetClient(ctx, id); !errors.Is(err, errs.ErrNotFound) || err.Error() != "not found" {
		t.Errorf("get after delete: %v", err)
	}
}

// A refusal reads as the domain's own error: the same sentinel, the same
// text, the same fields as the service on the database gives.
func TestErrorsAreTheDomains(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	ac := s.client("tok-admin")
	bad := client.CreateParams{Name: "", GrantTypes: []client.GrantType{"magic"}, RedirectURIs: []string{"not a uri"}}
	_, _, localErr := s.svc.Create(ctx, s.actor, bad)
	_, err := ac.CreateClient(ctx, bad)
	var ve *errs.ValidationError
	if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Fields, errs.Fields(localErr)) || err.Error() != localErr.Error() {
		t.Errorf("invalid input: %v, want %v", err, localErr)
	}

	_, localErr = s.svc.SetStatus(ctx, s.actor, provision.AdminClientID, client.StatusInactive, false)
	_, err = ac.SetClientStatus(ctx, provision.AdminClientID, adminclient.Deactivate, false)
	if !errors.Is(err, errs.ErrProtected) || localErr == nil || err.Error() != localErr.Error() {
		t.Errorf("a protected client: %v, want %v", err, localErr)
	}

	_, err = s.client("tok-viewer").CreateClient(ctx, client.CreateParams{Name: "x", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	if !errors.Is(err, errs.ErrForbidden) || err.Error() != "permission denied: this needs the oauth:client:add permission" {
		t.Errorf("a viewer creating: %v", err)
	}

	_, err = s.client("tok-unknown").Me(ctx)
	if !errors.Is(err, adminclient.ErrUnauthorized) {
		t.Errorf("an unknown token: %v", err)
	}
	var pe *adminclient.Error
	if !errors.As(err, &pe) || pe.Problem.Status != http.StatusUnauthorized || pe.Problem.Code != "invalid_token" {
		t.Errorf("an unknown token's problem: %+v", pe)
	}
	tenant := &adminclient.Client{BaseURL: s.url + "/t/nope", Token: ac.Token}
	if _, err := tenant.Me(ctx); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("a tenant not served: %v", err)
	}
}

func TestUsers(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	c := s.client("tok-admin")
	u, err := c.CreateUser(ctx, account.NewUser{Email: "Ana@Example.com", Name: "Ana", Roles: []string{authz.Viewer}})
	if err != nil || u.Email != "ana@example.com" || u.PasswordSet {
		t.Fatalf("create: %+v %v", u, err)
	}
	found, err := c.FindUser(ctx, "ANA@example.com")
	if err != nil || found.ID != u.ID {
		t.Fatalf("find: %+v %v", found, err)
	}
	if _, err := c.FindUser(ctx, "nobody@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("find nobody: %v", err)
	}
	name := "Ana Lima"
	if v, err := c.UpdateUser(ctx, u.ID, account.UserChanges{Name: &name}); err != nil || v.Name != name || len(v.Roles) != 1 {
		t.Fatalf("update: %+v %v", v, err)
	}
	if v, err := c.SetUserStatus(ctx, u.ID, adminclient.Disable); err != nil || v.Status != "disabled" {
		t.Fatalf("disable: %+v %v", v, err)
	}
	if v, err := c.GetUser(ctx, u.ID); err != nil || v.Status != "disabled" {
		t.Fatalf("get: %+v %v", v, err)
	}
	me, err := c.Me(ctx)
	if err != nil || me.Kind != "user" || me.Name != "admin@localhost" {
		t.Errorf("me: %+v %v", me, err)
	}
}
