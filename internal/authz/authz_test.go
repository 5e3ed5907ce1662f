package authz

import (
	"slices"
	"testing"
)

func TestPermissions(t *testing.T) {
	if got := Permissions([]string{SuperAdmin}); !slices.Equal(got, AllPermissions) {
		t.Errorf("super admin: %v", got)
	}
	if got := Permissions([]string{Viewer, "unknown"}); !slices.Equal(got, []Permission{ClientView, AuditView}) {
		t.Errorf("viewer: %v", got)
	}
	if got := Permissions([]string{Viewer, OAuthAdmin}); slices.Contains(got, UsersManage) || len(got) != 7 {
		t.Errorf("viewer+oauth admin: %v", got)
	}
	if got := Permissions(nil); len(got) != 0 {
		t.Errorf("no roles: %v", got)
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
