package main

import (
	"context"
	"strings"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/admin/adminclient"
	"github.com/latchkey/latchkey/internal/authz"
)

// userOps is what the users commands ask of Latchkey: the domain service
// on the database (localUsers) or a server's admin API (remoteUsers).
// Both return the users as the commands print them, and fail with the
// domain's errors, so each command is written, and prints, once.
type userOps interface {
	Create(ctx context.Context, p account.NewUser) (userJSON, error)
	List(ctx context.Context) ([]userJSON, error)
	// Find returns the user ref names: by ID or, with an '@', by email.
	Find(ctx context.Context, ref string) (userJSON, error)
	Update(ctx context.Context, id string, c account.UserChanges) (userJSON, error)
	SetStatus(ctx context.Context, id string, to account.UserStatus) (userJSON, error)
	SetPassword(ctx context.Context, id, password string) error
}

var (
	_ userOps = localUsers{}
	_ userOps = remoteUsers{}
)

// localUsers runs the operations on the database, as the operator.
type localUsers struct {
	svc   *account.Users
	actor authz.Actor
}

// local returns the view of the user a service call returned.
func local(u *account.User, err error) (userJSON, error) {
	if err != nil {
		return userJSON{}, err
	}
	return newUserJSON(u), nil
}

func (l localUsers) Create(ctx context.Context, p account.NewUser) (userJSON, error) {
	return local(l.svc.Create(ctx, l.actor, p))
}

func (l localUsers) List(ctx context.Context) ([]userJSON, error) {
	users, err := l.svc.List(ctx, l.actor)
	if err != nil {
		return nil, err
	}
	rows := make([]userJSON, len(users))
	for i := range users {
		rows[i] = newUserJSON(&users[i])
	}
	return rows, nil
}

func (l localUsers) Find(ctx context.Context, ref string) (userJSON, error) {
	return local(l.svc.Find(ctx, l.actor, ref))
}

func (l localUsers) Update(ctx context.Context, id string, c account.UserChanges) (userJSON, error) {
	return local(l.svc.Update(ctx, l.actor, id, c))
}

func (l localUsers) SetStatus(ctx context.Context, id string, to account.UserStatus) (userJSON, error) {
	return local(l.svc.SetStatus(ctx, l.actor, id, to))
}

func (l localUsers) SetPassword(ctx context.Context, id, password string) error {
	return l.svc.SetPassword(ctx, l.actor, id, password)
}

// remoteUsers runs the operations through a server's admin API, as the
// principal its credentials stand for.
type remoteUsers struct {
	api *adminclient.Client
	r   *remote
}

// errNoPasswordAPI is why set-password needs the database.
const errNoPasswordAPI = "the admin API sets no password"

// fromAPI is the command's view of a user the API returned. The API's
// view has no division: the field stays empty.
func fromAPI(u admin.User) userJSON {
	return userJSON{ID: u.ID, TenantID: u.TenantID, Email: u.Email, Name: u.Name, Status: u.Status,
		Roles: nonNil(u.Roles), Locale: u.Locale, PasswordSet: u.PasswordSet, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (ru remoteUsers) user(u *admin.User, err error) (userJSON, error) {
	if err != nil {
		return userJSON{}, ru.r.remoteErr(err)
	}
	return fromAPI(*u), nil
}

func (ru remoteUsers) Create(ctx context.Context, p account.NewUser) (userJSON, error) {
	return ru.user(ru.api.CreateUser(ctx, p))
}

func (ru remoteUsers) List(ctx context.Context) ([]userJSON, error) {
	l, err := ru.api.ListUsers(ctx)
	if err != nil {
		return nil, ru.r.remoteErr(err)
	}
	rows := make([]userJSON, len(l.Users))
	for i, u := range l.Users {
		rows[i] = fromAPI(u)
	}
	return rows, nil
}

func (ru remoteUsers) Find(ctx context.Context, ref string) (userJSON, error) {
	if strings.Contains(ref, "@") {
		return ru.user(ru.api.FindUser(ctx, ref))
	}
	return ru.user(ru.api.GetUser(ctx, ref))
}

func (ru remoteUsers) Update(ctx context.Context, id string, c account.UserChanges) (userJSON, error) {
	return ru.user(ru.api.UpdateUser(ctx, id, c))
}

func (ru remoteUsers) SetStatus(ctx context.Context, id string, to account.UserStatus) (userJSON, error) {
	action := adminclient.Enable
	if to == account.UserDisabled {
		action = adminclient.Disable
	}
	return ru.user(ru.api.SetUserStatus(ctx, id, action))
}

func (ru remoteUsers) SetPassword(context.Context, string, string) error {
	return notRemote("users set-password", errNoPasswordAPI)
}
