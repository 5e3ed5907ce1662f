package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/notify/mail"
	"github.com/latchkey/latchkey/internal/notify/webhook"
)

// Mailer sends one mail; *mail.Sender is the SMTP one.
type Mailer interface {
	Send(ctx context.Context, e mail.Envelope) error
}

// Poster posts one webhook delivery; *webhook.Poster is the HTTP one.
type Poster interface {
	Post(ctx context.Context, d webhook.Delivery) (int, error)
}

// Retry policy of the outbox: the waits after each failed attempt. After
// the last, a delivery is given up (Failed): a day of tries covers an
// outage of the mail server or the receiver without retrying forever.
var Backoff = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour}

// Lease is how long a claimed delivery is held by the dispatcher trying
// it: longer than any one attempt may take (mail and webhook sends time
// out before it), so only a crashed dispatcher's claims are retried.
const Lease = 2 * time.Minute

// Dispatcher delivers what the outbox holds.
type Dispatcher struct {
	Store Store
	// Mail sends mail; nil when no SMTP server is configured, and mails
	// then stay in the outbox, pending.
	Mail Mailer
	// From is the sender address of mails.
	From string
	// Hooks posts webhook deliveries; nil leaves them pending.
	Hooks Poster
	// OpenSecret reads a webhook's signing secret.
	OpenSecret func(w *Webhook) (string, error)
	// Link is the console address of a mail's client.
	Link func(d MailData) string
	// MessageHost is the domain part of mails' Message-IDs.
	MessageHost string
	Log         *slog.Logger
	// Batch is how many deliveries of a channel one pass claims;
	// DefaultBatch when zero.
	Batch int
	// Metrics counts delivery attempts; nil counts none.
	Metrics *metrics.Metrics
}

// DispatchReport counts what one pass did.
type DispatchReport struct {
	Sent    int `json:"sent"`
	Retried int `json:"retried"`
	Failed  int `json:"failed"`
}

// Run makes one pass over the deliveries due at now, on each channel that
// has a sender.
func (d *Dispatcher) Run(ctx context.Context, now time.Time) (DispatchReport, error) {
	var rep DispatchReport
	if d.Mail != nil {
		if err := d.pass(ctx, ChannelEmail, now, &rep, d.sendMail); err != nil {
			return rep, err
		}
	}
	if d.Hooks != nil {
		if err := d.pass(ctx, ChannelWebhook, now, &rep, d.post); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// outcome is the result of one attempt: permanent failures are not
// retried.
type outcome struct {
	detail    string
	err       error
	permanent bool
}

func (d *Dispatcher) pass(ctx context.Context, ch Channel, now time.Time, rep *DispatchReport,
	send func(context.Context, *Delivery, time.Time) outcome) error {
	batch := d.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	claimed, err := d.Store.ClaimDeliveries(ctx, ch, now, now.Add(Lease), batch)
	if err != nil {
		return fmt.Errorf("notify: claim %s deliveries: %w", ch, err)
	}
	for i := range claimed {
		dl := &claimed[i]
		o := send(ctx, dl, now)
		a := Attempt{DeliveryID: dl.ID, At: now, OK: o.err == nil, Detail: o.detail}
		st, next := Sent, time.Time{}
		switch {
		case o.err == nil:
			rep.Sent++
		case o.permanent || dl.Attempts > len(Backoff):
			st = Failed
			rep.Failed++
		default:
			st, next = Pending, now.Add(Backoff[dl.Attempts-1])
			rep.Retried++
		}
		if o.err != nil && d.Log != nil {
			d.Log.Warn("delivery failed", "delivery", dl.ID, "channel", ch, "attempt", dl.Attempts,
				"status", st, "error", o.detail)
		}
		if err := d.Store.FinishDelivery(ctx, a, st, next); err != nil {
			return fmt.Errorf("notify: finish delivery %s: %w", dl.ID, err)
		}
		d.Metrics.Delivered(string(ch), string(st))
	}
	return nil
}

// RenderMail renders the mail an outbox row holds, in its recipient's
// language: what the dispatcher sends, and what the console shows of the
// outbox.
func RenderMail(dl *Delivery, link func(MailData) string) (mail.Message, error) {
	var data MailData
	if err := json.Unmarshal(dl.Payload, &data); err != nil {
		return mail.Message{}, fmt.Errorf("notify: delivery %s: %w", dl.ID, err)
	}
	if dl.Event == event.SecretLeaked {
		n := mail.Leak{Locale: dl.Locale, RecipientName: data.RecipientName, ClientID: data.ClientID,
			ClientName: data.ClientName, TenantName: data.TenantName, Facts: data.Facts}
		if link != nil {
			n.ConsoleURL = link(data)
		}
		return mail.RenderLeak(n)
	}
	w := mail.Warning{Locale: dl.Locale, RecipientName: data.RecipientName, ClientID: data.ClientID,
		ClientName: data.ClientName, TenantName: data.TenantName, ExpiresAt: data.ExpiresAt, DaysLeft: data.DaysLeft}
	if link != nil {
		w.ConsoleURL = link(data)
	}
	return mail.Render(w)
}

func (d *Dispatcher) sendMail(ctx context.Context, dl *Delivery, _ time.Time) outcome {
	msg, err := RenderMail(dl, d.Link)
	if err != nil {
		return outcome{detail: "cannot render the mail", err: err, permanent: true}
	}
	var data MailData
	_ = json.Unmarshal(dl.Payload, &data) // RenderMail has read it
	err = d.Mail.Send(ctx, mail.Envelope{From: d.From, To: dl.Recipient, ToName: data.RecipientName,
		MessageID: dl.ID + "@" + d.MessageHost, Message: msg})
	if err != nil {
		return outcome{detail: short(err), err: err, permanent: mail.Permanent(err)}
	}
	return outcome{detail: "accepted by the mail server"}
}

func (d *Dispatcher) post(ctx context.Context, dl *Delivery, now time.Time) outcome {
	w, err := d.Store.Webhook(ctx, dl.Recipient)
	if errors.Is(err, ErrNotFound) {
		return outcome{detail: "the webhook was deleted", err: err, permanent: true}
	}
	if err != nil {
		return outcome{detail: "cannot read the webhook", err: err}
	}
	secret, err := d.OpenSecret(w)
	if err != nil {
		return outcome{detail: "cannot read the webhook's signing secret", err: err, permanent: true}
	}
	status, err := d.Hooks.Post(ctx, webhook.Delivery{URL: w.URL, Secret: secret, ID: dl.ID, At: now, Body: dl.Payload})
	if err != nil {
		return outcome{detail: short(err), err: err, permanent: webhook.Permanent(status, err)}
	}
	return outcome{detail: fmt.Sprintf("HTTP %d", status)}
}

// short is an error's text cut to what an attempts list shows.
func short(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
