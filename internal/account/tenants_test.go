package account_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

func TestCreateTenant(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	svc := &account.Tenants{Repo: db, Now: func() time.Time { return now }}
	op := authz.OperatorActor("ten_home", "alice")
	events := func() []audit.Event {
		t.Helper()
		es, err := db.AuditEvents(ctx, "ten_home", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}

	// Only tenants:manage may: an OAuth admin may not, and nothing is written.
	admin := authz.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_home", Roles: []string{authz.OAuthAdmin}}
	if _, err := svc.Create(ctx, admin, account.NewTenant{ID: "ten_x", Name: "X"}); !errors.Is(err, errs.ErrForbidden) {
		t.Fatalf("an OAuth admin made a tenant: %v", err)
	}
	tn, err := svc.Create(ctx, op, account.NewTenant{ID: "ten_acme", Name: "  Acme Corp  "})
	if err != nil {
		t.Fatal(err)
	}
	if tn.Slug != "acme-corp" || tn.Name != "Acme Corp" || tn.Default {
		t.Fatalf("created %+v", tn)
	}
	if got, err := db.TenantBySlug(ctx, "acme-corp"); err != nil || got.ID != "ten_acme" {
		t.Fatalf("stored: %+v, %v", got, err)
	}
	es := events()
	if len(es) != 1 || es[0].Action != account.ActionTenantCreated || es[0].TargetID != "ten_acme" ||
		es[0].ActorID != "cli:alice" || es[0].Details["slug"] != "acme-corp" {
		t.Fatalf("audit events: %+v", es)
	}

	// Field errors, and a taken slug, write nothing: not the tenant, not
	// its event.
	for _, p := range []account.NewTenant{
		{ID: "ten_y", Name: ""},
		{ID: "ten_y", Name: "日本"},
		{ID: "ten_y", Name: "Y", Slug: "Not_A_Slug"},
		{ID: "", Name: "Y"},
		{ID: "ten_y", Name: "Acme, Corp"}, // the same slug
	} {
		if _, err := svc.Create(ctx, op, p); errs.Fields(err) == nil {
			t.Errorf("%+v: %v, want field errors", p, err)
		}
	}
	if n := len(events()); n != 1 {
		t.Fatalf("%d events after refused creates, want 1", n)
	}
	if _, err := db.Tenant(ctx, "ten_y"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("a refused create stored a tenant: %v", err)
	}
}
