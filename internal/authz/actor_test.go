package authz

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
)

func TestActorDivisions(t *testing.T) {
	a := Actor{Kind: KindUser, ID: "usr_1", TenantID: "ten_1", Roles: []string{"oauth_admin@d1", Viewer}}
	if !a.Can(ClientView) || a.Can(ClientEdit) {
		t.Error("Can is tenant-wide")
	}
	if !a.CanIn(ClientEdit, "d1") || a.CanIn(ClientEdit, "d2") || !a.CanIn(ClientView, "d2") {
		t.Error("CanIn")
	}
	if all, ids := a.Divisions(ClientEdit); all || !slices.Equal(ids, []string{"d1"}) {
		t.Errorf("Divisions(edit) = %v %v", all, ids)
	}
	if all, _ := a.Divisions(ClientView); !all {
		t.Error("Divisions(view) is tenant-wide")
	}
	if err := a.Require(ClientEdit); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("Require(edit): %v", err)
	}
	if err := a.RequireSome(ClientEdit); err != nil {
		t.Errorf("RequireSome(edit): %v", err)
	}
	if err := a.RequireSome(UsersManage); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("RequireSome(users): %v", err)
	}
	if err := a.RequireIn(ClientEdit, "d2"); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("RequireIn(edit, d2): %v", err)
	}
	if a.IsSuperAdmin() || !a.CanAssign("oauth_admin@d1") || a.CanAssign("oauth_admin@d2") || a.CanAssign(OAuthAdmin) {
		t.Error("CanAssign of a division admin")
	}
	if (Actor{Roles: []string{SuperAdmin}}).Can(ClientView) {
		t.Error("an actor of no tenant holds nothing")
	}
}

func TestActorCustomRoles(t *testing.T) {
	cat := NewCatalog([]Role{{Name: "auditor", Permissions: []Permission{AuditView}}})
	a := Actor{Kind: KindUser, ID: "usr_1", TenantID: "ten_1", Roles: []string{"auditor"}}
	if !a.NeedsCatalog() || a.Can(AuditView) {
		t.Fatal("without its catalog, a custom role grants nothing")
	}
	a.Catalog = cat
	if a.NeedsCatalog() || !a.Can(AuditView) || a.Can(ClientView) {
		t.Fatal("with its catalog, auditor grants audit:view alone")
	}
	if (Actor{TenantID: "t", Roles: []string{Viewer, "oauth_admin@d"}}).NeedsCatalog() {
		t.Error("built-in roles need no catalog")
	}
}

func TestActorLimit(t *testing.T) {
	a := Actor{Kind: KindClient, ID: "lkc_1", TenantID: "ten_1", Roles: []string{SuperAdmin},
		Limit: []Permission{ClientView, AuditView}}
	if !a.Can(ClientView) || a.Can(ClientAdd) || !a.CanIn(AuditView, "d1") || a.CanIn(UsersManage, "d1") {
		t.Error("Limit caps Can and CanIn")
	}
	if all, ids := a.Divisions(ClientAdd); all || ids != nil {
		t.Error("Limit caps Divisions")
	}
	if a.IsSuperAdmin() {
		t.Error("a limited super admin is not one")
	}
	if !a.CanAssign(Viewer) || a.CanAssign(OAuthAdmin) {
		t.Error("a limited actor assigns only roles within its limit")
	}
	// A limit never adds what the roles do not give.
	v := Actor{TenantID: "ten_1", Roles: []string{Viewer}, Limit: []Permission{ClientView, ClientAdd}}
	if v.Can(ClientAdd) || !v.Can(ClientView) {
		t.Error("Limit added a permission")
	}
	// An empty, non-nil limit allows nothing.
	none := Actor{TenantID: "ten_1", Roles: []string{SuperAdmin}, Limit: []Permission{}}
	if none.Can(ClientView) {
		t.Error("an empty limit allowed something")
	}
}

type countingSource struct {
	n     atomic.Int32
	roles []Role
}

func (s *countingSource) CustomRoles(context.Context, string) ([]Role, error) {
	s.n.Add(1)
	return s.roles, nil
}

func TestCatalogs(t *testing.T) {
	ctx := context.Background()
	src := &countingSource{roles: []Role{{Name: "auditor", Permissions: []Permission{AuditView}}}}
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Catalogs{Source: src, TTL: time.Minute, Now: func() time.Time { return now }}
	for range 3 {
		cat, err := c.Catalog(ctx, "ten_1")
		if err != nil || !cat.ValidRole("auditor") {
			t.Fatal(cat, err)
		}
	}
	if src.n.Load() != 1 {
		t.Fatalf("read %d times, want 1", src.n.Load())
	}
	c.Invalidate("ten_1")
	c.Catalog(ctx, "ten_1")
	c.Catalog(ctx, "ten_2")
	if src.n.Load() != 3 {
		t.Fatalf("after Invalidate: read %d times, want 3", src.n.Load())
	}
	c.InvalidateAll()
	c.Catalog(ctx, "ten_2")
	now = now.Add(time.Minute)
	c.Catalog(ctx, "ten_2")
	if src.n.Load() != 5 {
		t.Fatalf("after InvalidateAll and the TTL: read %d times, want 5", src.n.Load())
	}
}

func TestCatalogsUncached(t *testing.T) {
	src := &countingSource{}
	c := &Catalogs{Source: src, TTL: -1}
	c.Catalog(context.Background(), "ten_1")
	c.Catalog(context.Background(), "ten_1")
	if src.n.Load() != 2 {
		t.Fatalf("a negative TTL cached: read %d times", src.n.Load())
	}
}

func TestActorOwner(t *testing.T) {
	// A client holding oauth_admin tenant-wide, owned by a user who holds
	// it in emea only: it acts in emea only.
	a := Actor{Kind: KindClient, ID: "lkc_1", TenantID: "ten_1", Roles: []string{OAuthAdmin}, Owner: []string{"oauth_admin@emea"}}
	if a.Can(ClientRotate) || !a.CanIn(ClientRotate, "emea") || a.CanIn(ClientRotate, HomeDivision) {
		t.Error("Owner caps Can and CanIn")
	}
	if all, ids := a.Divisions(ClientRotate); all || !slices.Equal(ids, []string{"emea"}) {
		t.Errorf("Divisions(rotate) = %v %v", all, ids)
	}
	if err := a.RequireSome(ClientRotate); err != nil {
		t.Errorf("RequireSome(rotate): %v", err)
	}
	if err := a.Require(ClientRotate); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("Require(rotate): %v", err)
	}
	if a.CanAssign(OAuthAdmin) || !a.CanAssign("oauth_admin@emea") || a.CanAssign("oauth_admin@home") {
		t.Error("Owner caps CanAssign")
	}

	// The owner's grants never add to the actor's own.
	v := Actor{TenantID: "ten_1", Roles: []string{"viewer@emea"}, Owner: []string{SuperAdmin}}
	if v.Can(ClientView) || v.CanIn(ClientAdd, "emea") || !v.CanIn(ClientView, "emea") || v.CanAssign(Viewer) || v.IsSuperAdmin() {
		t.Error("Owner added to the actor's roles")
	}
	if all, ids := v.Divisions(ClientView); all || !slices.Equal(ids, []string{"emea"}) {
		t.Errorf("Divisions(view) = %v %v", all, ids)
	}

	// A super admin client is one only if its owner is.
	root := Actor{TenantID: "ten_1", Roles: []string{SuperAdmin}, Owner: []string{Viewer}}
	if root.IsSuperAdmin() || !root.Can(ClientView) || root.Can(UsersManage) || !root.CanAssign(Viewer) || root.CanAssign(OAuthAdmin) {
		t.Error("a super admin capped by a viewer")
	}
	root.Owner = []string{SuperAdmin}
	if !root.IsSuperAdmin() || !root.CanAssign(OAuthAdmin) {
		t.Error("a super admin owned by one")
	}

	// Divisions of both lists meet: nothing when they do not.
	split := Actor{TenantID: "ten_1", Roles: []string{"oauth_admin@d1", "oauth_admin@d2"}, Owner: []string{"viewer@d2", "viewer@d3"}}
	if all, ids := split.Divisions(ClientView); all || !slices.Equal(ids, []string{"d2"}) {
		t.Errorf("Divisions(view) = %v %v", all, ids)
	}
	if err := split.RequireSome(ClientEdit); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("RequireSome(edit): %v", err)
	}

	// An empty, non-nil Owner allows nothing; a nil one caps nothing.
	gone := Actor{TenantID: "ten_1", Roles: []string{SuperAdmin}, Owner: []string{}}
	if gone.Can(ClientView) || gone.RequireSome(ClientView) == nil || gone.CanAssign(Viewer) || gone.IsSuperAdmin() {
		t.Error("an empty Owner allowed something")
	}
	if free := (Actor{TenantID: "ten_1", Roles: []string{SuperAdmin}}); !free.IsSuperAdmin() {
		t.Error("a nil Owner capped the actor")
	}

	// The owner's custom roles resolve through the actor's Catalog.
	c := Actor{TenantID: "ten_1", Roles: []string{OAuthAdmin}, Owner: []string{"auditor@emea"}}
	if !c.NeedsCatalog() || c.CanIn(AuditView, "emea") {
		t.Error("without its catalog, the owner's custom role grants nothing")
	}
	c.Catalog = NewCatalog([]Role{{Name: "auditor", Permissions: []Permission{AuditView}}})
	if c.NeedsCatalog() || !c.CanIn(AuditView, "emea") || c.CanIn(ClientView, "emea") || c.CanIn(AuditView, HomeDivision) {
		t.Error("with its catalog, the owner's auditor@emea caps the client to audit:view in emea")
	}
}
