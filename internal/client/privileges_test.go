package client_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// What a client's secret carries is what its roles and scopes grant: no
// one may put on a client, or take off it, more than they hold.
func TestNoPrivilegeThroughAClient(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	admin := client.Actor{Kind: authz.KindUser, ID: "usr_2", TenantID: "ten_a", Roles: []string{authz.OAuthAdmin}}

	// Scopes naming permissions the actor lacks.
	p := cc("Reach")
	p.Scopes = []string{"oauth:client:view", "users:manage"}
	if _, _, err := f.svc.Create(ctx, admin, p); fields(err) != "scopes" {
		t.Errorf("a permission scope the creator lacks: %v", err)
	}
	p.Scopes = []string{"oauth:client:view"}
	mine, _, err := f.svc.Create(ctx, admin, p)
	if err != nil {
		t.Fatalf("a permission scope the creator holds: %v", err)
	}
	more := []string{"oauth:client:view", "tenants:manage"}
	if _, err := f.svc.Update(ctx, admin, mine.ID, client.UpdateParams{Scopes: &more}); fields(err) != "scopes" {
		t.Errorf("adding a permission scope the editor lacks: %v", err)
	}

	// A super admin's client, capped by a viewer owner.
	sp := cc("Powerful")
	sp.Roles, sp.OwnerUserID = []string{authz.SuperAdmin}, "usr_1"
	strong, _, err := f.svc.Create(ctx, f.sys, sp)
	if err != nil {
		t.Fatal(err)
	}
	none := ""
	if _, err := f.svc.Update(ctx, admin, strong.ID, client.UpdateParams{OwnerUserID: &none}); fields(err) != "owner_user_id" {
		t.Errorf("lifting the owner cap of a super admin client: %v", err)
	}
	if _, err := f.svc.RotateSecret(ctx, admin, strong.ID, client.RotateParams{}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("rotating a client whose roles the actor lacks: %v", err)
	}
	if _, err := f.svc.AddSecret(ctx, admin, strong.ID, client.AddSecretParams{}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("adding a secret to a client whose roles the actor lacks: %v", err)
	}
	// Renaming it, deactivating it and revoking a secret give nothing away.
	name := "Powerful, renamed"
	if _, err := f.svc.Update(ctx, admin, strong.ID, client.UpdateParams{Name: &name}); err != nil {
		t.Errorf("renaming: %v", err)
	}
	// The super admin may do all of it.
	if _, err := f.svc.RotateSecret(ctx, f.sys, strong.ID, client.RotateParams{}); err != nil {
		t.Errorf("a super admin rotating: %v", err)
	}
}
