package grant

import (
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/authz"
)

func TestEntitled(t *testing.T) {
	view := []authz.Permission{authz.ClientView, authz.AuditView}
	admin := authz.RolePermissions(authz.OAuthAdmin)
	cat := authz.NewCatalog([]authz.Role{{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}}})
	tests := []struct {
		name          string
		grants, owner []string
		owned         bool
		perms         []authz.Permission
		roles         []string
	}{
		{"no owner", []string{authz.Viewer, "oauth_admin@d2"}, nil, false, admin, []string{authz.Viewer, "oauth_admin@d2"}},
		{"owner holds it tenant-wide", []string{authz.OAuthAdmin}, []string{authz.OAuthAdmin}, true, admin, []string{authz.OAuthAdmin}},
		{"owner holds it in one division", []string{authz.OAuthAdmin}, []string{"oauth_admin@emea"}, true, admin,
			[]string{"oauth_admin@emea"}},
		{"owner views in two divisions", []string{authz.OAuthAdmin}, []string{"viewer@d2", "viewer@d1"}, true, view,
			[]string{"oauth_admin@d1", "oauth_admin@d2"}},
		// The owner views everywhere but edits in emea only: the grant
		// claims emea, never the whole tenant.
		{"owner's permissions differ by division", []string{authz.OAuthAdmin}, []string{authz.Viewer, "oauth_admin@emea"}, true,
			admin, []string{"oauth_admin@emea"}},
		{"a division grant where the owner is", []string{"oauth_admin@d1"}, []string{authz.Viewer}, true, view,
			[]string{"oauth_admin@d1"}},
		{"a division grant where the owner is not", []string{"oauth_admin@d1"}, []string{"viewer@d2"}, true, nil, nil},
		{"a tenant-wide grant and a division one", []string{authz.Viewer, "oauth_admin@d1"}, []string{"oauth_admin@d1"}, true,
			admin, []string{"viewer@d1", "oauth_admin@d1"}},
		{"super_admin owned by a super admin", []string{authz.SuperAdmin}, []string{authz.SuperAdmin}, true,
			authz.AllPermissions(), []string{authz.SuperAdmin}},
		{"super_admin owned by a division admin", []string{authz.SuperAdmin}, []string{"oauth_admin@emea"}, true, admin, nil},
		{"a custom role", []string{"auditor"}, []string{"viewer@d1"}, true, []authz.Permission{authz.AuditView},
			[]string{"auditor@d1"}},
		{"a deleted owner", []string{authz.OAuthAdmin}, nil, true, nil, nil},
	}
	for _, tt := range tests {
		perms, roles := Entitled(cat, tt.grants, tt.owner, tt.owned)
		if !slices.Equal(perms, tt.perms) {
			t.Errorf("%s: permissions %v, want %v", tt.name, perms, tt.perms)
		}
		if !slices.Equal(roles, tt.roles) {
			t.Errorf("%s: roles %v, want %v", tt.name, roles, tt.roles)
		}
	}
}
