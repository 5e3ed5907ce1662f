package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/notify/mail"
)

// DefaultBatch is how many secrets one sweep transaction takes on.
const DefaultBatch = 500

// Sweeper records the warning stages that have come due and queues their
// mails and webhook events.
type Sweeper struct {
	Store Store
	// Batch is how many secrets one transaction takes on; DefaultBatch
	// when zero.
	Batch int
	// NewID names outbox rows; NewDeliveryID when nil.
	NewID func() string
	// Metrics counts sweeps and what they did; nil counts nothing.
	Metrics *metrics.Metrics
}

// SweepReport counts what one sweep did.
type SweepReport struct {
	// Secrets is how many secrets had a stage come due.
	Secrets int `json:"secrets"`
	// Warned is how many stages were sent; Skipped, how many were
	// recorded as not sent (superseded, stale, client inactive).
	Warned  int `json:"warned"`
	Skipped int `json:"skipped"`
	// Mails and Events are the outbox rows queued; NoAddress the
	// recipients recorded as skipped for want of a valid address.
	Mails     int `json:"mails"`
	NoAddress int `json:"no_address"`
	Events    int `json:"events"`
}

func (r *SweepReport) add(o SweepReport) {
	r.Secrets += o.Secrets
	r.Warned += o.Warned
	r.Skipped += o.Skipped
	r.Mails += o.Mails
	r.NoAddress += o.NoAddress
	r.Events += o.Events
}

// metrics is what a sweep that ended with err tells the metrics.
func (r SweepReport) metrics(err error) metrics.Sweep {
	return metrics.Sweep{Secrets: r.Secrets, Warned: r.Warned, Skipped: r.Skipped,
		Mails: r.Mails, Events: r.Events, NoAddress: r.NoAddress, Failed: err != nil}
}

// Run sweeps every secret whose next stage is due at now, a batch per
// transaction, until none is left that another sweep is not holding. On
// an error, the report counts what the batches committed before it.
func (s *Sweeper) Run(ctx context.Context, now time.Time) (total SweepReport, err error) {
	defer func() { s.Metrics.SweepResult(total.metrics(err)) }()
	batch := s.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	for {
		var (
			rep SweepReport
			n   int
		)
		err := s.Store.InNotifyTx(ctx, func(tx Tx) error {
			rep = SweepReport{}
			due, err := tx.DueSecrets(ctx, now, batch)
			if err != nil {
				return err
			}
			n = len(due)
			var w writes
			for i := range due {
				s.plan(&w, &due[i], now)
			}
			rep = w.report
			return w.commit(ctx, tx)
		})
		if err != nil {
			return total, fmt.Errorf("notify: sweep: %w", err)
		}
		total.add(rep)
		if n < batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// writes are what one sweep transaction stores.
type writes struct {
	warnings   []Warning
	deliveries []Delivery
	events     []event.Event
	next       []NextDue
	report     SweepReport
}

func (w *writes) commit(ctx context.Context, tx Tx) error {
	if err := tx.RecordWarnings(ctx, w.warnings); err != nil {
		return err
	}
	if err := tx.AddDeliveries(ctx, w.deliveries); err != nil {
		return err
	}
	if len(w.events) > 0 {
		if err := tx.AppendEvents(ctx, w.events); err != nil {
			return err
		}
	}
	return tx.SetNextDue(ctx, w.next)
}

// plan decides what becomes of one due secret.
func (s *Sweeper) plan(w *writes, d *Due, now time.Time) {
	w.report.Secrets++
	// A secret no longer current, or of a revoked client, is warned of no
	// more: its schedule ends here.
	if d.SecretStatus != client.SecretActive || d.ClientStatus == client.StatusRevoked {
		w.next = append(w.next, NextDue{SecretID: d.SecretID})
		return
	}
	p := PlanAt(d.CreatedAt, d.ExpiresAt, now, d.Recorded)
	w.next = append(w.next, NextDue{SecretID: d.SecretID, At: p.Next})
	skip := func(st Stage, reason string) {
		w.warnings = append(w.warnings, Warning{SecretID: d.SecretID, ClientID: d.ClientID, TenantID: d.TenantID,
			Stage: st, Reason: reason, At: now})
		w.report.Skipped++
	}
	inactive := d.ClientStatus != client.StatusActive
	for _, st := range p.Skip {
		switch {
		case inactive:
			skip(st, ReasonClientInactive)
		case st == 0 && !p.Sends():
			skip(st, ReasonStale)
		default:
			skip(st, ReasonSuperseded)
		}
	}
	if !p.Sends() {
		return
	}
	if inactive {
		skip(p.Send, ReasonClientInactive)
		return
	}
	w.warnings = append(w.warnings, Warning{SecretID: d.SecretID, ClientID: d.ClientID, TenantID: d.TenantID,
		Stage: p.Send, Sent: true, At: now})
	w.report.Warned++
	s.queue(w, d, p.Send, now)
}

// queue adds the mails and the event of one stage sent.
func (s *Sweeper) queue(w *writes, d *Due, st Stage, now time.Time) {
	newID := s.NewID
	if newID == nil {
		newID = NewDeliveryID
	}
	daysLeft := client.DaysLeft(d.ExpiresAt, now)
	t := event.SecretExpiring
	if st == 0 {
		t = event.SecretExpired
	}
	for _, r := range recipients(d) {
		data := MailData{RecipientName: r.Name, ClientID: d.ClientID, ClientName: d.ClientName,
			TenantName: d.Tenant.Name, TenantSlug: d.Tenant.Slug, TenantDefault: d.Tenant.Default,
			ExpiresAt: d.ExpiresAt.UTC(), DaysLeft: daysLeft}
		body, _ := json.Marshal(data) // a struct of strings, times and ints always marshals
		dl := Delivery{ID: newID(), TenantID: d.TenantID, ClientID: d.ClientID, SecretID: d.SecretID, Stage: st,
			Channel: ChannelEmail, Event: t, Recipient: r.Email, UserID: r.UserID, Locale: r.Locale,
			Payload: body, Status: Pending, NextAttemptAt: now, CreatedAt: now}
		if why := r.unreachable(); why != "" {
			dl.Recipient, dl.Status, dl.LastError, dl.NextAttemptAt = "", Skipped, why, time.Time{}
			w.report.NoAddress++
		} else {
			w.report.Mails++
		}
		w.deliveries = append(w.deliveries, dl)
	}
	body, err := event.Payload(t, now, expiryEvent{ClientID: d.ClientID, ClientName: d.ClientName,
		SecretID: d.SecretID, ExpiresAt: d.ExpiresAt.UTC(), DaysLeft: daysLeft, Stage: int(st)})
	if err == nil {
		w.events = append(w.events, event.Event{ID: event.NewID(), Type: t, TenantID: d.TenantID,
			ClientID: d.ClientID, SecretID: d.SecretID, At: now, Body: body})
		w.report.Events++
	}
}

// expiryEvent is the data of secret-expiring and secret-expired events.
type expiryEvent struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	SecretID   string    `json:"secret_id"`
	ExpiresAt  time.Time `json:"expires_at"`
	DaysLeft   int       `json:"days_left"`
	Stage      int       `json:"stage_days"`
}

// recipients are the people one warning goes to: the client's owner and
// its creator, once when they are the same person (by user, or by
// address). A creator that is not a user (the system, or a client acting
// through the admin API) is nobody to mail.
func recipients(d *Due) []Recipient {
	var out []Recipient
	seen := map[string]bool{}
	for _, r := range []Recipient{d.Owner, d.Creator} {
		if r.UserID == "" || !strings.HasPrefix(r.UserID, "usr_") {
			continue
		}
		key := "user:" + r.UserID
		if r.Found && r.Email != "" {
			key = "mail:" + strings.ToLower(r.Email)
		}
		if seen[key] || seen["user:"+r.UserID] {
			continue
		}
		seen[key], seen["user:"+r.UserID] = true, true
		out = append(out, r)
	}
	return out
}

// unreachable says why no mail can go to r, or "".
func (r Recipient) unreachable() string {
	switch {
	case !r.Found:
		return "no such user"
	case !r.Active:
		return "user disabled"
	case !mail.ValidAddress(r.Email):
		return "no valid email address"
	}
	return ""
}

// NewDeliveryID returns a fresh outbox row ID: "dlv_" and 128 random bits.
func NewDeliveryID() string { return "dlv_" + strings.TrimPrefix(event.NewID(), "evt_") }
