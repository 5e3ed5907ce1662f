package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
)

// outboxRoutes are the outbox, the mails and webhook events about the
// tenant's clients, and one delivery with its attempts.
func (p *Pages) outboxRoutes() []consoleRoute {
	return []consoleRoute{
		{path: "/outbox", handlers: map[string]consoleHandler{"GET": p.outboxList}},
		{path: "/outbox/{id}", handlers: map[string]consoleHandler{"GET": p.outboxShow}},
	}
}

// outboxPageSize is how many deliveries the outbox page lists.
const outboxPageSize = 100

// outboxView is the outbox page.
type outboxView struct {
	Channel, Status string
	Errors          map[string]string
	Rows            []deliveryRow
	// More says older deliveries exist; Next continues from them.
	More bool
	Next string
}

// deliveryRow is one delivery as the console lists it.
type deliveryRow struct {
	notify.Delivery
	// StageLabel names the warning stage in words; Badge is the status's
	// badge class.
	StageLabel, Badge string
}

func deliveryRows(ds []notify.Delivery) []deliveryRow {
	rows := make([]deliveryRow, 0, len(ds))
	for _, d := range ds {
		rows = append(rows, deliveryRow{Delivery: d, StageLabel: stageLabel(d.Stage), Badge: deliveryBadge[d.Status]})
	}
	return rows
}

// deliveryBadge is each status's badge class.
var deliveryBadge = map[notify.Status]string{
	notify.Pending: "pending", notify.Sent: "active", notify.Failed: "revoked", notify.Skipped: "inactive",
}

// stageLabel names a warning stage in words; "" for an event that is no
// warning.
func stageLabel(s notify.Stage) string {
	switch {
	case s < 0:
		return ""
	case s == 0:
		return "On the expiry day"
	case s == 1:
		return "1 day before"
	}
	return fmt.Sprintf("%d days before", s)
}

func (p *Pages) outboxList(w http.ResponseWriter, r *http.Request, d *desk) {
	if p.cfg.Admin.Notify == nil {
		p.consoleMessage(w, r, d, http.StatusNotFound, msgConsoleNotFound)
		return
	}
	q := r.URL.Query()
	v := outboxView{Channel: q.Get("channel"), Status: q.Get("status")}
	if !slices.Contains([]string{"", "email", "webhook"}, v.Channel) {
		v.Errors = map[string]string{"channel": "Choose All, Email or Webhook."}
	}
	if !slices.Contains([]string{"", "pending", "sent", "failed", "skipped"}, v.Status) {
		if v.Errors == nil {
			v.Errors = map[string]string{}
		}
		v.Errors["status"] = "Choose All, Pending, Sent, Failed or Skipped."
	}
	if v.Errors != nil {
		p.renderConsole(w, r, http.StatusBadRequest, "outbox", d.view("outbox", v))
		return
	}
	ds, err := p.cfg.Admin.Notify.Outbox(r.Context(), d.actor, notify.DeliveryQuery{Channel: notify.Channel(v.Channel),
		Status: notify.Status(v.Status), Before: q.Get("before"), Limit: outboxPageSize + 1})
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	if len(ds) > outboxPageSize {
		ds, v.More = ds[:outboxPageSize], true
		v.Next = ds[len(ds)-1].ID
	}
	v.Rows = deliveryRows(ds)
	p.renderConsole(w, r, http.StatusOK, "outbox", d.view("outbox", v))
}

// deliveryView is one delivery's page.
type deliveryView struct {
	deliveryRow
	Attempts []notify.Attempt
	// Subject and Text are a mail as its recipient reads it (the text
	// part; the HTML part says the same); Payload is a webhook's body.
	Subject, Text, Language string
	Payload                 string
}

func (p *Pages) outboxShow(w http.ResponseWriter, r *http.Request, d *desk) {
	if p.cfg.Admin.Notify == nil {
		p.consoleMessage(w, r, d, http.StatusNotFound, msgConsoleNotFound)
		return
	}
	dl, attempts, err := p.cfg.Admin.Notify.Delivery(r.Context(), d.actor, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	v := deliveryView{deliveryRow: deliveryRows([]notify.Delivery{*dl})[0], Attempts: attempts}
	switch dl.Channel {
	case notify.ChannelEmail:
		m, err := notify.RenderMail(dl, p.cfg.Admin.MailLink)
		if err != nil {
			p.fail(w, r, d, err)
			return
		}
		v.Subject, v.Text, v.Language = m.Subject, m.Text, m.Lang
	case notify.ChannelWebhook:
		v.Payload = string(dl.Payload)
	}
	p.renderConsole(w, r, http.StatusOK, "delivery", d.view("outbox", v))
}

// warningRow is one recorded stage of a secret's warnings on a client's
// page.
type warningRow struct {
	notify.History
	StageLabel string
	// Hint names the secret by its last characters.
	Hint       string
	Deliveries []deliveryRow
}

// clientWarnings is the warning history a client's page shows.
func (p *Pages) clientWarnings(ctx context.Context, d *desk, c *client.Client, secrets []client.Secret) ([]warningRow, error) {
	hs, err := p.cfg.Admin.Notify.History(ctx, d.actor, c.ID)
	if err != nil {
		return nil, err
	}
	hints := map[string]string{}
	for _, s := range secrets {
		hints[s.ID] = s.Hint
	}
	rows := make([]warningRow, 0, len(hs))
	for _, h := range hs {
		rows = append(rows, warningRow{History: h, StageLabel: stageLabel(h.Stage), Hint: hints[h.SecretID],
			Deliveries: deliveryRows(h.Deliveries)})
	}
	return rows, nil
}
