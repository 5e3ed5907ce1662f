package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/store"
)

var leakTests = []test{
	{"SecretByHash", testSecretByHash},
	{"LeakedAt", testLeakedAt},
	{"Notices", testNotices},
}

// testNotices: a notice becomes one mail to the client's owner and one to
// its creator, each in their locale, with the client's and tenant's
// names; an owner who is nobody of the tenant is recorded as skipped.
func testNotices(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_n", Name: "Notices", Slug: "notices", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*account.User{
		{ID: "usr_owner", TenantID: "ten_n", Status: account.UserActive, Email: "owner@example.com", Name: "Olga", Locale: "fr", CreatedAt: at(0), UpdatedAt: at(0)},
		{ID: "usr_creator", TenantID: "ten_n", Status: account.UserActive, Email: "creator@example.com", CreatedAt: at(0), UpdatedAt: at(0)},
	} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	c, gone := newClient("ten_n", "lkc_n", "Noticed"), newClient("ten_n", "lkc_gone", "Ownerless")
	gone.OwnerUserID, gone.CreatedBy = "usr_nobody", "system"
	createClients(t, s, c, gone)
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		return tx.AppendNotices(ctx, []event.Notice{
			{Type: event.SecretLeaked, TenantID: "ten_n", ClientID: "lkc_n", SecretID: "sec_n", At: at(time.Hour),
				Facts: map[string]string{"action": "revoke"}},
			{Type: event.SecretLeaked, TenantID: "ten_n", ClientID: "lkc_gone", SecretID: "sec_g", At: at(time.Hour)},
		})
	})
	ds, err := s.Deliveries(ctx, notify.DeliveryQuery{TenantID: "ten_n", Channel: notify.ChannelEmail, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range ds {
		got[d.ClientID+" "+d.UserID] = fmt.Sprintf("%s %s %s %s", d.Recipient, d.Locale, d.Status, d.Event)
		if d.ClientID == "lkc_n" && (!strings.Contains(string(d.Payload), `"client_name":"Noticed"`) ||
			!strings.Contains(string(d.Payload), `"tenant_name":"Notices"`) || !strings.Contains(string(d.Payload), `"action":"revoke"`)) {
			t.Errorf("payload %s", d.Payload)
		}
	}
	checkEqual(t, "notice mails", got, map[string]string{
		"lkc_n usr_owner":     "owner@example.com fr pending secret-leaked",
		"lkc_n usr_creator":   "creator@example.com  pending secret-leaked",
		"lkc_gone usr_nobody": "  skipped secret-leaked",
	})
}

// testSecretByHash: a secret is found by its hash alone, whichever client
// and tenant hold it, whole; a hash nobody holds is ErrNotFound, and so
// is the hash of a deleted client's secret.
func testSecretByHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	createClients(t, s, newClient("ten_a", "lkc_a", "A"), newClient("ten_b", "lkc_b", "B"))
	a1, a2 := newSecret("lkc_a", "sec_a1", at(0)), newSecret("lkc_a", "sec_a2", at(time.Minute))
	b1 := newSecret("lkc_b", "sec_b1", at(0))
	createSecrets(t, s, a1, a2, b1)
	for _, want := range []*client.Secret{a1, a2, b1} {
		got, err := s.SecretByHash(ctx, want.Hash)
		if err != nil {
			t.Fatalf("SecretByHash(%s): %v", want.Hash, err)
		}
		checkEqual(t, "secret by hash", *got, storedSecret(*want))
	}
	if _, err := s.SecretByHash(ctx, "sha256:nobody"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("SecretByHash(unknown) = %v; want ErrNotFound", err)
	}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, "lkc_b") })
	if _, err := s.SecretByHash(ctx, b1.Hash); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("SecretByHash(deleted client's) = %v; want ErrNotFound", err)
	}
}

// testLeakedAt: a secret's leak mark is stored on create, set and
// cleared by an update, and read back.
func testLeakedAt(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_a", "A"))
	sec := newSecret("lkc_a", "sec_l1", at(0))
	sec.LeakedAt = time.Time{}
	createSecrets(t, s, sec)
	checkEqual(t, "unflagged secret", getSecrets(t, s, "lkc_a")[0], storedSecret(*sec))

	sec.LeakedAt = at(5 * time.Hour)
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateSecret(ctx, sec) })
	checkEqual(t, "flagged secret", getSecrets(t, s, "lkc_a")[0], storedSecret(*sec))

	sec.LeakedAt = time.Time{}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateSecret(ctx, sec) })
	checkEqual(t, "cleared secret", getSecrets(t, s, "lkc_a")[0], storedSecret(*sec))
}
