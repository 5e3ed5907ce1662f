package authz

import (
	"slices"
	"testing"
)

func TestPermissions(t *testing.T) {
	if got := Permissions([]string{SuperAdmin}); !slices.Equal(got, AllPermissions()) {
		t.Errorf("super admin: %v", got)
	}
	if got := Permissions([]string{Viewer, "unknown"}); !slices.Equal(got, []Permission{ClientView, AuditView}) {
		t.Errorf("viewer: %v", got)
	}
	got := Permissions([]string{Viewer, OAuthAdmin})
	if slices.Contains(got, UsersManage) || slices.Contains(got, TenantsManage) || !slices.Contains(got, WebhooksManage) || len(got) != 9 {
		t.Errorf("viewer+oauth admin: %v", got)
	}
	if got := Permissions([]string{ResourceServer}); !slices.Equal(got, []Permission{TokenIntrospect}) {
		t.Errorf("resource server: %v", got)
	}
	if got := Permissions(nil); len(got) != 0 {
		t.Errorf("no roles: %v", got)
	}
}

func TestTableIsImmutable(t *testing.T) {
	all := AllPermissions()
	all[0] = "tampered"
	perms := RolePermissions(Viewer)
	perms[0] = UsersManage
	names := RoleNames()
	names[0] = "tampered"
	if AllPermissions()[0] != ClientView || RolePermissions(Viewer)[0] != ClientView || RoleNames()[0] != SuperAdmin {
		t.Fatal("changing a returned slice changed the role table")
	}
	if Has([]string{Viewer}, UsersManage) {
		t.Fatal("viewer gained users:manage")
	}
	if RolePermissions("nobody") != nil || ValidRole("nobody") || !ValidRole(ResourceServer) {
		t.Fatal("unknown role handled wrongly")
	}
}

func TestHas(t *testing.T) {
	if !Has([]string{"unknown", OAuthAdmin}, ClientDelete) || Has([]string{Viewer}, ClientAdd) || Has(nil, ClientView) {
		t.Fatal("Has")
	}
	for _, p := range AllPermissions() {
		if !IsPermission(p) || !Has([]string{SuperAdmin}, p) {
			t.Errorf("%s", p)
		}
	}
	if IsPermission("oauth:client:fly") {
		t.Error("made-up permission accepted")
	}
}

func TestCanAssign(t *testing.T) {
	tests := []struct {
		held  []string
		grant string
		ok    bool
	}{
		{[]string{SuperAdmin}, OAuthAdmin, true},
		{[]string{SuperAdmin}, "oauth_admin@d2", true},
		{[]string{SuperAdmin}, "auditor", true},
		{[]string{OAuthAdmin}, OAuthAdmin, true},
		{[]string{OAuthAdmin}, "oauth_admin@d1", true},
		{[]string{OAuthAdmin}, SuperAdmin, false},
		{[]string{Viewer}, OAuthAdmin, false},
		{nil, Viewer, false},
		// A division admin gives its role in its division only.
		{[]string{"oauth_admin@d1"}, "oauth_admin@d1", true},
		{[]string{"oauth_admin@d1"}, "oauth_admin@d2", false},
		{[]string{"oauth_admin@d1"}, OAuthAdmin, false},
		{[]string{"oauth_admin@d1"}, "viewer@d1", false},
		// A super admin limited to a division is no super admin.
		{[]string{"super_admin@d1"}, "viewer@d1", false},
		{[]string{"auditor"}, "auditor@d1", true},
		{[]string{SuperAdmin}, "Bad Role", false},
		{[]string{SuperAdmin}, "super_admin@d1", false},
	}
	for _, tt := range tests {
		if got := CanAssign(tt.held, tt.grant); got != tt.ok {
			t.Errorf("CanAssign(%v, %s) = %v", tt.held, tt.grant, got)
		}
	}
}

func TestParseGrant(t *testing.T) {
	tests := []struct {
		in   string
		want Grant
		err  bool
	}{
		{"oauth_admin", Grant{Role: OAuthAdmin}, false},
		{"oauth_admin@home", Grant{Role: OAuthAdmin, Division: HomeDivision}, false},
		{"auditor@div_Ab3-x", Grant{Role: "auditor", Division: "div_Ab3-x"}, false},
		{"", Grant{}, true},
		{"Admin", Grant{}, true},
		{"oauth_admin@", Grant{}, true},
		{"oauth_admin@a@b", Grant{}, true},
		{"oauth_admin@a b", Grant{}, true},
		{"super_admin@home", Grant{}, true},
		{"@home", Grant{}, true},
	}
	for _, tt := range tests {
		g, err := ParseGrant(tt.in)
		if (err != nil) != tt.err || g != tt.want {
			t.Errorf("ParseGrant(%q) = %+v, %v", tt.in, g, err)
		}
		if err == nil && g.String() != tt.in {
			t.Errorf("%q round-trips as %q", tt.in, g.String())
		}
	}
}

func TestCatalog(t *testing.T) {
	cat := NewCatalog([]Role{
		{Name: "auditor", Description: "Reads the audit log", Permissions: []Permission{AuditView, AuditView, "made:up"}},
		{Name: Viewer, Permissions: []Permission{UsersManage}}, // cannot shadow a built-in
		{Name: "Bad Name", Permissions: []Permission{AuditView}},
	})
	if !cat.ValidRole("auditor") || !cat.ValidRole(Viewer) || cat.ValidRole("Bad Name") || (*Catalog)(nil).ValidRole("auditor") {
		t.Fatal("ValidRole")
	}
	if r, ok := cat.Role("auditor"); !ok || r.BuiltIn || !slices.Equal(r.Permissions, []Permission{AuditView}) {
		t.Fatalf("auditor: %+v", r)
	}
	if r, _ := cat.Role(Viewer); !r.BuiltIn || !slices.Equal(r.Permissions, []Permission{ClientView, AuditView}) {
		t.Fatalf("viewer was shadowed: %+v", r)
	}
	names := []string{}
	for _, r := range cat.Roles() {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{SuperAdmin, OAuthAdmin, Viewer, ResourceServer, "auditor"}) {
		t.Fatalf("Roles: %v", names)
	}
	grants := []string{"auditor", "oauth_admin@d1", "viewer@d2", "oauth_admin@d3"}
	if !cat.Has(grants, AuditView) || cat.Has(grants, ClientView) || Has(grants, AuditView) {
		t.Error("Has")
	}
	if !cat.HasIn(grants, ClientEdit, "d1") || cat.HasIn(grants, ClientEdit, "d2") || !cat.HasIn(grants, ClientView, "d2") {
		t.Error("HasIn")
	}
	if r := cat.Reach(grants, ClientView); r.All || !slices.Equal(r.Divisions, []string{"d1", "d2", "d3"}) {
		t.Errorf("Reach: %+v", r)
	}
	if r := cat.Reach(grants, AuditView); !r.All {
		t.Errorf("Reach of a tenant-wide grant: %+v", r)
	}
	if got := cat.Permissions(grants); !slices.Equal(got, []Permission{AuditView}) {
		t.Errorf("Permissions: %v", got)
	}
	// Changing what Role returned changes nothing.
	r, _ := cat.Role("auditor")
	r.Permissions[0] = UsersManage
	if cat.Has([]string{"auditor"}, UsersManage) {
		t.Error("the catalog changed")
	}
}

func TestReachIntersect(t *testing.T) {
	all := Reach{All: true}
	some := Reach{Divisions: []string{"a", "b"}}
	other := Reach{Divisions: []string{"b", "c"}}
	if r := all.Intersect(all); !r.All {
		t.Error("all ∩ all")
	}
	if r := all.Intersect(some); r.All || !slices.Equal(r.Divisions, some.Divisions) {
		t.Errorf("all ∩ some: %+v", r)
	}
	if r := some.Intersect(all); r.All || !slices.Equal(r.Divisions, some.Divisions) {
		t.Errorf("some ∩ all: %+v", r)
	}
	if r := some.Intersect(other); !slices.Equal(r.Divisions, []string{"b"}) || !r.In("b") || r.In("a") {
		t.Errorf("some ∩ other: %+v", r)
	}
	if r := some.Intersect(Reach{}); r.Any() {
		t.Errorf("some ∩ nothing: %+v", r)
	}
}
