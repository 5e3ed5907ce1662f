package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// users:manage in a division changes only the users whose every grant
// the actor could give: never a super admin's, nor anyone's holding a
// role the actor lacks.
func TestChangingAUserNeedsTheirGrants(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.divisions().Create(ctx, f.op, account.NewDivision{ID: "d1", Name: "D1"}); err != nil {
		t.Fatal(err)
	}
	roles := &account.Roles{Repo: f.db}
	for _, r := range []account.NewRole{
		{Name: "hr", Permissions: []authz.Permission{authz.UsersManage}},
		{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}},
	} {
		if _, err := roles.Create(ctx, f.op, r); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(email string, grants ...string) *account.User {
		t.Helper()
		u, err := f.users.Create(ctx, f.op, account.NewUser{Email: email, Roles: grants})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	hrUser := mk("hr@example.com", "hr@home", "hr@d1")
	hr := authz.Actor{Kind: authz.KindUser, ID: hrUser.ID, TenantID: "ten_home", Roles: hrUser.Roles}
	root := mk("root@example.com", authz.SuperAdmin)
	viewer := mk("viewer@example.com", authz.Viewer)
	auditor := mk("auditor@example.com", "auditor@home")
	peer := mk("peer@example.com", "hr@home")
	plain := mk("plain@example.com")

	d1, name := "d1", "Renamed"
	changes := map[string]func(authz.Actor, *account.User) error{
		"disable": func(a authz.Actor, u *account.User) error {
			_, err := f.users.SetStatus(ctx, a, u.ID, account.UserDisabled)
			return err
		},
		"re-email": func(a authz.Actor, u *account.User) error {
			email := "new-" + u.Email
			_, err := f.users.Update(ctx, a, u.ID, account.UserChanges{Email: &email})
			return err
		},
		"move": func(a authz.Actor, u *account.User) error {
			_, err := f.users.Update(ctx, a, u.ID, account.UserChanges{DivisionID: &d1})
			return err
		},
		"set the password": func(a authz.Actor, u *account.User) error {
			return f.users.SetPassword(ctx, a, u.ID, "the attacker's passphrase")
		},
	}
	for _, target := range []struct {
		u     *account.User
		grant string
	}{{root, authz.SuperAdmin}, {viewer, authz.Viewer}, {auditor, "auditor@home"}} {
		for what, change := range changes {
			err := change(hr, target.u)
			if !errors.Is(err, errs.ErrForbidden) || !strings.Contains(err.Error(), target.grant) {
				t.Errorf("hr@home may %s %s: %v", what, target.u.Email, err)
			}
		}
		got, err := f.db.User(ctx, target.u.ID)
		if err != nil || !got.Active() || got.Email != target.u.Email || got.Division() != authz.HomeDivision ||
			got.PasswordHash != target.u.PasswordHash {
			t.Errorf("%s was changed: %+v, %v", target.u.Email, got, err)
		}
	}
	if _, err := f.users.SetStatus(ctx, f.op, root.ID, account.UserDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := f.users.SetStatus(ctx, hr, root.ID, account.UserActive); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("hr@home may enable a disabled super admin: %v", err)
	}

	// Users whose grants the actor could give, it changes as before.
	for _, u := range []*account.User{peer, plain} {
		for what, change := range changes {
			if err := change(hr, u); err != nil {
				t.Errorf("hr@home cannot %s %s: %v", what, u.Email, err)
			}
		}
	}
	// A user acting on themselves keeps what they could do.
	if _, err := f.users.Update(ctx, hr, hrUser.ID, account.UserChanges{Name: &name}); err != nil {
		t.Errorf("hr renaming themselves: %v", err)
	}

	// A super admin's token carries what it may give: a grant of a custom
	// role counts that role's permissions.
	limited := authz.OperatorActor("ten_home", "alice")
	limited.Limit = []authz.Permission{authz.UsersManage}
	if _, err := f.users.Update(ctx, limited, auditor.ID, account.UserChanges{Name: &name}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("a token without audit:view renamed an auditor: %v", err)
	}
	limited.Limit = append(limited.Limit, authz.AuditView)
	if _, err := f.users.Update(ctx, limited, auditor.ID, account.UserChanges{Name: &name}); err != nil {
		t.Errorf("a token with audit:view renaming an auditor: %v", err)
	}
}
