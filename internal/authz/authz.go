// Package authz names Latchkey's permissions and the roles that bundle them.
// Users and client_credentials clients hold roles; a token's permissions are
// the union of its roles' permissions, never more than its owner's.
//
// The built-in role table is fixed at compile time and cannot be changed
// at run time: every accessor returns a fresh copy. A tenant may define
// custom roles beside it; a Catalog holds both. A role is granted in every
// division of a tenant or in one division only (see Grant).
package authz

import "slices"

// Permission is one thing an admin principal may do.
type Permission string

// The permissions of the admin API and console, and of the protocol
// endpoints that are not open to every client.
const (
	ClientView   Permission = "oauth:client:view"
	ClientAdd    Permission = "oauth:client:add"
	ClientEdit   Permission = "oauth:client:edit"
	ClientRotate Permission = "oauth:client:rotate"
	ClientRevoke Permission = "oauth:client:revoke"
	ClientDelete Permission = "oauth:client:delete"
	AuditView    Permission = "audit:view"
	UsersManage  Permission = "users:manage"
	// TenantsManage lets a principal create and list tenants: the super
	// admin's alone.
	TenantsManage Permission = "tenants:manage"
	// WebhooksManage lets a principal add, list and delete its tenant's
	// webhooks and read their deliveries: tenant-wide only, as webhooks
	// hear of every client of the tenant.
	WebhooksManage Permission = "webhooks:manage"
	// TokenIntrospect lets a client introspect any access token of its
	// tenant (RFC 7662 §4), not only those it is an audience of: what a
	// resource server is given.
	TokenIntrospect Permission = "oauth:token:introspect"
)

// allPermissions lists every permission, in display order.
var allPermissions = [...]Permission{ClientView, ClientAdd, ClientEdit, ClientRotate, ClientRevoke, ClientDelete,
	AuditView, UsersManage, TenantsManage, TokenIntrospect, WebhooksManage}

// AllPermissions returns every permission, in display order.
func AllPermissions() []Permission { return slices.Clone(allPermissions[:]) }

// IsPermission reports whether p names a permission.
func IsPermission(p Permission) bool { return slices.Contains(allPermissions[:], p) }

// Built-in roles.
const (
	SuperAdmin = "super_admin"
	OAuthAdmin = "oauth_admin"
	Viewer     = "viewer"
	// ResourceServer is for an API's own client: it may introspect the
	// tenant's tokens and nothing else.
	ResourceServer = "resource_server"
)

// role is one row of the fixed role table.
type role struct {
	name        string
	description string
	perms       []Permission
}

// roles is the role table, in display order.
var roles = [...]role{
	{SuperAdmin, "Everything, in every division, and the tenants themselves", allPermissions[:]},
	{OAuthAdmin, "Manages OAuth clients and their webhooks, and reads the audit log", []Permission{ClientView, ClientAdd, ClientEdit, ClientRotate, ClientRevoke, ClientDelete, AuditView, TokenIntrospect, WebhooksManage}},
	{Viewer, "Sees clients and the audit log", []Permission{ClientView, AuditView}},
	{ResourceServer, "An API's own client: introspects the tenant's tokens", []Permission{TokenIntrospect}},
}

func lookup(r string) *role {
	for i := range roles {
		if roles[i].name == r {
			return &roles[i]
		}
	}
	return nil
}

// RoleNames returns the built-in roles, in display order.
func RoleNames() []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.name
	}
	return out
}

// RolePermissions returns the permissions built-in role r grants; none for
// any other role.
func RolePermissions(r string) []Permission {
	if x := lookup(r); x != nil {
		return slices.Clone(x.perms)
	}
	return nil
}

// ValidRole reports whether r names a built-in role.
func ValidRole(r string) bool { return lookup(r) != nil }

// Permissions returns, in display order, the permissions the built-in
// roles among grants give tenant-wide; see Catalog.Permissions.
func Permissions(grants []string) []Permission { return (*Catalog)(nil).Permissions(grants) }

// Has reports whether the built-in roles among grants give p tenant-wide;
// see Catalog.Has.
func Has(grants []string, p Permission) bool { return (*Catalog)(nil).Has(grants, p) }

// CanAssign reports whether a principal holding held may give grant g to
// someone else: a super admin may give anything; anyone else must hold
// g's role tenant-wide, or, for a grant limited to a division, in that
// division. A malformed grant cannot be given.
func CanAssign(held []string, g string) bool {
	want, err := ParseGrant(g)
	if err != nil {
		return false
	}
	for _, h := range held {
		role, div := splitGrant(h)
		switch {
		case role == SuperAdmin && div == "":
			return true
		case role == want.Role && (div == "" || div == want.Division):
			return true
		}
	}
	return false
}
