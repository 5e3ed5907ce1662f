package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
)

// Warning is one recorded stage of a secret's expiry warnings, with the
// deliveries it queued.
type Warning struct {
	SecretID string `json:"secret_id"`
	// Stage is the days before expiry the stage falls on; 0 is the
	// expiry day.
	Stage      int        `json:"stage_days"`
	Sent       bool       `json:"sent"`
	Reason     string     `json:"reason,omitempty"`
	At         time.Time  `json:"at"`
	Deliveries []Delivery `json:"deliveries"`
}

// WarningList is a client's warning history, newest first.
type WarningList struct {
	Warnings []Warning `json:"warnings"`
}

// Delivery is the JSON form of an outbox row.
type Delivery struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id,omitempty"`
	SecretID string `json:"secret_id,omitempty"`
	// Stage is null for an event that is no expiry warning.
	Stage   *int   `json:"stage_days"`
	Channel string `json:"channel"`
	Event   string `json:"event"`
	// Recipient is the mail address, or the webhook's ID.
	Recipient     string     `json:"recipient,omitempty"`
	UserID        string     `json:"user_id,omitempty"`
	Locale        string     `json:"locale,omitempty"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at"`
}

// NewDelivery is the JSON form of d.
func NewDelivery(d *notify.Delivery) Delivery {
	out := Delivery{ID: d.ID, ClientID: d.ClientID, SecretID: d.SecretID, Channel: string(d.Channel),
		Event: string(d.Event), Recipient: d.Recipient, UserID: d.UserID, Locale: d.Locale,
		Status: string(d.Status), Attempts: d.Attempts, LastError: d.LastError, CreatedAt: d.CreatedAt.UTC()}
	if d.Stage >= 0 {
		st := int(d.Stage)
		out.Stage = &st
	}
	if d.Status == notify.Pending && !d.NextAttemptAt.IsZero() {
		t := d.NextAttemptAt.UTC()
		out.NextAttemptAt = &t
	}
	if !d.SentAt.IsZero() {
		t := d.SentAt.UTC()
		out.SentAt = &t
	}
	return out
}

// DeliveryList is one page of the outbox.
type DeliveryList struct {
	Deliveries    []Delivery `json:"deliveries"`
	NextPageToken string     `json:"next_page_token,omitempty"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail"`
}

// MailMessage is a mail as its recipient reads it.
type MailMessage struct {
	Language string `json:"language"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	HTML     string `json:"html"`
}

// DeliveryDetail is one delivery with its attempts and, for a mail, the
// message: with no mail server configured, the outbox is the mailbox.
type DeliveryDetail struct {
	Delivery
	AttemptList []Attempt    `json:"attempt_list"`
	Message     *MailMessage `json:"message,omitempty"`
	// Payload is the body a webhook receives.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Webhook is the JSON form of a webhook; its signing secret is shown
// only when it is created.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	// Secret is the signing secret, in the response that creates the
	// webhook and never again.
	Secret string `json:"secret,omitempty"`
}

// NewWebhook is the JSON form of h.
func NewWebhook(h *notify.Webhook) Webhook {
	out := Webhook{ID: h.ID, URL: h.URL, Events: make([]string, 0, len(h.Events)),
		CreatedAt: h.CreatedAt.UTC(), CreatedBy: h.CreatedBy}
	for _, e := range h.Events {
		out.Events = append(out.Events, string(e))
	}
	return out
}

// WebhookList is the tenant's webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// webhookBody is the body of POST /webhooks.
type webhookBody struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

func listWarnings(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	hs, err := a.Notify.History(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := WarningList{Warnings: make([]Warning, 0, len(hs))}
	for _, h := range hs {
		v := Warning{SecretID: h.SecretID, Stage: int(h.Stage), Sent: h.Sent, Reason: h.Reason, At: h.At.UTC(),
			Deliveries: make([]Delivery, 0, len(h.Deliveries))}
		for i := range h.Deliveries {
			v.Deliveries = append(v.Deliveries, NewDelivery(&h.Deliveries[i]))
		}
		out.Warnings = append(out.Warnings, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listOutbox serves GET /outbox: the tenant's deliveries, newest first,
// filtered by channel, status and client.
func listOutbox(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := queryParams(r, "channel", "status", "client_id", "page_size", "page_token")
	if err != nil {
		return err
	}
	q := notify.DeliveryQuery{Channel: notify.Channel(v.Get("channel")), Status: notify.Status(v.Get("status")),
		ClientID: v.Get("client_id"), Before: v.Get("page_token"), Limit: 50}
	if s := v.Get("page_size"); s != "" {
		// The service checks the range, with the other filters.
		n, err := strconv.Atoi(s)
		if err != nil {
			n = -1
		}
		q.Limit = n
	}
	ds, err := a.Notify.Outbox(r.Context(), c.actor, q)
	if err != nil {
		return renameFields(err, map[string]string{"limit": "page_size"})
	}
	out := DeliveryList{Deliveries: make([]Delivery, 0, len(ds))}
	for i := range ds {
		out.Deliveries = append(out.Deliveries, NewDelivery(&ds[i]))
	}
	if len(ds) == q.Limit {
		out.NextPageToken = ds[len(ds)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func getDelivery(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	d, attempts, err := a.Notify.Delivery(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := NewDeliveryDetail(d, attempts, a.MailLink)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// NewDeliveryDetail is the JSON form of d with its attempts and what it
// says: a mail rendered as its recipient reads it (linking with link), a
// webhook delivery's body.
func NewDeliveryDetail(d *notify.Delivery, attempts []notify.Attempt, link func(notify.MailData) string) (DeliveryDetail, error) {
	out := DeliveryDetail{Delivery: NewDelivery(d), AttemptList: make([]Attempt, 0, len(attempts))}
	for _, at := range attempts {
		out.AttemptList = append(out.AttemptList, Attempt{At: at.At.UTC(), OK: at.OK, Detail: at.Detail})
	}
	switch d.Channel {
	case notify.ChannelEmail:
		m, err := notify.RenderMail(d, link)
		if err != nil {
			return DeliveryDetail{}, err
		}
		out.Message = &MailMessage{Language: m.Lang, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
	case notify.ChannelWebhook:
		out.Payload = json.RawMessage(d.Payload)
	}
	return out, nil
}

func listWebhooks(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	hs, err := a.Notify.Webhooks(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := WebhookList{Webhooks: make([]Webhook, 0, len(hs))}
	for i := range hs {
		out.Webhooks = append(out.Webhooks, NewWebhook(&hs[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func createWebhook(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readCreate(r)
	if err != nil {
		return err
	}
	var b webhookBody
	if err := decodeInto(body, &b); err != nil {
		return err
	}
	events := make([]event.Type, 0, len(b.Events))
	for _, e := range b.Events {
		events = append(events, event.Type(e))
	}
	h, secret, err := a.Notify.CreateWebhook(r.Context(), c.actor, b.URL, events)
	if err != nil {
		return err
	}
	out := NewWebhook(h)
	out.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func deleteWebhook(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	if err := a.Notify.DeleteWebhook(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
