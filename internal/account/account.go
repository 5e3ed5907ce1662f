// Package account holds tenants and the people who use Latchkey: admins of
// the console and API, and end users who approve applications.
package account

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/token"
)

// Sentinel errors: the shared ones of package errs under this package's
// names, so one table (admin.Classify) maps every domain's. Storage
// adapters return them for missing and duplicate records.
var (
	ErrNotFound = errs.ErrNotFound
	ErrConflict = errs.ErrConflict
	// ErrInUse means a role or division is still held or used: it is
	// not removed.
	ErrInUse = errs.ErrInUse
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
	Default bool
	// RequireAdminMFA makes every admin of the tenant (a user whose
	// grants carry any permission) prove a second factor before the
	// console lets them in, setting one up first if they have none (seed
	// Genesys: "Requires MFA for admin access").
	RequireAdminMFA bool
	CreatedAt       time.Time
}

// UserStatus says whether a user may sign in.
type UserStatus string

const (
	UserActive UserStatus = "active"
	// UserDisabled users cannot sign in; disabling ends their sessions
	// and their applications' refresh and access tokens.
	UserDisabled UserStatus = "disabled"
)

// User is a person with a password login.
type User struct {
	ID       string
	TenantID string
	// Status is UserActive or UserDisabled; empty reads as UserActive.
	Status UserStatus
	// Email is unique within a tenant, compared case-insensitively (stored
	// lower-cased).
	Email string
	Name  string
	// PasswordHash is an argon2id PHC string; empty disables password login.
	PasswordHash string
	// Roles are the user's grants: role names, each held tenant-wide or,
	// as role@division, in one division (see authz.Grant).
	Roles []string
	// DivisionID is the division of the tenant the user belongs to
	// (authz.HomeDivision unless put elsewhere): an admin manages the user
	// only with users:manage tenant-wide or in that division. Empty reads
	// as the home division.
	DivisionID string
	// Locale is a BCP 47 tag such as "en" or "nb"; it picks the language of
	// mail sent to the user.
	Locale string
	// PasswordChangeRequired is set when someone other than the user chose
	// their password (generated at first start, or set by an admin): the
	// console asks them to choose their own before anything else. Setting
	// their own password clears it.
	PasswordChangeRequired bool
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Active reports whether the user may sign in.
func (u *User) Active() bool { return u.Status != UserDisabled }

// Division returns the user's division, the home division when unset.
func (u *User) Division() string {
	if u.DivisionID == "" {
		return authz.HomeDivision
	}
	return u.DivisionID
}

// Division is a part of a tenant that clients and users belong to (seed
// Genesys): roles are granted in every division or in one. Every tenant
// has the home division, authz.HomeDivision, from its creation.
type Division struct {
	TenantID  string
	ID        string
	Name      string
	CreatedAt time.Time
}

// Session is a signed-in browser: the ID its cookie carries is a random
// value stored only as its hash.
type Session struct {
	// ID is a public identifier, for the records (the code's sid).
	ID string
	// Hash is the SHA-256 of the cookie value, base64url.
	Hash     string
	TenantID string
	UserID   string
	// AuthTime is when the user entered their password.
	AuthTime  time.Time
	CreatedAt time.Time
	// ExpiresAt ends the session however active it is.
	ExpiresAt time.Time
	// LastSeenAt is the session's last activity, kept to about a minute
	// (see Sessions.Touch): the console ends a session idle too long.
	LastSeenAt time.Time
	// Methods say how the user proved who they are, as RFC 8176
	// authentication method references ("pwd", "otp", "hwk", "mfa" ...),
	// in the order they were proved.
	Methods []string
}

// Consent is what a user approved for an application: remembered per
// user, client and scope set, listed on the "Authorized applications"
// page, and forgotten when revoked.
type Consent struct {
	TenantID string
	UserID   string
	ClientID string
	// Scopes are every scope approved so far, sorted.
	Scopes []string
	// FirstAt is the first approval; LastAt the latest authorization.
	FirstAt time.Time
	LastAt  time.Time
}

// Repository is the persistence of tenants, their divisions and roles,
// and users.
type Repository interface {
	// RoleSource reads a tenant's custom roles.
	authz.RoleSource
	// MFAReader reads users' second factors.
	MFAReader
	// CreateTenant stores a new tenant with its home division, in one
	// transaction. It returns ErrConflict when the ID or the slug is
	// taken, or when t is the default and another tenant already is.
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
	// RenewPasswordHash replaces the user's password hash with renewed
	// only while it is still old: a password changed in the meantime is
	// kept, and no error says so. It changes nothing else (the user's
	// update time included): the password is the same.
	RenewPasswordHash(ctx context.Context, userID, old, renewed string) error
	// Users returns a tenant's users ordered by email.
	Users(ctx context.Context, tenantID string) ([]User, error)
	// Divisions returns a tenant's divisions, the home division first and
	// the others by name.
	Divisions(ctx context.Context, tenantID string) ([]Division, error)
	// SessionByHash returns the session whose cookie value has this hash,
	// expired or not, or ErrNotFound.
	SessionByHash(ctx context.Context, hash string) (*Session, error)
	// TouchSession moves the last activity of the session with this ID
	// forward to at. A missing session, or one already seen at or after
	// at, is left as it is: not an error.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// Consent returns what the user approved for the client, or
	// ErrNotFound.
	Consent(ctx context.Context, userID, clientID string) (*Consent, error)
	// Consents returns a user's consents, latest authorization first.
	Consents(ctx context.Context, userID string) ([]Consent, error)
	// PruneSessions deletes sessions that expired before t.
	PruneSessions(ctx context.Context, t time.Time) error
	// InAccountTx runs fn in one transaction, committed when fn returns
	// nil and rolled back otherwise.
	InAccountTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is the write side of the account domain inside InAccountTx: the
// store's one unit of work, with the other domains' writes that must
// commit with an account change (its audit event).
type Tx interface {
	audit.Appender
	// Revoker ends the refresh tokens and access tokens of a user
	// disabled or of an application whose consent is revoked, in the
	// same transaction.
	token.Revoker
	// GrantRefs reads the tenant's roles and divisions, holding those read
	// until the transaction ends, so none is deleted while it is
	// assigned.
	authz.GrantRefs
	// CreateTenant stores a new tenant with its home division.
	CreateTenant(ctx context.Context, t *Tenant) error
	// LockTenant returns the tenant and holds it until the transaction
	// ends, or ErrNotFound.
	LockTenant(ctx context.Context, id string) (*Tenant, error)
	// UpdateTenant writes a tenant's settings (RequireAdminMFA), or
	// returns ErrNotFound.
	UpdateTenant(ctx context.Context, t *Tenant) error
	// MFATx writes users' second factors.
	MFATx
	CreateUser(ctx context.Context, u *User) error
	// LockUser returns the user and holds it until the transaction ends,
	// or ErrNotFound.
	LockUser(ctx context.Context, id string) (*User, error)
	UpdateUser(ctx context.Context, u *User) error
	CreateSession(ctx context.Context, s *Session) error
	// DeleteSession deletes the session with this hash; a missing one is
	// not an error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteUserSessions deletes every session of the user.
	DeleteUserSessions(ctx context.Context, userID string) error
	// DeleteOtherSessions deletes every session of the user but the one
	// with the ID keepID.
	DeleteOtherSessions(ctx context.Context, userID, keepID string) error
	// SetSessionMethods replaces the sign-in methods of the session with
	// this ID, or returns ErrNotFound when there is none.
	SetSessionMethods(ctx context.Context, id string, methods []string) error
	// Consent returns the user's consent for the client, read in the
	// transaction, or ErrNotFound.
	Consent(ctx context.Context, userID, clientID string) (*Consent, error)
	// PutConsent stores c, replacing the user's consent for the client.
	PutConsent(ctx context.Context, c *Consent) error
	// DeleteConsent forgets the user's consent for the client; a missing
	// one is not an error.
	DeleteConsent(ctx context.Context, userID, clientID string) error

	// CreateDivision stores a new division, or returns ErrConflict when
	// the tenant has one with its ID.
	CreateDivision(ctx context.Context, d *Division) error
	// LockDivision returns the division and holds it until the
	// transaction ends, or ErrNotFound.
	LockDivision(ctx context.Context, tenantID, id string) (*Division, error)
	// UpdateDivision writes a division's name.
	UpdateDivision(ctx context.Context, d *Division) error
	// DeleteDivision removes a division; ErrNotFound when there is none.
	DeleteDivision(ctx context.Context, tenantID, id string) error
	// DivisionUse counts what names the division: the clients and users
	// in it, and the clients and users holding a role in it.
	DivisionUse(ctx context.Context, tenantID, id string) (Use, error)

	// CreateRole stores a new custom role of the tenant, or returns
	// ErrConflict when it has one of that name.
	CreateRole(ctx context.Context, tenantID string, r *authz.Role) error
	// LockRole returns the custom role and holds it until the
	// transaction ends, or ErrNotFound.
	LockRole(ctx context.Context, tenantID, name string) (*authz.Role, error)
	// UpdateRole writes a custom role's description, permissions and
	// UpdatedAt.
	UpdateRole(ctx context.Context, tenantID string, r *authz.Role) error
	// DeleteRole removes a custom role; ErrNotFound when there is none.
	DeleteRole(ctx context.Context, tenantID, name string) error
	// RoleUse counts the clients and users holding the role, tenant-wide
	// or in any division.
	RoleUse(ctx context.Context, tenantID, name string) (Use, error)
}

// Use counts the users and clients that name a division or a role.
type Use struct {
	Users   int
	Clients int
}

// None reports whether nothing names it.
func (u Use) None() bool { return u.Users == 0 && u.Clients == 0 }
