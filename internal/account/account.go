// Package account holds tenants and the people who use Latchkey: admins of
// the console and API, and end users who approve applications.
package account

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors; storage adapters return them for missing and duplicate
// records.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// Tenant is an isolated organisation: its clients, users and admins never
// see another tenant's.
type Tenant struct {
	ID        string
	Name      string
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
	CreateTenant(ctx context.Context, t *Tenant) error
	Tenant(ctx context.Context, id string) (*Tenant, error)
	// Tenants returns every tenant, oldest first.
	Tenants(ctx context.Context) ([]Tenant, error)
	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, tenantID, email string) (*User, error)
	UpdateUser(ctx context.Context, u *User) error
	// Users returns a tenant's users ordered by email.
	Users(ctx context.Context, tenantID string) ([]User, error)
}
