// Package event names what happens to a tenant's clients that the tenant's
// webhooks may be told of, and the one write that queues it. It is a leaf:
// the client domain appends events in the transaction of the change they
// report, and the storage adapters fan each one out to the webhooks
// subscribed to it, as outbox deliveries committed with that change.
package event

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"strings"
	"time"
)

// Type is what happened. The names are those a webhook subscribes to.
type Type string

const (
	// SecretExpiring: a warning stage before a secret's expiry was reached.
	SecretExpiring Type = "secret-expiring"
	// SecretExpired: a secret's expiry day (the on-expiry warning stage).
	SecretExpired Type = "secret-expired"
	// ClientRevoked: a client was revoked and never obtains a token again.
	ClientRevoked Type = "client-revoked"
	// SecretRotated: a client was given a new secret.
	SecretRotated Type = "secret-rotated"
	// RetiringSecretInUse: the old secret of a rotation was still used in
	// the last hour of its grace period (told once per secret).
	RetiringSecretInUse Type = "retiring-secret-in-use"
	// SecretLeaked: a credible report said a secret was published; the
	// tenant's policy revoked or flagged it.
	SecretLeaked Type = "secret-leaked"
)

// Types lists every event type, in display order.
func Types() []Type {
	return []Type{SecretExpiring, SecretExpired, ClientRevoked, SecretRotated, RetiringSecretInUse, SecretLeaked}
}

// Valid reports whether t names an event type.
func Valid(t Type) bool {
	for _, v := range Types() {
		if v == t {
			return true
		}
	}
	return false
}

// Event is one occurrence, told to every webhook of its tenant that
// subscribes to its type.
type Event struct {
	// ID names the occurrence; each webhook's delivery of it is named
	// after it, and that name is the webhook-id receivers dedupe by.
	ID       string
	Type     Type
	TenantID string
	ClientID string
	// SecretID is the secret the event is about, when it is about one.
	SecretID string
	At       time.Time
	// Body is the JSON the webhooks receive (see webhook.Payload).
	Body []byte
}

// Appender queues events with the change they report.
type Appender interface {
	// AppendEvents adds a delivery of each event for every webhook of its
	// tenant subscribed to its type, in the caller's transaction. An event
	// no webhook subscribes to leaves nothing behind.
	AppendEvents(ctx context.Context, events []Event) error
}

// Notice is a mail about a client to the people answerable for it: its
// owner and its creator, once if they are the same person. The store
// finds them, and the client's and tenant's names, when it queues it.
type Notice struct {
	Type     Type
	TenantID string
	ClientID string
	SecretID string
	At       time.Time
	// Facts are what the mail says beyond the client and the tenant,
	// by name; never a secret.
	Facts map[string]string
}

// Noticer queues notices with the change they report.
type Noticer interface {
	// AppendNotices adds a mail of each notice to its client's owner and
	// creator to the outbox, in the caller's transaction.
	AppendNotices(ctx context.Context, notices []Notice) error
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a fresh event ID: "evt_" and 128 random bits.
func NewID() string { return newID("evt_") }

// newID returns prefix and 128 random bits in lower-case base32.
func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// Payload is the JSON body of an event, in the shape of the Standard
// Webhooks specification: its type, when it happened, and what it says.
func Payload(t Type, at time.Time, data any) ([]byte, error) {
	return json.Marshal(struct {
		Type      Type   `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      any    `json:"data"`
	}{t, at.UTC().Format(time.RFC3339), data})
}
