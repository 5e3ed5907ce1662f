// Package authz names Latchkey's permissions and the roles that bundle them.
// Users and client_credentials clients hold roles; a token's permissions are
// the union of its roles' permissions, never more than its owner's.
package authz

import "slices"

// Permission is one thing an admin principal may do.
type Permission string

// The permissions of the admin API and console.
const (
	ClientView   Permission = "oauth:client:view"
	ClientAdd    Permission = "oauth:client:add"
	ClientEdit   Permission = "oauth:client:edit"
	ClientRotate Permission = "oauth:client:rotate"
	ClientRevoke Permission = "oauth:client:revoke"
	ClientDelete Permission = "oauth:client:delete"
	AuditView    Permission = "audit:view"
	UsersManage  Permission = "users:manage"
)

// AllPermissions lists every permission, in display order.
var AllPermissions = []Permission{ClientView, ClientAdd, ClientEdit, ClientRotate, ClientRevoke, ClientDelete, AuditView, UsersManage}

// Built-in roles.
const (
	SuperAdmin = "super_admin"
	OAuthAdmin = "oauth_admin"
	Viewer     = "viewer"
)

// Roles maps each role to the permissions it grants. It is read-only.
var Roles = map[string][]Permission{
	SuperAdmin: AllPermissions,
	OAuthAdmin: {ClientView, ClientAdd, ClientEdit, ClientRotate, ClientRevoke, ClientDelete, AuditView},
	Viewer:     {ClientView, AuditView},
}

// ValidRole reports whether r names a built-in role.
func ValidRole(r string) bool { _, ok := Roles[r]; return ok }

// Permissions returns the union of the roles' permissions, in display order.
func Permissions(roles []string) []Permission {
	var out []Permission
	for _, p := range AllPermissions {
		for _, r := range roles {
			if slices.Contains(Roles[r], p) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// CanAssign reports whether a principal holding held may give role r to
// someone else: it must hold r itself, or be a super admin.
func CanAssign(held []string, r string) bool {
	return slices.Contains(held, SuperAdmin) || slices.Contains(held, r)
}
