package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// Audit actions of the division use cases.
const (
	ActionDivisionCreated = "division.created"
	ActionDivisionRenamed = "division.renamed"
	ActionDivisionDeleted = "division.deleted"
)

// MaxDivisionName bounds a division's name.
const MaxDivisionName = 200

// Divisions runs the division use cases over a Repository, each change
// with its audit event in one transaction. Listing needs users:manage or
// oauth:client:view in some division; creating, renaming and deleting
// need users:manage tenant-wide.
//
// Repo is required. Now defaults to time.Now, Random to crypto/rand.
type Divisions struct {
	Repo   Repository
	Now    func() time.Time
	Random io.Reader
}

func (s *Divisions) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// NewDivision describes a division to create. An empty ID is generated
// (div_…).
type NewDivision struct {
	ID   string
	Name string
}

// List returns the divisions of the actor's tenant, the home division
// first.
func (s *Divisions) List(ctx context.Context, actor authz.Actor) ([]Division, error) {
	if err := resolveActor(ctx, s.Repo, &actor, nil); err != nil {
		return nil, err
	}
	if actor.RequireSome(authz.UsersManage) != nil {
		if err := actor.RequireSome(authz.ClientView); err != nil {
			return nil, err
		}
	}
	return s.Repo.Divisions(ctx, actor.TenantID)
}

// Create adds a division to the actor's tenant. An ID already taken is a
// field error on "id".
func (s *Divisions) Create(ctx context.Context, actor authz.Actor, p NewDivision) (*Division, error) {
	if err := s.manage(ctx, &actor); err != nil {
		return nil, err
	}
	var fields []errs.FieldError
	if p.ID != "" && !authz.ValidDivisionID(p.ID) {
		fields = append(fields, errs.FieldError{Field: "id", Message: "must be 1–64 letters, digits, '_' or '-', starting with a letter or digit"})
	}
	name, msg := divisionName(p.Name)
	if msg != "" {
		fields = append(fields, errs.FieldError{Field: "name", Message: msg})
	}
	if len(fields) > 0 {
		return nil, &errs.ValidationError{Fields: fields}
	}
	if p.ID == "" {
		r := s.Random
		if r == nil {
			r = rand.Reader
		}
		id, err := client.NewID(r, "div_")
		if err != nil {
			return nil, err
		}
		p.ID = id
	}
	d := &Division{TenantID: actor.TenantID, ID: p.ID, Name: name, CreatedAt: s.now()}
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		if err := tx.CreateDivision(ctx, d); err != nil {
			return err
		}
		e := audit.New(actor, d.CreatedAt, ActionDivisionCreated, "division", d.ID)
		e.Changes = []string{"name"}
		e.Details = map[string]string{"name": d.Name}
		return tx.AppendAudit(ctx, e)
	})
	if errors.Is(err, ErrConflict) {
		return nil, errs.Invalid("id", fmt.Sprintf("%q is taken: choose another", d.ID))
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Rename changes a division's name. Renaming to the same name changes
// nothing and records nothing.
func (s *Divisions) Rename(ctx context.Context, actor authz.Actor, id, name string) (*Division, error) {
	if err := s.manage(ctx, &actor); err != nil {
		return nil, err
	}
	name, msg := divisionName(name)
	if msg != "" {
		return nil, errs.Invalid("name", msg)
	}
	now := s.now()
	var out *Division
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		d, err := lockDivision(ctx, tx, actor.TenantID, id)
		if err != nil {
			return err
		}
		out = d
		if d.Name == name {
			return nil
		}
		was := d.Name
		d.Name = name
		if err := tx.UpdateDivision(ctx, d); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionDivisionRenamed, "division", d.ID)
		e.Changes = []string{"name"}
		e.Details = map[string]string{"from": was, "to": name}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes a division that nothing names: no client or user belongs
// to it and no role is granted in it (ErrConflict says how many do). The
// home division cannot be deleted.
func (s *Divisions) Delete(ctx context.Context, actor authz.Actor, id string) error {
	if err := s.manage(ctx, &actor); err != nil {
		return err
	}
	if id == authz.HomeDivision {
		return fmt.Errorf("%w: the home division cannot be deleted", errs.ErrProtected)
	}
	now := s.now()
	return s.Repo.InAccountTx(ctx, func(tx Tx) error {
		d, err := lockDivision(ctx, tx, actor.TenantID, id)
		if err != nil {
			return err
		}
		use, err := tx.DivisionUse(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if !use.None() {
			return fmt.Errorf("%w: division %q is still used by %d user(s) and %d client(s) (as members or in role grants); move them or take the grants away first",
				ErrInUse, id, use.Users, use.Clients)
		}
		if err := tx.DeleteDivision(ctx, actor.TenantID, id); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionDivisionDeleted, "division", d.ID)
		e.Details = map[string]string{"name": d.Name}
		return tx.AppendAudit(ctx, e)
	})
}

// manage checks the permission every change of a division needs.
func (s *Divisions) manage(ctx context.Context, actor *authz.Actor) error {
	if err := resolveActor(ctx, s.Repo, actor, nil); err != nil {
		return err
	}
	return actor.Require(authz.UsersManage)
}

// lockDivision locks a division of the tenant; a malformed ID is not
// found.
func lockDivision(ctx context.Context, tx Tx, tenantID, id string) (*Division, error) {
	if !authz.ValidDivisionID(id) {
		return nil, fmt.Errorf("division %q: %w", id, ErrNotFound)
	}
	return tx.LockDivision(ctx, tenantID, id)
}

// divisionName trims a division's name and says what is wrong with it.
func divisionName(s string) (string, string) {
	name := strings.TrimSpace(s)
	switch {
	case name == "":
		return name, "is required"
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return name, "must be valid UTF-8 without control characters"
	case utf8.RuneCountInString(name) > MaxDivisionName:
		return name, fmt.Sprintf("must be at most %d characters", MaxDivisionName)
	}
	return name, ""
}
