package admin

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
)

// users:manage in one division does not reach a super admin of that
// division: the API answers 403 and changes nothing.
func TestDivisionUserManagerCannotChangeASuperAdmin(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	system := authz.SystemActor(h.tenant)
	if _, err := h.api.Roles.Create(ctx, system, account.NewRole{Name: "hr", Permissions: []authz.Permission{authz.UsersManage}}); err != nil {
		t.Fatal(err)
	}
	hr, err := h.api.Users.Create(ctx, system, account.NewUser{Email: "hr@example.com", Roles: []string{"hr@home"}})
	if err != nil {
		t.Fatal(err)
	}
	e := h.tokens["tok-"+authz.SuperAdmin]
	e.tok.Subject = hr.ID
	h.tokens["tok-hr"] = e
	root := h.users[authz.SuperAdmin]
	path := Prefix + "/users/" + root.ID
	if r := h.do(request{method: "PATCH", path: path, token: "tok-hr", contentType: "application/merge-patch+json",
		body: map[string]any{"email": "gone@attacker.example"}, pattern: "/users/{id}"}); r.status != 403 {
		t.Errorf("re-emailing the super admin: %d %s", r.status, r.body)
	}
	if r := h.do(request{method: "POST", path: path + "/disable", token: "tok-hr", pattern: "/users/{id}/disable"}); r.status != 403 {
		t.Errorf("disabling the super admin: %d %s", r.status, r.body)
	}
	if got, err := h.db.User(ctx, root.ID); err != nil || !got.Active() || got.Email != root.Email {
		t.Errorf("the super admin was changed: %+v, %v", got, err)
	}
	// A user holding nothing the manager lacks is theirs to manage.
	if r := h.do(request{method: "POST", path: Prefix + "/users/" + h.users["none"].ID + "/disable", token: "tok-hr"}); r.status != 200 {
		t.Errorf("disabling a user without roles: %d %s", r.status, r.body)
	}
}
