package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
)

// ActionPolicyUpdated is the audit action of a change to a tenant's policy.
const ActionPolicyUpdated = "tenant.policy_updated"

// Version identifies the policy as saved, for optimistic concurrency:
// SetPolicy with an ifVersion refuses to overwrite a policy changed since.
// A policy never saved has version "0".
func (p *Policy) Version() string {
	if p.UpdatedAt.IsZero() {
		return "0"
	}
	return strconv.FormatInt(p.UpdatedAt.UnixMicro(), 36)
}

// Policy returns the actor's tenant's policy. Anyone who may view clients
// somewhere in the tenant may read it, since its rules explain why their
// writes are refused; so may who may change it.
func (s *Service) Policy(ctx context.Context, actor Actor) (*Policy, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if !actor.Can(authz.TenantsManage) {
		if err := actor.RequireSome(authz.ClientView); err != nil {
			return nil, err
		}
	}
	return s.Repo.Policy(ctx, actor.TenantID)
}

// SetPolicy replaces the actor's tenant's policy with p as a whole; the
// actor needs tenants:manage tenant-wide. p's own values are checked
// (Validate, field errors). ifVersion, when set, is the Version the policy
// must still have: otherwise nothing changes and the error wraps ErrStale.
// The change and its audit event, naming every rule changed with its
// values before and after, commit together; a policy set to what it is
// records nothing. Clients that exist are not checked: the compliance
// report lists those the new policy finds at fault.
func (s *Service) SetPolicy(ctx context.Context, actor Actor, p Policy, ifVersion string) (*Policy, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.Require(authz.TenantsManage); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.now().Truncate(time.Microsecond) // what the stores keep
	var out *Policy
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		old, err := tx.LockPolicy(ctx, actor.TenantID)
		if err != nil {
			return err
		}
		if ifVersion != "" && ifVersion != old.Version() {
			return fmt.Errorf("policy of %s: %w", actor.TenantID, ErrStale)
		}
		d := policyDiff(old, &p)
		if d.Empty() {
			out = old
			return nil
		}
		p.TenantID, p.UpdatedAt, p.UpdatedBy = actor.TenantID, now, actor.ID
		if !p.UpdatedAt.After(old.UpdatedAt) {
			// Two changes within one microsecond must still differ in
			// version.
			p.UpdatedAt = old.UpdatedAt.Add(time.Microsecond)
		}
		if err := tx.SavePolicy(ctx, &p); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionPolicyUpdated, audit.TargetTenant, actor.TenantID)
		d.Apply(e)
		if err := tx.AppendAudit(ctx, e); err != nil {
			return fmt.Errorf("client: audit %s: %w", ActionPolicyUpdated, err)
		}
		out = &p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// policyDiff names every rule that differs between old and p, with its
// values; durations in seconds, as the admin API writes them.
func policyDiff(old, p *Policy) *audit.Diff {
	d := &audit.Diff{}
	d.Seconds(RuleMaxSecretLifetime, old.MaxSecretLifetime, p.MaxSecretLifetime)
	d.Bool(RuleRequireSecretExpiry, old.RequireSecretExpiry, p.RequireSecretExpiry)
	if len(old.AllowedGrantTypes) != 0 || len(p.AllowedGrantTypes) != 0 {
		d.List(RuleAllowedGrantTypes, grantStrings(old.AllowedGrantTypes), grantStrings(p.AllowedGrantTypes))
	}
	d.Bool(RuleRequirePKCE, old.RequirePKCE, p.RequirePKCE)
	d.Bool(RuleForbidWildcardScope, old.ForbidWildcardScope, p.ForbidWildcardScope)
	if len(old.RedirectHosts) != 0 || len(p.RedirectHosts) != 0 {
		d.List(RuleRedirectHosts, old.RedirectHosts, p.RedirectHosts)
	}
	d.Bool(RuleRequireOwner, old.RequireOwner, p.RequireOwner)
	d.Seconds(RuleMaxAccessTokenTTL, old.MaxAccessTokenTTL, p.MaxAccessTokenTTL)
	d.Bool("require_admin_mfa", old.RequireAdminMFA, p.RequireAdminMFA)
	d.Seconds("stale.after", old.Stale.After, p.Stale.After)
	d.Seconds("stale.warn", old.Stale.Warn, p.Stale.Warn)
	d.String("leak_action", string(old.LeakActionOrDefault()), string(p.LeakActionOrDefault()))
	d.String("registration.mode", string(registrationMode(old)), string(registrationMode(p)))
	d.Bool("registration.require_approval", old.Registration.RequireApproval, p.Registration.RequireApproval)
	d.String("registration.template", old.Registration.Template, p.Registration.Template)
	d.Seconds("registration.expire_unused", old.Registration.ExpireUnused, p.Registration.ExpireUnused)
	return d
}

func registrationMode(p *Policy) RegistrationMode {
	if p.Registration.Mode == "" {
		return RegistrationOff
	}
	return p.Registration.Mode
}

func grantStrings(gs []GrantType) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = string(g)
	}
	return out
}

// Noncompliant is one client that breaks its tenant's policy, and how.
type Noncompliant struct {
	Client     *Client
	Violations []Violation
}

// compliancePage is how many clients the report reads per page of the
// listing.
const compliancePage = 200

// Compliance walks every client of the actor's tenant that the actor can
// view (oauth:client:view in its division) against the tenant's policy as
// it is when the walk starts, and calls fn with each that breaks a rule,
// in client ID order. Revoked clients are left out: they can neither be
// used nor changed, so there is nothing to bring into line. It reads the clients in keyset pages and keeps one
// page in memory, so it streams over a tenant of any size; a client
// created or changed during the walk may or may not be seen. fn's error
// stops the walk and is returned.
func (s *Service) Compliance(ctx context.Context, actor Actor, fn func(Noncompliant) error) error {
	pol, err := s.Policy(ctx, actor)
	if err != nil {
		return err
	}
	if err := actor.RequireSome(authz.ClientView); err != nil {
		return err
	}
	now := s.now()
	q := ListQuery{Sort: SortClientID, Limit: compliancePage}
	for {
		page, err := s.List(ctx, actor, q)
		if err != nil {
			return err
		}
		for _, c := range page.Clients {
			if c.Status == StatusRevoked {
				continue
			}
			var secrets []Secret
			if c.Type != Public {
				if secrets, err = s.Repo.Secrets(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			if vs := pol.Violations(c, secrets, now); len(vs) > 0 {
				if err := fn(Noncompliant{Client: c, Violations: vs}); err != nil {
					return err
				}
			}
		}
		if page.Next == "" {
			return nil
		}
		q.After = page.Next
	}
}
