// Package provision gives an empty database what a first start needs: the
// default tenant (the one the root issuer serves), a super admin, and the
// protected default clients: the admin API's, the console's and the
// command-line tools' (seed ThetaSecure). Each step checks whether it was already done, so a start
// that crashed half-way, or several instances starting at once, end with
// exactly one of each.
package provision

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// IDs of the default clients.
const (
	AdminClientID   = "latchkey-admin"
	ConsoleClientID = "latchkey-console"
	// CLIClientID is the public client of tools that sign a person in
	// from a terminal (authorization code with PKCE, loopback redirect).
	CLIClientID = "latchkey-cli"
)

// Params configure the first start. Empty credentials are generated.
type Params struct {
	// Issuer is the server's public base URL; the console client's
	// redirect URI is derived from it.
	Issuer            string
	AdminEmail        string // default "admin@localhost"
	AdminPassword     string
	AdminClientSecret string
	Now               func() time.Time
	Random            io.Reader
}

// Result says what was created. Generated credentials appear here exactly
// once, for the caller to print; they are never logged.
type Result struct {
	Tenant            *account.Tenant
	CreatedTenant     bool
	Admin             *account.User
	CreatedAdmin      bool
	AdminPassword     string // set only when generated
	AdminClient       bool   // created now
	AdminClientSecret string // set only when generated
	ConsoleClient     bool   // created now
	CLIClient         bool   // created now, at a first start or the first start of a release that has it
}

// Store is what provisioning writes to.
type Store interface {
	account.Repository
	client.Repository
}

// Run provisions whatever of the defaults is missing.
func Run(ctx context.Context, st Store, p Params) (*Result, error) {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Random == nil {
		p.Random = rand.Reader
	}
	if p.AdminEmail == "" {
		p.AdminEmail = "admin@localhost"
	}
	res := &Result{}
	var err error
	if res.Tenant, res.CreatedTenant, err = ensureTenant(ctx, st, p); err != nil {
		return nil, err
	}
	if err := ensureAdmin(ctx, st, p, res); err != nil {
		return nil, err
	}
	svc := &client.Service{Repo: st, Now: p.Now, Random: p.Random}
	actor := client.SystemActor(res.Tenant.ID)

	lifetime := time.Duration(0) // generated: the default expiry, with warnings
	if p.AdminClientSecret != "" {
		lifetime = client.NeverExpires // the operator manages it
	}
	perms := authz.AllPermissions()
	adminScopes := make([]string, len(perms))
	for i, perm := range perms {
		adminScopes[i] = string(perm)
	}
	created, sec, err := ensureClient(ctx, st, svc, actor, client.CreateParams{
		ClientID: AdminClientID, Name: "Latchkey admin API",
		Description: "Provisioned at first start for the admin API. Protected: it cannot be deleted.",
		GrantTypes:  []client.GrantType{client.GrantClientCredentials},
		Scopes:      adminScopes, Roles: []string{authz.SuperAdmin}, OwnerUserID: res.Admin.ID,
		Protected: true, Secret: p.AdminClientSecret, SecretLifetime: lifetime,
	})
	if err != nil {
		return nil, fmt.Errorf("provision admin client: %w", err)
	}
	if res.AdminClient = created; created && p.AdminClientSecret == "" {
		res.AdminClientSecret = sec.Plaintext
	}

	base := strings.TrimSuffix(p.Issuer, "/")
	if res.ConsoleClient, _, err = ensureClient(ctx, st, svc, actor, client.CreateParams{
		ClientID: ConsoleClientID, Name: "Latchkey console and CLI", Type: client.Public,
		Description: "Provisioned at first start for the web console and the CLI. Protected: it cannot be deleted.",
		GrantTypes:  []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken},
		// The loopback URI lets a CLI sign in through the browser on any port.
		RedirectURIs:            []string{base + "/console/callback", loopbackCallback},
		Scopes:                  consoleScopes(),
		TokenEndpointAuthMethod: client.AuthNone,
		Protected:               true,
	}); err != nil {
		return nil, fmt.Errorf("provision console client: %w", err)
	}

	// A database provisioned before the CLI client existed gains it at
	// its next start: every step runs on every start.
	if res.CLIClient, _, err = ensureClient(ctx, st, svc, actor, client.CreateParams{
		ClientID: CLIClientID, Name: "Latchkey command-line tools", Type: client.Public,
		Description: "Provisioned for tools that sign a person in from a terminal, through the browser. Protected: it cannot be deleted.",
		GrantTypes:  []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken},
		// A terminal tool listens on a port the OS picks: loopback
		// redirect URIs match on any port (RFC 8252 §7.3).
		RedirectURIs: []string{loopbackCallback},
		// offline_access: a tool keeps its refresh token between runs
		// instead of opening the browser every time.
		Scopes:                  append(consoleScopes(), "offline_access"),
		TokenEndpointAuthMethod: client.AuthNone,
		Protected:               true,
	}); err != nil {
		return nil, fmt.Errorf("provision CLI client: %w", err)
	}
	return res, nil
}

// loopbackCallback is the redirect URI of the clients that sign in from a
// terminal; any port matches it.
const loopbackCallback = "http://127.0.0.1/callback"

// consoleScopes are the scopes of the clients a person signs in with: the
// console's, which the CLI client shares so a tool at the terminal may
// ask for what the console may.
// The admin permissions are among them: the admin API serves a person
// through these clients only within those scopes, and only with the
// permissions the person's roles hold.
func consoleScopes() []string {
	out := []string{"openid", "profile", "email"}
	for _, p := range authz.AllPermissions() {
		out = append(out, string(p))
	}
	return out
}

// ensureClient creates the default client p describes unless it exists.
// It reports whether this call created it, with the secret it issued.
// Another instance creating it first is not an error.
func ensureClient(ctx context.Context, st Store, svc *client.Service, actor client.Actor, p client.CreateParams) (bool, *client.IssuedSecret, error) {
	c, err := st.Client(ctx, p.ClientID)
	if err == nil {
		// A client provisioned by an older version gains the scopes
		// this one provisions, and keeps any an operator added.
		var missing []string
		for _, sc := range p.Scopes {
			if !slices.Contains(c.Scopes, sc) {
				missing = append(missing, sc)
			}
		}
		if len(missing) > 0 {
			scopes := append(slices.Clone(c.Scopes), missing...)
			if _, err := svc.Update(ctx, actor, c.ID, client.UpdateParams{Scopes: &scopes, Confirm: true}); err != nil {
				return false, nil, fmt.Errorf("add scopes %v to %s: %w", missing, c.ID, err)
			}
		}
		return false, nil, nil
	}
	if !errors.Is(err, client.ErrNotFound) {
		return false, nil, err
	}
	_, sec, err := svc.Create(ctx, actor, p)
	switch {
	case isTaken(err):
		return false, nil, nil
	case err != nil:
		return false, nil, err
	}
	return true, sec, nil
}

// isTaken reports whether Create failed because another instance created
// the same client first.
func isTaken(err error) bool {
	var ve *client.ValidationError
	return errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields[0].Field == "client_id" &&
		strings.Contains(ve.Fields[0].Message, "already taken")
}

// DefaultTenantSlug is the slug of the tenant a first start makes. The
// default tenant is served at the root issuer, not under its slug; the
// slug names it to the CLI.
const DefaultTenantSlug = "default"

// ensureTenant finds or makes the default tenant, the one the root issuer
// serves. Instances starting at once race to make it; the store keeps at
// most one default, so the losers find the winner's.
func ensureTenant(ctx context.Context, st Store, p Params) (*account.Tenant, bool, error) {
	for range 2 {
		t, err := st.DefaultTenant(ctx)
		if err == nil {
			return t, false, nil
		}
		if !errors.Is(err, account.ErrNotFound) {
			return nil, false, err
		}
		id, err := client.NewID(p.Random, "ten_")
		if err != nil {
			return nil, false, err
		}
		t = &account.Tenant{ID: id, Name: "Default", Slug: DefaultTenantSlug, Default: true, CreatedAt: p.Now().UTC()}
		if err := st.CreateTenant(ctx, t); err == nil {
			return t, true, nil
		} else if !errors.Is(err, account.ErrConflict) {
			return nil, false, fmt.Errorf("provision tenant: %w", err)
		}
	}
	return nil, false, fmt.Errorf("provision tenant: no default tenant, and one cannot be made (is the slug %q taken?)", DefaultTenantSlug)
}

func ensureAdmin(ctx context.Context, st Store, p Params, res *Result) error {
	email := strings.ToLower(strings.TrimSpace(p.AdminEmail))
	u, err := st.UserByEmail(ctx, res.Tenant.ID, email)
	if err == nil {
		res.Admin = u
		return nil
	}
	if !errors.Is(err, account.ErrNotFound) {
		return err
	}
	password := p.AdminPassword
	if password == "" {
		if password, err = client.NewID(p.Random, ""); err != nil {
			return err
		}
		res.AdminPassword = password
	}
	hash, err := argon2id.Hash(p.Random, password, argon2id.Default)
	if err != nil {
		return err
	}
	id, err := client.NewID(p.Random, "usr_")
	if err != nil {
		return err
	}
	now := p.Now().UTC()
	// A generated password was chosen by no one: the admin is asked to
	// choose their own at their first console sign-in.
	u = &account.User{ID: id, TenantID: res.Tenant.ID, Email: email, Name: "Super admin", PasswordHash: hash,
		Roles: []string{authz.SuperAdmin}, Locale: "en", PasswordChangeRequired: res.AdminPassword != "",
		CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u); errors.Is(err, account.ErrConflict) {
		res.AdminPassword = ""
		res.Admin, err = st.UserByEmail(ctx, res.Tenant.ID, email)
		return err
	} else if err != nil {
		return fmt.Errorf("provision admin user: %w", err)
	}
	res.Admin, res.CreatedAdmin = u, true
	return nil
}
