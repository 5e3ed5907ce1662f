package changes_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/token"
)

var _ changes.CatalogCache = (*authz.Catalogs)(nil)

// TestCatalogsFollowAnotherProcess: a custom role created by another
// process reaches this one's cached catalog at the next poll, while the
// cache would otherwise keep the old one for an hour.
func TestCatalogsFollowAnotherProcess(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	feed := &changes.Poller{Log: st}
	if err := feed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	catalogs := &authz.Catalogs{Source: st, TTL: time.Hour}
	caches := &changes.Caches{Clients: &client.Authenticator{Repo: st}, Revocations: &token.Revocations{}, Tokens: st,
		ReloadKeys: func(context.Context, string) error { return nil }, Catalogs: catalogs}
	if cat, err := catalogs.Catalog(ctx, "ten_a"); err != nil || cat.ValidRole("auditor") {
		t.Fatalf("before: %v", err)
	}
	roles := &account.Roles{Repo: st}
	if _, err := roles.Create(ctx, authz.SystemActor("ten_a"), account.NewRole{Name: "auditor",
		Permissions: []authz.Permission{authz.AuditView}}); err != nil {
		t.Fatal(err)
	}
	if cat, _ := catalogs.Catalog(ctx, "ten_a"); cat.ValidRole("auditor") {
		t.Fatal("the cache was not stale: the test proves nothing")
	}
	if err := feed.Step(ctx, caches); err != nil {
		t.Fatal(err)
	}
	if cat, err := catalogs.Catalog(ctx, "ten_a"); err != nil || !cat.ValidRole("auditor") {
		t.Fatalf("after the poll the catalog lacks the new role: %v", err)
	}
}
