package account_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// fieldsOf names the fields of a validation error, comma-separated.
func fieldsOf(err error) string {
	var names []string
	for _, f := range errs.Fields(err) {
		names = append(names, f.Field)
	}
	return strings.Join(names, ",")
}

func (f *fixture) divisions() *account.Divisions {
	return &account.Divisions{Repo: f.db, Now: func() time.Time { return f.now }}
}

func TestTenantGetsHomeDivision(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tenants := &account.Tenants{Repo: f.db, Now: func() time.Time { return f.now }}
	tn, err := tenants.Create(ctx, authz.OperatorActor("ten_home", "alice"), account.NewTenant{ID: "ten_new", Name: "New"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := f.divisions().List(ctx, authz.OperatorActor(tn.ID, "alice"))
	if err != nil || len(ds) != 1 || ds[0].ID != authz.HomeDivision || ds[0].Name != "Home Division" || !ds[0].CreatedAt.Equal(tn.CreatedAt) {
		t.Fatalf("the new tenant's divisions: %+v, %v", ds, err)
	}
}

func TestDivisions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.db.CreateTenant(ctx, &account.Tenant{ID: "ten_home", Name: "Home", Slug: "home", CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	divs := f.divisions()
	d, err := divs.Create(ctx, f.op, account.NewDivision{Name: "  Europe "})
	if err != nil || !strings.HasPrefix(d.ID, "div_") || d.Name != "Europe" || d.TenantID != "ten_home" {
		t.Fatalf("Create: %+v, %v", d, err)
	}
	if _, err := divs.Create(ctx, f.op, account.NewDivision{ID: "emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []account.NewDivision{{ID: "emea", Name: "Again"}, {ID: "a@b", Name: "Bad"}, {ID: "x"}} {
		if _, err := divs.Create(ctx, f.op, p); fieldsOf(err) == "" {
			t.Errorf("Create(%+v): %v, want a field error", p, err)
		}
	}
	if d, err := divs.Rename(ctx, f.op, "emea", "Europe, Middle East and Africa"); err != nil || d.Name != "Europe, Middle East and Africa" {
		t.Errorf("Rename: %+v, %v", d, err)
	}
	if _, err := divs.Rename(ctx, f.op, "nowhere", "X"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("Rename of no division: %v", err)
	}
	// Only users:manage tenant-wide changes divisions; anyone who manages
	// users or views clients somewhere lists them.
	divAdmin := authz.Actor{Kind: authz.KindUser, ID: "usr_x", TenantID: "ten_home", Roles: []string{"oauth_admin@emea"}}
	if _, err := divs.Create(ctx, divAdmin, account.NewDivision{Name: "Mine"}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("Create by a division admin: %v", err)
	}
	if ds, err := divs.List(ctx, divAdmin); err != nil || len(ds) != 3 || ds[0].ID != "home" {
		t.Errorf("List by a division admin: %+v, %v", ds, err)
	}
	if _, err := divs.List(ctx, authz.Actor{Kind: authz.KindUser, ID: "usr_y", TenantID: "ten_home", Roles: []string{authz.ResourceServer}}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("List by a resource server: %v", err)
	}

	// A division in use stays; an empty one goes; home never does.
	if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "e@example.com", DivisionID: "emea"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "g@example.com", Roles: []string{"viewer@" + d.ID}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"emea", d.ID} {
		if err := divs.Delete(ctx, f.op, id); !errors.Is(err, account.ErrInUse) || !strings.Contains(err.Error(), "1 user(s)") {
			t.Errorf("Delete of %s in use: %v", id, err)
		}
	}
	if err := divs.Delete(ctx, f.op, authz.HomeDivision); !errors.Is(err, errs.ErrProtected) {
		t.Errorf("Delete of home: %v", err)
	}
	empty, _ := divs.Create(ctx, f.op, account.NewDivision{ID: "empty", Name: "Empty"})
	if err := divs.Delete(ctx, f.op, empty.ID); err != nil {
		t.Errorf("Delete of an empty division: %v", err)
	}
	if err := divs.Delete(ctx, f.op, empty.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("Delete twice: %v", err)
	}
	es, _ := f.db.AuditEvents(ctx, "ten_home", 0, 100)
	var actions []string
	for _, e := range es {
		if e.TargetType == "division" {
			actions = append(actions, e.Action)
		}
	}
	if !slices.Equal(actions, []string{account.ActionDivisionCreated, account.ActionDivisionCreated, account.ActionDivisionRenamed,
		account.ActionDivisionCreated, account.ActionDivisionDeleted}) {
		t.Errorf("audited: %v", actions)
	}
}

func TestUsersInDivisions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, id := range []string{"d1", "d2"} {
		if _, err := f.divisions().Create(ctx, f.op, account.NewDivision{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := f.users.Create(ctx, f.op, account.NewUser{Email: "mine@example.com", DivisionID: "d1"})
	if err != nil || mine.DivisionID != "d1" {
		t.Fatalf("Create in d1: %+v, %v", mine, err)
	}
	theirs, _ := f.users.Create(ctx, f.op, account.NewUser{Email: "theirs@example.com", DivisionID: "d2"})
	home, _ := f.users.Create(ctx, f.op, account.NewUser{Email: "home@example.com"})
	if home.DivisionID != authz.HomeDivision {
		t.Fatalf("default division %q", home.DivisionID)
	}
	if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "lost@example.com", DivisionID: "nowhere"}); fieldsOf(err) != "division" {
		t.Errorf("Create in no division: %v", err)
	}

	if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "x@example.com", Roles: []string{"super_admin@d1"}}); fieldsOf(err) != "roles" {
		t.Errorf("super_admin in a division: %v", err)
	}
	// A custom role with users:manage, held in d1.
	roles := &account.Roles{Repo: f.db}
	if _, err := roles.Create(ctx, f.op, account.NewRole{Name: "user_admin", Permissions: []authz.Permission{authz.UsersManage}}); err != nil {
		t.Fatal(err)
	}
	admin := authz.Actor{Kind: authz.KindUser, ID: "usr_admin", TenantID: "ten_home", Roles: []string{"user_admin@d1"}}

	users, err := f.users.List(ctx, admin)
	if err != nil || len(users) != 1 || users[0].ID != mine.ID {
		t.Fatalf("List by d1's user admin: %+v, %v", users, err)
	}
	if _, err := f.users.Get(ctx, admin, mine.ID); err != nil {
		t.Errorf("Get of d1's user: %v", err)
	}
	for _, u := range []*account.User{theirs, home} {
		if _, err := f.users.Get(ctx, admin, u.ID); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("Get of %s: %v", u.Email, err)
		}
		if _, err := f.users.Find(ctx, admin, u.Email); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("Find of %s: %v", u.Email, err)
		}
		if err := f.users.SetPassword(ctx, admin, u.ID, "a long enough password"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("SetPassword of %s: %v", u.Email, err)
		}
		if _, err := f.users.SetStatus(ctx, admin, u.ID, account.UserDisabled); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("SetStatus of %s: %v", u.Email, err)
		}
	}
	if _, err := f.users.Create(ctx, admin, account.NewUser{Email: "new@example.com", DivisionID: "d2"}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("Create in d2 by d1's admin: %v", err)
	}
	// The admin grants its own role in d1, and no further.
	if _, err := f.users.Create(ctx, admin, account.NewUser{Email: "new@example.com", DivisionID: "d1",
		Roles: []string{"user_admin@d1"}}); err != nil {
		t.Errorf("granting user_admin@d1: %v", err)
	}
	for _, g := range []string{"user_admin@d2", "user_admin", authz.Viewer} {
		if _, err := f.users.Create(ctx, admin, account.NewUser{Email: "esc@example.com", DivisionID: "d1", Roles: []string{g}}); fieldsOf(err) != "roles" {
			t.Errorf("granting %s: %v", g, err)
		}
	}
	// Moving a user needs the permission in both divisions.
	d2, d1 := "d2", "d1"
	if _, err := f.users.Update(ctx, admin, mine.ID, account.UserChanges{DivisionID: &d2}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("moving to d2: %v", err)
	}
	moved, err := f.users.Update(ctx, f.op, theirs.ID, account.UserChanges{DivisionID: &d1})
	if err != nil || moved.DivisionID != "d1" {
		t.Fatalf("moving to d1 by the operator: %+v, %v", moved, err)
	}
	if _, err := f.users.Get(ctx, admin, theirs.ID); err != nil {
		t.Errorf("the moved user: %v", err)
	}
}
