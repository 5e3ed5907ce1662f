package adminclient

import (
	"context"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/errs"
)

// ListUsers returns the tenant's users the token may manage, by email.
func (c *Client) ListUsers(ctx context.Context) (*admin.UserList, error) {
	var l admin.UserList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/users"}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CreateUser adds a user; without a password they cannot sign in until
// one is set (which the API does not do).
func (c *Client) CreateUser(ctx context.Context, p account.NewUser) (*admin.User, error) {
	b := admin.UserBody{Email: p.Email, Name: p.Name, Locale: p.Locale, Password: p.Password, Roles: p.Roles, DivisionID: p.DivisionID}
	var u admin.User
	if err := c.do(ctx, request{method: http.MethodPost, path: "/users", body: b}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUser returns a user by ID.
func (c *Client) GetUser(ctx context.Context, id string) (*admin.User, error) {
	var u admin.User
	if err := c.do(ctx, request{method: http.MethodGet, path: "/users/" + escape(id)}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// FindUser returns the user with this email, compared as the server
// compares emails; none is an error wrapping errs.ErrNotFound. The API
// has no look-up by email: this lists the users.
func (c *Client) FindUser(ctx context.Context, email string) (*admin.User, error) {
	l, err := c.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	want := account.NormalizeEmail(email)
	for i := range l.Users {
		if account.NormalizeEmail(l.Users[i].Email) == want {
			return &l.Users[i], nil
		}
	}
	return nil, fmt.Errorf("no user has the email %q: %w", email, errs.ErrNotFound)
}

// UpdateUser changes the fields p gives, and only those, as a JSON merge
// patch (RFC 7396).
func (c *Client) UpdateUser(ctx context.Context, id string, p account.UserChanges) (*admin.User, error) {
	m := map[string]any{}
	if p.Email != nil {
		m["email"] = *p.Email
	}
	if p.Name != nil {
		m["name"] = *p.Name
	}
	if p.Locale != nil {
		m["locale"] = *p.Locale
	}
	if p.Roles != nil {
		m["roles"] = nonNil(*p.Roles)
	}
	if p.DivisionID != nil {
		m["division_id"] = *p.DivisionID
	}
	var u admin.User
	if err := c.do(ctx, request{method: http.MethodPatch, path: "/users/" + escape(id), body: m, contentType: "application/merge-patch+json"}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UserAction is a change of a user's status.
type UserAction string

// Disable stops a user signing in (ending their sessions and revoking
// their applications' tokens); Enable lets them sign in again.
const (
	Disable UserAction = "disable"
	Enable  UserAction = "enable"
)

// SetUserStatus disables or enables a user and returns them as they now
// are.
func (c *Client) SetUserStatus(ctx context.Context, id string, action UserAction) (*admin.User, error) {
	var u admin.User
	if err := c.do(ctx, request{method: http.MethodPost, path: "/users/" + escape(id) + "/" + string(action)}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}
