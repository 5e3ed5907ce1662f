package client

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/notify/event"
)

// Actor is who performs a change; see authz.Actor. Every Service method
// checks the actor's permission before it reads or writes anything, so the
// CLI, the admin API and the console cannot differ.
type Actor = authz.Actor

// SystemActor acts with every permission in a tenant: first-start
// provisioning and background jobs.
func SystemActor(tenantID string) Actor { return authz.SystemActor(tenantID) }

// Service runs the client use cases over a Repository. Every change it
// commits carries its audit event in the same transaction.
//
// Its zero value is not usable: Repo is required. Now defaults to
// time.Now, Random to crypto/rand.Reader. A Service must not be copied
// after first use.
type Service struct {
	Repo   Repository
	Now    func() time.Time
	Random io.Reader
	// OnChange, when set, is called with a client's ID after every
	// committed change to it or its secrets (to invalidate caches).
	OnChange func(clientID string)
	// SlowHashes bounds how many admin-chosen secrets are hashed with
	// argon2id (64 MiB each) at once; 0 means 2.
	SlowHashes int

	slowOnce sync.Once
	slow     chan struct{}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) rand() io.Reader {
	if s.Random != nil {
		return s.Random
	}
	return rand.Reader
}

func (s *Service) changed(id string) {
	if s.OnChange != nil {
		s.OnChange(id)
	}
}

// Audit actions of the client domain.
const (
	ActionCreated       = "client.created"
	ActionUpdated       = "client.updated"
	ActionActivated     = "client.activated"
	ActionDeactivated   = "client.deactivated"
	ActionRevoked       = "client.revoked"
	ActionDeleted       = "client.deleted"
	ActionSecretRotated = "client.secret_rotated"
)

// record appends the audit event of a change to a client, in tx: the
// fields changes names (nil for none), with their values before and after
// when it has them, and details.
func record(ctx context.Context, tx Tx, actor Actor, now time.Time, action, id string, changes *audit.Diff, details map[string]string) error {
	e := audit.New(actor, now, action, audit.TargetClient, id)
	changes.Apply(e)
	e.Details = details
	if err := tx.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("client: audit %s: %w", action, err)
	}
	return nil
}

// IssuedSecret is a secret at the only moment its plaintext is known.
type IssuedSecret struct {
	Secret
	// Plaintext is shown once and never stored.
	Plaintext string
}

// CreateParams describe a new client. Zero values take defaults: a
// generated client ID, confidential type, active status, default token
// lifetimes, JWT access tokens and a secret that expires in 180 days.
type CreateParams struct {
	ClientID        string
	Name            string
	Description     string
	Type            Type
	GrantTypes      []GrantType
	RedirectURIs    []string
	Scopes          []string
	Roles           []string
	OwnerUserID     string
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	TokenFormat     TokenFormat
	RequireConsent  bool
	// RequirePKCE makes a confidential client send PKCE (public clients
	// always must).
	RequirePKCE bool
	Status      Status
	Protected   bool
	// DivisionID is the division the client belongs to; the home division
	// when empty.
	DivisionID string
	// TokenEndpointAuthMethod defaults to client_secret_basic for a
	// confidential client and none for a public one.
	TokenEndpointAuthMethod AuthMethod
	// IDTokenAlg defaults to RS256.
	IDTokenAlg             string
	PostLogoutRedirectURIs []string
	// Secret is an admin-supplied secret (at least 32 characters); empty
	// to generate one.
	Secret string
	// SecretLifetime is how long the secret lasts: 0 for the default,
	// NeverExpires for no expiry.
	SecretLifetime time.Duration
}

// Create registers a client; the actor needs oauth:client:add in the
// client's division. A confidential client's secret is returned once, in
// the IssuedSecret; a public client gets none.
func (s *Service) Create(ctx context.Context, actor Actor, p CreateParams) (*Client, *IssuedSecret, error) {
	if err := s.withCatalog(ctx, &actor, p.Roles); err != nil {
		return nil, nil, err
	}
	division := cmp.Or(p.DivisionID, authz.HomeDivision)
	if err := actor.RequireSome(authz.ClientAdd); err != nil {
		return nil, nil, err
	}
	if authz.ValidDivisionID(division) {
		if err := actor.RequireIn(authz.ClientAdd, division); err != nil {
			return nil, nil, err
		}
	}
	now := s.now()
	c := &Client{
		ID: p.ClientID, TenantID: actor.TenantID, Name: p.Name, Description: p.Description,
		Type: p.Type, GrantTypes: p.GrantTypes, RedirectURIs: p.RedirectURIs, Scopes: p.Scopes,
		Roles: p.Roles, OwnerUserID: p.OwnerUserID, AccessTokenTTL: p.AccessTokenTTL,
		RefreshTokenTTL: p.RefreshTokenTTL, TokenFormat: p.TokenFormat, RequireConsent: p.RequireConsent,
		RequirePKCE: p.RequirePKCE, Status: p.Status, Protected: p.Protected, CreatedAt: now, CreatedBy: actor.ID, UpdatedAt: now,
		TokenEndpointAuthMethod: p.TokenEndpointAuthMethod, IDTokenAlg: p.IDTokenAlg,
		PostLogoutRedirectURIs: p.PostLogoutRedirectURIs, DivisionID: division,
	}
	var fe fieldErrors
	if c.ID == "" {
		id, err := NewClientID(s.rand())
		if err != nil {
			return nil, nil, err
		}
		c.ID = id
	} else {
		validateSuppliedClientID(&fe, c.ID)
	}
	if c.Type == "" {
		c.Type = Confidential
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = AuthSecretBasic
		if c.Type == Public {
			c.TokenEndpointAuthMethod = AuthNone
		}
	}
	if c.Status == "" {
		c.Status = StatusActive
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = DefaultAccessTTL
	}
	if c.RefreshTokenTTL == 0 {
		c.RefreshTokenTTL = DefaultRefreshTTL
	}
	if c.TokenFormat == "" {
		c.TokenFormat = TokenJWT
	}
	if c.Status == StatusRevoked {
		fe.add("status", "a new client must be active, inactive or pending approval")
	}
	if c.Type == Public && (p.Secret != "" || p.SecretLifetime != 0) {
		fe.add("client_secret", "a public client has no secret")
	}
	checkSecretLifetime(&fe, p.SecretLifetime)
	if p.Secret != "" {
		fe.merge(ValidateSuppliedSecret(p.Secret))
	}
	checkPrivileges(&fe, actor, nil, c)
	fe.merge(c.ValidateIn(actor.Catalog))
	pol, err := s.policy(ctx, actor.TenantID)
	if err != nil {
		return nil, nil, err
	}
	fe.merge(pol.CheckClient(nil, c))
	lifetime := p.SecretLifetime
	if c.Type == Confidential {
		fe.merge(pol.CheckSecretLifetime(lifetime))
		if lifetime == 0 {
			lifetime = pol.DefaultSecretLifetimeFor()
		}
	}
	if err := fe.err(); err != nil {
		return nil, nil, err
	}

	// The secret is hashed before the transaction: argon2id takes tens of
	// milliseconds, and the write lock must not wait for it.
	var issued *IssuedSecret
	if c.Type == Confidential {
		var err error
		if issued, err = s.newSecret(ctx, c.ID, actor, now, p.Secret, lifetime); err != nil {
			return nil, nil, err
		}
		c.SecretExpiresAt = issued.ExpiresAt
	}
	err = s.Repo.InTx(ctx, func(tx Tx) error {
		if err := checkOwner(ctx, tx, c); err != nil {
			return err
		}
		if err := checkRefs(ctx, tx, c.TenantID, c.DivisionID, c.Roles); err != nil {
			return err
		}
		if p.ClientID != "" {
			// Belt and braces beside the reserved prefixes: a client never
			// takes the ID of a user it could then pass for.
			if taken, err := tx.UserInTenant(ctx, c.TenantID, c.ID); err != nil {
				return err
			} else if taken {
				return errs.Invalid("client_id", "is a user's ID")
			}
		}
		if err := tx.CreateClient(ctx, c); err != nil {
			return err
		}
		var details map[string]string
		if issued != nil {
			if err := tx.CreateSecret(ctx, &issued.Secret); err != nil {
				return err
			}
			details = map[string]string{"secret_id": issued.ID}
		}
		if err := record(ctx, tx, actor, now, ActionCreated, c.ID, changedFields(&Client{}, c), auditDetails(ctx, details)); err != nil {
			return err
		}
		return runHook(ctx, tx, Committed{ClientID: c.ID, Secret: issued})
	})
	if errors.Is(err, ErrConflict) {
		return nil, nil, errs.Invalid("client_id", fmt.Sprintf("%q is already taken", c.ID))
	}
	if err != nil {
		return nil, nil, err
	}
	s.changed(c.ID)
	return c, issued, nil
}

// policy returns the tenant's policy; a tenant without a record (the
// domain's own tests make clients in tenants no store knows) has none.
func (s *Service) policy(ctx context.Context, tenantID string) (*Policy, error) {
	p, err := s.Repo.Policy(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return &Policy{TenantID: tenantID}, nil
	}
	return p, err
}

// txPolicy is policy, read in tx.
func txPolicy(ctx context.Context, tx Tx, tenantID string) (*Policy, error) {
	p, err := tx.Policy(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return &Policy{TenantID: tenantID}, nil
	}
	return p, err
}

func checkSecretLifetime(fe *fieldErrors, d time.Duration) {
	if d != 0 && d != NeverExpires && (d < MinSecretLifetime || d > MaxSecretLifetime) {
		fe.add("secret_expires", "must be from 1 day to 3 years, or never")
	}
}

// checkPrivileges refuses changes the actor may not make: assigning roles it
// does not hold (tenant-wide, or in the division a grant is limited to),
// and granting the "*" scope without being a super admin. Unchanged roles
// and scopes of old are not re-checked.
func checkPrivileges(fe *fieldErrors, actor Actor, old, c *Client) {
	for _, r := range newGrants(old, c) {
		if _, err := authz.ParseGrant(r); err == nil && !actor.CanAssign(r) {
			fe.add("roles", fmt.Sprintf("you cannot assign %q: you do not hold it there", r))
		}
	}
	if slices.Contains(c.Scopes, "*") && !(old != nil && slices.Contains(old.Scopes, "*")) && !actor.IsSuperAdmin() {
		fe.add("scopes", `only a super admin can grant the "*" scope`)
	}
	// A scope naming a permission is a permission a token may carry: only
	// one who holds it may put it on a client.
	for _, sc := range c.Scopes {
		p := authz.Permission(sc)
		if authz.IsPermission(p) && !(old != nil && slices.Contains(old.Scopes, sc)) && actor.RequireSome(p) != nil {
			fe.add("scopes", fmt.Sprintf("you cannot grant the scope %q: you do not hold that permission", sc))
		}
	}
	// A new owner, or none, lifts the cap the owner put on the client's
	// roles: only one who could assign those roles may change it.
	if old != nil && c.OwnerUserID != old.OwnerUserID {
		for _, r := range c.Roles {
			if _, err := authz.ParseGrant(r); err == nil && !actor.CanAssign(r) {
				fe.add("owner_user_id", fmt.Sprintf("you cannot change the owner of a client holding %q: you do not hold it there", r))
			}
		}
	}
}

// checkSecretHolder refuses to hand a new secret of c to an actor that
// could not assign c's roles: the secret carries them.
func checkSecretHolder(actor Actor, c *Client) error {
	for _, r := range c.Roles {
		if _, err := authz.ParseGrant(r); err == nil && !actor.CanAssign(r) {
			return fmt.Errorf("%w: the client holds %q, which you do not hold there; its secret would carry it", ErrForbidden, r)
		}
	}
	return nil
}

// newGrants returns the grants of c that old does not have: all of them
// for a new client.
func newGrants(old, c *Client) []string {
	if old == nil {
		return c.Roles
	}
	var out []string
	for _, r := range c.Roles {
		if !slices.Contains(old.Roles, r) {
			out = append(out, r)
		}
	}
	return out
}

// checkRefs checks, in tx, what a client names in its tenant: its
// division ("" when unchanged) and the roles and divisions of the grants
// given. Both are read under the transaction's hold, so neither is deleted
// before the client is written.
func checkRefs(ctx context.Context, tx Tx, tenantID, division string, grants []string) error {
	if division != "" && division != authz.HomeDivision {
		ok, err := tx.DivisionInTenant(ctx, tenantID, division)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Invalid("division", fmt.Sprintf("no division %q in this tenant", truncate(division, 64)))
		}
	}
	return authz.CheckGrants(ctx, tx, tenantID, "roles", grants)
}

// withCatalog gives the actor its tenant's role catalog when it carries
// none and its roles, or the grants it is about to give, name a role that
// is not built in. The writing transaction checks the grants it stores
// against the catalog as it stands then.
func (s *Service) withCatalog(ctx context.Context, actor *Actor, grants []string) error {
	return authz.Resolve(ctx, s.Repo, actor, grants)
}

func checkOwner(ctx context.Context, tx Tx, c *Client) error {
	if c.OwnerUserID == "" {
		return nil
	}
	ok, err := tx.UserInTenant(ctx, c.TenantID, c.OwnerUserID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.Invalid("owner_user_id", "no such user in this tenant")
	}
	return nil
}

// newSecret makes a secret record for clientID: the supplied one, or a
// freshly generated one. A supplied secret is hashed with argon2id, at most
// SlowHashes at once.
func (s *Service) newSecret(ctx context.Context, clientID string, actor Actor, now time.Time, supplied string, lifetime time.Duration) (*IssuedSecret, error) {
	plain := supplied
	if plain == "" {
		var err error
		if plain, err = NewSecretValue(s.rand()); err != nil {
			return nil, err
		}
	} else {
		release, err := s.acquireSlow(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	hash, err := HashSecret(s.rand(), plain)
	if err != nil {
		return nil, err
	}
	id, err := NewID(s.rand(), "sec_")
	if err != nil {
		return nil, err
	}
	sec := Secret{ID: id, ClientID: clientID, Hash: hash, Hint: secretHint(plain), Status: SecretActive,
		CreatedAt: now, CreatedBy: actor.ID}
	switch lifetime {
	case NeverExpires:
	case 0:
		sec.ExpiresAt = now.Add(DefaultSecretLifetime)
	default:
		sec.ExpiresAt = now.Add(lifetime)
	}
	return &IssuedSecret{Secret: sec, Plaintext: plain}, nil
}

// acquireSlow waits for a turn to run argon2id, or for ctx to end.
func (s *Service) acquireSlow(ctx context.Context) (release func(), err error) {
	s.slowOnce.Do(func() {
		n := s.SlowHashes
		if n <= 0 {
			n = 2
		}
		s.slow = make(chan struct{}, n)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.slow <- struct{}{}:
		return func() { <-s.slow }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Get returns a client of the actor's tenant and its secrets' metadata;
// the actor needs oauth:client:view in the client's division. A client of a
// division the actor cannot see is ErrNotFound, as another tenant's is.
func (s *Service) Get(ctx context.Context, actor Actor, id string) (*Client, []Secret, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, nil, err
	}
	if err := actor.RequireSome(authz.ClientView); err != nil {
		return nil, nil, err
	}
	if ValidateClientID(id) != nil {
		return nil, nil, ErrNotFound
	}
	c, err := s.Repo.Client(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if c.TenantID != actor.TenantID || !actor.CanIn(authz.ClientView, c.DivisionID) {
		return nil, nil, ErrNotFound
	}
	secrets, err := s.Repo.Secrets(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return c, secrets, nil
}

// List returns one page of the actor's tenant's clients; the actor needs
// oauth:client:view, and sees the clients of the divisions where it holds
// it (of those among q.Divisions, when set). A page read back with Before
// that reaches the start short is the first page instead, so going back
// always ends on a full first page.
func (s *Service) List(ctx context.Context, actor Actor, q ListQuery) (*ListPage, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.ClientView); err != nil {
		return nil, err
	}
	q.TenantID = actor.TenantID
	if all, ids := actor.Divisions(authz.ClientView); !all {
		if q.Divisions != nil {
			ids = slices.DeleteFunc(slices.Clone(q.Divisions), func(d string) bool { return !slices.Contains(ids, d) })
		}
		q.Divisions = ids
	}
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	if q.Divisions != nil && len(q.Divisions) == 0 {
		return &ListPage{}, nil
	}
	page, err := s.Repo.ListClients(ctx, q)
	if err != nil || q.Before == "" || page.Prev != "" || len(page.Clients) == q.Limit {
		return page, err
	}
	// Going back reached the start with a short page (clients were added
	// or removed since the cursor was made): the start is the first page,
	// full.
	q.Before = ""
	return s.Repo.ListClients(ctx, q)
}

// UpdateParams change a client; nil fields stay as they are.
type UpdateParams struct {
	Name            *string
	Description     *string
	GrantTypes      *[]GrantType
	RedirectURIs    *[]string
	Scopes          *[]string
	Roles           *[]string
	OwnerUserID     *string
	AccessTokenTTL  *time.Duration
	RefreshTokenTTL *time.Duration
	TokenFormat     *TokenFormat
	RequireConsent  *bool
	RequirePKCE     *bool
	Status          *Status
	// TokenEndpointAuthMethod can switch between the two secret methods
	// of a confidential client; a client's type never changes.
	TokenEndpointAuthMethod *AuthMethod
	IDTokenAlg              *string
	PostLogoutRedirectURIs  *[]string
	// DivisionID moves the client to another division of the tenant; the
	// actor needs oauth:client:edit in both.
	DivisionID *string
	// Confirm must be set to change a protected client.
	Confirm bool
	// IfVersion, when set, is the Version the client must still have:
	// otherwise nothing changes and the error wraps ErrStale.
	IfVersion string
}

// Update applies p to a client and returns the result; the actor needs
// oauth:client:edit in the client's division. A status change follows
// CanTransition; revoking through Update is the same as Revoke and needs
// oauth:client:revoke too.
func (s *Service) Update(ctx context.Context, actor Actor, id string, p UpdateParams) (*Client, error) {
	var grants []string
	if p.Roles != nil {
		grants = *p.Roles
	}
	if err := s.withCatalog(ctx, &actor, grants); err != nil {
		return nil, err
	}
	perms := []authz.Permission{authz.ClientEdit}
	if p.Status != nil && *p.Status == StatusRevoked {
		perms = append(perms, authz.ClientRevoke)
	}
	for _, perm := range perms {
		if err := actor.RequireSome(perm); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, actor, id, p.Confirm, p.IfVersion, perms, func(c *Client) {
		set(&c.Name, p.Name)
		set(&c.Description, p.Description)
		set(&c.GrantTypes, p.GrantTypes)
		set(&c.RedirectURIs, p.RedirectURIs)
		set(&c.Scopes, p.Scopes)
		set(&c.Roles, p.Roles)
		set(&c.OwnerUserID, p.OwnerUserID)
		set(&c.AccessTokenTTL, p.AccessTokenTTL)
		set(&c.RefreshTokenTTL, p.RefreshTokenTTL)
		set(&c.TokenFormat, p.TokenFormat)
		set(&c.RequireConsent, p.RequireConsent)
		set(&c.RequirePKCE, p.RequirePKCE)
		set(&c.Status, p.Status)
		set(&c.TokenEndpointAuthMethod, p.TokenEndpointAuthMethod)
		set(&c.IDTokenAlg, p.IDTokenAlg)
		set(&c.PostLogoutRedirectURIs, p.PostLogoutRedirectURIs)
		set(&c.DivisionID, p.DivisionID)
	})
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// SetStatus moves a client to status st: activating and deactivating need
// oauth:client:edit, revoking oauth:client:revoke, in the client's
// division. A protected client's status changes only when confirmed.
func (s *Service) SetStatus(ctx context.Context, actor Actor, id string, st Status, confirmed bool) (*Client, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	perm := authz.ClientEdit
	if st == StatusRevoked {
		perm = authz.ClientRevoke
	}
	if err := actor.RequireSome(perm); err != nil {
		return nil, err
	}
	return s.update(ctx, actor, id, confirmed, "", []authz.Permission{perm}, func(c *Client) { c.Status = st })
}

// Revoke ends a client for good: its status becomes revoked and every
// secret stops working at once. The client stays listed. Protected clients
// cannot be revoked, as they cannot be deleted. The actor needs
// oauth:client:revoke.
func (s *Service) Revoke(ctx context.Context, actor Actor, id string) (*Client, error) {
	return s.SetStatus(ctx, actor, id, StatusRevoked, false)
}

// update is the one transaction every client edit goes through: lock,
// apply, validate, write, revoke secrets if the client was revoked, and
// record the audit event. The actor must hold perms in the client's
// division (the caller has checked it holds them somewhere), and
// oauth:client:edit in the division it moves the client to.
func (s *Service) update(ctx context.Context, actor Actor, id string, confirmed bool, version string,
	perms []authz.Permission, apply func(*Client)) (*Client, error) {
	now := s.now()
	var out *Client
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		old, err := s.lock(ctx, tx, actor, id, perms...)
		if err != nil {
			return err
		}
		if version != "" && version != old.Version() {
			return fmt.Errorf("client %s: %w", id, ErrStale)
		}
		c := old.Clone()
		apply(c)
		if c.DivisionID != old.DivisionID && authz.ValidDivisionID(c.DivisionID) {
			if err := actor.RequireIn(authz.ClientEdit, c.DivisionID); err != nil {
				return err
			}
		}
		var fe fieldErrors
		if old.Status == StatusRevoked {
			fe.add("status", "a revoked client cannot be changed; delete it or create a new one")
			return fe.err()
		}
		if c.Status != old.Status && !CanTransition(old.Status, c.Status) {
			fe.add("status", fmt.Sprintf("cannot change from %s to %q", old.Status, truncate(string(c.Status), 20)))
		}
		if old.Protected && c.Status == StatusRevoked {
			return fmt.Errorf("%w: %s was provisioned at first start and cannot be revoked; deactivate it instead", ErrProtected, c.ID)
		}
		if old.Protected && !confirmed {
			return fmt.Errorf("%w: confirm the change to edit it", ErrProtected)
		}
		checkPrivileges(&fe, actor, old, c)
		fe.merge(c.validate(old, actor.Catalog))
		pol, err := txPolicy(ctx, tx, old.TenantID)
		if err != nil {
			return err
		}
		fe.merge(pol.CheckClient(old, c))
		if err := fe.err(); err != nil {
			return err
		}
		if c.OwnerUserID != old.OwnerUserID {
			if err := checkOwner(ctx, tx, c); err != nil {
				return err
			}
		}
		moved := ""
		if c.DivisionID != old.DivisionID {
			moved = c.DivisionID
		}
		if err := checkRefs(ctx, tx, c.TenantID, moved, newGrants(old, c)); err != nil {
			return err
		}
		changes := changedFields(old, c)
		c.UpdatedAt = now
		if c.Status == StatusRevoked {
			if err := revokeSecrets(ctx, tx, id, now); err != nil {
				return err
			}
			c.SecretExpiresAt = time.Time{}
		}
		out = c
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		if c.Status == StatusRevoked {
			if err := appendEvent(ctx, tx, event.ClientRevoked, c, "", now, clientEvent{ClientID: c.ID, ClientName: c.Name, At: now}); err != nil {
				return err
			}
		}
		if err := record(ctx, tx, actor, now, updateAction(old, c), id, changes, auditDetails(ctx, nil)); err != nil {
			return err
		}
		return runHook(ctx, tx, Committed{ClientID: id})
	})
	if err != nil {
		return nil, err
	}
	s.changed(id)
	return out, nil
}

// updateAction names an edit for audit: a status change by its new status.
func updateAction(old, c *Client) string {
	if old.Status == c.Status {
		return ActionUpdated
	}
	switch c.Status {
	case StatusActive:
		return ActionActivated
	case StatusInactive:
		return ActionDeactivated
	}
	return ActionRevoked
}

// changedFields is what c changes of old, field by field by their names
// in the management API, with each field's values before and after (see
// audit.Diff for how they are written). For a new client, old is the zero
// Client and only the names are kept: the created client holds the
// values. No field of a Client is a secret.
func changedFields(old, c *Client) *audit.Diff {
	d := &audit.Diff{}
	d.Seconds("access_token_ttl", old.AccessTokenTTL, c.AccessTokenTTL)
	d.String("client_id", old.ID, c.ID)
	d.String("description", old.Description, c.Description)
	d.String("division_id", old.DivisionID, c.DivisionID)
	d.String("grant_types", audit.ListValue(old.GrantTypes), audit.ListValue(c.GrantTypes))
	d.String("id_token_signed_response_alg", old.IDTokenAlg, c.IDTokenAlg)
	d.String("name", old.Name, c.Name)
	d.String("owner_user_id", old.OwnerUserID, c.OwnerUserID)
	d.List("post_logout_redirect_uris", old.PostLogoutRedirectURIs, c.PostLogoutRedirectURIs)
	d.Bool("protected", old.Protected, c.Protected)
	d.List("redirect_uris", old.RedirectURIs, c.RedirectURIs)
	d.Seconds("refresh_token_ttl", old.RefreshTokenTTL, c.RefreshTokenTTL)
	d.Bool("require_consent", old.RequireConsent, c.RequireConsent)
	d.Bool("require_pkce", old.RequirePKCE, c.RequirePKCE)
	d.List("roles", old.Roles, c.Roles)
	d.List("scopes", old.Scopes, c.Scopes)
	d.String("status", string(old.Status), string(c.Status))
	d.String("token_endpoint_auth_method", string(old.TokenEndpointAuthMethod), string(c.TokenEndpointAuthMethod))
	d.String("token_format", string(old.TokenFormat), string(c.TokenFormat))
	d.String("type", string(old.Type), string(c.Type))
	if old.ID == "" {
		d.Before, d.After = nil, nil
	}
	return d
}

// lock locks a client of the actor's tenant on which the actor holds perms
// (in the client's division); see inReach.
func (s *Service) lock(ctx context.Context, tx Tx, actor Actor, id string, perms ...authz.Permission) (*Client, error) {
	if ValidateClientID(id) != nil {
		return nil, ErrNotFound
	}
	c, err := tx.LockClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.TenantID != actor.TenantID {
		return nil, ErrNotFound
	}
	if err := inReach(actor, c, perms...); err != nil {
		return nil, err
	}
	return c, nil
}

// inReach returns nil when the actor holds every one of perms in c's
// division. A client the actor cannot see there is ErrNotFound, as another
// tenant's is, so a division admin learns nothing of the others' clients;
// one it sees but may not change this way is ErrForbidden.
func inReach(actor Actor, c *Client, perms ...authz.Permission) error {
	for _, p := range perms {
		if actor.CanIn(p, c.DivisionID) {
			continue
		}
		if !actor.CanIn(authz.ClientView, c.DivisionID) {
			return ErrNotFound
		}
		return actor.RequireIn(p, c.DivisionID)
	}
	return nil
}

func revokeSecrets(ctx context.Context, tx Tx, clientID string, now time.Time) error {
	secrets, err := tx.Secrets(ctx, clientID)
	if err != nil {
		return err
	}
	for i := range secrets {
		sec := &secrets[i]
		if sec.Status == SecretRevoked {
			continue
		}
		sec.Status, sec.RevokedAt = SecretRevoked, now
		if err := tx.UpdateSecret(ctx, sec); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes a client and its secrets; the actor needs
// oauth:client:delete in the client's division. Protected clients cannot
// be deleted.
func (s *Service) Delete(ctx context.Context, actor Actor, id string) error {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return err
	}
	if err := actor.RequireSome(authz.ClientDelete); err != nil {
		return err
	}
	now := s.now()
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		c, err := s.lock(ctx, tx, actor, id, authz.ClientDelete)
		if err != nil {
			return err
		}
		if c.Protected {
			return fmt.Errorf("%w: %s was provisioned at first start and cannot be deleted", ErrProtected, c.ID)
		}
		if err := tx.DeleteClient(ctx, id); err != nil {
			return err
		}
		if err := record(ctx, tx, actor, now, ActionDeleted, id, nil, auditDetails(ctx, map[string]string{"name": c.Name})); err != nil {
			return err
		}
		return runHook(ctx, tx, Committed{ClientID: id})
	})
	if err != nil {
		return err
	}
	s.changed(id)
	return nil
}

// RotateParams control a secret rotation.
type RotateParams struct {
	// Grace keeps the replaced secret working for this long (the
	// "dual-use period"); zero stops it at once.
	Grace time.Duration
	// Lifetime of the new secret: 0 for the default, NeverExpires for none.
	Lifetime time.Duration
	// Secret is an admin-supplied replacement; empty to generate one.
	Secret string
	// Confirm must be set to rotate a protected client's secret.
	Confirm bool
	// IfVersion, when set, is the Version the client must still have, as
	// in UpdateParams: a rotation sent twice from one form (a reload, the
	// back button) finds the version its first run changed, rotates
	// nothing and returns an error wrapping ErrStale.
	IfVersion string
}

// RotateSecret gives a confidential client a new secret, returned once;
// the actor needs oauth:client:rotate in the client's division. The
// current secret stops working at once, or after p.Grace. Secrets already
// in a grace period keep theirs.
// Concurrent rotations of one client serialize on the client's lock.
func (s *Service) RotateSecret(ctx context.Context, actor Actor, id string, p RotateParams) (*IssuedSecret, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.ClientRotate); err != nil {
		return nil, err
	}
	var fe fieldErrors
	if p.Grace < 0 || p.Grace > MaxGracePeriod {
		fe.add("grace", "must be from 0 to 30 days")
	}
	now := s.now()
	issued, err := s.issueSecret(ctx, &fe, actor, id, now, p.Secret, p.Lifetime)
	if err != nil {
		return nil, err
	}
	err = s.Repo.InTx(ctx, func(tx Tx) error {
		c, err := s.lock(ctx, tx, actor, id, authz.ClientRotate)
		if err != nil {
			return err
		}
		if p.IfVersion != "" && p.IfVersion != c.Version() {
			return fmt.Errorf("client %s: %w", id, ErrStale)
		}
		if err := checkSecretHolder(actor, c); err != nil {
			return err
		}
		switch {
		case c.Status == StatusRevoked:
			return errs.Invalid("status", "a revoked client's secret cannot be rotated")
		case c.Type == Public:
			return errs.Invalid("type", "a public client has no secret to rotate")
		case c.Protected && !p.Confirm:
			return fmt.Errorf("%w: confirm the rotation to change its secret", ErrProtected)
		}
		secrets, err := tx.Secrets(ctx, id)
		if err != nil {
			return err
		}
		var replaced []string
		for i := range secrets {
			sec := &secrets[i]
			if sec.Status != SecretActive {
				continue
			}
			if p.Grace > 0 && sec.Usable(now) {
				sec.Status = SecretRetiring
				if end := now.Add(p.Grace); sec.ExpiresAt.IsZero() || end.Before(sec.ExpiresAt) {
					sec.ExpiresAt = end
				}
			} else {
				sec.Status, sec.RevokedAt = SecretRevoked, now
			}
			replaced = append(replaced, sec.ID)
			if err := tx.UpdateSecret(ctx, sec); err != nil {
				return err
			}
		}
		if err := tx.CreateSecret(ctx, &issued.Secret); err != nil {
			return err
		}
		c.SecretExpiresAt, c.UpdatedAt = issued.ExpiresAt, now
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		details := map[string]string{"secret_id": issued.ID, "grace_seconds": strconv.FormatInt(int64(p.Grace/time.Second), 10)}
		if len(replaced) > 0 {
			details["replaced"] = strings.Join(replaced, ",")
		}
		rotated := rotatedEvent{clientEvent: clientEvent{ClientID: c.ID, ClientName: c.Name, At: now},
			SecretID: issued.ID, Replaced: replaced, GraceSeconds: int64(p.Grace / time.Second)}
		if !issued.ExpiresAt.IsZero() {
			rotated.ExpiresAt = &issued.ExpiresAt
		}
		if err := appendEvent(ctx, tx, event.SecretRotated, c, issued.ID, now, rotated); err != nil {
			return err
		}
		if err := record(ctx, tx, actor, now, ActionSecretRotated, id, nil, auditDetails(ctx, details)); err != nil {
			return err
		}
		return runHook(ctx, tx, Committed{ClientID: id, Secret: issued})
	})
	if err != nil {
		return nil, err
	}
	s.changed(id)
	return issued, nil
}
