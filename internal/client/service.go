package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
)

// Actor is who performs a change: a user, a client acting through the admin
// API, or the system itself (the CLI and first-start provisioning).
type Actor struct {
	TenantID string
	// ID is the user or client ID, recorded as created_by; "system" for
	// the CLI and provisioning.
	ID    string
	Roles []string
}

// SystemActor acts with every role in a tenant: the CLI and first start.
func SystemActor(tenantID string) Actor {
	return Actor{TenantID: tenantID, ID: "system", Roles: []string{authz.SuperAdmin}}
}

// Service runs the client use cases over a Repository.
//
// Its zero value is not usable: Repo is required. Now defaults to
// time.Now, Random to crypto/rand.Reader.
type Service struct {
	Repo   Repository
	Now    func() time.Time
	Random io.Reader
	// OnChange, when set, is called with a client's ID after every
	// committed change to it or its secrets (to invalidate caches).
	OnChange func(clientID string)
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
	Status          Status
	Protected       bool
	// Secret is an admin-supplied secret (at least 32 characters); empty
	// to generate one.
	Secret string
	// SecretLifetime is how long the secret lasts: 0 for the default,
	// NeverExpires for no expiry.
	SecretLifetime time.Duration
}

// Create registers a client. A confidential client's secret is returned
// once, in the IssuedSecret; a public client gets none.
func (s *Service) Create(ctx context.Context, actor Actor, p CreateParams) (*Client, *IssuedSecret, error) {
	now := s.now()
	c := &Client{
		ID: p.ClientID, TenantID: actor.TenantID, Name: p.Name, Description: p.Description,
		Type: p.Type, GrantTypes: p.GrantTypes, RedirectURIs: p.RedirectURIs, Scopes: p.Scopes,
		Roles: p.Roles, OwnerUserID: p.OwnerUserID, AccessTokenTTL: p.AccessTokenTTL,
		RefreshTokenTTL: p.RefreshTokenTTL, TokenFormat: p.TokenFormat, RequireConsent: p.RequireConsent,
		Status: p.Status, Protected: p.Protected, CreatedAt: now, CreatedBy: actor.ID, UpdatedAt: now,
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
		fe.add("status", "a new client must be active or inactive")
	}
	if c.Type == Public && (p.Secret != "" || p.SecretLifetime != 0) {
		fe.add("client_secret", "a public client has no secret")
	}
	checkSecretLifetime(&fe, p.SecretLifetime)
	if p.Secret != "" {
		if err := ValidateSuppliedSecret(p.Secret); err != nil {
			fe = append(fe, err.(*ValidationError).Fields...)
		}
	}
	checkPrivileges(&fe, actor, nil, c)
	if err := c.Validate(); err != nil {
		fe = append(fe, err.(*ValidationError).Fields...)
	}
	if err := fe.err(); err != nil {
		return nil, nil, err
	}

	var issued *IssuedSecret
	if c.Type == Confidential {
		var err error
		if issued, err = s.newSecret(c.ID, actor, now, p.Secret, p.SecretLifetime); err != nil {
			return nil, nil, err
		}
		c.SecretExpiresAt = issued.ExpiresAt
	}
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		if err := checkOwner(ctx, tx, c); err != nil {
			return err
		}
		if p.ClientID != "" {
			// Belt and braces beside the reserved prefixes: a client never
			// takes the ID of a user it could then pass for.
			if taken, err := tx.UserInTenant(ctx, c.TenantID, c.ID); err != nil {
				return err
			} else if taken {
				return &ValidationError{Fields: []FieldError{{"client_id", "is a user's ID"}}}
			}
		}
		if err := tx.CreateClient(ctx, c); err != nil {
			return err
		}
		if issued != nil {
			return tx.CreateSecret(ctx, &issued.Secret)
		}
		return nil
	})
	if errors.Is(err, ErrConflict) {
		return nil, nil, &ValidationError{Fields: []FieldError{{"client_id", fmt.Sprintf("%q is already taken", c.ID)}}}
	}
	if err != nil {
		return nil, nil, err
	}
	s.changed(c.ID)
	return c, issued, nil
}

func checkSecretLifetime(fe *fieldErrors, d time.Duration) {
	if d != 0 && d != NeverExpires && (d < MinSecretLifetime || d > MaxSecretLifetime) {
		fe.add("secret_expires", "must be from 1 day to 3 years, or never")
	}
}

// checkPrivileges refuses changes the actor may not make: assigning roles it
// does not hold, and granting the "*" scope without being a super admin.
// Unchanged roles and scopes of old are not re-checked.
func checkPrivileges(fe *fieldErrors, actor Actor, old, c *Client) {
	for _, r := range c.Roles {
		if old != nil && slices.Contains(old.Roles, r) {
			continue
		}
		if authz.ValidRole(r) && !authz.CanAssign(actor.Roles, r) {
			fe.add("roles", fmt.Sprintf("you cannot assign %q: you do not hold it", r))
		}
	}
	if slices.Contains(c.Scopes, "*") && !(old != nil && slices.Contains(old.Scopes, "*")) &&
		!slices.Contains(actor.Roles, authz.SuperAdmin) {
		fe.add("scopes", `only a super admin can grant the "*" scope`)
	}
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
		return &ValidationError{Fields: []FieldError{{"owner_user_id", "no such user in this tenant"}}}
	}
	return nil
}

// newSecret makes a secret record for clientID: the supplied one, or a
// freshly generated one.
func (s *Service) newSecret(clientID string, actor Actor, now time.Time, supplied string, lifetime time.Duration) (*IssuedSecret, error) {
	plain := supplied
	if plain == "" {
		var err error
		if plain, err = NewSecretValue(s.rand()); err != nil {
			return nil, err
		}
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

// Get returns a client of the actor's tenant and its secrets' metadata.
func (s *Service) Get(ctx context.Context, actor Actor, id string) (*Client, []Secret, error) {
	if ValidateClientID(id) != nil {
		return nil, nil, ErrNotFound
	}
	c, err := s.Repo.Client(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if c.TenantID != actor.TenantID {
		return nil, nil, ErrNotFound
	}
	secrets, err := s.Repo.Secrets(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return c, secrets, nil
}

// List returns one page of the actor's tenant's clients.
func (s *Service) List(ctx context.Context, actor Actor, q ListQuery) (*ListPage, error) {
	q.TenantID = actor.TenantID
	if err := q.Normalize(); err != nil {
		return nil, err
	}
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
	Status          *Status
	// Confirm must be set to change a protected client.
	Confirm bool
}

// Update applies p to a client and returns the result. A status change
// follows CanTransition; revoking through Update is the same as Revoke.
func (s *Service) Update(ctx context.Context, actor Actor, id string, p UpdateParams) (*Client, error) {
	return s.update(ctx, actor, id, p.Confirm, func(c *Client) {
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
		set(&c.Status, p.Status)
	})
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// SetStatus moves a client to status st. A protected client's status
// changes only when confirmed.
func (s *Service) SetStatus(ctx context.Context, actor Actor, id string, st Status, confirmed bool) (*Client, error) {
	return s.update(ctx, actor, id, confirmed, func(c *Client) { c.Status = st })
}

// Revoke ends a client for good: its status becomes revoked and every
// secret stops working at once. The client stays listed. Protected clients
// cannot be revoked, as they cannot be deleted.
func (s *Service) Revoke(ctx context.Context, actor Actor, id string) (*Client, error) {
	return s.SetStatus(ctx, actor, id, StatusRevoked, false)
}

// update is the one transaction every client edit goes through: lock,
// apply, validate, write, and revoke secrets if the client was revoked.
func (s *Service) update(ctx context.Context, actor Actor, id string, confirmed bool, apply func(*Client)) (*Client, error) {
	now := s.now()
	var out *Client
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		old, err := s.lock(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		c := old.Clone()
		apply(c)
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
		if err := c.Validate(); err != nil {
			fe = append(fe, err.(*ValidationError).Fields...)
		}
		if err := fe.err(); err != nil {
			return err
		}
		if c.OwnerUserID != old.OwnerUserID {
			if err := checkOwner(ctx, tx, c); err != nil {
				return err
			}
		}
		c.UpdatedAt = now
		if c.Status == StatusRevoked {
			if err := revokeSecrets(ctx, tx, id, now); err != nil {
				return err
			}
			c.SecretExpiresAt = time.Time{}
		}
		out = c
		return tx.UpdateClient(ctx, c)
	})
	if err != nil {
		return nil, err
	}
	s.changed(id)
	return out, nil
}

// lock locks a client of the actor's tenant.
func (s *Service) lock(ctx context.Context, tx Tx, actor Actor, id string) (*Client, error) {
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
	return c, nil
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

// Delete removes a client and its secrets. Protected clients cannot be
// deleted.
func (s *Service) Delete(ctx context.Context, actor Actor, id string) error {
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		c, err := s.lock(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if c.Protected {
			return fmt.Errorf("%w: %s was provisioned at first start and cannot be deleted", ErrProtected, c.ID)
		}
		return tx.DeleteClient(ctx, id)
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
}

// RotateSecret gives a confidential client a new secret, returned once.
// The current secret stops working at once, or after p.Grace. Secrets
// already in a grace period keep theirs. Concurrent rotations of one
// client serialize on the client's lock.
func (s *Service) RotateSecret(ctx context.Context, actor Actor, id string, p RotateParams) (*IssuedSecret, error) {
	var fe fieldErrors
	if p.Grace < 0 || p.Grace > MaxGracePeriod {
		fe.add("grace", "must be from 0 to 30 days")
	}
	checkSecretLifetime(&fe, p.Lifetime)
	if p.Secret != "" {
		if err := ValidateSuppliedSecret(p.Secret); err != nil {
			fe = append(fe, err.(*ValidationError).Fields...)
		}
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	now := s.now()
	var issued *IssuedSecret
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		c, err := s.lock(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		switch {
		case c.Status == StatusRevoked:
			return &ValidationError{Fields: []FieldError{{"status", "a revoked client's secret cannot be rotated"}}}
		case c.Type == Public:
			return &ValidationError{Fields: []FieldError{{"type", "a public client has no secret to rotate"}}}
		case c.Protected && !p.Confirm:
			return fmt.Errorf("%w: confirm the rotation to change its secret", ErrProtected)
		}
		secrets, err := tx.Secrets(ctx, id)
		if err != nil {
			return err
		}
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
			if err := tx.UpdateSecret(ctx, sec); err != nil {
				return err
			}
		}
		if issued, err = s.newSecret(id, actor, now, p.Secret, p.Lifetime); err != nil {
			return err
		}
		if err := tx.CreateSecret(ctx, &issued.Secret); err != nil {
			return err
		}
		c.SecretExpiresAt, c.UpdatedAt = issued.ExpiresAt, now
		return tx.UpdateClient(ctx, c)
	})
	if err != nil {
		return nil, err
	}
	s.changed(id)
	return issued, nil
}
