// Package account holds tenants and the people who use Latchkey: admins of
// the console and API, and end users who approve applications.
package account

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/errs"
)

// Sentinel errors: the shared ones of package errs under this package's
// names, so one table (admin.Classify) maps every domain's. Storage
// adapters return them for missing and duplicate records.
var (
	ErrNotFound = errs.ErrNotFound
	ErrConflict = errs.ErrConflict
)

// Tenant is an isolated organisation: its clients, users and admins never
// see another tenant's, and it has an issuer, discovery documents, a JWKS
// and signing keys of its own.
type Tenant struct {
	ID   string
	Name string
	// Slug names the tenant in its issuer URL, {issuer}/t/{slug} (see
	// ValidateSlug). It is unique and never changes. Empty for a tenant
	// made without one, which is then served only at the root issuer, if
	// it is the default.
	Slug string
	// Default marks the tenant the root issuer serves: the one the first
	// start provisioned. At most one tenant is the default.
	Default   bool
	CreatedAt time.Time
}

// User is a person with a password login.
type User struct {
	ID       string
	TenantID string
	// Email is unique within a tenant, compared case-insensitively (stored
	// lower-cased).
	Email string
	Name  string
	// PasswordHash is an argon2id PHC string; empty disables password login.
	PasswordHash string
	Roles        []string
	// Locale is a BCP 47 tag such as "en" or "nb"; it picks the language of
	// mail sent to the user.
	Locale    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Repository is the persistence of tenants and users.
type Repository interface {
	// CreateTenant stores a new tenant. It returns ErrConflict when the
	// ID or the slug is taken, or when t is the default and another
	// tenant already is.
	CreateTenant(ctx context.Context, t *Tenant) error
	Tenant(ctx context.Context, id string) (*Tenant, error)
	// TenantBySlug returns the tenant with this slug, or ErrNotFound.
	TenantBySlug(ctx context.Context, slug string) (*Tenant, error)
	// DefaultTenant returns the default tenant, or ErrNotFound when there
	// is none yet.
	DefaultTenant(ctx context.Context) (*Tenant, error)
	// Tenants returns every tenant, oldest first.
	Tenants(ctx context.Context) ([]Tenant, error)
	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, tenantID, email string) (*User, error)
	UpdateUser(ctx context.Context, u *User) error
	// Users returns a tenant's users ordered by email.
	Users(ctx context.Context, tenantID string) ([]User, error)
	// InAccountTx runs fn in one transaction, committed when fn returns
	// nil and rolled back otherwise.
	InAccountTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is the write side of the account domain inside InAccountTx: the
// store's one unit of work, with the other domains' writes that must
// commit with an account change (its audit event).
type Tx interface {
	audit.Appender
	CreateTenant(ctx context.Context, t *Tenant) error
}
