package client

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

// oneClientRepo holds one client with a generated secret. (This test sits
// inside the package to take the argon2id turn itself; the SQLite store
// imports this package, so it cannot be used here.)
type oneClientRepo struct {
	Repository
	c   *Client
	sec Secret
}

func (r *oneClientRepo) Client(_ context.Context, id string) (*Client, error) {
	if id != r.c.ID {
		return nil, ErrNotFound
	}
	return r.c.Clone(), nil
}

func (r *oneClientRepo) Secrets(context.Context, string) ([]Secret, error) {
	return []Secret{r.sec}, nil
}

// When every argon2id turn is taken, a failure that ran no argon2id (an
// unknown ID, a wrong generated secret) waits for a turn and meets
// ErrBusy, as an admin-chosen secret's check does, so the busy answer
// does not tell real client IDs from made-up ones.
func TestBusyAnswersAlikeForEveryFailure(t *testing.T) {
	plain, err := NewSecretValue(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashSecret(rand.Reader, plain) // generated: one SHA-256, no argon2id
	if err != nil {
		t.Fatal(err)
	}
	repo := &oneClientRepo{
		c:   &Client{ID: "lkc_real", Type: Confidential, Status: StatusActive},
		sec: Secret{ID: "sec_1", ClientID: "lkc_real", Hash: hash, Status: SecretActive},
	}
	a := &Authenticator{Repo: repo, SlowChecks: 1, Sleep: func(context.Context, time.Duration) {}}
	ctx := context.Background()
	if _, _, err := a.Authenticate(ctx, "lkc_nobody", "guess", true); !isFailure(err) {
		t.Fatalf("unknown ID with the turn free: %v", err)
	}
	if err := a.acquireSlow(ctx); err != nil { // another check holds the one turn
		t.Fatal(err)
	}
	for _, id := range []string{"lkc_nobody", "lkc_real"} {
		if _, _, err := a.Authenticate(ctx, id, "guess", true); !errors.Is(err, ErrBusy) {
			t.Errorf("%s with the turn taken: %v, want ErrBusy", id, err)
		}
	}
	<-a.slow
	if _, _, err := a.Authenticate(ctx, "lkc_real", "guess", true); !isFailure(err) {
		t.Fatalf("wrong secret with the turn free again: %v", err)
	}
}

func isFailure(err error) bool {
	var f *AuthFailure
	return errors.As(err, &f)
}
