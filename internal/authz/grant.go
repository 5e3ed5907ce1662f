package authz

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/latchkey/latchkey/internal/errs"
)

// HomeDivision is the ID of the division every tenant has from its
// creation, named "Home Division": where clients and users belong unless
// put elsewhere. It cannot be deleted.
const HomeDivision = "home"

// HomeDivisionName is the name the home division is created with.
const HomeDivisionName = "Home Division"

// divisionPattern is what a division ID may be: characters that need no
// escaping in a URL or a flag, and no '@', which separates it from the role
// in a grant.
var divisionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidDivisionID reports whether id can name a division.
func ValidDivisionID(id string) bool { return divisionPattern.MatchString(id) }

// rolePattern is what a role name may be: lower-case, so that names never
// differ only by case. The built-in names fit it.
var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// ValidRoleName reports whether name is well formed for a role, built in or
// custom; it does not say that such a role exists.
func ValidRoleName(name string) bool { return rolePattern.MatchString(name) }

// Grant is one role held by a principal: in every division of its tenant
// (Division empty), or in one division only. Its stored form, in a user's
// or client's Roles, is the role name ("oauth_admin") or the role and the
// division joined by '@' ("oauth_admin@emea").
type Grant struct {
	Role     string
	Division string
}

// String returns g's stored form.
func (g Grant) String() string {
	if g.Division == "" {
		return g.Role
	}
	return g.Role + "@" + g.Division
}

// ParseGrant parses the stored form of a grant and checks its shape: a
// well-formed role name and, after an '@', a well-formed division ID. It
// does not check that the role or the division exists. super_admin is held
// tenant-wide only: it manages tenants, which no division contains.
func ParseGrant(s string) (Grant, error) {
	role, div, scoped := strings.Cut(s, "@")
	switch {
	case !ValidRoleName(role):
		return Grant{}, fmt.Errorf("%q is not a role: role names are 1–63 lower-case letters, digits, '_' or '-', starting with a letter", clip(s))
	case scoped && !ValidDivisionID(div):
		return Grant{}, fmt.Errorf("%q does not name a division after the '@'", clip(s))
	case scoped && role == SuperAdmin:
		return Grant{}, fmt.Errorf("%s is held in every division or none: it cannot be limited to %q", SuperAdmin, div)
	}
	return Grant{Role: role, Division: div}, nil
}

// splitGrant is ParseGrant without the checks, for the permission checks
// on the hot path: a malformed grant simply names no role that exists.
func splitGrant(s string) (role, division string) {
	role, division, _ = strings.Cut(s, "@")
	return role, division
}

// clip shortens s for quoting in an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// DivisionChecker says whether a tenant has a division. The storage
// adapters' transactions implement it, holding the division found until
// the transaction ends.
type DivisionChecker interface {
	DivisionInTenant(ctx context.Context, tenantID, divisionID string) (bool, error)
}

// GrantRefs is what CheckGrants reads: a transaction's view of the
// tenant's roles and divisions.
type GrantRefs interface {
	RoleSource
	DivisionChecker
}

// CheckGrants checks that each of grants, well formed, names a role and a
// division the tenant has, as tx reads them. The first that does not is a
// field error on field. The home division needs no reading: every tenant
// has it.
func CheckGrants(ctx context.Context, tx GrantRefs, tenantID, field string, grants []string) error {
	var cat *Catalog
	if NamesCustomRole(grants) {
		custom, err := tx.CustomRoles(ctx, tenantID)
		if err != nil {
			return err
		}
		cat = NewCatalog(custom)
	}
	for _, s := range grants {
		g, err := ParseGrant(s)
		if err != nil {
			return errs.Invalid(field, err.Error())
		}
		if !cat.ValidRole(g.Role) {
			return errs.Invalid(field, fmt.Sprintf("unknown role %q", g.Role))
		}
		if g.Division == "" || g.Division == HomeDivision {
			continue
		}
		ok, err := tx.DivisionInTenant(ctx, tenantID, g.Division)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Invalid(field, fmt.Sprintf("%q: no division %q in this tenant", s, g.Division))
		}
	}
	return nil
}
