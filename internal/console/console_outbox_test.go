package console

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// A client's page shows each stage of its secret's warnings, sent or
// skipped, and to whom; the outbox lists the mails and shows one as its
// recipient reads it.
func TestWarningHistoryAndOutbox(t *testing.T) {
	cf := newConsoleFixture(t)
	c, _ := cf.createClient(client.CreateParams{Name: "Expiring", GrantTypes: []client.GrantType{client.GrantClientCredentials},
		OwnerUserID: rootID})
	db := cf.admin.Notify.Store.(*sqlite.DB)
	// The secret lives 180 days: 173 days on, the 7-day stage is due and
	// the two before it are superseded.
	if _, err := (&notify.Sweeper{Store: db}).Run(context.Background(), t0.Add(173*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := cf.signedIn(viewerEmail)
	r := b.get("/console/clients/" + c.ID)
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`id="warnings"`, "7 days before", "30 days before", notify.ReasonSuperseded,
		"root@example.com by email", ">pending<"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("client page lacks %q", want)
		}
	}

	r = b.get("/console/outbox?channel=email")
	wantStatus(t, r, http.StatusOK)
	m := regexp.MustCompile(`/console/outbox/(dlv_[a-z0-9]+)"`).FindStringSubmatch(r.Body)
	if m == nil || !strings.Contains(r.Body, "root@example.com") || !strings.Contains(r.Body, `aria-current="page">Outbox`) {
		t.Fatalf("outbox page lists no mail:\n%s", r.Body)
	}
	r = b.get("/console/outbox/" + m[1])
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`id="mail-subject" lang="en"`, "Your OAuth Client Secret is Expiring Soon",
		"http://latchkey.test/console/clients/" + c.ID, "Not attempted yet."} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("delivery page lacks %q", want)
		}
	}

	r = b.get("/console/outbox?channel=pigeon&status=lost")
	wantStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, "Choose All, Email or Webhook.") || !strings.Contains(r.Body, "Choose All, Pending, Sent, Failed or Skipped.") {
		t.Errorf("bad filters not explained:\n%s", r.Body)
	}
	wantStatus(t, b.get("/console/outbox/dlv_nothing"), http.StatusNotFound)
	r = b.get("/console/outbox?status=failed")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, "Nothing in the outbox matches these filters.") {
		t.Errorf("empty filter result not said:\n%s", r.Body)
	}
}
