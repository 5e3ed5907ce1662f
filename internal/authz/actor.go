package authz

import (
	"fmt"
	"slices"

	"github.com/latchkey/latchkey/internal/errs"
)

// PrincipalKind says what sort of principal an Actor is.
type PrincipalKind string

const (
	// KindUser is a person signed in to the console or the account pages.
	KindUser PrincipalKind = "user"
	// KindClient is a client acting through the admin API with a token.
	KindClient PrincipalKind = "client"
	// KindCLI is an operator at the command line, acting on the database
	// directly; Name is their operating-system user.
	KindCLI PrincipalKind = "cli"
	// KindSystem is Latchkey itself: first-start provisioning and
	// background jobs.
	KindSystem PrincipalKind = "system"
	// KindAnonymous is someone who has not authenticated: the party to a
	// failed sign-in or a failed client authentication. It holds no
	// roles; only its source address is known.
	KindAnonymous PrincipalKind = "anonymous"
	// KindRegistration is a party to dynamic client registration (RFC
	// 7591/7592): one registering a client, with an initial access token
	// or openly, or a registered client managing its own registration with
	// its registration access token. ID names the credential.
	KindRegistration PrincipalKind = "registration"
)

// Actor is who performs an operation, with what the permission checks and
// the audit trail need. Every domain service method takes one and checks
// its permission before it reads or writes anything.
type Actor struct {
	Kind PrincipalKind
	// ID is the user or client ID, "cli:<os user>" for an operator at the
	// CLI, or "system"; it is recorded as created_by.
	ID string
	// Name is a readable name for audit: the operating-system user of a
	// CLI actor, a user's email, a client's name.
	Name     string
	TenantID string
	// Roles are the actor's grants: role names, each held tenant-wide or,
	// as role@division, in one division (see Grant).
	Roles []string
	// Catalog resolves the roles; nil knows the built-in roles only. The
	// services load the tenant's catalog themselves when it is nil and
	// Roles name a role that is not built in.
	Catalog *Catalog
	// Limit, when not nil, caps what the roles grant: a permission must be
	// listed here too. The admin API sets it to the permissions a bearer
	// token's scopes carry, so a token is never worth more than its scopes
	// nor more than its principal's current roles.
	Limit []Permission
	// Owner, when not nil, caps the actor by another principal's grants: a
	// permission is held only where both Roles and Owner give it, and a
	// grant is given only if both could give it. The admin API sets it to
	// the grants of a client's owner (none when the owner is missing,
	// disabled or of another tenant), so a client never acts beyond its
	// owner, division by division. Catalog resolves these grants too.
	Owner []string
	// SourceAddr and RequestID tie an audited change to the request that
	// made it; empty outside HTTP.
	SourceAddr string
	RequestID  string
}

// SystemActor is Latchkey itself acting in a tenant with every permission:
// first-start provisioning and background jobs.
func SystemActor(tenantID string) Actor {
	return Actor{Kind: KindSystem, ID: "system", Name: "latchkey", TenantID: tenantID, Roles: []string{SuperAdmin}}
}

// OperatorActor is an operator at the command line: the database's owner,
// acting as a super admin of one tenant under their OS user name.
func OperatorActor(tenantID, osUser string) Actor {
	if osUser == "" {
		osUser = "unknown"
	}
	return Actor{Kind: KindCLI, ID: "cli:" + osUser, Name: osUser, TenantID: tenantID, Roles: []string{SuperAdmin}}
}

// limited reports whether Limit, when set, leaves p out.
func (a Actor) limited(p Permission) bool { return a.Limit != nil && !slices.Contains(a.Limit, p) }

// capped reports whether Owner is set.
func (a Actor) capped() bool { return a.Owner != nil }

// Can reports whether the actor holds permission p in every division of
// its tenant.
func (a Actor) Can(p Permission) bool {
	return a.TenantID != "" && !a.limited(p) && a.Catalog.Has(a.Roles, p) &&
		(!a.capped() || a.Catalog.Has(a.Owner, p))
}

// CanIn reports whether the actor holds p in the division named: tenant-wide
// or in that division.
func (a Actor) CanIn(p Permission, division string) bool {
	return a.TenantID != "" && !a.limited(p) && a.Catalog.HasIn(a.Roles, p, division) &&
		(!a.capped() || a.Catalog.HasIn(a.Owner, p, division))
}

// Divisions says where the actor holds p: in every division (all), or in
// the divisions listed, sorted. Lists filter by it.
func (a Actor) Divisions(p Permission) (all bool, ids []string) {
	r := a.reach(p)
	return r.All, r.Divisions
}

func (a Actor) reach(p Permission) Reach {
	if a.TenantID == "" || a.limited(p) {
		return Reach{}
	}
	r := a.Catalog.Reach(a.Roles, p)
	if a.capped() {
		r = r.Intersect(a.Catalog.Reach(a.Owner, p))
	}
	return r
}

// Require returns nil when the actor holds p tenant-wide, and otherwise an
// error wrapping errs.ErrForbidden that names the missing permission.
func (a Actor) Require(p Permission) error {
	if a.Can(p) {
		return nil
	}
	return fmt.Errorf("%w: this needs the %s permission", errs.ErrForbidden, p)
}

// RequireIn is Require for one division.
func (a Actor) RequireIn(p Permission, division string) error {
	if a.CanIn(p, division) {
		return nil
	}
	return fmt.Errorf("%w: this needs the %s permission in division %q", errs.ErrForbidden, p, division)
}

// RequireSome returns nil when the actor holds p in at least one division,
// and otherwise the error of Require. It is the first check of an
// operation on records whose division is not known yet: each record is
// then checked with CanIn.
func (a Actor) RequireSome(p Permission) error {
	if a.reach(p).Any() {
		return nil
	}
	return a.Require(p)
}

// IsSuperAdmin reports whether the actor holds the super admin role, and
// so does Owner, if set, and Limit, if set, leaves it every permission.
func (a Actor) IsSuperAdmin() bool {
	if !slices.Contains(a.Roles, SuperAdmin) || (a.capped() && !slices.Contains(a.Owner, SuperAdmin)) {
		return false
	}
	for _, p := range allPermissions {
		if a.limited(p) {
			return false
		}
	}
	return true
}

// CanAssign reports whether the actor may give grant g to a user or a
// client: CanAssign of its roles and, when Owner is set, of Owner's, and,
// when Limit is set, every permission of g's role within it, so a token
// cannot hand out more than it carries.
func (a Actor) CanAssign(g string) bool {
	if a.TenantID == "" || !CanAssign(a.Roles, g) || (a.capped() && !CanAssign(a.Owner, g)) {
		return false
	}
	if a.Limit != nil {
		role, _ := splitGrant(g)
		for _, p := range a.Catalog.perms(role) {
			if a.limited(p) {
				return false
			}
		}
	}
	return true
}

// NeedsCatalog reports whether the actor's roles, or its Owner's, name a
// role that is not built in while it carries no Catalog to resolve it.
func (a Actor) NeedsCatalog() bool {
	return a.Catalog == nil && (NamesCustomRole(a.Roles) || NamesCustomRole(a.Owner))
}

// NamesCustomRole reports whether any of grants names a role that is not
// built in.
func NamesCustomRole(grants []string) bool {
	for _, g := range grants {
		if role, _ := splitGrant(g); lookup(role) == nil {
			return true
		}
	}
	return false
}
