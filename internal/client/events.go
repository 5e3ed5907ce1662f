package client

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/notify/event"
)

// clientEvent is what every webhook event about a client says of it.
// Nothing in it is a secret: a secret is named by its ID only.
type clientEvent struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	At         time.Time `json:"at"`
}

// rotatedEvent is the data of a secret-rotated event.
type rotatedEvent struct {
	clientEvent
	SecretID     string     `json:"secret_id"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	Replaced     []string   `json:"replaced_secret_ids,omitempty"`
	GraceSeconds int64      `json:"grace_seconds"`
}

// appendEvent queues an event about c in tx, for the webhooks of c's
// tenant subscribed to it.
func appendEvent(ctx context.Context, tx Tx, t event.Type, c *Client, secretID string, now time.Time, data any) error {
	body, err := event.Payload(t, now, data)
	if err != nil {
		return err
	}
	return tx.AppendEvents(ctx, []event.Event{{ID: event.NewID(), Type: t, TenantID: c.TenantID,
		ClientID: c.ID, SecretID: secretID, At: now, Body: body}})
}
