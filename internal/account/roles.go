package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// Audit actions of the custom role use cases.
const (
	ActionRoleCreated = "role.created"
	ActionRoleUpdated = "role.updated"
	ActionRoleDeleted = "role.deleted"
)

// MaxRoleDescription bounds a custom role's description.
const MaxRoleDescription = 500

// Roles runs the custom role use cases of a tenant over a Repository,
// each change with its audit event in one transaction. Reading roles needs
// users:manage in some division; changing them needs it tenant-wide. No
// one makes a role worth more than themselves: an actor creates, edits or
// deletes a role only when it holds, tenant-wide, every permission the
// role carries before and after.
//
// Repo is required. Now defaults to time.Now. OnChange, when set, is
// called with the tenant's ID after every committed change, so this
// process's caches (authz.Catalogs) need not wait for the change log.
type Roles struct {
	Repo     Repository
	Now      func() time.Time
	OnChange func(tenantID string)
}

func (s *Roles) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Roles) changed(tenantID string) {
	if s.OnChange != nil {
		s.OnChange(tenantID)
	}
}

// NewRole describes a custom role to create.
type NewRole struct {
	Name        string
	Description string
	Permissions []authz.Permission
}

// RoleChanges change a custom role; nil fields stay as they are. A role's
// name never changes: grants name it.
type RoleChanges struct {
	Description *string
	Permissions *[]authz.Permission
}

// Catalog returns the actor's tenant's roles, built in and custom.
func (s *Roles) Catalog(ctx context.Context, actor authz.Actor) (*authz.Catalog, error) {
	if err := s.read(ctx, &actor); err != nil {
		return nil, err
	}
	return s.catalog(ctx, actor.TenantID)
}

func (s *Roles) catalog(ctx context.Context, tenantID string) (*authz.Catalog, error) {
	custom, err := s.Repo.CustomRoles(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return authz.NewCatalog(custom), nil
}

// List returns every role of the actor's tenant: the built-in ones, then
// the custom ones by name.
func (s *Roles) List(ctx context.Context, actor authz.Actor) ([]authz.Role, error) {
	cat, err := s.Catalog(ctx, actor)
	if err != nil {
		return nil, err
	}
	return cat.Roles(), nil
}

// Get returns a role of the actor's tenant, built in or custom.
func (s *Roles) Get(ctx context.Context, actor authz.Actor, name string) (*authz.Role, error) {
	cat, err := s.Catalog(ctx, actor)
	if err != nil {
		return nil, err
	}
	r, ok := cat.Role(name)
	if !ok {
		return nil, fmt.Errorf("role %q: %w", name, ErrNotFound)
	}
	return &r, nil
}

// Create adds a custom role to the actor's tenant. Its name must be free
// of the built-in ones and of the tenant's other roles (a field error on
// "name"), and its permissions a non-empty set the actor holds.
func (s *Roles) Create(ctx context.Context, actor authz.Actor, p NewRole) (*authz.Role, error) {
	if err := s.manage(ctx, &actor); err != nil {
		return nil, err
	}
	var fields []errs.FieldError
	switch {
	case !authz.ValidRoleName(p.Name):
		fields = append(fields, errs.FieldError{Field: "name", Message: "must be 1–63 lower-case letters, digits, '_' or '-', starting with a letter"})
	case authz.ValidRole(p.Name):
		fields = append(fields, errs.FieldError{Field: "name", Message: fmt.Sprintf("%q is a built-in role", p.Name)})
	}
	desc, msg := roleDescription(p.Description)
	if msg != "" {
		fields = append(fields, errs.FieldError{Field: "description", Message: msg})
	}
	perms, pf := rolePermissions(actor, p.Permissions)
	fields = append(fields, pf...)
	if len(fields) > 0 {
		return nil, &errs.ValidationError{Fields: fields}
	}
	now := s.now()
	r := &authz.Role{Name: p.Name, Description: desc, Permissions: perms, CreatedAt: now, UpdatedAt: now}
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		if err := tx.CreateRole(ctx, actor.TenantID, r); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionRoleCreated, "role", r.Name)
		e.Changes = []string{"description", "permissions"}
		e.Details = map[string]string{"permissions": joinPermissions(r.Permissions)}
		return tx.AppendAudit(ctx, e)
	})
	if errors.Is(err, ErrConflict) {
		return nil, errs.Invalid("name", fmt.Sprintf("the tenant already has a role %q", r.Name))
	}
	if err != nil {
		return nil, err
	}
	s.changed(actor.TenantID)
	return r, nil
}

// Update applies c to a custom role of the actor's tenant and returns the
// result. Built-in roles cannot be changed. Changing nothing records
// nothing.
func (s *Roles) Update(ctx context.Context, actor authz.Actor, name string, c RoleChanges) (*authz.Role, error) {
	if err := s.manage(ctx, &actor); err != nil {
		return nil, err
	}
	if authz.ValidRole(name) {
		return nil, fmt.Errorf("%w: %s is a built-in role and cannot be changed", errs.ErrProtected, name)
	}
	var fields []errs.FieldError
	var desc string
	if c.Description != nil {
		var msg string
		if desc, msg = roleDescription(*c.Description); msg != "" {
			fields = append(fields, errs.FieldError{Field: "description", Message: msg})
		}
	}
	var perms []authz.Permission
	if c.Permissions != nil {
		var pf []errs.FieldError
		perms, pf = rolePermissions(actor, *c.Permissions)
		fields = append(fields, pf...)
	}
	if len(fields) > 0 {
		return nil, &errs.ValidationError{Fields: fields}
	}
	now := s.now()
	var out *authz.Role
	changed := false
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		old, err := lockRole(ctx, tx, actor.TenantID, name)
		if err != nil {
			return err
		}
		if err := mayTouch(actor, old); err != nil {
			return err
		}
		r := *old
		if c.Description != nil {
			r.Description = desc
		}
		if c.Permissions != nil {
			r.Permissions = perms
		}
		var changes []string
		if r.Description != old.Description {
			changes = append(changes, "description")
		}
		if !slices.Equal(r.Permissions, old.Permissions) {
			changes = append(changes, "permissions")
		}
		out = old
		if len(changes) == 0 {
			return nil
		}
		r.UpdatedAt = now
		if err := tx.UpdateRole(ctx, actor.TenantID, &r); err != nil {
			return err
		}
		out, changed = &r, true
		e := audit.New(actor, now, ActionRoleUpdated, "role", r.Name)
		e.Changes = changes
		e.Details = map[string]string{"permissions": joinPermissions(r.Permissions)}
		if slices.Contains(changes, "permissions") {
			e.Details["previous_permissions"] = joinPermissions(old.Permissions)
		}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.changed(actor.TenantID)
	}
	return out, nil
}

// Delete removes a custom role of the actor's tenant that no one holds:
// while users or clients hold it (tenant-wide or in a division), it is
// refused with ErrConflict saying how many.
func (s *Roles) Delete(ctx context.Context, actor authz.Actor, name string) error {
	if err := s.manage(ctx, &actor); err != nil {
		return err
	}
	if authz.ValidRole(name) {
		return fmt.Errorf("%w: %s is a built-in role and cannot be deleted", errs.ErrProtected, name)
	}
	now := s.now()
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		r, err := lockRole(ctx, tx, actor.TenantID, name)
		if err != nil {
			return err
		}
		if err := mayTouch(actor, r); err != nil {
			return err
		}
		use, err := tx.RoleUse(ctx, actor.TenantID, name)
		if err != nil {
			return err
		}
		if !use.None() {
			return fmt.Errorf("%w: role %q is held by %d user(s) and %d client(s); take it from them first",
				ErrInUse, name, use.Users, use.Clients)
		}
		if err := tx.DeleteRole(ctx, actor.TenantID, name); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionRoleDeleted, "role", name)
		e.Details = map[string]string{"permissions": joinPermissions(r.Permissions)}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return err
	}
	s.changed(actor.TenantID)
	return nil
}

// read checks the permission reading roles needs.
func (s *Roles) read(ctx context.Context, actor *authz.Actor) error {
	if err := resolveActor(ctx, s.Repo, actor, nil); err != nil {
		return err
	}
	return actor.RequireSome(authz.UsersManage)
}

// manage checks the permission changing roles needs.
func (s *Roles) manage(ctx context.Context, actor *authz.Actor) error {
	if err := resolveActor(ctx, s.Repo, actor, nil); err != nil {
		return err
	}
	return actor.Require(authz.UsersManage)
}

// lockRole locks a custom role of the tenant; a malformed name is not
// found.
func lockRole(ctx context.Context, tx Tx, tenantID, name string) (*authz.Role, error) {
	if !authz.ValidRoleName(name) {
		return nil, fmt.Errorf("role %q: %w", name, ErrNotFound)
	}
	return tx.LockRole(ctx, tenantID, name)
}

// mayTouch refuses a change to a role carrying a permission the actor
// does not hold tenant-wide: editing or deleting it would hand out, or
// take away, what the actor could not give.
func mayTouch(actor authz.Actor, r *authz.Role) error {
	for _, p := range r.Permissions {
		if !actor.Can(p) {
			return fmt.Errorf("%w: role %q carries %s, which you do not hold", errs.ErrForbidden, r.Name, p)
		}
	}
	return nil
}

// rolePermissions checks a custom role's permissions: at least one, each
// known and held by the actor tenant-wide. It returns them once each, in
// display order.
func rolePermissions(actor authz.Actor, ps []authz.Permission) ([]authz.Permission, []errs.FieldError) {
	var fields []errs.FieldError
	add := func(msg string) { fields = append(fields, errs.FieldError{Field: "permissions", Message: msg}) }
	if len(ps) == 0 {
		add("at least one permission is required")
	}
	for _, p := range ps {
		switch {
		case !authz.IsPermission(p):
			add(fmt.Sprintf("unknown permission %q", p))
		case !actor.Can(p):
			add(fmt.Sprintf("you cannot give %s: you do not hold it", p))
		}
	}
	var out []authz.Permission
	for _, p := range authz.AllPermissions() {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	return out, fields
}

// roleDescription trims a role's description and says what is wrong with
// it.
func roleDescription(s string) (string, string) {
	d := strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(d) || strings.ContainsFunc(d, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return d, "must be valid UTF-8 without control characters"
	case utf8.RuneCountInString(d) > MaxRoleDescription:
		return d, fmt.Sprintf("must be at most %d characters", MaxRoleDescription)
	}
	return d, ""
}

func joinPermissions(ps []authz.Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, " ")
}
