package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var userTests = []test{
	{"Status", testUserStatus},
	{"InAccountTx", testUserInAccountTx},
	{"InAccountTxErrors", testUserInAccountTxErrors},
	{"ConcurrentLockUser", testConcurrentLockUser},
	{"Disable", testDisableUser},
	{"Rollback", testAccountTxRollback},
	{"PasswordChangeRequired", testPasswordChangeRequired},
}

// testPasswordChangeRequired: the flag round-trips through every read,
// defaults to unset, and an update sets and clears it.
func testPasswordChangeRequired(t *testing.T, s store.Store) {
	ctx := t.Context()
	flagged := newUser("ten_a", "usr_flagged", "flagged@example.com")
	flagged.PasswordChangeRequired = true
	plain := newUser("ten_a", "usr_plain", "plain@example.com")
	createUsers(t, s, flagged, plain)
	checkEqual(t, "User of a flagged user", getUser(t, s, flagged.ID), storedUser(flagged))
	if getUser(t, s, plain.ID).PasswordChangeRequired {
		t.Error("a user made without the flag reads with it")
	}
	if u, err := s.UserByEmail(ctx, "ten_a", "flagged@example.com"); err != nil || !u.PasswordChangeRequired {
		t.Errorf("UserByEmail of a flagged user: %+v, %v", u, err)
	}
	users, err := s.Users(ctx, "ten_a")
	if err != nil || len(users) != 2 || !users[0].PasswordChangeRequired || users[1].PasswordChangeRequired {
		t.Errorf("Users: %+v, %v", users, err)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		u, err := tx.LockUser(ctx, flagged.ID)
		if err != nil {
			return err
		}
		if !u.PasswordChangeRequired {
			t.Error("LockUser of a flagged user reads it unflagged")
		}
		u.PasswordChangeRequired = false
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		p, err := tx.LockUser(ctx, plain.ID)
		if err != nil {
			return err
		}
		p.PasswordChangeRequired = true
		return tx.UpdateUser(ctx, p)
	})
	if getUser(t, s, flagged.ID).PasswordChangeRequired || !getUser(t, s, plain.ID).PasswordChangeRequired {
		t.Error("UpdateUser did not clear and set the flag")
	}
}

// inAccountTx runs fn in an account transaction and fails the test if it
// returns an error. fn must use only its transaction.
func inAccountTx(t *testing.T, s store.Store, fn func(ctx context.Context, tx account.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.InAccountTx(ctx, func(tx account.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("InAccountTx: %v", err)
	}
}

func getUser(t *testing.T, s store.Store, id string) *account.User {
	t.Helper()
	u, err := s.User(t.Context(), id)
	if err != nil {
		t.Fatalf("User(%s): %v", id, err)
	}
	return u
}

// testUserStatus: a user's status round-trips, an empty one is stored as
// active, and an update changes it.
func testUserStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	disabled := newUser("ten_a", "usr_disabled", "off@example.com")
	disabled.Status = account.UserDisabled
	unset := newUser("ten_a", "usr_unset", "unset@example.com")
	createUsers(t, s, disabled, unset)
	checkEqual(t, "a disabled user", getUser(t, s, disabled.ID), storedUser(disabled))
	if got := getUser(t, s, unset.ID); got.Status != account.UserActive || !got.Active() {
		t.Errorf("a user made with no status reads %q, want %q", got.Status, account.UserActive)
	}
	users, err := s.Users(ctx, "ten_a")
	if err != nil || len(users) != 2 || users[0].Status != account.UserDisabled || users[1].Status != account.UserActive {
		t.Errorf("Users: %+v, %v", users, err)
	}
	if u, err := s.UserByEmail(ctx, "ten_a", "OFF@example.com"); err != nil || u.Status != account.UserDisabled {
		t.Errorf("UserByEmail: %+v, %v", u, err)
	}

	steps := []struct {
		set, want account.UserStatus
	}{{account.UserActive, account.UserActive}, {account.UserDisabled, account.UserDisabled}, {"", account.UserActive}}
	for _, st := range steps {
		u := getUser(t, s, disabled.ID)
		u.Status = st.set
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Fatalf("UpdateUser to %q: %v", st.set, err)
		}
		if got := getUser(t, s, disabled.ID).Status; got != st.want {
			t.Errorf("status after updating to %q: %q, want %q", st.set, got, st.want)
		}
	}
}

// testUserInAccountTx: the transaction creates, locks and updates users,
// sees its own writes, and commits them.
func testUserInAccountTx(t *testing.T, s store.Store) {
	u := newUser("ten_a", "usr_tx", "Tx@Example.com")
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		got, err := tx.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		checkEqual(t, "LockUser of a user made in the transaction", got, storedUser(u))
		got.Status, got.Name, got.UpdatedAt = account.UserDisabled, "Renamed", at(time.Hour)
		return tx.UpdateUser(ctx, got)
	})
	want := storedUser(u)
	want.Status, want.Name, want.UpdatedAt = account.UserDisabled, "Renamed", stored(at(time.Hour))
	checkEqual(t, "the user after the commit", getUser(t, s, u.ID), want)
}

func testUserInAccountTxErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("ten_a", "usr_1", "one@example.com"), newUser("ten_a", "usr_2", "two@example.com"))
	taken := newUser("ten_a", "usr_2", "two@example.com")
	taken.Email = "ONE@example.com"
	checks := []struct {
		name string
		fn   func(tx account.Tx) error
		want error
	}{
		{"CreateUser with a taken ID", func(tx account.Tx) error { return tx.CreateUser(ctx, newUser("ten_b", "usr_1", "x@example.com")) }, account.ErrConflict},
		{"CreateUser with a taken email", func(tx account.Tx) error { return tx.CreateUser(ctx, newUser("ten_a", "usr_3", "One@Example.com")) }, account.ErrConflict},
		{"LockUser(missing)", func(tx account.Tx) error { _, err := tx.LockUser(ctx, "usr_missing"); return err }, account.ErrNotFound},
		{"UpdateUser(missing)", func(tx account.Tx) error { return tx.UpdateUser(ctx, newUser("ten_a", "usr_missing", "m@example.com")) }, account.ErrNotFound},
		{"UpdateUser to a taken email", func(tx account.Tx) error { return tx.UpdateUser(ctx, taken) }, account.ErrConflict},
	}
	for _, c := range checks {
		if err := s.InAccountTx(ctx, c.fn); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	checkEqual(t, "usr_2 after the failures", getUser(t, s, "usr_2"), storedUser(newUser("ten_a", "usr_2", "two@example.com")))
}

// testConcurrentLockUser is the lost update LockUser prevents: each
// transaction reads the user's roles and adds one. Unless transactions
// that lock one user serialize, two read the same roles and one addition
// is lost.
func testConcurrentLockUser(t *testing.T, s store.Store) {
	u := newUser("ten_a", "usr_locked", "locked@example.com")
	u.Roles = nil
	createUsers(t, s, u)
	errs := together(rotators, func(i int) error {
		ctx := t.Context()
		return s.InAccountTx(ctx, func(tx account.Tx) error {
			got, err := tx.LockUser(ctx, u.ID)
			if err != nil {
				return err
			}
			got.Roles = append(got.Roles, fmt.Sprintf("role_%d", i))
			return tx.UpdateUser(ctx, got)
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if roles := getUser(t, s, u.ID).Roles; len(roles) != rotators {
		t.Errorf("after %d concurrent additions the user has roles %v", rotators, roles)
	}
}

// testDisableUser is what disabling a user does in one unit of work: the
// status changes, sessions end, refresh tokens are revoked, and their
// access tokens and a cut-off join the revocation list.
func testDisableUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("ten_a", "usr_1", "one@example.com")
	createUsers(t, s, u, newUser("ten_a", "usr_2", "two@example.com"))
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		for _, sess := range []*account.Session{newSession("ses_1", "usr_1", base), newSession("ses_2", "usr_2", base)} {
			if err := tx.CreateSession(ctx, sess); err != nil {
				return err
			}
		}
		return nil
	})
	createRefreshTokens(t, s, newRefreshToken("rt_1", "fam_1", "usr_1", "lkc_app", base),
		newRefreshToken("rt_2", "fam_2", "usr_2", "lkc_app", base))

	now := at(10 * time.Minute)
	cutOff := token.Revocation{TokenID: token.CutOffKey("usr_1", ""), ExpiresAt: at(2 * time.Hour), IssuedBefore: now}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		got, err := tx.LockUser(ctx, "usr_1")
		if err != nil {
			return err
		}
		got.Status, got.UpdatedAt = account.UserDisabled, now
		if err := tx.UpdateUser(ctx, got); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, "usr_1"); err != nil {
			return err
		}
		rs, err := tx.RevokeRefreshTokens(ctx, token.RefreshFilter{UserID: "usr_1"}, now)
		if err != nil {
			return err
		}
		for _, r := range append(rs, cutOff) {
			if err := tx.AddRevocation(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if got := getUser(t, s, "usr_1"); got.Active() {
		t.Errorf("the disabled user is %q", got.Status)
	}
	if _, err := s.SessionByHash(ctx, "hash-of-ses_1"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("the disabled user's session: got %v, want account.ErrNotFound", err)
	}
	if _, err := s.SessionByHash(ctx, "hash-of-ses_2"); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	if r := getRefreshToken(t, s, "hash-of-rt_1"); !r.RevokedAt.Equal(stored(now)) {
		t.Errorf("the disabled user's refresh token revoked at %v, want %v", r.RevokedAt, stored(now))
	}
	if r := getRefreshToken(t, s, "hash-of-rt_2"); !r.RevokedAt.IsZero() {
		t.Errorf("another user's refresh token was revoked")
	}
	checkEqual(t, "revocations", revocations(t, s, now), []token.Revocation{
		{TokenID: "jti_rt_1", ClientID: "lkc_app", ExpiresAt: stored(at(time.Hour))},
		{TokenID: cutOff.TokenID, ExpiresAt: stored(cutOff.ExpiresAt), IssuedBefore: stored(now)},
	})
}

// testAccountTxRollback: nothing a failed account transaction wrote
// remains.
func testAccountTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("ten_a", "usr_1", "one@example.com")
	createUsers(t, s, u)
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.CreateSession(ctx, newSession("ses_kept", "usr_1", base)); err != nil {
			return err
		}
		return tx.PutConsent(ctx, newConsent("usr_1", "lkc_kept", base))
	})
	createRefreshTokens(t, s, newRefreshToken("rt_1", "fam_1", "usr_1", "lkc_app", base))
	boom := errors.New("boom")
	err := s.InAccountTx(ctx, func(tx account.Tx) error {
		steps := []func() error{
			func() error { return tx.CreateUser(ctx, newUser("ten_a", "usr_new", "new@example.com")) },
			func() error {
				v := *u
				v.Status, v.Name = account.UserDisabled, "Changed"
				return tx.UpdateUser(ctx, &v)
			},
			func() error { return tx.CreateSession(ctx, newSession("ses_new", "usr_1", base)) },
			func() error { return tx.DeleteSession(ctx, "hash-of-ses_kept") },
			func() error { return tx.PutConsent(ctx, newConsent("usr_1", "lkc_new", base)) },
			func() error { return tx.DeleteConsent(ctx, "usr_1", "lkc_kept") },
			func() error {
				_, err := tx.RevokeRefreshTokens(ctx, token.RefreshFilter{UserID: "usr_1"}, base)
				return err
			},
			func() error {
				return tx.AddRevocation(ctx, token.Revocation{TokenID: token.CutOffKey("usr_1", ""), ExpiresAt: at(time.Hour), IssuedBefore: base})
			},
		}
		for i, step := range steps {
			if err := step(); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InAccountTx: got %v, want the callback's error", err)
	}
	if _, err := s.User(ctx, "usr_new"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("the rolled-back user: got %v, want account.ErrNotFound", err)
	}
	checkEqual(t, "the user updated in the rolled-back transaction", getUser(t, s, "usr_1"), storedUser(u))
	if _, err := s.SessionByHash(ctx, "hash-of-ses_new"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("the rolled-back session: got %v, want account.ErrNotFound", err)
	}
	if _, err := s.SessionByHash(ctx, "hash-of-ses_kept"); err != nil {
		t.Errorf("the session deleted in the rolled-back transaction: %v", err)
	}
	cs, err := s.Consents(ctx, "usr_1")
	if err != nil {
		t.Fatal(err)
	}
	if got := consentClients(cs); !slices.Equal(got, []string{"lkc_kept"}) {
		t.Errorf("consents after the rollback: %v, want only lkc_kept", got)
	}
	if r := getRefreshToken(t, s, "hash-of-rt_1"); !r.RevokedAt.IsZero() {
		t.Errorf("the refresh token revoked in the rolled-back transaction is revoked")
	}
	if rs := revocations(t, s, base); len(rs) != 0 {
		t.Errorf("the rolled-back cut-off was stored: %+v", rs)
	}
}
