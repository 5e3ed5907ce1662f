package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var leakTests = []test{
	{"SecretByHash", testSecretByHash},
	{"LeakedAt", testLeakedAt},
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
