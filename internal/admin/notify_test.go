package admin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
)

// A client's warning history and the outbox, after a real sweep: the
// stage recorded, its mail listed, and the mail readable as its recipient
// reads it (the outbox is the mailbox without an SMTP server).
func TestWarningsAndOutbox(t *testing.T) {
	h := newHarness(t)
	c, sec, err := h.svc.Create(t.Context(), authz.SystemActor(h.tenant), client.CreateParams{Name: "Expiring",
		GrantTypes: []client.GrantType{client.GrantClientCredentials}, OwnerUserID: h.users[authz.Viewer].ID})
	if err != nil {
		t.Fatal(err)
	}
	id, secretID := c.ID, sec.ID
	// The client's secret lives 180 days; sweep 175 days on: the 7-day
	// stage is due, the 30- and 14-day ones are superseded.
	sweeper := &notify.Sweeper{Store: h.db}
	rep, err := sweeper.Run(t.Context(), h.now.Add(173*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Warned == 0 {
		t.Fatalf("sweep %+v warned of nothing", rep)
	}
	tok := "tok-" + authz.Viewer
	resp := h.do(request{method: "GET", path: Prefix + "/clients/" + id + "/warnings", token: tok,
		pattern: "/clients/{id}/warnings"})
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var ws WarningList
	resp.json(t, &ws)
	var sent *Warning
	for i, w := range ws.Warnings {
		if w.SecretID != secretID {
			t.Errorf("warning of secret %s", w.SecretID)
		}
		if w.Sent {
			sent = &ws.Warnings[i]
		} else if w.Reason != notify.ReasonSuperseded {
			t.Errorf("stage %d skipped for %q", w.Stage, w.Reason)
		}
	}
	if sent == nil || sent.Stage != 7 || len(ws.Warnings) != 3 {
		t.Fatalf("warnings %+v: want 7 sent, 30 and 14 superseded", ws.Warnings)
	}

	resp = h.do(request{method: "GET", path: Prefix + "/outbox?channel=email&client_id=" + id, token: tok, pattern: "/outbox"})
	var list DeliveryList
	resp.json(t, &list)
	if resp.status != http.StatusOK || len(list.Deliveries) == 0 {
		t.Fatalf("outbox %d: %s", resp.status, resp.body)
	}
	for _, d := range list.Deliveries {
		if d.ClientID != id || d.Channel != "email" {
			t.Errorf("delivery %+v", d)
		}
	}
	resp = h.do(request{method: "GET", path: Prefix + "/outbox/" + list.Deliveries[0].ID, token: tok, pattern: "/outbox/{id}"})
	var one DeliveryDetail
	resp.json(t, &one)
	if resp.status != http.StatusOK || one.Message == nil || one.Message.Subject == "" ||
		!strings.Contains(one.Message.Text, "https://auth.example/console/clients/"+id) {
		t.Fatalf("delivery %d: %s", resp.status, resp.body)
	}

	// Bad filters are field errors; an unknown delivery is 404.
	resp = h.do(request{method: "GET", path: Prefix + "/outbox?channel=pigeon&status=lost&page_size=0", token: tok})
	if p := resp.problem(t); resp.status != http.StatusUnprocessableEntity || len(p.Fields) != 2 {
		t.Errorf("bad filters: %d %+v", resp.status, p)
	}
	resp = h.do(request{method: "GET", path: Prefix + "/outbox?page_size=5000", token: tok})
	if p := resp.problem(t); resp.status != http.StatusUnprocessableEntity || p.Fields[0].Field != "page_size" {
		t.Errorf("page_size: %d %+v", resp.status, p)
	}
	resp = h.do(request{method: "GET", path: Prefix + "/outbox/dlv_nothing", token: tok})
	if resp.status != http.StatusNotFound {
		t.Errorf("unknown delivery: %d", resp.status)
	}
}

// A webhook's secret is shown when it is created and never again; bad
// input is refused field by field.
func TestWebhooksAPI(t *testing.T) {
	h := newHarness(t)
	tok := "tok-" + authz.OAuthAdmin
	resp := h.do(request{method: "POST", path: Prefix + "/webhooks", token: tok, pattern: "/webhooks",
		body: map[string]any{"url": "https://hooks.example.com/latchkey", "events": []string{"secret-expiring", "client-revoked"}}})
	var created Webhook
	resp.json(t, &created)
	if resp.status != http.StatusCreated || !strings.HasPrefix(created.Secret, "whsec_") || len(created.Events) != 2 {
		t.Fatalf("create %d: %s", resp.status, resp.body)
	}
	if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on the response with the secret", cc)
	}
	resp = h.do(request{method: "GET", path: Prefix + "/webhooks", token: tok, pattern: "/webhooks"})
	if resp.status != http.StatusOK || strings.Contains(string(resp.body), created.Secret) ||
		!strings.Contains(string(resp.body), created.ID) {
		t.Fatalf("list %d: %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "POST", path: Prefix + "/webhooks", token: tok,
		body: map[string]any{"url": "http://hooks.example.com/", "events": []string{"secret-lost"}}})
	p := resp.problem(t)
	if resp.status != http.StatusUnprocessableEntity || len(p.Fields) != 2 {
		t.Fatalf("bad webhook: %d %+v", resp.status, p)
	}
	resp = h.do(request{method: "POST", path: Prefix + "/webhooks", token: tok,
		body: map[string]any{"url": "https://hooks.example.com/", "events": []string{"secret-expiring"}, "secret": "mine"}})
	if resp.status != http.StatusUnprocessableEntity && resp.status != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s", resp.status, resp.body)
	}
	// A viewer may not manage webhooks.
	resp = h.do(request{method: "GET", path: Prefix + "/webhooks", token: "tok-" + authz.Viewer})
	if resp.status != http.StatusForbidden {
		t.Fatalf("viewer: %d", resp.status)
	}
	resp = h.do(request{method: "DELETE", path: Prefix + "/webhooks/" + created.ID, token: tok})
	if resp.status != http.StatusNoContent {
		t.Fatalf("delete %d: %s", resp.status, resp.body)
	}
	resp = h.do(request{method: "DELETE", path: Prefix + "/webhooks/" + created.ID, token: tok})
	if resp.status != http.StatusNotFound {
		t.Fatalf("delete again: %d", resp.status)
	}
}
