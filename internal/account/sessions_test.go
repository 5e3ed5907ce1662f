package account_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/token"
)

func TestSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}

	// One answer for every failure.
	for _, tc := range []struct{ tenant, email, password string }{
		{"ten_home", "nobody@example.com", "correct horse battery"},
		{"ten_home", "ana@example.com", "wrong horse battery"},
		{"ten_other", "ana@example.com", "correct horse battery"},
		{"ten_home", "ana@example.com", strings.Repeat("x", account.MaxPasswordLen+1)},
	} {
		if _, err := f.sessions.CheckPassword(ctx, tc.tenant, tc.email, tc.password); !errors.Is(err, account.ErrBadCredentials) {
			t.Errorf("%+v: err = %v", tc, err)
		}
	}
	got, err := f.sessions.CheckPassword(ctx, "ten_home", " Ana@Example.com", "correct horse battery")
	if err != nil || got.ID != u.ID {
		t.Fatalf("sign-in: %+v %v", got, err)
	}

	first, s1, err := f.sessions.Start(ctx, u, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.db.SessionByHash(ctx, account.HashValue(first))
	if err != nil || stored.ID != s1.ID || stored.Hash == first || !strings.HasPrefix(s1.ID, "ses_") {
		t.Fatalf("stored session %+v %v", stored, err)
	}
	if s, su, err := f.sessions.Find(ctx, "ten_home", first); err != nil || s == nil || su.ID != u.ID {
		t.Fatalf("Find: %v %v %v", s, su, err)
	}
	if s, _, _ := f.sessions.Find(ctx, "ten_other", first); s != nil {
		t.Fatal("a session crossed tenants")
	}
	// Signing in again replaces the session: the old value finds nothing.
	second, _, err := f.sessions.Start(ctx, u, first, "192.0.2.1")
	if err != nil || second == first {
		t.Fatalf("rotation: %v", err)
	}
	if s, _, _ := f.sessions.Find(ctx, "ten_home", first); s != nil {
		t.Fatal("the session before sign-in survived it")
	}
	f.now = f.now.Add(account.DefaultSessionTTL)
	if s, _, _ := f.sessions.Find(ctx, "ten_home", second); s != nil {
		t.Fatal("an expired session was found")
	}
	f.now = f.now.Add(-time.Hour)
	if err := f.sessions.End(ctx, second); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := f.sessions.Find(ctx, "ten_home", second); s != nil {
		t.Fatal("an ended session was found")
	}
	if err := f.sessions.End(ctx, "never-issued"); err != nil {
		t.Fatalf("ending an unknown session: %v", err)
	}
	if s, _, err := f.sessions.Find(ctx, "ten_home", ""); s != nil || err != nil {
		t.Fatal("an empty cookie found a session")
	}
}

func TestConsents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	first := f.now
	c, err := f.sessions.Approve(ctx, u, "app", []string{"profile", "openid"}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, []string{"openid", "profile"}) || !account.Covers(c, []string{"openid"}) ||
		account.Covers(c, []string{"openid", "email"}) || account.Covers(nil, nil) {
		t.Fatalf("consent %+v", c)
	}
	f.now = f.now.Add(time.Hour)
	if _, err := f.sessions.Approve(ctx, u, "app", []string{"email"}, ""); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	if _, err := f.sessions.Authorized(ctx, u, "app", []string{"openid"}); err != nil {
		t.Fatal(err)
	}
	stored, err := f.db.Consent(ctx, u.ID, "app")
	if err != nil || !slices.Equal(stored.Scopes, []string{"email", "openid", "profile"}) ||
		!stored.FirstAt.Equal(first) || !stored.LastAt.Equal(f.now) {
		t.Fatalf("stored consent %+v %v", stored, err)
	}
	es, _ := f.db.AuditEvents(ctx, "ten_home", 0, 100)
	approvals := 0
	for _, e := range es {
		if e.Action == account.ActionConsentApproved {
			approvals++
			if e.ActorID != u.ID || e.TargetID != "app" {
				t.Fatalf("approval event %+v", e)
			}
		}
	}
	if approvals != 2 {
		t.Fatalf("%d approval events, want 2 (a re-authorization decides nothing)", approvals)
	}

	f.revoked = nil
	if err := f.sessions.Revoke(ctx, u, "app", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Consent(ctx, u.ID, "app"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("the consent survived its revocation: %v", err)
	}
	cut := token.CutOffKey(u.ID, "app")
	if len(f.revoked) != 1 || f.revoked[0].TokenID != cut || !f.revoked[0].IssuedBefore.Equal(f.now) {
		t.Fatalf("revocations handed on: %+v", f.revoked)
	}
	if revs, err := f.db.RevocationsByID(ctx, []string{cut}); err != nil || len(revs) != 1 {
		t.Fatalf("stored cut-off: %+v %v", revs, err)
	}
	es, _ = f.db.AuditEvents(ctx, "ten_home", 0, 100)
	if last := es[len(es)-1]; last.Action != account.ActionConsentRevoked || last.SourceAddr != "192.0.2.1" {
		t.Fatalf("last event %+v", last)
	}
	if list, err := f.db.Consents(ctx, u.ID); err != nil || len(list) != 0 {
		t.Fatalf("consents after revoke: %+v %v", list, err)
	}
}

// On an in-memory SQLite store the reads share the one connection a
// transaction holds: approving must read the consent in its transaction,
// or it waits for itself. The deadline turns such a wait into a failure.
func TestConsentsInMemoryStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	users := &account.Users{Repo: db, Now: clock, Hash: cheap}
	sessions := &account.Sessions{Repo: db, Now: clock}
	u, err := users.Create(ctx, authz.OperatorActor("ten_home", "alice"), account.NewUser{Email: "ana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Approve(ctx, u, "app", []string{"openid"}, "192.0.2.1"); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := sessions.Approve(ctx, u, "app", []string{"email"}, "192.0.2.1"); err != nil {
		t.Fatalf("Approve again: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := sessions.Authorized(ctx, u, "app", []string{"openid"}); err != nil {
		t.Fatalf("Authorized: %v", err)
	}
	c, err := db.Consent(ctx, u.ID, "app")
	if err != nil || !slices.Equal(c.Scopes, []string{"email", "openid"}) || !c.LastAt.Equal(now) {
		t.Fatalf("consent %+v %v", c, err)
	}
}

// A password verified against a hash of other parameters than the
// current ones is hashed anew at the sign-in and stored; a wrong password
// renews nothing, and a hash already current is left as it is.
func TestSignInRenewsHashesOfOtherParameters(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const password = "correct horse battery"
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	old := getUser(t, f, u.ID)
	current := argon2id.Params{Time: 1, Memory: 128, Threads: 1, KeyLen: 32}
	sessions := &account.Sessions{Repo: f.db, Now: f.sessions.Now, Hash: current}
	if !argon2id.NeedsRehash(old.PasswordHash, current) {
		t.Fatal("the fixture's hash already has the current parameters")
	}

	if _, err := sessions.CheckPassword(ctx, "ten_home", u.Email, "wrong horse battery"); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("a wrong password: %v", err)
	}
	if got := getUser(t, f, u.ID); got.PasswordHash != old.PasswordHash {
		t.Error("a wrong password renewed the hash")
	}

	signedIn, err := sessions.CheckPassword(ctx, "ten_home", u.Email, password)
	if err != nil {
		t.Fatal(err)
	}
	renewed := getUser(t, f, u.ID)
	if renewed.PasswordHash == old.PasswordHash || argon2id.NeedsRehash(renewed.PasswordHash, current) ||
		signedIn.PasswordHash != renewed.PasswordHash {
		t.Fatalf("after the sign-in the hash is %q (returned %q), want one of %+v", renewed.PasswordHash, signedIn.PasswordHash, current)
	}
	if ok, err := argon2id.Verify(renewed.PasswordHash, password); !ok || err != nil {
		t.Fatalf("the renewed hash does not verify the password: %t, %v", ok, err)
	}
	if !renewed.UpdatedAt.Equal(old.UpdatedAt) {
		t.Errorf("the renewal moved the update time from %v to %v: nothing a person changed", old.UpdatedAt, renewed.UpdatedAt)
	}

	if _, err := sessions.CheckPassword(ctx, "ten_home", u.Email, password); err != nil {
		t.Fatal(err)
	}
	if got := getUser(t, f, u.ID); got.PasswordHash != renewed.PasswordHash {
		t.Error("a current hash was renewed again")
	}
}
