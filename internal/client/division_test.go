package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// withDivisions adds the divisions d1 and d2 to tenant ten_a.
func (f *fixture) withDivisions(t *testing.T) {
	t.Helper()
	divs := &account.Divisions{Repo: f.db, Now: func() time.Time { return f.now }}
	for _, id := range []string{"d1", "d2"} {
		if _, err := divs.Create(context.Background(), authz.SystemActor("ten_a"), account.NewDivision{ID: id, Name: "Division " + id}); err != nil {
			t.Fatal(err)
		}
	}
}

// create makes a client_credentials client in a division as the system.
func (f *fixture) create(t *testing.T, name, division string) *client.Client {
	t.Helper()
	p := cc(name)
	p.DivisionID = division
	c, _, err := f.svc.Create(context.Background(), f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDivisionAdmin(t *testing.T) {
	f := newFixture(t)
	f.withDivisions(t)
	ctx := context.Background()
	mine := f.create(t, "Mine", "d1")
	theirs := f.create(t, "Theirs", "d2")
	home := f.create(t, "Home", "")
	if home.DivisionID != authz.HomeDivision || mine.DivisionID != "d1" {
		t.Fatalf("divisions: home %q, mine %q", home.DivisionID, mine.DivisionID)
	}
	admin := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{"oauth_admin@d1"}}

	// The list holds d1's clients alone, whatever division is asked for.
	page, err := f.svc.List(ctx, admin, client.ListQuery{})
	if err != nil || len(page.Clients) != 1 || page.Clients[0].ID != mine.ID || page.Total != 1 {
		t.Fatalf("List: %+v, %v", page, err)
	}
	if page, err := f.svc.List(ctx, admin, client.ListQuery{Divisions: []string{"d2"}}); err != nil || len(page.Clients) != 0 {
		t.Errorf("List of d2: %+v, %v", page, err)
	}
	if page, err := f.svc.List(ctx, f.sys, client.ListQuery{Divisions: []string{"d2", "home"}}); err != nil || len(page.Clients) != 2 {
		t.Errorf("a super admin's list of d2 and home: %+v, %v", page, err)
	}

	// d1's client is theirs to act on.
	if _, _, err := f.svc.Get(ctx, admin, mine.ID); err != nil {
		t.Errorf("Get of d1's client: %v", err)
	}
	name := "Renamed"
	if _, err := f.svc.Update(ctx, admin, mine.ID, client.UpdateParams{Name: &name}); err != nil {
		t.Errorf("Update of d1's client: %v", err)
	}
	if _, err := f.svc.RotateSecret(ctx, admin, mine.ID, client.RotateParams{}); err != nil {
		t.Errorf("RotateSecret of d1's client: %v", err)
	}

	// Every operation on d2's client or the home division's is not found,
	// as another tenant's client is.
	for _, id := range []string{theirs.ID, home.ID} {
		for op, call := range map[string]func() error{
			"Get": func() error { _, _, err := f.svc.Get(ctx, admin, id); return err },
			"Update": func() error {
				_, err := f.svc.Update(ctx, admin, id, client.UpdateParams{Name: &name})
				return err
			},
			"SetStatus": func() error { _, err := f.svc.SetStatus(ctx, admin, id, client.StatusInactive, false); return err },
			"Revoke":    func() error { _, err := f.svc.Revoke(ctx, admin, id); return err },
			"Rotate": func() error {
				_, err := f.svc.RotateSecret(ctx, admin, id, client.RotateParams{})
				return err
			},
			"Delete": func() error { return f.svc.Delete(ctx, admin, id) },
		} {
			if err := call(); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("%s of %s: %v, want ErrNotFound", op, id, err)
			}
		}
	}

	// Creating needs the permission in the client's division.
	p := cc("New in d1")
	p.DivisionID = "d1"
	if c, _, err := f.svc.Create(ctx, admin, p); err != nil || c.DivisionID != "d1" {
		t.Errorf("Create in d1: %+v, %v", c, err)
	}
	for _, div := range []string{"d2", ""} {
		p.DivisionID = div
		if _, _, err := f.svc.Create(ctx, admin, p); !errors.Is(err, client.ErrForbidden) {
			t.Errorf("Create in %q: %v, want ErrForbidden", div, err)
		}
	}
	// Moving a client out of reach is refused.
	d2 := "d2"
	if _, err := f.svc.Update(ctx, admin, mine.ID, client.UpdateParams{DivisionID: &d2}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("moving d1's client to d2: %v, want ErrForbidden", err)
	}
}

func TestDivisionAdminCannotEscalate(t *testing.T) {
	f := newFixture(t)
	f.withDivisions(t)
	ctx := context.Background()
	admin := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{"oauth_admin@d1"}}
	for _, roles := range [][]string{{"oauth_admin@d2"}, {authz.OAuthAdmin}, {"viewer@d1"}, {authz.SuperAdmin}} {
		p := cc("Escalating")
		p.DivisionID, p.Roles = "d1", roles
		if _, _, err := f.svc.Create(ctx, admin, p); fields(err) != "roles" {
			t.Errorf("assigning %v: %v, want a field error on roles", roles, err)
		}
	}
	p := cc("Allowed")
	p.DivisionID, p.Roles = "d1", []string{"oauth_admin@d1"}
	c, _, err := f.svc.Create(ctx, admin, p)
	if err != nil {
		t.Fatalf("assigning oauth_admin@d1: %v", err)
	}
	roles := []string{"oauth_admin@d1", "oauth_admin@d2"}
	if _, err := f.svc.Update(ctx, admin, c.ID, client.UpdateParams{Roles: &roles}); fields(err) != "roles" {
		t.Errorf("adding oauth_admin@d2 by update: %v", err)
	}
	// A super admin grants in any division the tenant has, and no other.
	roles = []string{"oauth_admin@d2", "viewer@nowhere"}
	_, err = f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Roles: &roles})
	if fields(err) != "roles" || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("a grant in no division: %v", err)
	}
}

func TestClientDivisionField(t *testing.T) {
	f := newFixture(t)
	f.withDivisions(t)
	ctx := context.Background()
	for _, div := range []string{"nowhere", "a b"} {
		p := cc("Lost")
		p.DivisionID = div
		if _, _, err := f.svc.Create(ctx, f.sys, p); fields(err) != "division" {
			t.Errorf("Create in %q: %v, want a field error on division", div, err)
		}
	}
	c := f.create(t, "Mover", "")
	d2 := "d2"
	c, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{DivisionID: &d2})
	if err != nil || c.DivisionID != "d2" {
		t.Fatalf("move to d2: %+v, %v", c, err)
	}
	events, err := f.db.AuditEvents(ctx, "ten_a", 0, 1000)
	if err != nil || len(events) == 0 || !slices.Contains(events[len(events)-1].Changes, "division_id") {
		t.Errorf("the move's audit event: %+v, %v", events, err)
	}
	nowhere := "nowhere"
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{DivisionID: &nowhere}); fields(err) != "division" {
		t.Errorf("move to no division: %v", err)
	}
}

func TestCustomRoleOnClient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	roles := &account.Roles{Repo: f.db, Now: func() time.Time { return f.now }}
	if _, err := roles.Create(ctx, authz.SystemActor("ten_a"), account.NewRole{Name: "auditor",
		Permissions: []authz.Permission{authz.AuditView}}); err != nil {
		t.Fatal(err)
	}
	p := cc("Auditing")
	p.Roles = []string{"auditor"}
	c, _, err := f.svc.Create(ctx, f.sys, p)
	if err != nil || !slices.Equal(c.Roles, []string{"auditor"}) {
		t.Fatalf("a client with a custom role: %+v, %v", c, err)
	}
	// Another tenant has no such role.
	if _, _, err := f.svc.Create(ctx, client.SystemActor("ten_b"), p); fields(err) != "roles" {
		t.Errorf("another tenant's role: %v", err)
	}
	// An actor holding only the custom role reads nothing: audit:view is
	// not oauth:client:view.
	auditor := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{"auditor"}}
	if _, _, err := f.svc.Get(ctx, auditor, c.ID); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("Get by an auditor: %v, want ErrForbidden", err)
	}
	// A custom role with oauth:client:view lets its holder read: the
	// service loads the catalog the actor does not carry.
	if _, err := roles.Create(ctx, authz.SystemActor("ten_a"), account.NewRole{Name: "reader",
		Permissions: []authz.Permission{authz.ClientView}}); err != nil {
		t.Fatal(err)
	}
	reader := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{"reader"}}
	if _, _, err := f.svc.Get(ctx, reader, c.ID); err != nil {
		t.Errorf("Get by a reader: %v", err)
	}
	// Deleting the held role is refused, and says by how many.
	err = roles.Delete(ctx, authz.SystemActor("ten_a"), "auditor")
	if !errors.Is(err, account.ErrInUse) || !strings.Contains(err.Error(), "0 user(s) and 1 client(s)") {
		t.Errorf("deleting a held role: %v", err)
	}
}
