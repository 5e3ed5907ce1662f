package client

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// Audit actions of a client's individual secrets.
const (
	ActionSecretAdded   = "client.secret_added"
	ActionSecretRevoked = "client.secret_revoked"
)

// AddSecretParams control a secret added beside the client's others.
type AddSecretParams struct {
	// Lifetime of the new secret: 0 for the default, NeverExpires for none.
	Lifetime time.Duration
	// Secret is an admin-supplied value; empty to generate one.
	Secret string
	// Confirm must be set to change a protected client's secrets.
	Confirm bool
}

// MaxActiveSecrets bounds the secrets a client may hold that still
// authenticate: enough for overlapping rotations, few enough that a
// forgotten one is noticed.
const MaxActiveSecrets = 5

// AddSecret gives a confidential client one more secret, returned once,
// leaving its others working: the first half of a rotation an operator
// finishes by revoking the old one (RevokeSecret). The actor needs
// oauth:client:rotate.
func (s *Service) AddSecret(ctx context.Context, actor Actor, id string, p AddSecretParams) (*IssuedSecret, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.ClientRotate); err != nil {
		return nil, err
	}
	var fe fieldErrors
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
		if err := secretsChangeable(c, p.Confirm); err != nil {
			return err
		}
		if err := checkSecretHolder(actor, c); err != nil {
			return err
		}
		secrets, err := tx.Secrets(ctx, id)
		if err != nil {
			return err
		}
		usable := 0
		for i := range secrets {
			if secrets[i].Usable(now) {
				usable++
			}
		}
		if usable >= MaxActiveSecrets {
			return errs.Invalid("secrets", fmt.Sprintf("a client holds at most %d working secrets; revoke one first", MaxActiveSecrets))
		}
		if err := tx.CreateSecret(ctx, &issued.Secret); err != nil {
			return err
		}
		c.SecretExpiresAt, c.UpdatedAt = newestExpiry(append(secrets, issued.Secret), now), now
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		return record(ctx, tx, actor, now, ActionSecretAdded, id, nil, map[string]string{"secret_id": issued.ID})
	})
	if err != nil {
		return nil, err
	}
	s.changed(id)
	return issued, nil
}

// RevokeSecret stops one of a client's secrets at once, and every access
// token issued with it; the others keep working. Revoking a revoked
// secret changes nothing. The actor needs oauth:client:rotate.
func (s *Service) RevokeSecret(ctx context.Context, actor Actor, id, secretID string, confirm bool) (*Secret, error) {
	if err := s.withCatalog(ctx, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.ClientRotate); err != nil {
		return nil, err
	}
	if ValidateClientID(id) != nil {
		return nil, ErrNotFound
	}
	now := s.now()
	var out *Secret
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		c, err := s.lock(ctx, tx, actor, id, authz.ClientRotate)
		if err != nil {
			return err
		}
		secrets, err := tx.Secrets(ctx, id)
		if err != nil {
			return err
		}
		var sec *Secret
		for i := range secrets {
			if secrets[i].ID == secretID {
				sec = &secrets[i]
			}
		}
		if sec == nil {
			return fmt.Errorf("secret %q: %w", secretID, ErrNotFound)
		}
		if out = sec; sec.Status == SecretRevoked {
			return nil
		}
		if err := secretsChangeable(c, confirm); err != nil {
			return err
		}
		sec.Status, sec.RevokedAt = SecretRevoked, now
		if err := tx.UpdateSecret(ctx, sec); err != nil {
			return err
		}
		c.SecretExpiresAt, c.UpdatedAt = newestExpiry(secrets, now), now
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		return record(ctx, tx, actor, now, ActionSecretRevoked, id, nil, map[string]string{"secret_id": sec.ID})
	})
	if err != nil {
		return nil, err
	}
	s.changed(id)
	return out, nil
}

// secretsChangeable refuses a change to the secrets of a client that has
// none to change, or of a protected client without confirmation.
func secretsChangeable(c *Client, confirm bool) error {
	switch {
	case c.Status == StatusRevoked:
		return errs.Invalid("status", "a revoked client's secrets cannot be changed")
	case c.Type == Public:
		return errs.Invalid("type", "a public client has no secrets")
	case c.Protected && !confirm:
		return fmt.Errorf("%w: confirm the change to its secrets", ErrProtected)
	}
	return nil
}

// newestExpiry is the client's secret expiry as the list shows it: that
// of its newest secret still working at now (zero when it never expires
// or none works).
func newestExpiry(secrets []Secret, now time.Time) time.Time {
	var newest *Secret
	for i := range secrets {
		if s := &secrets[i]; s.Status == SecretActive && s.Usable(now) && (newest == nil || s.CreatedAt.After(newest.CreatedAt)) {
			newest = s
		}
	}
	if newest == nil {
		return time.Time{}
	}
	return newest.ExpiresAt
}

// issueSecret checks a new secret's lifetime and supplied value, adding
// to the field errors fe already holds, and makes the secret record for
// client id. It is the first step of a rotation and of an added secret:
// hashed before the transaction, as on create, so the write lock never
// waits for argon2id.
func (s *Service) issueSecret(ctx context.Context, fe *fieldErrors, actor Actor, id string, now time.Time,
	supplied string, lifetime time.Duration) (*IssuedSecret, error) {
	checkSecretLifetime(fe, lifetime)
	if supplied != "" {
		fe.merge(ValidateSuppliedSecret(supplied))
	}
	pol, err := s.policy(ctx, actor.TenantID)
	if err != nil {
		return nil, err
	}
	fe.merge(pol.CheckSecretLifetime(lifetime))
	if lifetime == 0 {
		lifetime = pol.DefaultSecretLifetimeFor()
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	if ValidateClientID(id) != nil {
		return nil, ErrNotFound
	}
	return s.newSecret(ctx, id, actor, now, supplied, lifetime)
}
