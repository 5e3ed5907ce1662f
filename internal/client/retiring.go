package client

import (
	"context"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/notify/event"
)

// ActionRetiringSecretInUse is the audit action of a retiring secret used
// in the last RetiringWarnWindow of its grace period.
const ActionRetiringSecretInUse = "client.retiring_secret_in_use"

// RetiringWarnWindow is the end of a grace period in which a use of the
// old secret is warned of: a caller that has not moved to the new secret
// by then is about to fail.
const RetiringWarnWindow = time.Hour

// RetiringUseWarner warns, once per secret, that the old secret of a
// rotation authenticated in the last hour of its grace period: an audit
// event (with the use's time and source address) and a webhook event
// (retiring-secret-in-use), committed with a marker on the secret
// (Tx.MarkRetiringWarned) so that a restart or another instance does not
// warn again. Uses outside that hour cost a comparison; the first use
// inside it costs one transaction per instance, and later ones none, as
// the instance remembers the secrets it has seen warned. It is safe for
// concurrent use; the zero value needs Repo.
type RetiringUseWarner struct {
	Repo Repository

	seen sync.Map // secret ID → struct{}: warned, by this instance or another
}

// retiringUseDue reports whether a use of sec at now falls in the
// warning window.
func retiringUseDue(sec *Secret, now time.Time) bool {
	return sec != nil && sec.Status == SecretRetiring && !sec.ExpiresAt.IsZero() &&
		now.Before(sec.ExpiresAt) && sec.ExpiresAt.Sub(now) <= RetiringWarnWindow
}

// Observe is told of each successful authentication of client c with
// secret sec (nil for none) at now from addr, and gives the warning when
// it is due and was not given before. It reports whether this call gave
// it.
func (w *RetiringUseWarner) Observe(ctx context.Context, c *Client, sec *Secret, addr string, now time.Time) (bool, error) {
	if w == nil || !retiringUseDue(sec, now) {
		return false, nil
	}
	if _, done := w.seen.Load(sec.ID); done {
		return false, nil
	}
	var warned bool
	err := w.Repo.InTx(ctx, func(tx Tx) error {
		set, err := tx.MarkRetiringWarned(ctx, c.ID, sec.ID, now)
		if warned = set; err != nil || !set {
			return err
		}
		expires := sec.ExpiresAt.UTC().Format(time.RFC3339)
		if err := record(ctx, tx, SystemActor(c.TenantID), now, ActionRetiringSecretInUse, c.ID, nil, map[string]string{
			"secret_id": sec.ID, "used_at": now.UTC().Format(time.RFC3339), "source_addr": addr, "expires_at": expires,
		}); err != nil {
			return err
		}
		return appendEvent(ctx, tx, event.RetiringSecretInUse, c, sec.ID, now, retiringInUse{
			clientEvent: clientEvent{ClientID: c.ID, ClientName: c.Name, At: now.UTC()}, SecretID: sec.ID, UsedAt: now.UTC(), SourceAddr: addr, ExpiresAt: sec.ExpiresAt.UTC()})
	})
	if err != nil {
		return false, err
	}
	w.seen.Store(sec.ID, struct{}{})
	return warned, nil
}

// retiringInUse is the data of a retiring-secret-in-use event.
type retiringInUse struct {
	clientEvent
	SecretID   string    `json:"secret_id"`
	UsedAt     time.Time `json:"used_at"`
	SourceAddr string    `json:"source_addr"`
	ExpiresAt  time.Time `json:"expires_at"`
}
