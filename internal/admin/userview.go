package admin

import (
	"time"

	"github.com/latchkey/latchkey/internal/account"
)

// User is the JSON form of a user. The password hash is never part of it;
// PasswordSet says whether there is one.
type User struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenant_id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Roles       []string  `json:"roles"`
	Locale      string    `json:"locale"`
	DivisionID  string    `json:"division_id"`
	PasswordSet bool      `json:"password_set"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewUser returns the JSON form of u.
func NewUser(u *account.User) User {
	st := account.UserActive
	if !u.Active() {
		st = account.UserDisabled
	}
	return User{ID: u.ID, TenantID: u.TenantID, Email: u.Email, Name: u.Name, Status: string(st),
		Roles: nonNil(u.Roles), Locale: u.Locale, DivisionID: u.Division(), PasswordSet: u.PasswordHash != "",
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// Tenant is the JSON form of a tenant, with the issuer it is served at.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Default   bool      `json:"default"`
	Issuer    string    `json:"issuer"`
	CreatedAt time.Time `json:"created_at"`
}

// NewTenant returns the JSON form of t under the root issuer.
func NewTenant(t *account.Tenant, rootIssuer string) Tenant {
	iss := rootIssuer
	if !t.Default {
		iss = rootIssuer + "/t/" + t.Slug
	}
	return Tenant{ID: t.ID, Name: t.Name, Slug: t.Slug, Default: t.Default, Issuer: iss, CreatedAt: t.CreatedAt}
}
