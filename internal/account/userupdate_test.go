package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

func ptr[T any](v T) *T { return &v }

func lastEvent(t *testing.T, f *fixture) audit.Event {
	t.Helper()
	es, err := f.db.AuditEvents(context.Background(), "ten_home", 0, 1000)
	if err != nil || len(es) == 0 {
		t.Fatalf("audit events: %v %v", es, err)
	}
	return es[len(es)-1]
}

// An update of a user records each changed field with its values before
// and after; a status change its status; a new password only its name.
func TestUpdateUserRecordsBeforeAndAfter(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Name: "Ana", Roles: []string{authz.Viewer}})
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Minute)
	got, err := f.users.Update(ctx, f.op, u.ID, account.UserChanges{Email: ptr(" Ana.B@Example.com"), Name: ptr("Ana B."),
		Locale: ptr("nb"), Roles: ptr([]string{authz.Viewer, authz.OAuthAdmin})})
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "ana.b@example.com" || got.Name != "Ana B." || got.Locale != "nb" || len(got.Roles) != 2 || !got.UpdatedAt.Equal(f.now) {
		t.Fatalf("updated %+v", got)
	}
	e := lastEvent(t, f)
	want := map[string][2]string{
		"email":  {"ana@example.com", "ana.b@example.com"},
		"name":   {"Ana", "Ana B."},
		"locale": {"en", "nb"},
		"roles":  {`["viewer"]`, `["viewer","oauth_admin"]`},
	}
	if e.Action != account.ActionUserUpdated || e.TargetID != u.ID || strings.Join(e.Changes, " ") != "email locale name roles" {
		t.Errorf("event %+v", e)
	}
	for k, v := range want {
		if e.Before[k] != v[0] || e.After[k] != v[1] {
			t.Errorf("%s: %q → %q, want %q → %q", k, e.Before[k], e.After[k], v[0], v[1])
		}
	}

	// Nothing changed, nothing recorded.
	seq := e.Seq
	if _, err := f.users.Update(ctx, f.op, u.ID, account.UserChanges{Name: ptr("Ana B."), Locale: ptr("nb")}); err != nil {
		t.Fatal(err)
	}
	if lastEvent(t, f).Seq != seq {
		t.Error("an update that changed nothing was recorded")
	}

	if _, err := f.users.SetStatus(ctx, f.op, u.ID, account.UserDisabled); err != nil {
		t.Fatal(err)
	}
	if e := lastEvent(t, f); e.Before["status"] != "active" || e.After["status"] != "disabled" || strings.Join(e.Changes, " ") != "status" {
		t.Errorf("disable: %v, %v → %v", e.Changes, e.Before, e.After)
	}
	if _, err := f.users.SetStatus(ctx, f.op, u.ID, account.UserActive); err != nil {
		t.Fatal(err)
	}
	if e := lastEvent(t, f); e.Before["status"] != "disabled" || e.After["status"] != "active" {
		t.Errorf("enable: %v → %v", e.Before, e.After)
	}

	const password = "correct horse battery staple"
	if err := f.users.SetPassword(ctx, f.op, u.ID, password); err != nil {
		t.Fatal(err)
	}
	pw := lastEvent(t, f)
	if strings.Join(pw.Changes, " ") != "password" || pw.Before != nil || pw.After != nil {
		t.Errorf("password event: %v, %v → %v", pw.Changes, pw.Before, pw.After)
	}
	stored, err := f.db.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	es, _ := f.db.AuditEvents(ctx, "ten_home", 0, 1000)
	for _, e := range es {
		for _, m := range []map[string]string{e.Before, e.After, e.Details} {
			for k, v := range m {
				if strings.Contains(v, password) || strings.Contains(v, stored.PasswordHash) {
					t.Errorf("event %d: %s holds the password or its hash", e.Seq, k)
				}
			}
		}
	}
	if n, err := audit.VerifyChain(ctx, f.db, "ten_home", 0); err != nil || n != int64(len(es)) {
		t.Errorf("VerifyChain = %d, %v", n, err)
	}
}

func TestUpdateUserRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ana, err := f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Roles: []string{authz.SuperAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := f.users.Create(ctx, f.op, account.NewUser{Email: "bob@example.com", Roles: []string{authz.Viewer}})
	if err != nil {
		t.Fatal(err)
	}
	before := lastEvent(t, f).Seq
	self := authz.Actor{Kind: authz.KindUser, ID: ana.ID, TenantID: "ten_home", Roles: []string{authz.SuperAdmin}}
	for _, tc := range []struct {
		name  string
		actor authz.Actor
		id    string
		p     account.UserChanges
		field string
	}{
		{"taken email", f.op, bob.ID, account.UserChanges{Email: ptr("ANA@example.com")}, "email"},
		{"bad email", f.op, bob.ID, account.UserChanges{Email: ptr("")}, "email"},
		{"bad locale", f.op, bob.ID, account.UserChanges{Locale: ptr("xx")}, "locale"},
		{"bad name", f.op, bob.ID, account.UserChanges{Name: ptr("a\x00b")}, "name"},
		{"unknown role", f.op, bob.ID, account.UserChanges{Roles: ptr([]string{"wizard"})}, "roles"},
		{"own roles", self, ana.ID, account.UserChanges{Roles: ptr([]string{})}, "roles"},
	} {
		_, err := f.users.Update(ctx, tc.actor, tc.id, tc.p)
		var ve *errs.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != tc.field {
			t.Errorf("%s: %v, want a field error on %s", tc.name, err, tc.field)
		}
	}
	viewer := authz.Actor{Kind: authz.KindUser, ID: bob.ID, TenantID: "ten_home", Roles: []string{authz.Viewer}}
	if _, err := f.users.Update(ctx, viewer, ana.ID, account.UserChanges{Name: ptr("x")}); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("a viewer updated a user: %v", err)
	}
	if lastEvent(t, f).Seq != before {
		t.Error("a refused update was recorded")
	}
}
