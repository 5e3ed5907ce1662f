package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var versionTests = []test{
	{"GrowWithEveryCacheRelevantChange", testVersions},
}

// versions is a snapshot of the three change counters.
type versions struct{ clients, revocations, keys int64 }

func readVersions(t *testing.T, s store.Store) versions {
	t.Helper()
	c, r, k, err := s.Versions(t.Context())
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	return versions{c, r, k}
}

func testVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	last := readVersions(t, s)
	// step applies a change and checks which counters grew.
	step := func(what string, change func(), clients, revocations, keys bool) {
		t.Helper()
		change()
		v := readVersions(t, s)
		for _, c := range []struct {
			name      string
			was, now  int64
			wantGrown bool
		}{
			{"clients", last.clients, v.clients, clients},
			{"revocations", last.revocations, v.revocations, revocations},
			{"signing_keys", last.keys, v.keys, keys},
		} {
			if grown := c.now > c.was; grown != c.wantGrown || c.now < c.was {
				t.Errorf("%s: %s counter %d → %d, want grown=%v", what, c.name, c.was, c.now, c.wantGrown)
			}
		}
		last = v
	}
	c := newClient("ten_1", "lkc_version", "Versioned")
	step("create client", func() { createClients(t, s, c) }, true, false, false)
	step("create secret", func() { createSecrets(t, s, newSecret(c.ID, "sec_v1", base)) }, true, false, false)
	step("update client", func() {
		c.Status = client.StatusInactive
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateClient(ctx, c) })
	}, true, false, false)
	step("update secret", func() {
		sec := newSecret(c.ID, "sec_v1", base)
		sec.Status = client.SecretRevoked
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateSecret(ctx, sec) })
	}, true, false, false)
	step("record use", func() {
		if err := s.RecordUse(ctx, []client.Use{{ClientID: c.ID, SecretID: "sec_v1", At: at(48 * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}, false, false, false)
	step("rolled-back change", func() {
		c.Name = "Never saved"
		s.InTx(ctx, func(tx client.Tx) error {
			tx.UpdateClient(ctx, c)
			return errors.New("roll back")
		})
	}, false, false, false)
	step("revocation", func() {
		if err := s.Revoke(ctx, token.Revocation{TokenID: "jti_v", ClientID: c.ID, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}, false, true, false)
	step("signing key rotation", func() {
		if err := s.RotateSigningKey(ctx, keyTenant, newKey("kid_v", base), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}, false, false, true)
	step("delete client", func() {
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, c.ID) })
	}, true, false, false)
}
