// Package notify tells people that a client secret is about to expire,
// and tells a tenant's webhooks what happens to its clients.
//
// The expiry warnings follow seed Breeze exactly: stages 30, 14, 7 and 1
// days before a secret's expiry and on the expiry day, each applying only
// if the secret lives longer than it, each sent at most once, to the
// client's owner and its creator. A sweep finds the secrets whose next
// stage has come due with one index range scan (the store keeps each
// active secret's next due time), records the stage and writes the
// outbox rows of its mails and webhook deliveries in one transaction, and
// a dispatcher delivers from the outbox with retries and backoff. So a
// crash at any point loses no due mail and sends none twice from the
// sweep; several instances on one PostgreSQL database share the work, as
// each claims the rows it works on and skips those another holds.
//
// The mails are rendered at delivery from what the outbox row records
// (package mail, six languages); webhook deliveries are signed in the
// manner of the Standard Webhooks specification (package webhook).
package notify

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/notify/event"
)

// Errors the store returns; compared with errors.Is.
var (
	ErrNotFound = errs.ErrNotFound
	ErrConflict = errs.ErrConflict
)

// Channel is how a delivery reaches its recipient.
type Channel string

const (
	ChannelEmail   Channel = "email"
	ChannelWebhook Channel = "webhook"
)

// Status is where a delivery stands.
type Status string

const (
	// Pending deliveries wait in the outbox for their next attempt; with
	// no SMTP server configured, mails stay pending: the outbox is then
	// the mailbox, shown in the console and by "latchkey notify outbox".
	Pending Status = "pending"
	Sent    Status = "sent"
	// Failed deliveries were given up: a permanent refusal, or every
	// attempt failed.
	Failed Status = "failed"
	// Skipped deliveries were never attempted: the recipient has no valid
	// address (recorded so the warning history says why nobody was told).
	Skipped Status = "skipped"
)

// Warning records what became of one stage of one secret's schedule.
type Warning struct {
	SecretID string
	ClientID string
	TenantID string
	Stage    Stage
	// Sent is true when the stage's mails and events were queued; false
	// when it was skipped, for Reason.
	Sent   bool
	Reason string
	At     time.Time
}

// Reasons a stage is skipped.
const (
	ReasonSuperseded     = "superseded by a more urgent warning"
	ReasonStale          = "too late: the secret expired more than 7 days ago"
	ReasonClientInactive = "client inactive"
)

// Delivery is one row of the outbox: one mail to one person, or one event
// to one webhook.
type Delivery struct {
	ID       string
	TenantID string
	ClientID string
	SecretID string
	// Stage is the warning stage the delivery is of; -1 for an event
	// that is not a warning.
	Stage   Stage
	Channel Channel
	Event   event.Type
	// Recipient is the mail address, or the webhook's ID.
	Recipient string
	// UserID is the user a mail is for (also when skipped).
	UserID string
	// Locale picks the language of a mail.
	Locale string
	// Payload is what the delivery says: for a mail, MailData as JSON;
	// for a webhook, the body it receives.
	Payload       []byte
	Status        Status
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        time.Time // zero until sent
}

// MailData is what an expiry warning mail says, kept in its outbox row
// so the mail is rendered in the recipient's language when it goes out.
type MailData struct {
	RecipientName string    `json:"recipient_name,omitempty"`
	ClientID      string    `json:"client_id"`
	ClientName    string    `json:"client_name"`
	TenantName    string    `json:"tenant_name"`
	TenantSlug    string    `json:"tenant_slug,omitempty"`
	TenantDefault bool      `json:"tenant_default,omitempty"`
	ExpiresAt     time.Time `json:"expires_at"`
	DaysLeft      int       `json:"days_left"`
	// Facts are a notice's own (event.Notice.Facts); empty for a warning.
	Facts map[string]string `json:"facts,omitempty"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	DeliveryID string
	At         time.Time
	OK         bool
	// Detail is the outcome in a few words ("HTTP 500", "250 queued"),
	// never a secret.
	Detail string
}

// Webhook is an HTTPS endpoint a tenant's events are posted to.
type Webhook struct {
	ID       string
	TenantID string
	URL      string
	Events   []event.Type
	// SealedSecret is the signing secret, encrypted under the server's
	// key: it must be read back to sign, so it cannot be hashed.
	SealedSecret []byte
	CreatedAt    time.Time
	CreatedBy    string
}

// Due is a secret whose next warning stage has come due, with what the
// sweep needs to decide and to word it.
type Due struct {
	SecretID     string
	ClientID     string
	TenantID     string
	SecretStatus client.SecretStatus
	ClientStatus client.Status
	ClientName   string
	Tenant       TenantInfo
	CreatedAt    time.Time
	ExpiresAt    time.Time
	// Recorded are the stages of this secret already recorded.
	Recorded []Stage
	// Owner and Creator are the client's owner user and the user who
	// created it, when those are users (Found).
	Owner, Creator Recipient
}

// TenantInfo is what a mail says of a tenant and how it links to it.
type TenantInfo struct {
	Name    string
	Slug    string
	Default bool
}

// Recipient is a user a warning may be mailed to.
type Recipient struct {
	// UserID is the reference the client holds (its owner or creator);
	// empty for none.
	UserID string
	// Found is true when UserID names a user of the client's tenant.
	Found  bool
	Active bool
	Email  string
	Name   string
	Locale string
}

// NextDue is a secret's next due warning time after a sweep; zero At for
// none left.
type NextDue struct {
	SecretID string
	At       time.Time
}

// DeliveryQuery selects outbox rows, newest first.
type DeliveryQuery struct {
	TenantID string
	ClientID string // only this client's, when set
	SecretID string // only this secret's, when set
	Channel  Channel
	Status   Status
	Limit    int
	// Before continues a listing: the ID of the last row of the previous
	// page.
	Before string
}

// Store is the persistence notify needs; the storage adapters implement
// it.
type Store interface {
	// InNotifyTx runs fn in one transaction, committed when fn returns
	// nil.
	InNotifyTx(ctx context.Context, fn func(Tx) error) error
	// Warnings returns the recorded stages of a client's secrets, newest
	// first.
	Warnings(ctx context.Context, clientID string) ([]Warning, error)
	// Deliveries returns outbox rows, newest first.
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// Delivery returns one outbox row with its attempts, oldest first.
	Delivery(ctx context.Context, id string) (*Delivery, []Attempt, error)
	// Webhooks returns a tenant's webhooks, oldest first.
	Webhooks(ctx context.Context, tenantID string) ([]Webhook, error)
	// Webhook returns one webhook.
	Webhook(ctx context.Context, id string) (*Webhook, error)
	// ClaimDeliveries takes up to limit pending deliveries of a channel
	// due at now: it counts an attempt for each and moves its next
	// attempt to leaseUntil, so another dispatcher (or this one after a
	// crash) tries it again only once the lease has run out.
	ClaimDeliveries(ctx context.Context, ch Channel, now, leaseUntil time.Time, limit int) ([]Delivery, error)
	// FinishDelivery records an attempt and the delivery's new state: its
	// status, and when pending its next attempt.
	FinishDelivery(ctx context.Context, a Attempt, st Status, next time.Time) error
	// PendingDeliveries counts the deliveries still pending, by channel:
	// the outbox's depth, due or not.
	PendingDeliveries(ctx context.Context) (map[Channel]int, error)
}

// Tx is the write side of Store, valid only inside InNotifyTx.
type Tx interface {
	audit.Appender
	event.Appender
	// DueSecrets returns up to limit active-or-not secrets whose next
	// warning is due at now, soonest first, holding them until the
	// transaction ends; secrets another transaction holds are skipped.
	DueSecrets(ctx context.Context, now time.Time, limit int) ([]Due, error)
	// RecordWarnings stores recorded stages; a stage recorded before is
	// ErrConflict.
	RecordWarnings(ctx context.Context, ws []Warning) error
	// AddDeliveries adds rows to the outbox.
	AddDeliveries(ctx context.Context, ds []Delivery) error
	// SetNextDue sets secrets' next due warning times.
	SetNextDue(ctx context.Context, next []NextDue) error
	// Webhooks returns a tenant's webhooks, oldest first.
	Webhooks(ctx context.Context, tenantID string) ([]Webhook, error)
	CreateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes a webhook; its past deliveries stay listed.
	DeleteWebhook(ctx context.Context, id string) error
}
