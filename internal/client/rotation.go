package client

import (
	"context"
	"strings"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// ActionRotationFinished is the audit action of FinishRotation.
const ActionRotationFinished = "client.rotation_finished"

// FinishRotation ends a client's rotation before its grace period does:
// every retiring secret (the old secret of a rotation, still working) is
// revoked at once, with the access tokens issued with it, in one
// transaction and one audit event naming the secrets. The active secret
// keeps working. It returns the secrets revoked, and an invalid "secrets"
// field error when none is retiring. The actor needs oauth:client:rotate;
// a protected client needs confirm, as for any change to its secrets.
func (s *Service) FinishRotation(ctx context.Context, actor Actor, id string, confirm bool) ([]Secret, error) {
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
	var out []Secret
	err := s.Repo.InTx(ctx, func(tx Tx) error {
		out = nil
		c, err := s.lock(ctx, tx, actor, id, authz.ClientRotate)
		if err != nil {
			return err
		}
		if err := secretsChangeable(c, confirm); err != nil {
			return err
		}
		secrets, err := tx.Secrets(ctx, id)
		if err != nil {
			return err
		}
		var ids []string
		for i := range secrets {
			sec := &secrets[i]
			// A retiring secret whose grace has ended is refused already;
			// revoking it changes nothing the caller can see.
			if sec.Status != SecretRetiring || !sec.Usable(now) {
				continue
			}
			sec.Status, sec.RevokedAt = SecretRevoked, now
			if err := tx.UpdateSecret(ctx, sec); err != nil {
				return err
			}
			ids = append(ids, sec.ID)
			out = append(out, *sec)
		}
		if len(ids) == 0 {
			return errs.Invalid("secrets", "no secret of this client is in a rotation's grace period")
		}
		c.SecretExpiresAt, c.UpdatedAt = newestExpiry(secrets, now), now
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		return record(ctx, tx, actor, now, ActionRotationFinished, id, nil,
			map[string]string{"secret_ids": strings.Join(ids, " ")})
	})
	if err != nil {
		return nil, err
	}
	s.changed(id)
	return out, nil
}
