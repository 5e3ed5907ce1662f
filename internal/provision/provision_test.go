package provision_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/store"
)

const issuer = "https://id.example.com"

// openStore opens (and migrates) an SQLite database in path, closed at
// cleanup.
func openStore(t *testing.T, path string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newStore(t *testing.T) store.Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "latchkey.db"))
}

func run(t *testing.T, st provision.Store) *provision.Result {
	t.Helper()
	res, err := provision.Run(context.Background(), st, provision.Params{Issuer: issuer, AdminPassword: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func get(t *testing.T, st store.Store, id string) *client.Client {
	t.Helper()
	c, err := st.Client(context.Background(), id)
	if err != nil {
		t.Fatalf("client %s: %v", id, err)
	}
	return c
}

func TestFirstStartProvisionsTheCLIClient(t *testing.T) {
	st := newStore(t)
	res := run(t, st)
	if !res.CreatedTenant || !res.CreatedAdmin || !res.AdminClient || !res.ConsoleClient || !res.CLIClient {
		t.Fatalf("first start made %+v", res)
	}
	cli := get(t, st, provision.CLIClientID)
	want := []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken}
	if cli.Type != client.Public || cli.TokenEndpointAuthMethod != client.AuthNone || !cli.Protected ||
		!slices.Equal(cli.GrantTypes, want) || cli.TenantID != res.Tenant.ID || cli.Status != client.StatusActive {
		t.Errorf("latchkey-cli: %+v", cli)
	}
	scopes := []string{"openid", "profile", "email"}
	for _, p := range authz.AllPermissions() {
		scopes = append(scopes, string(p))
	}
	if scopes = append(scopes, "offline_access"); !slices.Equal(cli.Scopes, scopes) {
		t.Errorf("latchkey-cli scopes %v", cli.Scopes)
	}
	// A terminal tool listens on whatever port the OS gives it.
	for _, uri := range []string{"http://127.0.0.1/callback", "http://127.0.0.1:53117/callback"} {
		if _, ok := cli.MatchRedirectURI(uri); !ok {
			t.Errorf("latchkey-cli does not accept %s", uri)
		}
	}
	if _, ok := cli.MatchRedirectURI("http://127.0.0.1:53117/other"); ok {
		t.Error("latchkey-cli accepts another loopback path")
	}
	// The CLI client may ask for whatever the console may, and more.
	console := get(t, st, provision.ConsoleClientID)
	if console.TokenEndpointAuthMethod != client.AuthNone || console.Type != client.Public {
		t.Errorf("latchkey-console: %+v", console)
	}
	for _, s := range console.Scopes {
		if !slices.Contains(cli.Scopes, s) {
			t.Errorf("latchkey-cli lacks the console's scope %q", s)
		}
	}
	if admin := get(t, st, provision.AdminClientID); admin.TokenEndpointAuthMethod != client.AuthSecretBasic {
		t.Errorf("latchkey-admin authenticates with %q", admin.TokenEndpointAuthMethod)
	}
}

func TestRestartProvisionsNothing(t *testing.T) {
	st := newStore(t)
	first := run(t, st)
	again := run(t, st)
	if again.CreatedTenant || again.CreatedAdmin || again.AdminClient || again.ConsoleClient || again.CLIClient ||
		again.AdminPassword != "" || again.AdminClientSecret != "" {
		t.Errorf("a restart made %+v", again)
	}
	if again.Tenant.ID != first.Tenant.ID || again.Admin.ID != first.Admin.ID {
		t.Errorf("a restart found another tenant or admin: %+v", again)
	}
	page, err := st.ListClients(context.Background(), client.ListQuery{TenantID: first.Tenant.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 3 {
		t.Errorf("%d clients after two starts, want 3", page.Total)
	}
}

// A database provisioned by a release without the CLI client gains it at
// its next start, and nothing else.
func TestEarlierDatabaseGainsTheCLIClient(t *testing.T) {
	st := newStore(t)
	run(t, st)
	err := st.InTx(context.Background(), func(tx client.Tx) error { return tx.DeleteClient(context.Background(), provision.CLIClientID) })
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, st)
	if !res.CLIClient || res.CreatedTenant || res.CreatedAdmin || res.AdminClient || res.ConsoleClient {
		t.Errorf("the next start made %+v, want the CLI client only", res)
	}
	get(t, st, provision.CLIClientID)
}

// Instances starting at once on one database end with exactly one of
// each default, and exactly one of them says it made it.
func TestConcurrentStartsMakeOneOfEach(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	const n = 3
	stores := make([]store.Store, n)
	for i := range stores {
		stores[i] = openStore(t, path)
	}
	results := make([]*provision.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = provision.Run(context.Background(), stores[i], provision.Params{Issuer: issuer, AdminPassword: "correct horse battery staple"})
		})
	}
	wg.Wait()
	var tenants, admins, adminClients, consoles, clis int
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		for _, c := range []struct {
			made bool
			n    *int
		}{{r.CreatedTenant, &tenants}, {r.CreatedAdmin, &admins}, {r.AdminClient, &adminClients},
			{r.ConsoleClient, &consoles}, {r.CLIClient, &clis}} {
			if c.made {
				*c.n++
			}
		}
		if r.Tenant.ID != results[0].Tenant.ID {
			t.Errorf("instance %d found tenant %s, instance 0 %s", i, r.Tenant.ID, results[0].Tenant.ID)
		}
	}
	if tenants != 1 || admins != 1 || adminClients != 1 || consoles != 1 || clis != 1 {
		t.Errorf("made: tenant %d, admin %d, admin client %d, console %d, CLI %d; want one each",
			tenants, admins, adminClients, consoles, clis)
	}
}

// failingStore fails reading one client, as a database gone away would.
type failingStore struct {
	store.Store
	id string
}

var errDown = errors.New("database went away")

func (f failingStore) Client(ctx context.Context, id string) (*client.Client, error) {
	if id == f.id {
		return nil, errDown
	}
	return f.Store.Client(ctx, id)
}

func TestRunReportsWhatFailed(t *testing.T) {
	for _, tt := range []struct{ id, want string }{
		{provision.AdminClientID, "provision admin client"},
		{provision.ConsoleClientID, "provision console client"},
		{provision.CLIClientID, "provision CLI client"},
	} {
		_, err := provision.Run(context.Background(), failingStore{newStore(t), tt.id}, provision.Params{Issuer: issuer})
		if !errors.Is(err, errDown) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("reading %s failed: Run = %v, want %q wrapping the cause", tt.id, err, tt.want)
		}
	}
	// A refusal other than "taken" is an error, not a silent skip: an
	// issuer that makes no valid redirect URI.
	_, err := provision.Run(context.Background(), newStore(t), provision.Params{Issuer: "ftp://id.example.com"})
	var ve *client.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "provision console client") {
		t.Errorf("an unusable issuer: Run = %v", err)
	}
}

// A console or CLI client provisioned before the admin API existed gains
// the admin permission scopes at the next start, keeping any scope an
// operator added.
func TestEarlierClientsGainThePermissionScopes(t *testing.T) {
	st := newStore(t)
	run(t, st)
	ctx := context.Background()
	svc := &client.Service{Repo: st}
	actor := client.SystemActor(get(t, st, provision.CLIClientID).TenantID)
	old := []string{"openid", "profile", "email", "offline_access", "custom:read"}
	if _, err := svc.Update(ctx, actor, provision.CLIClientID, client.UpdateParams{Scopes: &old, Confirm: true}); err != nil {
		t.Fatal(err)
	}
	run(t, st)
	got := get(t, st, provision.CLIClientID).Scopes
	for _, want := range []string{"custom:read", "offline_access", string(authz.ClientView), string(authz.UsersManage)} {
		if !slices.Contains(got, want) {
			t.Errorf("after the restart latchkey-cli lacks %s: %v", want, got)
		}
	}
}
