package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

// WriteSecrets stores, through the real client service, every kind of
// secret Latchkey keeps: a generated one, an admin-chosen one (argon2id),
// and one rotated in with the old kept in grace. It returns a client ID
// that must appear in the database and the plaintexts that must not; each
// backend's own test then searches its storage in its own way.
func WriteSecrets(t *testing.T, s store.Store) (clientID string, plaintexts []string) {
	t.Helper()
	svc := &client.Service{Repo: s, Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}
	actor := client.SystemActor("ten_a")
	params := client.CreateParams{Name: "Leaky", GrantTypes: []client.GrantType{client.GrantClientCredentials}}
	c, generated, err := svc.Create(t.Context(), actor, params)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	params.Secret = "an-admin-chosen-secret-of-40-characters!"
	_, supplied, err := svc.Create(t.Context(), actor, params)
	if err != nil {
		t.Fatalf("Create with a supplied secret: %v", err)
	}
	rotated, err := svc.RotateSecret(t.Context(), actor, c.ID, client.RotateParams{Grace: time.Hour})
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	return c.ID, []string{generated.Plaintext, supplied.Plaintext, rotated.Plaintext}
}
