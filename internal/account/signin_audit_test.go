package account_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
)

// noSecret fails when the password appears anywhere in the stored events.
func noSecret(t *testing.T, es []audit.Event, secret string) {
	t.Helper()
	b, err := json.Marshal(es)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Fatalf("the password reached the audit trail: %s", b)
	}
}

// Each outcome of a sign-in is an audit event in the user's tenant: a
// success commits with its session, and a failure says why, which the
// error does not.
func TestSignInAudit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const pw = "correct horse battery"
	ana, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := f.users.Create(ctx, f.op, account.NewUser{Email: "root@example.com", Password: pw, Roles: []string{authz.SuperAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	dis, err := f.users.Create(ctx, f.op, account.NewUser{Email: "dis@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.users.SetStatus(ctx, f.op, dis.ID, account.UserDisabled); err != nil {
		t.Fatal(err)
	}
	before, _ := f.db.AuditEvents(ctx, "ten_home", 0, 100)
	after := before[len(before)-1].Seq

	for _, u := range []*account.User{ana, admin} {
		if _, _, err := f.sessions.Start(ctx, u, "", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		email, password string
		reason          account.LoginFailureReason
		user            *account.User
	}{
		{"ana@example.com", "wrong horse battery", account.FailBadPassword, ana},
		{"root@example.com", "wrong horse battery", account.FailBadPassword, admin},
		{"dis@example.com", pw, account.FailDisabled, dis},
		{"dis@example.com", "wrong horse battery", account.FailBadPassword, dis},
		{" Nobody@Example.com ", pw, account.FailUnknownUser, nil},
		// A password typed into the email field is not kept.
		{"correct horse battery", pw, account.FailUnknownUser, nil},
	} {
		_, err := f.sessions.CheckPassword(ctx, "ten_home", tc.email, tc.password)
		var fail *account.LoginFailure
		if !errors.Is(err, account.ErrBadCredentials) || !errors.As(err, &fail) || err.Error() != account.ErrBadCredentials.Error() {
			t.Fatalf("%s: err = %v", tc.email, err)
		}
		if fail.Reason != tc.reason || fail.User != nil != (tc.user != nil) || tc.user != nil && fail.User.ID != tc.user.ID {
			t.Fatalf("%s: failure %+v, want %s of %v", tc.email, fail, tc.reason, tc.user)
		}
		if err := f.sessions.LoginFailed(ctx, "ten_home", tc.email, "198.51.100.2", fail); err != nil {
			t.Fatal(err)
		}
	}

	es, err := f.db.AuditEvents(ctx, "ten_home", after, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(es, after, before[len(before)-1].Hash); err != nil {
		t.Fatal(err)
	}
	noSecret(t, es, "wrong horse")
	noSecret(t, es, pw)
	type shape struct {
		action, actorKind, actorID, target, result, addr string
		details                                          map[string]string
	}
	want := []shape{
		{account.ActionLogin, "user", ana.ID, ana.ID, "success", "192.0.2.1", nil},
		{account.ActionLogin, "user", admin.ID, admin.ID, "success", "192.0.2.1", map[string]string{"admin": "true"}},
		{account.ActionLoginFailed, "anonymous", "", ana.ID, "failure", "198.51.100.2", map[string]string{"reason": "bad_password"}},
		{account.ActionLoginFailed, "anonymous", "", admin.ID, "failure", "198.51.100.2", map[string]string{"reason": "bad_password", "admin": "true"}},
		{account.ActionLoginFailed, "anonymous", "", dis.ID, "failure", "198.51.100.2", map[string]string{"reason": "disabled"}},
		{account.ActionLoginFailed, "anonymous", "", dis.ID, "failure", "198.51.100.2", map[string]string{"reason": "bad_password"}},
		{account.ActionLoginFailed, "anonymous", "", "", "failure", "198.51.100.2", map[string]string{"reason": "unknown_user", "email": "nobody@example.com"}},
		{account.ActionLoginFailed, "anonymous", "", "", "failure", "198.51.100.2", map[string]string{"reason": "unknown_user"}},
	}
	if len(es) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(es), len(want), es)
	}
	for i, w := range want {
		e := es[i]
		got := shape{e.Action, string(e.ActorKind), e.ActorID, e.TargetID, e.Result, e.SourceAddr, e.Details}
		if i < 2 {
			// A sign-in names its session.
			if !strings.HasPrefix(got.details["session_id"], "ses_") {
				t.Errorf("event %d: no session in %v", i, got.details)
			}
			delete(got.details, "session_id")
			if len(got.details) == 0 {
				got.details = nil
			}
		}
		if e.TargetType != "user" || e.TenantID != "ten_home" || !e.At.Equal(f.now) || !equalShape(got, w) {
			t.Errorf("event %d = %+v\nwant %+v", i, e, w)
		}
	}
}

func equalShape[T any](a, b T) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// A sign-in whose audit event cannot be stored starts no session.
func TestSignInAuditCommitsWithTheSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	// A fixed random source, so the cookie value the failed sign-in would
	// have had is known.
	random := bytes.Repeat([]byte{7}, 64)
	s := &account.Sessions{Repo: failingAudit{f.db}, Now: func() time.Time { return f.now }, Random: bytes.NewReader(random)}
	if _, _, err := s.Start(ctx, u, "", "192.0.2.1"); !errors.Is(err, errAudit) {
		t.Fatalf("a sign-in without its audit event: %v", err)
	}
	value := base64.RawURLEncoding.EncodeToString(random[:32])
	if sess, _, err := f.sessions.Find(ctx, "ten_home", value); sess != nil || err != nil {
		t.Fatalf("the session committed without its event: %+v %v", sess, err)
	}
}

var errAudit = errors.New("audit: disk full")

// failingAudit is a store whose transactions cannot append audit events.
type failingAudit struct{ account.Repository }

func (r failingAudit) InAccountTx(ctx context.Context, fn func(account.Tx) error) error {
	return r.Repository.InAccountTx(ctx, func(tx account.Tx) error { return fn(noAppendTx{tx}) })
}

type noAppendTx struct{ account.Tx }

func (noAppendTx) AppendAudit(context.Context, *audit.Event) error { return errAudit }
