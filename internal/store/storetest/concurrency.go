package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var concurrencyTests = []test{
	{"Rotation", testConcurrentRotation},
	{"ServiceRotation", testConcurrentServiceRotation},
}

// rotators is how many goroutines rotate one client's secret at once.
const rotators = 8

// together runs fn in n goroutines released at the same moment and returns
// their errors.
func together(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// countStatus counts a client's secrets by status.
func countStatus(t *testing.T, s store.Store, clientID string) map[client.SecretStatus]int {
	t.Helper()
	n := map[client.SecretStatus]int{}
	for _, sec := range getSecrets(t, s, clientID) {
		n[sec.Status]++
	}
	return n
}

// testConcurrentRotation is the lost-update race rotation must not have:
// each transaction reads the active secrets, revokes them and adds a new
// one. Unless transactions that lock one client serialize, two can read
// the same active secret and both add theirs, leaving two active.
func testConcurrentRotation(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_rotate", "Rotate")
	createClients(t, s, c)
	first := newSecret(c.ID, "sec_first", base)
	first.RevokedAt = time.Time{}
	createSecrets(t, s, first)

	errs := together(rotators, func(i int) error {
		ctx := t.Context()
		return s.InTx(ctx, func(tx client.Tx) error {
			if _, err := tx.LockClient(ctx, c.ID); err != nil {
				return err
			}
			secrets, err := tx.Secrets(ctx, c.ID)
			if err != nil {
				return err
			}
			for _, sec := range secrets {
				if sec.Status != client.SecretActive {
					continue
				}
				sec.Status, sec.RevokedAt = client.SecretRevoked, base
				if err := tx.UpdateSecret(ctx, &sec); err != nil {
					return err
				}
			}
			return tx.CreateSecret(ctx, newSecret(c.ID, fmt.Sprintf("sec_rotation_%d", i), base))
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("rotation %d: %v", i, err)
		}
	}
	n := countStatus(t, s, c.ID)
	if n[client.SecretActive] != 1 || n[client.SecretRevoked] != rotators {
		t.Errorf("after %d concurrent rotations: %v, want 1 active and %d revoked", rotators, n, rotators)
	}
}

// testConcurrentServiceRotation races the real use case.
func testConcurrentServiceRotation(t *testing.T, s store.Store) {
	svc := &client.Service{Repo: s, Now: func() time.Time { return base }}
	actor := client.SystemActor("ten_a")
	c, _, err := svc.Create(t.Context(), actor, client.CreateParams{
		Name: "Rotated", GrantTypes: []client.GrantType{client.GrantClientCredentials},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	errs := together(rotators, func(int) error {
		_, err := svc.RotateSecret(t.Context(), actor, c.ID, client.RotateParams{})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("RotateSecret %d: %v", i, err)
		}
	}
	n := countStatus(t, s, c.ID)
	if n[client.SecretActive] != 1 || n[client.SecretRevoked] != rotators {
		t.Errorf("after %d concurrent rotations: %v, want 1 active and %d revoked", rotators, n, rotators)
	}
}
