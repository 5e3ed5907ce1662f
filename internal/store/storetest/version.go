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
	{"GrowsWithEveryCacheRelevantChange", testVersion},
}

func testVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	last := version(t, s)
	grows := func(what string, change func()) {
		t.Helper()
		change()
		if v := version(t, s); v <= last {
			t.Errorf("%s: version %d, was %d", what, v, last)
		} else {
			last = v
		}
	}
	same := func(what string, change func()) {
		t.Helper()
		change()
		if v := version(t, s); v != last {
			t.Errorf("%s changed the version: %d, was %d", what, v, last)
		}
	}
	c := newClient("ten_1", "lkc_version", "Versioned")
	grows("create client", func() { createClients(t, s, c) })
	grows("create secret", func() { createSecrets(t, s, newSecret(c.ID, "sec_v1", base)) })
	grows("update client", func() {
		c.Status = client.StatusInactive
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateClient(ctx, c) })
	})
	grows("update secret", func() {
		sec := newSecret(c.ID, "sec_v1", base)
		sec.Status = client.SecretRevoked
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateSecret(ctx, sec) })
	})
	same("record use", func() {
		if err := s.RecordUse(ctx, []client.Use{{ClientID: c.ID, SecretID: "sec_v1", At: at(48 * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	})
	same("rolled-back change", func() {
		c.Name = "Never saved"
		s.InTx(ctx, func(tx client.Tx) error {
			tx.UpdateClient(ctx, c)
			return errors.New("roll back")
		})
	})
	grows("revocation", func() {
		if err := s.Revoke(ctx, token.Revocation{TokenID: "jti_v", ClientID: c.ID, ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	})
	grows("delete client", func() {
		inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, c.ID) })
	})
}

func version(t *testing.T, s store.Store) int64 {
	t.Helper()
	v, err := s.Version(t.Context())
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	return v
}
