package account_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/token"
)

// cheap keeps argon2id fast in tests; its cost is argon2id's own concern.
var cheap = argon2id.Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32}

type fixture struct {
	db       *sqlite.DB
	now      time.Time
	users    *account.Users
	sessions *account.Sessions
	revoked  []token.Revocation
	op       authz.Actor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, now: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC), op: authz.OperatorActor("ten_home", "alice")}
	clock := func() time.Time { return f.now }
	onRevoke := func(r []token.Revocation) { f.revoked = append(f.revoked, r...) }
	f.users = &account.Users{Repo: db, Now: clock, Hash: cheap, OnRevoke: onRevoke}
	f.sessions = &account.Sessions{Repo: db, Now: clock, Hash: cheap, OnRevoke: onRevoke}
	return f
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "  Ana@Example.COM ", Name: "Ana", Password: "correct horse battery",
		Roles: []string{authz.Viewer}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ana@example.com" || u.Locale != "en" || !u.Active() || !strings.HasPrefix(u.ID, "usr_") {
		t.Fatalf("created %+v", u)
	}
	if strings.Contains(u.PasswordHash, "correct horse") || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("password stored as %q", u.PasswordHash)
	}
	es, _ := f.db.AuditEvents(ctx, "ten_home", 0, 10)
	if len(es) != 1 || es[0].Action != account.ActionUserCreated || !slices.Contains(es[0].Changes, "password") {
		t.Fatalf("audit: %+v", es)
	}
	for _, e := range es {
		for _, v := range e.Details {
			if strings.Contains(v, "correct horse") {
				t.Fatal("the password reached the audit trail")
			}
		}
	}

	cases := []struct {
		name  string
		actor authz.Actor
		p     account.NewUser
		field string
	}{
		{"no email", f.op, account.NewUser{}, "email"},
		{"bad email", f.op, account.NewUser{Email: "not an address"}, "email"},
		{"display-name email", f.op, account.NewUser{Email: "Ana <b@example.com>"}, "email"},
		{"taken email", f.op, account.NewUser{Email: "ANA@example.com"}, "email"},
		{"short password", f.op, account.NewUser{Email: "b@example.com", Password: "short"}, "password"},
		{"unknown locale", f.op, account.NewUser{Email: "b@example.com", Locale: "xx"}, "locale"},
		{"unknown role", f.op, account.NewUser{Email: "b@example.com", Roles: []string{"wizard"}}, "roles"},
		{"control characters in the name", authz.Actor{Kind: authz.KindUser, ID: "usr_v", TenantID: "ten_home",
			Roles: []string{authz.SuperAdmin}}, account.NewUser{Email: "c@example.com", Name: "\x01"}, "name"},
	}
	for _, tc := range cases {
		_, err := f.users.Create(ctx, tc.actor, tc.p)
		var ve *errs.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != tc.field {
			t.Errorf("%s: err = %v, want a field error on %s", tc.name, err, tc.field)
		}
	}
	viewer := authz.Actor{Kind: authz.KindUser, ID: "usr_v", TenantID: "ten_home", Roles: []string{authz.Viewer}}
	if _, err := f.users.Create(ctx, viewer, account.NewUser{Email: "d@example.com"}); !errors.Is(err, errs.ErrForbidden) {
		t.Fatalf("a viewer created a user: %v", err)
	}
	list, err := f.users.List(ctx, f.op)
	if err != nil || len(list) != 1 {
		t.Fatalf("refused creations wrote something: %v %v", list, err)
	}
}

// Disabling a user ends their sessions, revokes their refresh tokens and
// cuts off their access tokens, in one transaction with the audit event.
func TestDisableUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	value, _, err := f.sessions.Start(ctx, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	rt := &token.RefreshToken{ID: "rt_1", Hash: "h1", FamilyID: "fam", TenantID: "ten_home", ClientID: "app", UserID: u.ID,
		AccessTokenID: "jti_1", AccessExpiresAt: f.now.Add(time.Hour), IssuedAt: f.now, ExpiresAt: f.now.Add(24 * time.Hour)}
	if err := f.db.InGrantTx(ctx, func(tx token.GrantTx) error { return tx.CreateRefreshToken(ctx, rt) }); err != nil {
		t.Fatal(err)
	}

	f.now = f.now.Add(time.Minute)
	got, err := f.users.SetStatus(ctx, f.op, u.ID, account.UserDisabled)
	if err != nil || got.Active() {
		t.Fatalf("disable: %+v %v", got, err)
	}
	if s, _, err := f.sessions.Find(ctx, "ten_home", value); s != nil || err != nil {
		t.Fatalf("the session outlived the disable: %v %v", s, err)
	}
	stored, err := f.db.RefreshTokenByHash(ctx, "h1")
	if err != nil || stored.RevokedAt.IsZero() {
		t.Fatalf("refresh token: %+v %v", stored, err)
	}
	ids := map[string]bool{}
	for _, r := range f.revoked {
		ids[r.TokenID] = true
	}
	if !ids["jti_1"] || !ids[token.CutOffKey(u.ID, "")] {
		t.Fatalf("revocations handed on: %+v", f.revoked)
	}
	revs, err := f.db.RevocationsByID(ctx, []string{"jti_1", token.CutOffKey(u.ID, "")})
	if err != nil || len(revs) != 2 {
		t.Fatalf("stored revocations: %+v %v", revs, err)
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ana@example.com", "correct horse battery"); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("a disabled user signed in: %v", err)
	}

	// Disabling again changes and records nothing.
	before, _ := f.db.AuditEvents(ctx, "ten_home", 0, 100)
	f.revoked = nil
	if _, err := f.users.SetStatus(ctx, f.op, u.ID, account.UserDisabled); err != nil {
		t.Fatal(err)
	}
	after, _ := f.db.AuditEvents(ctx, "ten_home", 0, 100)
	if len(after) != len(before) || len(f.revoked) != 0 {
		t.Fatalf("a second disable recorded %d events, %d revocations", len(after)-len(before), len(f.revoked))
	}
	if _, err := f.users.SetStatus(ctx, f.op, u.ID, account.UserActive); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ana@example.com", "correct horse battery"); err != nil {
		t.Fatalf("an enabled user cannot sign in: %v", err)
	}
	last, _ := f.db.AuditEvents(ctx, "ten_home", 0, 100)
	if got := last[len(last)-1].Action; got != account.ActionUserEnabled {
		t.Fatalf("last action %s", got)
	}

	// A user cannot disable themselves; nobody disables another tenant's.
	self := authz.Actor{Kind: authz.KindUser, ID: u.ID, TenantID: "ten_home", Roles: []string{authz.SuperAdmin}}
	if _, err := f.users.SetStatus(ctx, self, u.ID, account.UserDisabled); !errors.Is(err, errs.ErrForbidden) {
		t.Fatalf("self-disable: %v", err)
	}
	other := authz.OperatorActor("ten_other", "bob")
	if _, err := f.users.SetStatus(ctx, other, u.ID, account.UserDisabled); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("another tenant's operator: %v", err)
	}
	if _, err := f.users.SetStatus(ctx, f.op, u.ID, "asleep"); err == nil {
		t.Fatal("an unknown status was accepted")
	}
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ana@example.com", ""); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("a user without a password signed in: %v", err)
	}
	var ve *errs.ValidationError
	if err := f.users.SetPassword(ctx, f.op, u.ID, "short"); !errors.As(err, &ve) || ve.Fields[0].Field != "password" {
		t.Fatalf("short password: %v", err)
	}
	if err := f.users.SetPassword(ctx, f.op, u.ID, "a much longer passphrase"); err != nil {
		t.Fatal(err)
	}
	value, _, err := f.sessions.Start(ctx, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ANA@example.com", "a much longer passphrase"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if err := f.users.SetPassword(ctx, f.op, u.ID, "another long passphrase"); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := f.sessions.Find(ctx, "ten_home", value); s != nil {
		t.Fatal("a session outlived a password change")
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ana@example.com", "a much longer passphrase"); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("the old password still works: %v", err)
	}
	if err := f.users.SetPassword(ctx, f.op, "usr_nobody", "a much longer passphrase"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
