package account_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/latchkey/latchkey/internal/account"
)

// gatedRandom holds every read, each a password hash taking its salt,
// until release is closed.
type gatedRandom struct{ release chan struct{} }

func (g *gatedRandom) Read(p []byte) (int, error) {
	<-g.release
	return rand.Read(p)
}

// No more than SlowHashes passwords are hashed at once: the next waits
// for a turn, and gives up when its context ends.
func TestPasswordHashesAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f := newFixture(t)
		var ids []string
		for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			u, err := f.users.Create(ctx, f.op, account.NewUser{Email: email})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
		// reading counts the hashes that took a turn and are now held
		// in their salt's read.
		gate := &gatedRandom{release: make(chan struct{})}
		release := sync.OnceFunc(func() { close(gate.release) })
		defer release() // so that a failed check leaves no goroutine blocked
		var reading atomic.Int32
		f.users.Random, f.users.SlowHashes = &countingRandom{n: &reading, r: gate}, 2

		done := make(chan error, 2)
		for _, id := range ids[:2] {
			go func() { done <- f.users.SetPassword(ctx, f.op, id, "a long enough password") }()
		}
		synctest.Wait()
		if n := reading.Load(); n != 2 {
			t.Fatalf("%d hashes running, want 2", n)
		}
		third, cancel := context.WithCancel(ctx)
		defer cancel()
		waited := make(chan error, 1)
		go func() { waited <- f.users.SetPassword(third, f.op, ids[2], "a long enough password") }()
		synctest.Wait() // the third is blocked: waiting for a turn, or hashing
		if n := reading.Load(); n != 2 {
			t.Fatalf("%d hashes running, want 2: the third did not wait", n)
		}
		cancel()
		if err := <-waited; !errors.Is(err, context.Canceled) {
			t.Fatalf("the third hash: %v, want context.Canceled", err)
		}

		release()
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		// The turns are given back.
		if err := f.users.SetPassword(ctx, f.op, ids[2], "a long enough password"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "d@example.com", Password: "a long enough password"}); err != nil {
			t.Fatal(err)
		}
	})
}

// countingRandom counts the reads of r (crypto/rand when nil) begun: a
// password hash reads its salt, a new user its ID.
type countingRandom struct {
	n *atomic.Int32
	r io.Reader
}

func (c *countingRandom) Read(p []byte) (int, error) {
	c.n.Add(1)
	if c.r != nil {
		return c.r.Read(p)
	}
	return rand.Read(p)
}

// A user cannot be created with an email already taken, and finding that
// out costs no password hash.
func TestCreateWithATakenEmailHashesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com"}); err != nil {
		t.Fatal(err)
	}
	var reads atomic.Int32
	f.users.Random = &countingRandom{n: &reads}
	_, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ANA@example.com", Password: "a long enough password"})
	if fieldsOf(err) != "email" {
		t.Fatalf("a taken email: %v", err)
	}
	if n := reads.Load(); n != 0 {
		t.Errorf("refusing a taken email read randomness %d times: a hash ran", n)
	}
	// Without a password there is nothing to spare: the transaction
	// refuses it.
	if _, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com"}); fieldsOf(err) != "email" {
		t.Fatalf("a taken email without a password: %v", err)
	}
}
