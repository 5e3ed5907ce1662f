package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var divisionTests = []test{
	{"HomeWithTenant", testHomeDivision},
	{"CRUD", testDivisionCRUD},
	{"Use", testDivisionUse},
	{"OfClients", testClientDivision},
	{"OfUsers", testUserDivision},
	{"ListFilter", testListDivisions},
}

var roleTests = []test{
	{"CRUD", testCustomRoles},
	{"Use", testRoleUse},
	{"Logged", testRolesLogged},
}

// testHomeDivision: a tenant is created with its home division, whether
// by the store itself or inside an account transaction, and a rolled-back
// tenant leaves no division behind.
func testHomeDivision(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_a", Name: "A", Slug: "a", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		return tx.CreateTenant(ctx, &account.Tenant{ID: "ten_b", Name: "B", Slug: "b", CreatedAt: at(time.Hour)})
	})
	for id, created := range map[string]time.Time{"ten_a": at(0), "ten_b": at(time.Hour)} {
		ds, err := s.Divisions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		checkEqual(t, id+" divisions", ds, []account.Division{{TenantID: id, ID: authz.HomeDivision,
			Name: authz.HomeDivisionName, CreatedAt: stored(created)}})
	}
	boom := errors.New("boom")
	err := s.InAccountTx(ctx, func(tx account.Tx) error {
		if err := tx.CreateTenant(ctx, &account.Tenant{ID: "ten_c", Name: "C", Slug: "c", CreatedAt: at(0)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InAccountTx: %v", err)
	}
	if ds, err := s.Divisions(ctx, "ten_c"); err != nil || len(ds) != 0 {
		t.Errorf("a rolled-back tenant's divisions: %+v, %v", ds, err)
	}
	// A tenant that conflicts leaves no second home division either.
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_a", Name: "Again", CreatedAt: at(0)}); !errors.Is(err, account.ErrConflict) {
		t.Fatalf("CreateTenant again: %v", err)
	}
}

// testDivisionCRUD: divisions are created, read (home first, then by
// name), locked, renamed and deleted, each within its tenant.
func testDivisionCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_a", Name: "A", Slug: "a", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	emea := &account.Division{TenantID: "ten_a", ID: "emea", Name: "Europe", CreatedAt: at(time.Minute)}
	apac := &account.Division{TenantID: "ten_a", ID: "apac", Name: "Asia", CreatedAt: at(2 * time.Minute)}
	other := &account.Division{TenantID: "ten_b", ID: "emea", Name: "Other tenant's", CreatedAt: at(0)}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		for _, d := range []*account.Division{emea, apac, other} {
			if err := tx.CreateDivision(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.InAccountTx(ctx, func(tx account.Tx) error {
		return tx.CreateDivision(ctx, &account.Division{TenantID: "ten_a", ID: "emea", Name: "Twice", CreatedAt: at(0)})
	})
	if !errors.Is(err, account.ErrConflict) {
		t.Errorf("a taken division ID: %v, want account.ErrConflict", err)
	}
	ds, err := s.Divisions(ctx, "ten_a")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []string{"home", "apac", "emea"}) {
		t.Errorf("Divisions: %v, want home, then by name", ids)
	}
	checkEqual(t, "emea", ds[2], account.Division{TenantID: "ten_a", ID: "emea", Name: "Europe", CreatedAt: stored(at(time.Minute))})

	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		for _, c := range []struct {
			tenant, id string
			ok         bool
		}{{"ten_a", "emea", true}, {"ten_a", "home", true}, {"ten_a", "nowhere", false}, {"ten_c", "emea", false}} {
			ok, err := tx.DivisionInTenant(ctx, c.tenant, c.id)
			if err != nil || ok != c.ok {
				t.Errorf("DivisionInTenant(%s, %s) = %v, %v", c.tenant, c.id, ok, err)
			}
		}
		d, err := tx.LockDivision(ctx, "ten_a", "emea")
		if err != nil {
			return err
		}
		d.Name = "EMEA"
		if err := tx.UpdateDivision(ctx, d); err != nil {
			return err
		}
		if _, err := tx.LockDivision(ctx, "ten_c", "emea"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("LockDivision of another tenant: %v", err)
		}
		if err := tx.DeleteDivision(ctx, "ten_a", "apac"); err != nil {
			return err
		}
		if err := tx.DeleteDivision(ctx, "ten_a", "apac"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("DeleteDivision twice: %v", err)
		}
		return nil
	})
	ds, _ = s.Divisions(ctx, "ten_a")
	if len(ds) != 2 || ds[1].Name != "EMEA" {
		t.Errorf("after a rename and a delete: %+v", ds)
	}
	if ds, _ := s.Divisions(ctx, "ten_b"); len(ds) != 1 || ds[0].Name != "Other tenant's" {
		t.Errorf("the other tenant's divisions: %+v", ds)
	}
}

// testDivisionUse: a division is used by the clients and users in it and
// by those holding a role in it, of its tenant only.
func testDivisionUse(t *testing.T, s store.Store) {
	inDiv := newClient("ten_a", "lkc_in", "In")
	inDiv.DivisionID, inDiv.Roles = "emea", nil
	granted := newClient("ten_a", "lkc_granted", "Granted")
	granted.DivisionID, granted.Roles = "home", []string{"viewer", "oauth_admin@emea"}
	near := newClient("ten_a", "lkc_near", "Near miss")
	near.DivisionID, near.Roles = "home", []string{"oauth_admin@emea2", "emea"}
	elsewhere := newClient("ten_b", "lkc_else", "Another tenant")
	elsewhere.DivisionID = "emea"
	createClients(t, s, inDiv, granted, near, elsewhere)
	u1 := newUser("ten_a", "usr_1", "one@example.com")
	u1.DivisionID, u1.Roles = "emea", nil
	u2 := newUser("ten_a", "usr_2", "two@example.com")
	u2.Roles = []string{"auditor@emea"}
	u3 := newUser("ten_a", "usr_3", "three@example.com")
	createUsers(t, s, u1, u2, u3)
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		use, err := tx.DivisionUse(ctx, "ten_a", "emea")
		if err != nil {
			return err
		}
		if use != (account.Use{Users: 2, Clients: 2}) {
			t.Errorf("DivisionUse(emea) = %+v, want 2 users and 2 clients", use)
		}
		if use, err := tx.DivisionUse(ctx, "ten_a", "apac"); err != nil || !use.None() {
			t.Errorf("DivisionUse(apac) = %+v, %v", use, err)
		}
		return nil
	})
}

// testClientDivision: a client's division round-trips and moves with an
// update; an empty one is stored as the home division.
func testClientDivision(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_div", "Divided")
	bare := newClient("ten_a", "lkc_bare", "No division")
	bare.DivisionID = ""
	createClients(t, s, c, bare)
	checkEqual(t, "client", getClient(t, s, c.ID), storedClient(c))
	if got := getClient(t, s, bare.ID).DivisionID; got != authz.HomeDivision {
		t.Errorf("a client made with no division is in %q, want home", got)
	}
	c.DivisionID = "apac"
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateClient(ctx, c) })
	if got := getClient(t, s, c.ID).DivisionID; got != "apac" {
		t.Errorf("after the move: %q", got)
	}
}

// testUserDivision: a user's division round-trips and moves with an
// update; an empty one is stored as the home division.
func testUserDivision(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("ten_a", "usr_div", "div@example.com")
	bare := newUser("ten_a", "usr_bare", "bare@example.com")
	bare.DivisionID = ""
	createUsers(t, s, u, bare)
	checkEqual(t, "user", getUser(t, s, u.ID), storedUser(u))
	if got := getUser(t, s, bare.ID); got.DivisionID != authz.HomeDivision || got.Division() != authz.HomeDivision {
		t.Errorf("a user made with no division is in %q, want home", got.DivisionID)
	}
	u.DivisionID = "apac"
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByEmail(ctx, "ten_a", u.Email); err != nil || got.DivisionID != "apac" {
		t.Errorf("after the move: %+v, %v", got, err)
	}
	users, err := s.Users(ctx, "ten_a")
	if err != nil || len(users) != 2 || users[1].DivisionID != "apac" {
		t.Errorf("Users: %+v, %v", users, err)
	}
}

// testListDivisions: the client list keeps the divisions asked for: all
// for nil, none for an empty list.
func testListDivisions(t *testing.T, s store.Store) {
	var cs []*client.Client
	for i, div := range []string{"home", "emea", "apac", "emea"} {
		c := newClient("ten_a", "lkc_l"+string(rune('0'+i)), "Client "+div)
		c.DivisionID, c.CreatedAt = div, at(time.Duration(i)*time.Minute)
		cs = append(cs, c)
	}
	createClients(t, s, cs...)
	for _, tt := range []struct {
		divisions []string
		want      []string
	}{
		{nil, []string{"lkc_l0", "lkc_l1", "lkc_l2", "lkc_l3"}},
		{[]string{"emea"}, []string{"lkc_l1", "lkc_l3"}},
		{[]string{"apac", "home"}, []string{"lkc_l0", "lkc_l2"}},
		{[]string{}, nil},
		{[]string{"nowhere"}, nil},
	} {
		page, err := s.ListClients(t.Context(), client.ListQuery{TenantID: "ten_a", Divisions: tt.divisions})
		if err != nil {
			t.Fatalf("ListClients(%v): %v", tt.divisions, err)
		}
		var got []string
		for _, c := range page.Clients {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, tt.want) || page.Total != len(tt.want) {
			t.Errorf("ListClients(%v) = %v (total %d), want %v", tt.divisions, got, page.Total, tt.want)
		}
	}
}

// testCustomRoles: custom roles are created, read by name, locked,
// updated and deleted, each within its tenant, outside and inside a
// transaction.
func testCustomRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	auditor := &authz.Role{Name: "auditor", Description: "Reads the trail", Permissions: []authz.Permission{authz.AuditView},
		CreatedAt: at(0), UpdatedAt: at(0)}
	approver := &authz.Role{Name: "approver", Permissions: []authz.Permission{authz.ClientView, authz.ClientEdit},
		CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		for _, r := range []*authz.Role{auditor, approver} {
			if err := tx.CreateRole(ctx, "ten_a", r); err != nil {
				return err
			}
		}
		return tx.CreateRole(ctx, "ten_b", &authz.Role{Name: "auditor", Permissions: []authz.Permission{authz.UsersManage},
			CreatedAt: at(0), UpdatedAt: at(0)})
	})
	err := s.InAccountTx(ctx, func(tx account.Tx) error { return tx.CreateRole(ctx, "ten_a", auditor) })
	if !errors.Is(err, account.ErrConflict) {
		t.Errorf("a taken role name: %v, want account.ErrConflict", err)
	}
	storedRole := func(r *authz.Role) authz.Role {
		d := *r
		d.CreatedAt, d.UpdatedAt = stored(d.CreatedAt), stored(d.UpdatedAt)
		return d
	}
	rs, err := s.CustomRoles(ctx, "ten_a")
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "CustomRoles", rs, []authz.Role{storedRole(approver), storedRole(auditor)})
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		rs, err := tx.CustomRoles(ctx, "ten_a")
		if err != nil || len(rs) != 2 {
			t.Errorf("CustomRoles in a transaction: %+v, %v", rs, err)
		}
		r, err := tx.LockRole(ctx, "ten_a", "auditor")
		if err != nil {
			return err
		}
		checkEqual(t, "LockRole", r, &authz.Role{Name: "auditor", Description: "Reads the trail",
			Permissions: []authz.Permission{authz.AuditView}, CreatedAt: stored(at(0)), UpdatedAt: stored(at(0))})
		r.Description, r.Permissions, r.UpdatedAt = "", []authz.Permission{authz.ClientView, authz.AuditView}, at(time.Hour)
		if err := tx.UpdateRole(ctx, "ten_a", r); err != nil {
			return err
		}
		if _, err := tx.LockRole(ctx, "ten_a", "nobody"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("LockRole of no role: %v", err)
		}
		if err := tx.DeleteRole(ctx, "ten_a", "approver"); err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, "ten_a", "approver"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("DeleteRole twice: %v", err)
		}
		return nil
	})
	rs, _ = s.CustomRoles(ctx, "ten_a")
	checkEqual(t, "after an update and a delete", rs, []authz.Role{{Name: "auditor",
		Permissions: []authz.Permission{authz.ClientView, authz.AuditView}, CreatedAt: stored(at(0)), UpdatedAt: stored(at(time.Hour))}})
	if rs, _ := s.CustomRoles(ctx, "ten_b"); len(rs) != 1 || rs[0].Permissions[0] != authz.UsersManage {
		t.Errorf("the other tenant's roles: %+v", rs)
	}
}

// testRoleUse: a role is used by the clients and users holding it,
// tenant-wide or in a division, of its tenant only; a role whose name
// starts like it is another role.
func testRoleUse(t *testing.T, s store.Store) {
	c1 := newClient("ten_a", "lkc_1", "Tenant-wide")
	c1.Roles = []string{"auditor"}
	c2 := newClient("ten_a", "lkc_2", "In a division")
	c2.Roles = []string{"viewer", "auditor@emea"}
	c3 := newClient("ten_a", "lkc_3", "Near miss")
	c3.Roles = []string{"auditors", "audit@emea"}
	c4 := newClient("ten_b", "lkc_4", "Another tenant")
	c4.Roles = []string{"auditor"}
	createClients(t, s, c1, c2, c3, c4)
	u := newUser("ten_a", "usr_1", "one@example.com")
	u.Roles = []string{"auditor@apac"}
	createUsers(t, s, u, newUser("ten_a", "usr_2", "two@example.com"))
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		use, err := tx.RoleUse(ctx, "ten_a", "auditor")
		if err != nil {
			return err
		}
		if use != (account.Use{Users: 1, Clients: 2}) {
			t.Errorf("RoleUse(auditor) = %+v, want 1 user and 2 clients", use)
		}
		if use, err := tx.RoleUse(ctx, "ten_a", "nobody"); err != nil || !use.None() {
			t.Errorf("RoleUse(nobody) = %+v, %v", use, err)
		}
		return nil
	})
}

// testRolesLogged: every change to a tenant's custom roles logs a change
// of kind role keyed by the tenant.
func testRolesLogged(t *testing.T, s store.Store) {
	before := changesAfter(t, s, 0)
	var after int64
	if len(before) > 0 {
		after = before[len(before)-1].Seq
	}
	r := &authz.Role{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}, CreatedAt: at(0), UpdatedAt: at(0)}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error { return tx.CreateRole(ctx, "ten_a", r) })
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		r.Description = "changed"
		return tx.UpdateRole(ctx, "ten_a", r)
	})
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error { return tx.DeleteRole(ctx, "ten_a", "auditor") })
	want := []changes.Change{{Kind: changes.Role, Key: "ten_a"}, {Kind: changes.Role, Key: "ten_a"}, {Kind: changes.Role, Key: "ten_a"}}
	checkEqual(t, "logged", kindKeys(changesAfter(t, s, after)), want)
}
