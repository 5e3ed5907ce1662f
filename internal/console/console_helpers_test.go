package console

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// The console's admins, beside the end users of newFixture (Ana holds no
// role at all).
const (
	rootEmail   = "root@example.com" // super_admin
	rootID      = "usr_root"
	opsEmail    = "ops@example.com" // oauth_admin
	opsID       = "usr_ops"
	viewerEmail = "viewer@example.com" // viewer
	viewerID    = "usr_viewer"
)

// consoleFixture is newFixture with the console served over the same
// SQLite store, through the domain services the server wires.
type consoleFixture struct {
	*fixture
	admin *Admin
}

func newConsoleFixture(t *testing.T, tweak ...func(*Config)) *consoleFixture {
	t.Helper()
	cf := &consoleFixture{}
	f := newFixture(t, "http://latchkey.test", append([]func(*Config){func(c *Config) {
		clock := c.Now
		db := c.Accounts.(*countingRepo).Repository.(*sqlite.DB)
		cf.admin = &Admin{
			Clients:   &client.Service{Repo: db, Now: clock},
			Users:     &account.Users{Repo: db, Now: clock, Hash: cheap},
			Roles:     &account.Roles{Repo: db, Now: clock},
			Divisions: &account.Divisions{Repo: db, Now: clock},
			Audit:     db, Chain: db,
			MailLink: func(d notify.MailData) string { return "http://latchkey.test/console/clients/" + d.ClientID },
		}
		sealer, err := notify.NewSealer(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		cf.admin.Notify = &notify.Service{Store: db, Roles: db, Clients: cf.admin.Clients, Seal: sealer.Seal, Now: clock}
		c.Admin = cf.admin
	}}, tweak...)...)
	cf.fixture = f
	ctx := context.Background()
	hash, err := argon2id.Hash(rand.Reader, password, cheap)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []account.User{
		{ID: rootID, Email: rootEmail, Name: "Root", Roles: []string{"super_admin"}},
		{ID: opsID, Email: opsEmail, Name: "Ops", Roles: []string{"oauth_admin"}},
		{ID: viewerID, Email: viewerEmail, Name: "Viewer", Roles: []string{"viewer"}},
	} {
		u.TenantID, u.Status, u.PasswordHash, u.Locale, u.CreatedAt, u.UpdatedAt = "ten_a", account.UserActive, hash, "en", t0, t0
		if err := f.db.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	return cf
}

// system is Latchkey itself in tenant ten_a, for arranging records.
var system = authz.SystemActor("ten_a")

// createClient makes a client in ten_a as the system and returns it with
// its secret (empty for a public client).
func (cf *consoleFixture) createClient(p client.CreateParams) (*client.Client, string) {
	cf.t.Helper()
	c, sec, err := cf.admin.Clients.Create(context.Background(), system, p)
	if err != nil {
		cf.t.Fatalf("creating client %q: %v", p.Name, err)
	}
	if sec == nil {
		return c, ""
	}
	return c, sec.Plaintext
}

// admin is a browser signed in as email.
func (cf *consoleFixture) signedIn(email string) *browser {
	cf.t.Helper()
	b := cf.browser()
	b.signIn(email)
	return b
}

// post submits a console form with the browser's CSRF token.
func (b *browser) post(path string, form url.Values) *response {
	b.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return b.submit(path, form)
}

func wantStatus(t *testing.T, r *response, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("status = %d, want %d (%s); body:\n%s", r.Code, code, http.StatusText(code), r.Body)
	}
}
