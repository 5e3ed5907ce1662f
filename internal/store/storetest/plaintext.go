package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// bearerPrefix starts every bearer value WriteSecrets makes for a
// session, a code and a refresh token. The database must not hold it at
// all: not the value, and no part of one that kept its prefix.
const bearerPrefix = "lkplain_"

// WriteSecrets stores every kind of secret Latchkey keeps: through the
// real client service a generated client secret, an admin-chosen one
// (argon2id) and one rotated in with the old kept in grace; and a session,
// an authorization code and a refresh token, of which the store is given
// only the hashes of their values. It checks that the store keeps exactly
// the hashes it was given. It returns a client ID that must appear in the
// database and the strings that must not (the plaintexts, and the prefix
// of every bearer value); each backend's own test then searches its
// storage in its own way.
func WriteSecrets(t *testing.T, s store.Store) (clientID string, plaintexts []string) {
	t.Helper()
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := &client.Service{Repo: s, Now: func() time.Time { return now }}
	actor := client.SystemActor("ten_a")
	params := client.CreateParams{Name: "Leaky", GrantTypes: []client.GrantType{client.GrantClientCredentials}}
	c, generated, err := svc.Create(ctx, actor, params)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	params.Secret = "an-admin-chosen-secret-of-40-characters!"
	_, supplied, err := svc.Create(ctx, actor, params)
	if err != nil {
		t.Fatalf("Create with a supplied secret: %v", err)
	}
	rotated, err := svc.RotateSecret(ctx, actor, c.ID, client.RotateParams{Grace: time.Hour})
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	plaintexts = []string{generated.Plaintext, supplied.Plaintext, rotated.Plaintext, bearerPrefix}

	bearer := func() (value, hash string) {
		t.Helper()
		v, _, err := token.NewOpaque(nil)
		if err != nil {
			t.Fatal(err)
		}
		value = bearerPrefix + v
		plaintexts = append(plaintexts, value)
		return value, token.HashOpaque(value)
	}
	_, sessionHash := bearer()
	_, codeHash := bearer()
	_, refreshHash := bearer()
	sess := &account.Session{ID: "ses_leaky", Hash: sessionHash, TenantID: "ten_a", UserID: "usr_leaky",
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.InAccountTx(ctx, func(tx account.Tx) error { return tx.CreateSession(ctx, sess) }); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	code := newCode(codeHash, now)
	code.ClientID, code.SessionID = c.ID, sess.ID
	rt := newRefreshToken("rt_leaky", code.FamilyID, "usr_leaky", c.ID, now)
	rt.Hash = refreshHash
	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		if err := tx.CreateCode(ctx, code); err != nil {
			return err
		}
		return tx.CreateRefreshToken(ctx, rt)
	})

	// What the store keeps is the hash it was given, and that alone finds
	// the record.
	gotSession, err := s.SessionByHash(ctx, sessionHash)
	if err != nil || gotSession.Hash != sessionHash || gotSession.ID != sess.ID {
		t.Errorf("SessionByHash: %+v, %v; want the session with the hash it was given", gotSession, err)
	}
	gotRefresh, err := s.RefreshTokenByHash(ctx, refreshHash)
	if err != nil || gotRefresh.Hash != refreshHash || gotRefresh.ID != rt.ID {
		t.Errorf("RefreshTokenByHash: %+v, %v; want the token with the hash it was given", gotRefresh, err)
	}
	var gotCode *token.Code
	inGrantTx(t, s, func(ctx context.Context, tx token.GrantTx) error {
		gotCode, err = tx.UseCode(ctx, codeHash, now)
		return err
	})
	if gotCode.Hash != codeHash {
		t.Errorf("UseCode: hash %q, want the hash it was given", gotCode.Hash)
	}
	return c.ID, plaintexts
}
