package account_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

const (
	oldPassword = "correct horse battery"
	newPassword = "tremendous purple kettle"
)

func getUser(t *testing.T, f *fixture, id string) *account.User {
	t.Helper()
	u, err := f.db.User(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func sessionLive(t *testing.T, f *fixture, value string) bool {
	t.Helper()
	s, _, err := f.sessions.Find(context.Background(), "ten_home", value)
	if err != nil {
		t.Fatal(err)
	}
	return s != nil
}

// A user changing their own password: the current one is checked, the
// new one stored hashed, the request to change it cleared, their other
// sessions ended while this one stays, and the change audited as theirs
// without any password in the trail.
func TestChangeOwnPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Password: oldPassword, PasswordChangeRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	if !u.PasswordChangeRequired || !getUser(t, f, u.ID).PasswordChangeRequired {
		t.Fatal("a generated password given at creation is not to be changed")
	}
	here, sess, err := f.sessions.Start(ctx, u, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, _, err := f.sessions.Start(ctx, u, "", "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	if err := f.users.ChangeOwnPassword(ctx, u, sess, "192.0.2.1", oldPassword, newPassword); err != nil {
		t.Fatal(err)
	}
	stored := getUser(t, f, u.ID)
	if stored.PasswordChangeRequired || u.PasswordChangeRequired || !stored.UpdatedAt.Equal(f.now) || u.PasswordHash != stored.PasswordHash {
		t.Errorf("after the change: stored %+v, returned %+v", stored, u)
	}
	if strings.Contains(stored.PasswordHash, newPassword) {
		t.Error("the new password is stored in plain text")
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ana@example.com", newPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ana@example.com", oldPassword); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("the old password still signs in: %v", err)
	}
	if !sessionLive(t, f, here) || sessionLive(t, f, elsewhere) {
		t.Errorf("sessions after the change: this one live %v, the other live %v; want true, false",
			sessionLive(t, f, here), sessionLive(t, f, elsewhere))
	}
	e := lastEvent(t, f)
	if e.Action != account.ActionPasswordChanged || e.ActorKind != authz.KindUser || e.ActorID != u.ID ||
		e.TargetID != u.ID || e.SourceAddr != "192.0.2.1" || !slices.Equal(e.Changes, []string{"password"}) ||
		e.Details["password_change_required"] != "cleared" {
		t.Errorf("the event: %+v", e)
	}
	noPasswords(t, f, oldPassword, newPassword)

	// Changed again, with nothing to clear and no session to keep: every
	// session ends.
	if err := f.users.ChangeOwnPassword(ctx, u, nil, "192.0.2.1", newPassword, oldPassword); err != nil {
		t.Fatal(err)
	}
	if sessionLive(t, f, here) {
		t.Error("a change with no session to keep left one")
	}
	if e := lastEvent(t, f); e.Details["password_change_required"] != "" {
		t.Errorf("the second change's details: %v", e.Details)
	}
}

// noPasswords fails when a password reached the audit trail.
func noPasswords(t *testing.T, f *fixture, passwords ...string) {
	t.Helper()
	es, err := f.db.AuditEvents(context.Background(), "ten_home", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		text := strings.Join(e.Changes, " ")
		for k, v := range e.Details {
			text += " " + k + "=" + v
		}
		for _, pw := range passwords {
			if strings.Contains(text, pw) {
				t.Errorf("a password reached the audit event %s", e.Action)
			}
		}
	}
}

// Each refusal of ChangeOwnPassword names its field, or says why, and
// changes nothing.
func TestChangeOwnPasswordRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Password: oldPassword, PasswordChangeRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	_, sess, err := f.sessions.Start(ctx, u, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	hash := getUser(t, f, u.ID).PasswordHash
	unchanged := func(what string) {
		t.Helper()
		if got := getUser(t, f, u.ID); got.PasswordHash != hash || !got.PasswordChangeRequired {
			t.Errorf("%s changed the user", what)
		}
	}
	fields := []struct {
		name, current, next string
		want                []string
	}{
		{"nothing typed", "", "", []string{"current_password", "new_password"}},
		{"no current password", "", newPassword, []string{"current_password"}},
		{"no new password", oldPassword, "", []string{"new_password"}},
		{"a short new password", oldPassword, "short", []string{"new_password"}},
		{"an overlong new password", oldPassword, strings.Repeat("x", account.MaxPasswordLen+1), []string{"new_password"}},
		{"a wrong current password", "not the password", newPassword, []string{"current_password"}},
		{"an overlong current password", strings.Repeat("x", account.MaxPasswordLen+1), newPassword, []string{"current_password"}},
		{"the same password", oldPassword, oldPassword, []string{"new_password"}},
	}
	for _, tc := range fields {
		err := f.users.ChangeOwnPassword(ctx, u, sess, "192.0.2.1", tc.current, tc.next)
		var got []string
		for _, fe := range errs.Fields(err) {
			got = append(got, fe.Field)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: fields %v (%v), want %v", tc.name, got, err, tc.want)
		}
		for _, fe := range errs.Fields(err) {
			if strings.Contains(fe.Message, oldPassword) || strings.Contains(fe.Message, newPassword) {
				t.Errorf("%s: the error shows a password: %q", tc.name, fe.Message)
			}
		}
		unchanged(tc.name)
	}

	// The password changed by someone else between the check and the
	// write: nothing is written over it.
	spy := withSpy(f)
	other := &account.Users{Repo: f.db, Now: f.users.Now, Hash: cheap}
	spy.beforeTx = func() {
		if err := other.SetPassword(ctx, f.op, u.ID, "an admin chose this one"); err != nil {
			t.Error(err)
		}
	}
	if err := f.users.ChangeOwnPassword(ctx, u, sess, "192.0.2.1", oldPassword, newPassword); !errors.Is(err, account.ErrPasswordChanged) {
		t.Errorf("a change made meanwhile: %v, want account.ErrPasswordChanged", err)
	}
	if _, err := f.sessions.CheckPassword(ctx, "ten_home", "ana@example.com", "an admin chose this one"); err != nil {
		t.Errorf("the admin's password was overwritten: %v", err)
	}
	hash = getUser(t, f, u.ID).PasswordHash

	// A failing store is the caller's error, and u is left as it was.
	spy.failTx = errDisk
	before := *u
	if err := f.users.ChangeOwnPassword(ctx, u, sess, "192.0.2.1", "an admin chose this one", newPassword); !errors.Is(err, errDisk) ||
		u.PasswordHash != before.PasswordHash {
		t.Errorf("a failing store: %v", err)
	}
	unchanged("a failing store")
	spy.failTx = nil

	// A context that ends while waiting for a hash: nothing is checked.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.users.ChangeOwnPassword(cancelled, u, sess, "192.0.2.1", "an admin chose this one", newPassword); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled change: %v", err)
	}

	// A disabled user, a missing one, or one of another tenant, changes
	// nothing.
	if _, err := f.users.SetStatus(ctx, f.op, u.ID, account.UserDisabled); err != nil {
		t.Fatal(err)
	}
	if err := f.users.ChangeOwnPassword(ctx, u, nil, "192.0.2.1", "an admin chose this one", newPassword); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a disabled user: %v, want account.ErrNotFound", err)
	}
	ghost := &account.User{ID: "usr_ghost", TenantID: "ten_home"}
	if err := f.users.ChangeOwnPassword(ctx, ghost, nil, "192.0.2.1", oldPassword, newPassword); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a missing user: %v, want account.ErrNotFound", err)
	}
	if _, err := f.users.SetStatus(ctx, f.op, u.ID, account.UserActive); err != nil {
		t.Fatal(err)
	}
	elsewhere := *u
	elsewhere.TenantID = "ten_other"
	if err := f.users.ChangeOwnPassword(ctx, &elsewhere, nil, "192.0.2.1", "an admin chose this one", newPassword); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a user named under another tenant: %v, want account.ErrNotFound", err)
	}
	unchanged("the refusals of users")
}

// Who sets a password decides whether it must be changed: one set by an
// admin or the operator must, one the user set themselves need not; at
// creation, only when the caller says it was generated.
func TestPasswordChangeRequiredFlag(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	typed, err := f.users.Create(ctx, f.op, account.NewUser{Email: "typed@example.com", Password: oldPassword})
	if err != nil {
		t.Fatal(err)
	}
	none, err := f.users.Create(ctx, f.op, account.NewUser{Email: "none@example.com", PasswordChangeRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*account.User{typed, none} {
		if getUser(t, f, u.ID).PasswordChangeRequired {
			t.Errorf("%s is asked to change a password they were not generated", u.Email)
		}
	}

	// An admin who is not the user: the flag is set, and the event says so.
	admin, err := f.users.Create(ctx, f.op, account.NewUser{Email: "root@example.com", Password: oldPassword, Roles: []string{authz.SuperAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	adminActor := authz.Actor{Kind: authz.KindUser, ID: admin.ID, TenantID: "ten_home", Roles: admin.Roles}
	for _, actor := range []authz.Actor{f.op, adminActor} {
		if err := f.users.SetPassword(ctx, actor, typed.ID, newPassword); err != nil {
			t.Fatal(err)
		}
		if !getUser(t, f, typed.ID).PasswordChangeRequired {
			t.Errorf("a password %s set is not to be changed", actor.Kind)
		}
		if e := lastEvent(t, f); e.Details["password_change_required"] != "true" || !slices.Equal(e.Changes, []string{"password"}) {
			t.Errorf("the event of a password %s set: %v %v", actor.Kind, e.Changes, e.Details)
		}
		// The user clears it by choosing their own.
		u := getUser(t, f, typed.ID)
		if err := f.users.ChangeOwnPassword(ctx, u, nil, "", newPassword, oldPassword); err != nil {
			t.Fatal(err)
		}
		if getUser(t, f, typed.ID).PasswordChangeRequired {
			t.Error("the user's own password did not clear the flag")
		}
	}

	// The user setting their own through SetPassword clears it too.
	if err := f.users.SetPassword(ctx, f.op, admin.ID, newPassword); err != nil {
		t.Fatal(err)
	}
	if !getUser(t, f, admin.ID).PasswordChangeRequired {
		t.Fatal("the operator's password for the admin is not to be changed")
	}
	if err := f.users.SetPassword(ctx, adminActor, admin.ID, "a password of my own"); err != nil {
		t.Fatal(err)
	}
	if getUser(t, f, admin.ID).PasswordChangeRequired {
		t.Error("a password the user set themselves is still to be changed")
	}
	if e := lastEvent(t, f); e.Details["password_change_required"] != "" {
		t.Errorf("the event of the user's own password: %v", e.Details)
	}
	noPasswords(t, f, oldPassword, newPassword, "a password of my own")
}
