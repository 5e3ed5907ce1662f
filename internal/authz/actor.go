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
	Roles    []string
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

// Can reports whether the actor holds permission p.
func (a Actor) Can(p Permission) bool { return a.TenantID != "" && Has(a.Roles, p) }

// Require returns nil when the actor holds p, and otherwise an error
// wrapping errs.ErrForbidden that names the missing permission.
func (a Actor) Require(p Permission) error {
	if a.Can(p) {
		return nil
	}
	return fmt.Errorf("%w: this needs the %s permission", errs.ErrForbidden, p)
}

// IsSuperAdmin reports whether the actor holds the super admin role.
func (a Actor) IsSuperAdmin() bool { return slices.Contains(a.Roles, SuperAdmin) }
