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

func TestCustomRoles(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var changed []string
	roles := &account.Roles{Repo: f.db, Now: func() time.Time { return f.now }, OnChange: func(id string) { changed = append(changed, id) }}

	// A role with audit:view alone.
	r, err := roles.Create(ctx, f.op, account.NewRole{Name: "auditor", Description: "Reads the trail",
		Permissions: []authz.Permission{authz.AuditView, authz.AuditView}})
	if err != nil || !slices.Equal(r.Permissions, []authz.Permission{authz.AuditView}) || r.BuiltIn {
		t.Fatalf("Create: %+v, %v", r, err)
	}
	for _, p := range []account.NewRole{
		{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}},
		{Name: authz.Viewer, Permissions: []authz.Permission{authz.AuditView}},
		{Name: "Auditor", Permissions: []authz.Permission{authz.AuditView}},
		{Name: "empty"},
		{Name: "made_up", Permissions: []authz.Permission{"oauth:client:fly"}},
	} {
		if _, err := roles.Create(ctx, f.op, p); fieldsOf(err) == "" {
			t.Errorf("Create(%+v): %v, want a field error", p, err)
		}
	}

	// Its holder may view the audit trail and nothing else.
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "aud@example.com", Roles: []string{"auditor"}})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := roles.Catalog(ctx, f.op)
	if err != nil {
		t.Fatal(err)
	}
	holder := authz.Actor{Kind: authz.KindUser, ID: u.ID, TenantID: "ten_home", Roles: u.Roles, Catalog: cat}
	if !holder.Can(authz.AuditView) || holder.Can(authz.ClientView) || holder.Can(authz.UsersManage) {
		t.Errorf("the auditor's permissions: %v", cat.Permissions(u.Roles))
	}
	if _, err := f.users.List(ctx, holder); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("an auditor listing users: %v", err)
	}

	// No escalation: an actor gives a role only what it holds itself, and
	// touches no role worth more than itself.
	admin := authz.Actor{Kind: authz.KindUser, ID: "usr_admin", TenantID: "ten_home", Roles: []string{authz.OAuthAdmin, "user_admin"}}
	if _, err := roles.Create(ctx, f.op, account.NewRole{Name: "user_admin", Permissions: []authz.Permission{authz.UsersManage}}); err != nil {
		t.Fatal(err)
	}
	if _, err := roles.Create(ctx, admin, account.NewRole{Name: "tenant_maker", Permissions: []authz.Permission{authz.TenantsManage}}); fieldsOf(err) != "permissions" {
		t.Errorf("a role with tenants:manage, by an admin without it: %v", err)
	}
	if _, err := roles.Create(ctx, admin, account.NewRole{Name: "approver", Permissions: []authz.Permission{authz.ClientView, authz.ClientEdit}}); err != nil {
		t.Errorf("a role within the admin's permissions: %v", err)
	}
	if _, err := roles.Create(ctx, f.op, account.NewRole{Name: "tenant_maker", Permissions: []authz.Permission{authz.TenantsManage}}); err != nil {
		t.Fatal(err)
	}
	desc := "changed"
	if _, err := roles.Update(ctx, admin, "tenant_maker", account.RoleChanges{Description: &desc}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("editing a role worth more than the admin: %v", err)
	}
	if err := roles.Delete(ctx, admin, "tenant_maker"); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("deleting a role worth more than the admin: %v", err)
	}
	divAdmin := authz.Actor{Kind: authz.KindUser, ID: "usr_div", TenantID: "ten_home", Roles: []string{"user_admin@d1"}}
	if _, err := roles.Create(ctx, divAdmin, account.NewRole{Name: "x", Permissions: []authz.Permission{authz.UsersManage}}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("a division admin creating a role: %v", err)
	}
	if rs, err := roles.List(ctx, divAdmin); err != nil || len(rs) != 4+4 || rs[4].Name != "approver" {
		t.Errorf("List by a division admin: %d roles, %v", len(rs), err)
	}

	// Updating, and the built-in roles that cannot be.
	perms := []authz.Permission{authz.AuditView, authz.ClientView}
	if r, err := roles.Update(ctx, f.op, "auditor", account.RoleChanges{Permissions: &perms}); err != nil ||
		!slices.Equal(r.Permissions, []authz.Permission{authz.ClientView, authz.AuditView}) {
		t.Errorf("Update: %+v, %v", r, err)
	}
	if _, err := roles.Update(ctx, f.op, authz.Viewer, account.RoleChanges{Description: &desc}); !errors.Is(err, errs.ErrProtected) {
		t.Errorf("updating a built-in role: %v", err)
	}
	if _, err := roles.Update(ctx, f.op, "nobody", account.RoleChanges{Description: &desc}); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("updating no role: %v", err)
	}
	if got, err := roles.Get(ctx, f.op, "auditor"); err != nil || got.Description != "Reads the trail" {
		t.Errorf("Get: %+v, %v", got, err)
	}

	// A role still held is not deleted; once taken away, it is.
	err = roles.Delete(ctx, f.op, "auditor")
	if !errors.Is(err, account.ErrInUse) || !strings.Contains(err.Error(), "held by 1 user(s) and 0 client(s)") {
		t.Fatalf("deleting a held role: %v", err)
	}
	none := []string{}
	if _, err := f.users.Update(ctx, f.op, u.ID, account.UserChanges{Roles: &none}); err != nil {
		t.Fatal(err)
	}
	if err := roles.Delete(ctx, f.op, "auditor"); err != nil {
		t.Errorf("deleting a role no one holds: %v", err)
	}
	if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "late@example.com", Roles: []string{"auditor"}}); fieldsOf(err) != "roles" {
		t.Errorf("granting a deleted role: %v", err)
	}

	es, _ := f.db.AuditEvents(ctx, "ten_home", 0, 100)
	var actions []string
	for _, e := range es {
		if e.TargetType == "role" {
			actions = append(actions, e.Action+" "+e.TargetID)
		}
	}
	want := []string{"role.created auditor", "role.created user_admin", "role.created approver", "role.created tenant_maker",
		"role.updated auditor", "role.deleted auditor"}
	if !slices.Equal(actions, want) {
		t.Errorf("audited %v, want %v", actions, want)
	}
	if len(changed) != len(want) || changed[0] != "ten_home" {
		t.Errorf("OnChange: %v", changed)
	}
}
