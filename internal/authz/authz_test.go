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
	if slices.Contains(got, UsersManage) || slices.Contains(got, TenantsManage) || len(got) != 8 {
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
		held []string
		role string
		ok   bool
	}{
		{[]string{SuperAdmin}, OAuthAdmin, true},
		{[]string{OAuthAdmin}, OAuthAdmin, true},
		{[]string{OAuthAdmin}, SuperAdmin, false},
		{[]string{Viewer}, OAuthAdmin, false},
		{nil, Viewer, false},
	}
	for _, tt := range tests {
		if got := CanAssign(tt.held, tt.role); got != tt.ok {
			t.Errorf("CanAssign(%v, %s) = %v", tt.held, tt.role, got)
		}
	}
}
