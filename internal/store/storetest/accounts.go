package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/store"
)

var accountTests = []test{
	{"Tenants", testTenants},
	{"TenantSlugs", testTenantSlugs},
	{"DefaultTenant", testDefaultTenant},
	{"Users", testUsers},
	{"UserEmailUniquePerTenant", testUserEmailUnique},
	{"UpdateUser", testUpdateUser},
	{"RenewPasswordHash", testRenewPasswordHash},
}

// testRenewPasswordHash: a hash is renewed only while it is the one the
// caller verified, and nothing else of the user changes.
func testRenewPasswordHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("ten_a", "usr_1", "one@example.com")
	u.PasswordHash = "$argon2id$old"
	createUsers(t, s, u)
	if err := s.RenewPasswordHash(ctx, u.ID, "$argon2id$old", "$argon2id$renewed"); err != nil {
		t.Fatal(err)
	}
	want := storedUser(u)
	want.PasswordHash = "$argon2id$renewed"
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "renewed user", got, want)
	// The password changed since the verification: kept.
	if err := s.RenewPasswordHash(ctx, u.ID, "$argon2id$old", "$argon2id$stale"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.User(ctx, u.ID); got.PasswordHash != "$argon2id$renewed" {
		t.Errorf("a stale renewal overwrote the hash: %q", got.PasswordHash)
	}
	if err := s.RenewPasswordHash(ctx, "usr_missing", "a", "b"); err != nil {
		t.Errorf("RenewPasswordHash(missing): %v", err)
	}
}

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ts, err := s.Tenants(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("Tenants of an empty store: %v, %v", ts, err)
	}
	// Inserted out of creation order; two share a creation time.
	tenants := []account.Tenant{
		{ID: "ten_c", Name: "Charlie", CreatedAt: at(2 * time.Hour)},
		{ID: "ten_b", Name: "Bravo", CreatedAt: at(time.Hour)},
		{ID: "ten_a", Name: "Alpha", CreatedAt: at(time.Hour)},
		{ID: "ten_0", Name: "Oldest", CreatedAt: at(0)},
	}
	for i := range tenants {
		if err := s.CreateTenant(ctx, &tenants[i]); err != nil {
			t.Fatalf("CreateTenant(%s): %v", tenants[i].ID, err)
		}
	}
	got, err := s.Tenant(ctx, "ten_b")
	if err != nil {
		t.Fatalf("Tenant: %v", err)
	}
	checkEqual(t, "Tenant", got, &account.Tenant{ID: "ten_b", Name: "Bravo", CreatedAt: stored(at(time.Hour))})

	list, err := s.Tenants(ctx)
	if err != nil {
		t.Fatalf("Tenants: %v", err)
	}
	var order []string
	for _, tn := range list {
		order = append(order, tn.ID)
	}
	checkEqual(t, "Tenants oldest first", order, []string{"ten_0", "ten_a", "ten_b", "ten_c"})

	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_a", Name: "Again", CreatedAt: base}); !errors.Is(err, account.ErrConflict) {
		t.Errorf("CreateTenant with a taken ID: got %v, want account.ErrConflict", err)
	}
	if _, err := s.Tenant(ctx, "ten_missing"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("Tenant(missing): got %v, want account.ErrNotFound", err)
	}
}

// testTenantSlugs: a tenant is found by its slug, slugs are unique, and
// tenants made without one (stored as none) do not collide.
func testTenantSlugs(t *testing.T, s store.Store) {
	ctx := t.Context()
	acme := &account.Tenant{ID: "ten_acme", Name: "Acme", Slug: "acme", CreatedAt: at(0)}
	for _, tn := range []*account.Tenant{
		acme,
		{ID: "ten_x", Name: "No slug", CreatedAt: at(time.Hour)},
		{ID: "ten_y", Name: "No slug either", CreatedAt: at(time.Hour)},
	} {
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatalf("CreateTenant(%s): %v", tn.ID, err)
		}
	}
	got, err := s.TenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatalf("TenantBySlug: %v", err)
	}
	checkEqual(t, "TenantBySlug", got, &account.Tenant{ID: "ten_acme", Name: "Acme", Slug: "acme", CreatedAt: stored(at(0))})
	if got, err := s.Tenant(ctx, "ten_x"); err != nil || got.Slug != "" {
		t.Errorf("Tenant without a slug: %+v, %v", got, err)
	}
	for _, slug := range []string{"ACME", "acm", "", "ten_acme"} {
		if _, err := s.TenantBySlug(ctx, slug); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("TenantBySlug(%q): got %v, want account.ErrNotFound", slug, err)
		}
	}
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_acme2", Name: "Acme again", Slug: "acme", CreatedAt: base}); !errors.Is(err, account.ErrConflict) {
		t.Errorf("CreateTenant with a taken slug: got %v, want account.ErrConflict", err)
	}
	list, err := s.Tenants(ctx)
	if err != nil || len(list) != 3 || list[0].Slug != "acme" {
		t.Errorf("Tenants: %+v, %v", list, err)
	}
}

// testDefaultTenant: at most one tenant is the default, and it is found.
func testDefaultTenant(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.DefaultTenant(ctx); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("DefaultTenant of an empty store: got %v, want account.ErrNotFound", err)
	}
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_other", Name: "Other", Slug: "other", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DefaultTenant(ctx); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("DefaultTenant with no default: got %v, want account.ErrNotFound", err)
	}
	// Two first starts race to make the default: one wins.
	errs := together(rotators, func(i int) error {
		return s.CreateTenant(ctx, &account.Tenant{ID: "ten_d" + string(rune('0'+i)), Name: "Default",
			Default: true, CreatedAt: at(time.Hour)})
	})
	won := ""
	for i, err := range errs {
		switch {
		case err == nil && won == "":
			won = "ten_d" + string(rune('0'+i))
		case err == nil:
			t.Errorf("a second default tenant was created")
		case !errors.Is(err, account.ErrConflict):
			t.Errorf("CreateTenant(default) %d: got %v, want nil or account.ErrConflict", i, err)
		}
	}
	got, err := s.DefaultTenant(ctx)
	if err != nil {
		t.Fatalf("DefaultTenant: %v", err)
	}
	checkEqual(t, "DefaultTenant", got, &account.Tenant{ID: won, Name: "Default", Default: true, CreatedAt: stored(at(time.Hour))})
}

func newUser(tenantID, id, email string) *account.User {
	return &account.User{
		ID: id, TenantID: tenantID, Email: email, Name: "Name of " + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$a2V5",
		Roles:        []string{"viewer", "oauth_admin@div_ops"}, DivisionID: "div_ops", Locale: "nb",
		CreatedAt: at(0), UpdatedAt: at(time.Minute),
	}
}

// storedUser is what a store returns for u.
func storedUser(u *account.User) *account.User {
	d := *u
	if d.Status == "" {
		d.Status = account.UserActive
	}
	if d.DivisionID == "" {
		d.DivisionID = authz.HomeDivision
	}
	d.Email = strings.ToLower(d.Email)
	d.Roles = nilIfEmpty(d.Roles)
	d.CreatedAt, d.UpdatedAt = stored(d.CreatedAt), stored(d.UpdatedAt)
	return &d
}

func createUsers(t *testing.T, s store.Store, us ...*account.User) {
	t.Helper()
	for _, u := range us {
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.ID, err)
		}
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newUser("ten_a", "usr_full", "Mixed.Case@Example.COM")
	bare := &account.User{ID: "usr_bare", TenantID: "ten_a", Email: "bare@example.com", CreatedAt: base, UpdatedAt: base}
	other := newUser("ten_b", "usr_other", "aaa@example.com")
	createUsers(t, s, full, bare, other, newUser("ten_a", "usr_z", "zz@example.com"), newUser("ten_a", "usr_a", "aa@example.com"))

	got, err := s.User(ctx, "usr_full")
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	checkEqual(t, "User", got, storedUser(full))
	if got, err = s.User(ctx, "usr_bare"); err != nil {
		t.Fatalf("User: %v", err)
	}
	checkEqual(t, "User without roles", got, storedUser(bare))

	for _, email := range []string{"mixed.case@example.com", "MIXED.CASE@EXAMPLE.COM"} {
		got, err := s.UserByEmail(ctx, "ten_a", email)
		if err != nil {
			t.Fatalf("UserByEmail(%q): %v", email, err)
		}
		checkEqual(t, "UserByEmail", got, storedUser(full))
	}
	notFound := map[string]error{}
	_, notFound["User(missing)"] = s.User(ctx, "usr_missing")
	_, notFound["UserByEmail in another tenant"] = s.UserByEmail(ctx, "ten_b", "mixed.case@example.com")
	_, notFound["UserByEmail(unknown)"] = s.UserByEmail(ctx, "ten_a", "nobody@example.com")
	for what, err := range notFound {
		if !errors.Is(err, account.ErrNotFound) {
			t.Errorf("%s: got %v, want account.ErrNotFound", what, err)
		}
	}

	users, err := s.Users(ctx, "ten_a")
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	var emails []string
	for _, u := range users {
		emails = append(emails, u.Email)
	}
	checkEqual(t, "Users by email", emails, []string{"aa@example.com", "bare@example.com", "mixed.case@example.com", "zz@example.com"})
	if users, err := s.Users(ctx, "ten_none"); err != nil || len(users) != 0 {
		t.Errorf("Users of an empty tenant: %v, %v", users, err)
	}
	if err := s.CreateUser(ctx, newUser("ten_c", "usr_full", "new@example.com")); !errors.Is(err, account.ErrConflict) {
		t.Errorf("CreateUser with a taken ID: got %v, want account.ErrConflict", err)
	}
}

func testUserEmailUnique(t *testing.T, s store.Store) {
	createUsers(t, s, newUser("ten_a", "usr_1", "Same@Example.com"))
	if err := s.CreateUser(t.Context(), newUser("ten_a", "usr_2", "same@EXAMPLE.com")); !errors.Is(err, account.ErrConflict) {
		t.Errorf("CreateUser with a taken email: got %v, want account.ErrConflict", err)
	}
	// Another tenant may have the same address.
	createUsers(t, s, newUser("ten_b", "usr_3", "same@example.com"))
}

func testUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("ten_a", "usr_1", "one@example.com")
	createUsers(t, s, u, newUser("ten_a", "usr_2", "two@example.com"))

	v := *u
	v.Email, v.Name, v.PasswordHash, v.Roles, v.Locale = "Uno@Example.com", "Uno", "", nil, "fi"
	v.UpdatedAt = at(time.Hour + 1)
	// Tenant and creation time never change.
	v.TenantID, v.CreatedAt = "ten_b", at(time.Hour)
	if err := s.UpdateUser(ctx, &v); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	got, err := s.User(ctx, "usr_1")
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	want := storedUser(&v)
	want.TenantID, want.CreatedAt = u.TenantID, stored(u.CreatedAt)
	checkEqual(t, "updated user", got, want)

	v.Email = "TWO@example.com"
	if err := s.UpdateUser(ctx, &v); !errors.Is(err, account.ErrConflict) {
		t.Errorf("UpdateUser to a taken email: got %v, want account.ErrConflict", err)
	}
	if err := s.UpdateUser(ctx, newUser("ten_a", "usr_missing", "x@example.com")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("UpdateUser(missing): got %v, want account.ErrNotFound", err)
	}
}
