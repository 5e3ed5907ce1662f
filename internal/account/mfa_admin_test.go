package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
)

// divisionUsers creates the division emea and a user for each grant, by
// grant.
func divisionUsers(t *testing.T, f *mfaFixture, grants ...string) map[string]*account.User {
	t.Helper()
	ctx := context.Background()
	if _, err := f.divisions().Create(ctx, f.op, account.NewDivision{ID: "emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*account.User{}
	for i, g := range grants {
		u, err := f.users.Create(ctx, f.op, account.NewUser{Email: "u" + string(rune('a'+i)) + "@example.com",
			Password: "correct horse battery", Roles: []string{g}})
		if err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		out[g] = u
	}
	return out
}

// TestConsoleStepCountsDivisionAdmins: an admin is anyone whose grants
// reach a console permission somewhere, so a role held in one division
// must prove a second factor where the tenant requires it of admins; a
// grant that opens no console page (a resource server's) does not.
func TestConsoleStepCountsDivisionAdmins(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	roles := &account.Roles{Repo: f.db, Now: f.mfa.Now}
	if _, err := roles.Create(ctx, f.op, account.NewRole{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}}); err != nil {
		t.Fatal(err)
	}
	users := divisionUsers(t, f, "oauth_admin@emea", "viewer@emea", "auditor@emea", authz.ResourceServer)
	tenants := &account.Tenants{Repo: f.db, Now: f.mfa.Now}
	if _, err := tenants.SetRequireAdminMFA(ctx, f.op, "ten_home", true); err != nil {
		t.Fatal(err)
	}
	pwd := &account.Session{Methods: []string{"pwd"}}
	for grant, want := range map[string]account.Step{
		"oauth_admin@emea":   account.StepEnrol,
		"viewer@emea":        account.StepEnrol,
		"auditor@emea":       account.StepEnrol,
		authz.ResourceServer: account.StepNone,
	} {
		got, err := f.mfa.ConsoleStep(ctx, users[grant], pwd)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %v, want %v", grant, got, want)
		}
	}
}

// TestSignInAuditMarksDivisionAdmins: the sign-in events of an admin
// whose role is limited to one division are marked as an admin's, as a
// tenant-wide admin's are.
func TestSignInAuditMarksDivisionAdmins(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	u := divisionUsers(t, f, "oauth_admin@emea")["oauth_admin@emea"]
	if _, _, err := f.sessions.Start(ctx, u, "", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	_, err := f.sessions.CheckPassword(ctx, "ten_home", u.Email, "wrong horse battery")
	var fail *account.LoginFailure
	if !errors.As(err, &fail) {
		t.Fatalf("a wrong password: %v", err)
	}
	if err := f.sessions.LoginFailed(ctx, "ten_home", u.Email, "198.51.100.2", fail); err != nil {
		t.Fatal(err)
	}
	es := f.events(t, account.ActionLogin, account.ActionLoginFailed)
	if len(es) != 2 {
		t.Fatalf("%d sign-in events, want 2: %+v", len(es), es)
	}
	for _, e := range es {
		if e.Details["admin"] != "true" {
			t.Errorf("%s of a division admin is not marked as an admin's: %v", e.Action, e.Details)
		}
	}
}
