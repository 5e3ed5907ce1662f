package authz

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Role is a named set of permissions: one of the built-in roles, or one a
// tenant defined for itself (a custom role).
type Role struct {
	Name        string
	Description string
	// Permissions are in display order (that of AllPermissions).
	Permissions []Permission
	// BuiltIn roles are Latchkey's own, the same in every tenant; they
	// cannot be changed or deleted.
	BuiltIn bool
	// CreatedAt and UpdatedAt are a custom role's; zero for a built-in.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RoleSource reads a tenant's custom roles. The storage adapters implement
// it, outside and inside a transaction (inside, the roles read stay as
// read until the transaction ends, so none is deleted from under a grant
// being written).
type RoleSource interface {
	// CustomRoles returns the tenant's custom roles, by name.
	CustomRoles(ctx context.Context, tenantID string) ([]Role, error)
}

// Catalog is every role of one tenant: the built-in roles and the
// tenant's custom roles. It is immutable once built, so a cached one is
// shared freely. A nil *Catalog is the built-in roles alone: every method
// accepts one.
type Catalog struct {
	custom map[string]Role
}

// NewCatalog returns the catalog of the built-in roles and custom. A custom
// role named like a built-in one is left out (the built-in wins, as role
// names are validated against it on every write), and so are permissions
// Latchkey does not know.
func NewCatalog(custom []Role) *Catalog {
	c := &Catalog{custom: make(map[string]Role, len(custom))}
	for _, r := range custom {
		if lookup(r.Name) != nil || !ValidRoleName(r.Name) {
			continue
		}
		r.BuiltIn = false
		r.Permissions = ordered(r.Permissions)
		c.custom[r.Name] = r
	}
	return c
}

// ordered returns the known permissions of ps, once each, in display order.
func ordered(ps []Permission) []Permission {
	var out []Permission
	for _, p := range allPermissions {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	return out
}

// perms returns the permissions of the role named, without copying; nil
// for a role that does not exist.
func (c *Catalog) perms(name string) []Permission {
	if x := lookup(name); x != nil {
		return x.perms
	}
	if c == nil {
		return nil
	}
	return c.custom[name].Permissions
}

// Role returns the role named, as a copy.
func (c *Catalog) Role(name string) (Role, bool) {
	if x := lookup(name); x != nil {
		return Role{Name: x.name, Description: x.description, Permissions: slices.Clone(x.perms), BuiltIn: true}, true
	}
	if c == nil {
		return Role{}, false
	}
	r, ok := c.custom[name]
	r.Permissions = slices.Clone(r.Permissions)
	return r, ok
}

// Roles returns every role: the built-in ones in display order, then the
// custom ones by name.
func (c *Catalog) Roles() []Role {
	var out []Role
	for _, x := range roles {
		r, _ := c.Role(x.name)
		out = append(out, r)
	}
	if c != nil {
		custom := make([]Role, 0, len(c.custom))
		for name := range c.custom {
			r, _ := c.Role(name)
			custom = append(custom, r)
		}
		slices.SortFunc(custom, func(a, b Role) int { return cmp.Compare(a.Name, b.Name) })
		out = append(out, custom...)
	}
	return out
}

// ValidRole reports whether name is a role of the catalog.
func (c *Catalog) ValidRole(name string) bool { return c.perms(name) != nil }

// Has reports whether grants give p in every division of the tenant.
func (c *Catalog) Has(grants []string, p Permission) bool {
	for _, g := range grants {
		if role, div := splitGrant(g); div == "" && slices.Contains(c.perms(role), p) {
			return true
		}
	}
	return false
}

// HasIn reports whether grants give p in the division named: tenant-wide,
// or in that division.
func (c *Catalog) HasIn(grants []string, p Permission, division string) bool {
	for _, g := range grants {
		if role, div := splitGrant(g); (div == "" || div == division) && slices.Contains(c.perms(role), p) {
			return true
		}
	}
	return false
}

// Reach returns where grants give p.
func (c *Catalog) Reach(grants []string, p Permission) Reach {
	var r Reach
	for _, g := range grants {
		role, div := splitGrant(g)
		if !slices.Contains(c.perms(role), p) {
			continue
		}
		if div == "" {
			return Reach{All: true}
		}
		if !slices.Contains(r.Divisions, div) {
			r.Divisions = append(r.Divisions, div)
		}
	}
	slices.Sort(r.Divisions)
	return r
}

// Permissions returns, in display order, the permissions grants give in
// every division of the tenant.
func (c *Catalog) Permissions(grants []string) []Permission {
	var out []Permission
	for _, p := range allPermissions {
		if c.Has(grants, p) {
			out = append(out, p)
		}
	}
	return out
}

// Reach is where a permission is held within a tenant: in every division
// (All), or in the divisions listed, sorted. The zero Reach is nowhere.
type Reach struct {
	All       bool
	Divisions []string
}

// Any reports whether r is somewhere.
func (r Reach) Any() bool { return r.All || len(r.Divisions) > 0 }

// In reports whether r includes the division named.
func (r Reach) In(division string) bool { return r.All || slices.Contains(r.Divisions, division) }

// Intersect returns where both r and o hold.
func (r Reach) Intersect(o Reach) Reach {
	switch {
	case r.All:
		return Reach{All: o.All, Divisions: slices.Clone(o.Divisions)}
	case o.All:
		return Reach{Divisions: slices.Clone(r.Divisions)}
	}
	var out Reach
	for _, d := range r.Divisions {
		if slices.Contains(o.Divisions, d) {
			out.Divisions = append(out.Divisions, d)
		}
	}
	return out
}

// Resolve gives the actor its tenant's catalog, read from src, when it
// carries none and its roles, its owner's, or the grants it is about to
// give name a role that is not built in. A write that stores grants
// checks them again against the catalog as it stands in its transaction.
func Resolve(ctx context.Context, src RoleSource, actor *Actor, grants []string) error {
	if actor.Catalog != nil || actor.TenantID == "" || !(actor.NeedsCatalog() || NamesCustomRole(grants)) {
		return nil
	}
	custom, err := src.CustomRoles(ctx, actor.TenantID)
	if err != nil {
		return err
	}
	actor.Catalog = NewCatalog(custom)
	return nil
}
