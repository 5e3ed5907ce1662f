package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/notify/webhook"
)

// Audit actions of webhooks.
const (
	ActionWebhookCreated = "webhook.created"
	ActionWebhookDeleted = "webhook.deleted"
	TargetWebhook        = "webhook"
)

// MaxWebhooks bounds a tenant's webhooks: each event is posted to every
// one subscribed.
const MaxWebhooks = 20

// Clients reads a client for an actor, checking it may see it;
// *client.Service is the one.
type Clients interface {
	Get(ctx context.Context, actor authz.Actor, id string) (*client.Client, []client.Secret, error)
}

// Service is what the admin API, the console and the CLI do with
// warnings, the outbox and webhooks. Every method checks the actor first.
type Service struct {
	Store   Store
	Roles   authz.RoleSource
	Clients Clients
	// Seal encrypts a webhook's signing secret for storage, bound to the
	// webhook's ID.
	Seal func(webhookID string, secret []byte) ([]byte, error)
	Now  func() time.Time
}

// History is what became of one secret's warning schedule: each stage
// recorded, with the deliveries it queued.
type History struct {
	Warning
	Deliveries []Delivery
}

// History returns the warning history of a client's secrets, newest stage
// first.
func (s *Service) History(ctx context.Context, actor authz.Actor, clientID string) ([]History, error) {
	if _, _, err := s.Clients.Get(ctx, actor, clientID); err != nil {
		return nil, err
	}
	ws, err := s.Store.Warnings(ctx, clientID)
	if err != nil {
		return nil, err
	}
	ds, err := s.Store.Deliveries(ctx, DeliveryQuery{ClientID: clientID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := make([]History, len(ws))
	for i, w := range ws {
		out[i].Warning = w
		for _, d := range ds {
			if d.SecretID == w.SecretID && d.Stage == w.Stage {
				out[i].Deliveries = append(out[i].Deliveries, d)
			}
		}
	}
	return out, nil
}

// Outbox lists the actor's tenant's deliveries, newest first: who may see
// every client of the tenant may see every mail about them.
func (s *Service) Outbox(ctx context.Context, actor authz.Actor, q DeliveryQuery) ([]Delivery, error) {
	if err := s.require(ctx, &actor, authz.ClientView); err != nil {
		return nil, err
	}
	var fe fieldErrors
	if q.Channel != "" && q.Channel != ChannelEmail && q.Channel != ChannelWebhook {
		fe.add("channel", `must be "email" or "webhook"`)
	}
	if q.Status != "" && !slices.Contains([]Status{Pending, Sent, Failed, Skipped}, q.Status) {
		fe.add("status", `must be "pending", "sent", "failed" or "skipped"`)
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > 1000 {
		fe.add("limit", "must be from 1 to 1000")
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	q.TenantID = actor.TenantID
	return s.Store.Deliveries(ctx, q)
}

// Delivery returns one delivery of the actor's tenant with its attempts.
func (s *Service) Delivery(ctx context.Context, actor authz.Actor, id string) (*Delivery, []Attempt, error) {
	if err := s.require(ctx, &actor, authz.ClientView); err != nil {
		return nil, nil, err
	}
	d, as, err := s.Store.Delivery(ctx, id)
	if err != nil || d.TenantID != actor.TenantID {
		return nil, nil, fmt.Errorf("delivery %q: %w", id, errs.ErrNotFound)
	}
	return d, as, nil
}

// Webhooks lists the actor's tenant's webhooks.
func (s *Service) Webhooks(ctx context.Context, actor authz.Actor) ([]Webhook, error) {
	if err := s.require(ctx, &actor, authz.WebhooksManage); err != nil {
		return nil, err
	}
	return s.Store.Webhooks(ctx, actor.TenantID)
}

// CreateWebhook adds a webhook to the actor's tenant and returns it with
// its signing secret, shown this once.
func (s *Service) CreateWebhook(ctx context.Context, actor authz.Actor, url string, events []event.Type) (*Webhook, string, error) {
	if err := s.require(ctx, &actor, authz.WebhooksManage); err != nil {
		return nil, "", err
	}
	var fe fieldErrors
	if err := webhook.CheckURL(url); err != nil {
		fe.add("url", err.Error())
	}
	if len(events) == 0 {
		fe.add("events", "must name at least one event")
	}
	for _, e := range events {
		if !event.Valid(e) {
			fe.add("events", "must be from secret-expiring, secret-expired, client-revoked, secret-rotated, retiring-secret-in-use, secret-leaked")
			break
		}
	}
	if err := fe.err(); err != nil {
		return nil, "", err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, "", err
	}
	now := s.Now()
	w := &Webhook{ID: "whk_" + strings.TrimPrefix(event.NewID(), "evt_"), TenantID: actor.TenantID, URL: url,
		Events: uniqueEvents(events), CreatedAt: now, CreatedBy: actor.ID}
	if w.SealedSecret, err = s.Seal(w.ID, []byte(secret)); err != nil {
		return nil, "", err
	}
	err = s.Store.InNotifyTx(ctx, func(tx Tx) error {
		// Counted inside the transaction, so concurrent adds respect the
		// bound on SQLite; on PostgreSQL two racing adds may exceed it by
		// one, which costs a post per event and nothing else.
		hooks, err := tx.Webhooks(ctx, actor.TenantID)
		if err != nil {
			return err
		}
		if len(hooks) >= MaxWebhooks {
			return errs.Invalid("url", fmt.Sprintf("a tenant has at most %d webhooks", MaxWebhooks))
		}
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionWebhookCreated, TargetWebhook, w.ID)
		e.Details = map[string]string{"url": url, "events": joinEvents(w.Events)}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// DeleteWebhook removes a webhook of the actor's tenant; deliveries not
// yet made to it fail.
func (s *Service) DeleteWebhook(ctx context.Context, actor authz.Actor, id string) error {
	if err := s.require(ctx, &actor, authz.WebhooksManage); err != nil {
		return err
	}
	w, err := s.Store.Webhook(ctx, id)
	if err != nil || w.TenantID != actor.TenantID {
		return fmt.Errorf("webhook %q: %w", id, errs.ErrNotFound)
	}
	return s.Store.InNotifyTx(ctx, func(tx Tx) error {
		if err := tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		e := audit.New(actor, s.Now(), ActionWebhookDeleted, TargetWebhook, id)
		e.Details = map[string]string{"url": w.URL}
		return tx.AppendAudit(ctx, e)
	})
}

func (s *Service) require(ctx context.Context, actor *authz.Actor, p authz.Permission) error {
	if err := authz.Resolve(ctx, s.Roles, actor, nil); err != nil {
		return err
	}
	return actor.Require(p)
}

func uniqueEvents(in []event.Type) []event.Type {
	var out []event.Type
	for _, t := range event.Types() {
		if slices.Contains(in, t) {
			out = append(out, t)
		}
	}
	return out
}

func joinEvents(ts []event.Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ",")
}

// fieldErrors collects the field errors of one input.
type fieldErrors []errs.FieldError

func (fe *fieldErrors) add(field, msg string) {
	*fe = append(*fe, errs.FieldError{Field: field, Message: msg})
}

func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &errs.ValidationError{Fields: fe}
}
