package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/store"
)

var notifyTests = []test{
	{"DueSecrets", testDueSecrets},
	{"DueSecretsEnd", testDueSecretsEnd},
	{"RecordWarnings", testRecordWarnings},
	{"Outbox", testOutbox},
	{"ClaimAndFinish", testClaimAndFinish},
	{"Webhooks", testWebhooks},
	{"AppendEvents", testAppendEvents},
}

// notifyFixture stores a tenant, an owner and a creator, and a client
// whose secret lives 60 days from at(0).
func notifyFixture(t *testing.T, s store.Store) (*client.Client, *client.Secret) {
	t.Helper()
	ctx := t.Context()
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_n", Name: "Nordwind", Slug: "nordwind", CreatedAt: at(0)}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	owner := newUser("ten_n", "usr_owner", "owner@example.com")
	creator := newUser("ten_n", "usr_creator", "creator@example.com")
	creator.Locale, creator.Status = "fi", account.UserDisabled
	createUsers(t, s, owner, creator)
	c := newClient("ten_n", "lkc_n", "Billing sync")
	createClients(t, s, c)
	sec := newSecret(c.ID, "sec_n1", at(0))
	sec.ExpiresAt, sec.RevokedAt = at(60*24*time.Hour), time.Time{}
	createSecrets(t, s, sec)
	return c, sec
}

func dueSecrets(t *testing.T, s store.Store, now time.Time) []notify.Due {
	t.Helper()
	var due []notify.Due
	err := s.InNotifyTx(t.Context(), func(tx notify.Tx) error {
		var err error
		due, err = tx.DueSecrets(t.Context(), now, 100)
		return err
	})
	if err != nil {
		t.Fatalf("DueSecrets: %v", err)
	}
	return due
}

func inNotifyTx(t *testing.T, s store.Store, fn func(ctx context.Context, tx notify.Tx) error) {
	t.Helper()
	if err := s.InNotifyTx(t.Context(), func(tx notify.Tx) error { return fn(t.Context(), tx) }); err != nil {
		t.Fatalf("InNotifyTx: %v", err)
	}
}

// testDueSecrets: a new active secret falls due at its first stage, with
// everything a warning says; a secret that never expires or is not
// active never does.
func testDueSecrets(t *testing.T, s store.Store) {
	c, sec := notifyFixture(t, s)
	first := sec.ExpiresAt.Add(-30 * 24 * time.Hour)
	never := newSecret(c.ID, "sec_never", at(0))
	never.ExpiresAt, never.RevokedAt = time.Time{}, time.Time{}
	retiring := newSecret(c.ID, "sec_old1", at(0))
	retiring.Status = client.SecretRetiring
	createSecrets(t, s, never, retiring)

	if due := dueSecrets(t, s, first.Add(-time.Microsecond)); len(due) != 0 {
		t.Fatalf("due a microsecond before the 30-day stage: %+v", due)
	}
	due := dueSecrets(t, s, first)
	if len(due) != 1 {
		t.Fatalf("due at the 30-day stage: %d secrets, want 1", len(due))
	}
	checkEqual(t, "Due", due[0], notify.Due{
		SecretID: "sec_n1", ClientID: c.ID, TenantID: "ten_n", SecretStatus: client.SecretActive,
		ClientStatus: client.StatusActive, ClientName: "Billing sync",
		Tenant:    notify.TenantInfo{Name: "Nordwind", Slug: "nordwind"},
		CreatedAt: stored(sec.CreatedAt), ExpiresAt: stored(sec.ExpiresAt),
		Owner: notify.Recipient{UserID: "usr_owner", Found: true, Active: true, Email: "owner@example.com",
			Name: "Name of usr_owner", Locale: "nb"},
		Creator: notify.Recipient{UserID: "usr_creator", Found: true, Active: false, Email: "creator@example.com",
			Name: "Name of usr_creator", Locale: "fi"},
	})

	// Recorded stages come back with the secret; SetNextDue moves it.
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		if err := tx.RecordWarnings(ctx, []notify.Warning{{SecretID: "sec_n1", ClientID: c.ID, TenantID: "ten_n",
			Stage: 30, Sent: true, At: first}, {SecretID: "sec_n1", ClientID: c.ID, TenantID: "ten_n", Stage: 14,
			Reason: notify.ReasonSuperseded, At: first}}); err != nil {
			return err
		}
		return tx.SetNextDue(ctx, []notify.NextDue{{SecretID: "sec_n1", At: at(time.Hour)}})
	})
	due = dueSecrets(t, s, at(time.Hour))
	if len(due) != 1 || !sameStages(due[0].Recorded, []notify.Stage{30, 14}) {
		t.Fatalf("after recording 30 and 14: %+v", due)
	}
	if due := dueSecrets(t, s, at(time.Hour-time.Microsecond)); len(due) != 0 {
		t.Errorf("due before the time SetNextDue set: %+v", due)
	}
	// A client without owner or creator users still comes with its secret.
	other := newClient("ten_n", "lkc_lone", "Lone")
	other.OwnerUserID, other.CreatedBy = "", "system"
	createClients(t, s, other)
	lone := newSecret(other.ID, "sec_lone", at(0))
	lone.ExpiresAt, lone.RevokedAt = at(24*time.Hour), time.Time{}
	createSecrets(t, s, lone)
	due = dueSecrets(t, s, at(24*time.Hour))
	i := slices.IndexFunc(due, func(d notify.Due) bool { return d.SecretID == "sec_lone" })
	if i < 0 || due[i].Owner.Found || due[i].Creator.Found || due[i].Creator.UserID != "system" {
		t.Errorf("a client without users: %+v", due)
	}
}

func sameStages(a, b []notify.Stage) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// testDueSecretsEnd: a secret no longer active, or cleared, is due no
// more.
func testDueSecretsEnd(t *testing.T, s store.Store) {
	c, sec := notifyFixture(t, s)
	late := sec.ExpiresAt
	if len(dueSecrets(t, s, late)) != 1 {
		t.Fatal("the fixture's secret is not due")
	}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		sec.Status, sec.RevokedAt = client.SecretRevoked, at(time.Hour)
		return tx.UpdateSecret(ctx, sec)
	})
	if due := dueSecrets(t, s, late); len(due) != 0 {
		t.Errorf("a revoked secret is still due: %+v", due)
	}
	second := newSecret(c.ID, "sec_n2", at(0))
	second.ExpiresAt, second.RevokedAt = at(10*24*time.Hour), time.Time{}
	createSecrets(t, s, second)
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		return tx.SetNextDue(ctx, []notify.NextDue{{SecretID: "sec_n2"}})
	})
	if due := dueSecrets(t, s, late); len(due) != 0 {
		t.Errorf("a cleared secret is still due: %+v", due)
	}
}

func testRecordWarnings(t *testing.T, s store.Store) {
	c, _ := notifyFixture(t, s)
	w := notify.Warning{SecretID: "sec_n1", ClientID: c.ID, TenantID: "ten_n", Stage: 7, Sent: true, At: at(time.Hour)}
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error { return tx.RecordWarnings(ctx, []notify.Warning{w}) })
	err := s.InNotifyTx(t.Context(), func(tx notify.Tx) error {
		return tx.RecordWarnings(t.Context(), []notify.Warning{w})
	})
	if !errors.Is(err, notify.ErrConflict) {
		t.Errorf("recording a stage twice: %v, want ErrConflict", err)
	}
	skipped := notify.Warning{SecretID: "sec_n1", ClientID: c.ID, TenantID: "ten_n", Stage: 1,
		Reason: notify.ReasonClientInactive, At: at(2 * time.Hour)}
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		return tx.RecordWarnings(ctx, []notify.Warning{skipped})
	})
	ws, err := s.Warnings(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.At, skipped.At = stored(w.At), stored(skipped.At)
	checkEqual(t, "Warnings newest first", ws, []notify.Warning{skipped, w})
}

func delivery(id string, ch notify.Channel, created time.Time) notify.Delivery {
	return notify.Delivery{ID: id, TenantID: "ten_n", ClientID: "lkc_n", SecretID: "sec_n1", Stage: 14,
		Channel: ch, Event: event.SecretExpiring, Recipient: "owner@example.com", UserID: "usr_owner", Locale: "nb",
		Payload: []byte(`{"client_id":"lkc_n"}`), Status: notify.Pending, NextAttemptAt: created, CreatedAt: created}
}

func storedDelivery(d notify.Delivery) notify.Delivery {
	d.NextAttemptAt, d.CreatedAt, d.SentAt = stored(d.NextAttemptAt), stored(d.CreatedAt), stored(d.SentAt)
	return d
}

func testOutbox(t *testing.T, s store.Store) {
	notifyFixture(t, s)
	a, b := delivery("dlv_a", notify.ChannelEmail, at(0)), delivery("dlv_b", notify.ChannelEmail, at(time.Minute))
	skipped := delivery("dlv_c", notify.ChannelEmail, at(2*time.Minute))
	skipped.Recipient, skipped.Status, skipped.LastError, skipped.NextAttemptAt = "", notify.Skipped, "user disabled", time.Time{}
	other := delivery("dlv_d", notify.ChannelEmail, at(3*time.Minute))
	other.TenantID, other.ClientID, other.SecretID, other.Stage = "ten_other", "lkc_other", "", -1
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		return tx.AddDeliveries(ctx, []notify.Delivery{a, b, skipped, other})
	})
	err := s.InNotifyTx(t.Context(), func(tx notify.Tx) error { return tx.AddDeliveries(t.Context(), []notify.Delivery{a}) })
	if !errors.Is(err, notify.ErrConflict) {
		t.Errorf("a delivery ID twice: %v, want ErrConflict", err)
	}
	list := func(q notify.DeliveryQuery) []string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 10
		}
		ds, err := s.Deliveries(t.Context(), q)
		if err != nil {
			t.Fatalf("Deliveries(%+v): %v", q, err)
		}
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids
	}
	checkEqual(t, "tenant's outbox", list(notify.DeliveryQuery{TenantID: "ten_n"}), []string{"dlv_c", "dlv_b", "dlv_a"})
	checkEqual(t, "page 1", list(notify.DeliveryQuery{TenantID: "ten_n", Limit: 2}), []string{"dlv_c", "dlv_b"})
	checkEqual(t, "page 2", list(notify.DeliveryQuery{TenantID: "ten_n", Limit: 2, Before: "dlv_b"}), []string{"dlv_a"})
	checkEqual(t, "skipped", list(notify.DeliveryQuery{TenantID: "ten_n", Status: notify.Skipped}), []string{"dlv_c"})
	checkEqual(t, "by client", list(notify.DeliveryQuery{ClientID: "lkc_other"}), []string{"dlv_d"})
	checkEqual(t, "by secret", list(notify.DeliveryQuery{SecretID: "sec_n1"}), []string{"dlv_c", "dlv_b", "dlv_a"})
	checkEqual(t, "webhooks", list(notify.DeliveryQuery{TenantID: "ten_n", Channel: notify.ChannelWebhook}), []string(nil))
	got, attempts, err := s.Delivery(t.Context(), "dlv_c")
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "Delivery", *got, storedDelivery(skipped))
	if len(attempts) != 0 {
		t.Errorf("attempts of a new delivery: %+v", attempts)
	}
	if _, _, err := s.Delivery(t.Context(), "dlv_missing"); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("Delivery(missing): %v", err)
	}
}

// testClaimAndFinish: a claim counts an attempt and leases the row; only
// due pending rows of the channel are claimed; finishing records the
// attempt and the new state.
func testClaimAndFinish(t *testing.T, s store.Store) {
	notifyFixture(t, s)
	ctx := t.Context()
	a, b := delivery("dlv_a", notify.ChannelEmail, at(0)), delivery("dlv_b", notify.ChannelEmail, at(time.Hour))
	hook := delivery("dlv_h", notify.ChannelWebhook, at(0))
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		return tx.AddDeliveries(ctx, []notify.Delivery{a, b, hook})
	})
	pending, err := s.PendingDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "pending deliveries", pending, map[notify.Channel]int{notify.ChannelEmail: 2, notify.ChannelWebhook: 1})
	lease := at(2 * time.Minute)
	claimed, err := s.ClaimDeliveries(ctx, notify.ChannelEmail, at(time.Minute), lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].ID != "dlv_a" || claimed[0].Attempts != 1 || !claimed[0].NextAttemptAt.Equal(stored(lease)) {
		t.Fatalf("claimed %+v, want dlv_a with one attempt, leased", claimed)
	}
	if again, _ := s.ClaimDeliveries(ctx, notify.ChannelEmail, at(time.Minute), lease, 10); len(again) != 0 {
		t.Errorf("a leased delivery was claimed again: %+v", again)
	}
	// After the lease (a crashed dispatcher) it is claimed again.
	again, err := s.ClaimDeliveries(ctx, notify.ChannelEmail, lease, at(5*time.Minute), 10)
	if err != nil || len(again) != 1 || again[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v, %v", again, err)
	}
	if err := s.FinishDelivery(ctx, notify.Attempt{DeliveryID: "dlv_a", At: at(3 * time.Minute), Detail: "451 try later"},
		notify.Pending, at(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishDelivery(ctx, notify.Attempt{DeliveryID: "dlv_a", At: at(11 * time.Minute), OK: true, Detail: "accepted"},
		notify.Sent, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, attempts, err := s.Delivery(ctx, "dlv_a")
	if err != nil {
		t.Fatal(err)
	}
	want := storedDelivery(a)
	want.Status, want.Attempts, want.NextAttemptAt, want.SentAt = notify.Sent, 2, time.Time{}, stored(at(11*time.Minute))
	checkEqual(t, "sent delivery", *got, want)
	checkEqual(t, "attempts", attempts, []notify.Attempt{
		{DeliveryID: "dlv_a", At: stored(at(3 * time.Minute)), Detail: "451 try later"},
		{DeliveryID: "dlv_a", At: stored(at(11 * time.Minute)), OK: true, Detail: "accepted"},
	})
	// Sent is no longer pending; leased still is.
	if pending, err := s.PendingDeliveries(ctx); err != nil {
		t.Fatal(err)
	} else {
		checkEqual(t, "pending deliveries after one was sent", pending, map[notify.Channel]int{notify.ChannelEmail: 1, notify.ChannelWebhook: 1})
	}
	if more, _ := s.ClaimDeliveries(ctx, notify.ChannelEmail, at(24*time.Hour), at(25*time.Hour), 10); len(more) != 1 || more[0].ID != "dlv_b" {
		t.Errorf("a sent delivery was claimed, or the due one was not: %+v", more)
	}
	if err := s.FinishDelivery(ctx, notify.Attempt{DeliveryID: "dlv_missing", At: at(0)}, notify.Failed, time.Time{}); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("FinishDelivery(missing): %v", err)
	}
}

func testWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	w1 := &notify.Webhook{ID: "whk_1", TenantID: "ten_n", URL: "https://hooks.example/a",
		Events: []event.Type{event.SecretExpiring, event.ClientRevoked}, SealedSecret: []byte{1, 2, 3}, CreatedAt: at(time.Hour), CreatedBy: "usr_owner"}
	w0 := &notify.Webhook{ID: "whk_0", TenantID: "ten_n", URL: "https://hooks.example/b",
		Events: []event.Type{event.SecretRotated}, SealedSecret: []byte{4}, CreatedAt: at(0), CreatedBy: "usr_owner"}
	wx := &notify.Webhook{ID: "whk_x", TenantID: "ten_x", URL: "https://hooks.example/x",
		Events: []event.Type{event.SecretRotated}, SealedSecret: []byte{5}, CreatedAt: at(0), CreatedBy: "usr_x"}
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		for _, w := range []*notify.Webhook{w1, w0, wx} {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.InNotifyTx(ctx, func(tx notify.Tx) error { return tx.CreateWebhook(ctx, w1) }); !errors.Is(err, notify.ErrConflict) {
		t.Errorf("a webhook ID twice: %v", err)
	}
	got, err := s.Webhooks(ctx, "ten_n")
	if err != nil {
		t.Fatal(err)
	}
	sw := func(w *notify.Webhook) notify.Webhook { d := *w; d.CreatedAt = stored(d.CreatedAt); return d }
	checkEqual(t, "Webhooks oldest first", got, []notify.Webhook{sw(w0), sw(w1)})
	one, err := s.Webhook(ctx, "whk_1")
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "Webhook", *one, sw(w1))
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		in, err := tx.Webhooks(ctx, "ten_n")
		if len(in) != 2 {
			t.Errorf("Webhooks in a transaction: %d", len(in))
		}
		if err != nil {
			return err
		}
		return tx.DeleteWebhook(ctx, "whk_0")
	})
	if _, err := s.Webhook(ctx, "whk_0"); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("deleted webhook: %v", err)
	}
	if err := s.InNotifyTx(ctx, func(tx notify.Tx) error { return tx.DeleteWebhook(ctx, "whk_0") }); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("deleting a missing webhook: %v", err)
	}
}

// testAppendEvents: an event becomes a delivery to each webhook of its
// tenant that subscribes to its type, and to no other; from a client
// transaction as from a notify one.
func testAppendEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		for _, w := range []*notify.Webhook{
			{ID: "whk_all", TenantID: "ten_n", URL: "https://h.example/1", Events: event.Types(), SealedSecret: []byte{1}, CreatedAt: at(0)},
			{ID: "whk_rev", TenantID: "ten_n", URL: "https://h.example/2", Events: []event.Type{event.ClientRevoked}, SealedSecret: []byte{1}, CreatedAt: at(0)},
			{ID: "whk_other", TenantID: "ten_x", URL: "https://h.example/3", Events: event.Types(), SealedSecret: []byte{1}, CreatedAt: at(0)},
		} {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	body := []byte(`{"type":"secret-rotated"}`)
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		return tx.AppendEvents(ctx, []event.Event{{ID: "evt_1", Type: event.SecretRotated, TenantID: "ten_n",
			ClientID: "lkc_n", SecretID: "sec_n2", At: at(time.Hour), Body: body}})
	})
	inNotifyTx(t, s, func(ctx context.Context, tx notify.Tx) error {
		return tx.AppendEvents(ctx, []event.Event{
			{ID: "evt_2", Type: event.ClientRevoked, TenantID: "ten_n", ClientID: "lkc_n", At: at(2 * time.Hour), Body: []byte(`{}`)},
			{ID: "evt_3", Type: event.SecretExpired, TenantID: "ten_none", ClientID: "lkc_z", At: at(2 * time.Hour), Body: []byte(`{}`)},
		})
	})
	ds, err := s.Deliveries(ctx, notify.DeliveryQuery{TenantID: "ten_n", Channel: notify.ChannelWebhook, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.ID+" to "+d.Recipient+" "+string(d.Event))
	}
	slices.Sort(got)
	checkEqual(t, "fanned out", got, []string{
		"evt_1.whk_all to whk_all secret-rotated",
		"evt_2.whk_all to whk_all client-revoked",
		"evt_2.whk_rev to whk_rev client-revoked",
	})
	first, _, err := s.Delivery(ctx, "evt_1.whk_all")
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "webhook delivery", *first, notify.Delivery{ID: "evt_1.whk_all", TenantID: "ten_n", ClientID: "lkc_n",
		SecretID: "sec_n2", Stage: -1, Channel: notify.ChannelWebhook, Event: event.SecretRotated, Recipient: "whk_all",
		Payload: body, Status: notify.Pending, NextAttemptAt: stored(at(time.Hour)), CreatedAt: stored(at(time.Hour))})
	if all, _ := s.Deliveries(ctx, notify.DeliveryQuery{Limit: 10}); len(all) != 3 {
		t.Errorf("an event without subscribers left deliveries: %d in all", len(all))
	}
}
