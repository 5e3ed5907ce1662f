package client_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
)

// TestReportLeakFlag: under a tenant policy of "flag", a reported secret
// keeps working and carries its leak mark, audited once, with the owner
// mailed once; a second report of it acts no more. A wrong secret with a
// valid checksum and junk do nothing.
func TestReportLeakFlag(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.db.InTx(ctx, func(tx client.Tx) error {
		return tx.SavePolicy(ctx, &client.Policy{TenantID: "ten_a", Leak: client.LeakFlag, UpdatedAt: t0, UpdatedBy: "system"})
	}); err != nil {
		t.Fatal(err)
	}
	p := cc("Flagged")
	p.OwnerUserID = "usr_1"
	c, sec, err := f.svc.Create(ctx, f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(time.Hour)
	rep := client.LeakReport{Token: sec.Plaintext, URL: "https://paste.example/" + sec.Plaintext, Source: "content"}
	got, err := f.svc.ReportLeak(ctx, rep)
	if err != nil || got == nil || got.Action != client.LeakFlag || got.SecretID != sec.ID {
		t.Fatalf("ReportLeak = %+v, %v; want flagged", got, err)
	}
	if again, err := f.svc.ReportLeak(ctx, rep); err != nil || again != nil {
		t.Fatalf("second report = %+v, %v; want nothing done", again, err)
	}
	wrong, _ := client.NewSecretValue(rand.Reader)
	for _, tok := range []string{wrong, "lks_junk", ""} {
		if r, err := f.svc.ReportLeak(ctx, client.LeakReport{Token: tok}); err != nil || r != nil {
			t.Fatalf("ReportLeak(%q) = %+v, %v; want nothing", tok, r, err)
		}
	}
	_, secrets, err := f.svc.Get(ctx, f.sys, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := secrets[0]
	if s.Status != client.SecretActive || !s.Usable(f.now) || !s.LeakedAt.Equal(f.now) {
		t.Fatalf("flagged secret: %+v; want active, working, leaked at %v", s, f.now)
	}
	events, err := f.db.AuditEvents(ctx, "ten_a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Action == client.ActionSecretLeaked {
			n++
			if e.Details["action"] != "flag" || e.Details["url"] != "https://paste.example/[secret]" {
				t.Errorf("audit details %v", e.Details)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d secret_leaked events; want 1", n)
	}
	mails, err := f.db.Deliveries(ctx, notify.DeliveryQuery{TenantID: "ten_a", Channel: notify.ChannelEmail, Limit: 10})
	if err != nil || len(mails) != 1 || mails[0].Recipient != "u@example.com" || mails[0].SecretID != sec.ID {
		t.Fatalf("mails %+v, %v; want one to the owner", mails, err)
	}
}
