// Package provision gives an empty database what a first start needs: the
// default tenant (the one the root issuer serves), a super admin, and the protected default clients (seed
// ThetaSecure). Each step checks whether it was already done, so a start
// that crashed half-way, or several instances starting at once, end with
// exactly one of each.
package provision

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
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

	if _, err := st.Client(ctx, AdminClientID); errors.Is(err, client.ErrNotFound) {
		lifetime := time.Duration(0) // generated: the default expiry, with warnings
		if p.AdminClientSecret != "" {
			lifetime = client.NeverExpires // the operator manages it
		}
		perms := authz.AllPermissions()
		scopes := make([]string, len(perms))
		for i, perm := range perms {
			scopes[i] = string(perm)
		}
		_, sec, err := svc.Create(ctx, actor, client.CreateParams{
			ClientID: AdminClientID, Name: "Latchkey admin API",
			Description: "Provisioned at first start for the admin API. Protected: it cannot be deleted.",
			GrantTypes:  []client.GrantType{client.GrantClientCredentials},
			Scopes:      scopes, Roles: []string{authz.SuperAdmin}, OwnerUserID: res.Admin.ID,
			Protected: true, Secret: p.AdminClientSecret, SecretLifetime: lifetime,
		})
		switch {
		case isTaken(err):
		case err != nil:
			return nil, fmt.Errorf("provision admin client: %w", err)
		default:
			res.AdminClient = true
			if p.AdminClientSecret == "" {
				res.AdminClientSecret = sec.Plaintext
			}
		}
	} else if err != nil {
		return nil, err
	}

	if _, err := st.Client(ctx, ConsoleClientID); errors.Is(err, client.ErrNotFound) {
		base := strings.TrimSuffix(p.Issuer, "/")
		_, _, err := svc.Create(ctx, actor, client.CreateParams{
			ClientID: ConsoleClientID, Name: "Latchkey console and CLI", Type: client.Public,
			Description: "Provisioned at first start for the web console and the CLI. Protected: it cannot be deleted.",
			GrantTypes:  []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken},
			// The loopback URI lets a CLI sign in through the browser on any port.
			RedirectURIs: []string{base + "/console/callback", "http://127.0.0.1/callback"},
			Scopes:       []string{"openid", "profile", "email"},
			Protected:    true,
		})
		switch {
		case isTaken(err):
		case err != nil:
			return nil, fmt.Errorf("provision console client: %w", err)
		default:
			res.ConsoleClient = true
		}
	} else if err != nil {
		return nil, err
	}
	return res, nil
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
	u = &account.User{ID: id, TenantID: res.Tenant.ID, Email: email, Name: "Super admin", PasswordHash: hash,
		Roles: []string{authz.SuperAdmin}, Locale: "en", CreatedAt: now, UpdatedAt: now}
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
