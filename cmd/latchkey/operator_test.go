package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/store"
)

// Only serve and migrate create or provision a database: every other
// command run where there is none says where it looked, and makes nothing.
func TestCLINeverCreatesADatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "latchkey.db")
	c := &cliAt{t: t, env: testEnv(map[string]string{"LATCHKEY_DATABASE_URL": db})}
	for _, args := range [][]string{
		{"clients", "list"},
		{"clients", "create", "--name", "x", "--grant-type", "client_credentials"},
		{"clients", "show", "lkc_x"},
	} {
		_, errOut, code := c.run(args...)
		if code != 1 || !strings.Contains(errOut, db) || !strings.Contains(errOut, "--database") ||
			!strings.Contains(errOut, "latchkey migrate") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
		if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s", args, db)
		}
	}
	// A database with the schema but nothing provisioned: no tenant to act
	// in, and the command says how to get one instead of provisioning.
	if _, err := store.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := c.run("clients", "list")
	if code != 1 || !strings.Contains(errOut, "no tenant") || !strings.Contains(errOut, "provisions") {
		t.Errorf("empty database: exit %d, %q", code, errOut)
	}
	st, err := store.OpenExisting(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ts, err := st.Tenants(context.Background()); err != nil || len(ts) != 0 {
		t.Fatalf("clients list provisioned: %v %v", ts, err)
	}
}

// The CLI acts as a named operator in a tenant it checked.
func TestCLIActsAsNamedOperator(t *testing.T) {
	c := newCLI(t)
	_, errOut, code := c.run("clients", "list", "--tenant", "ten_typo")
	if code != 1 || !strings.Contains(errOut, `no tenant "ten_typo"`) {
		t.Fatalf("unknown tenant: exit %d, %q", code, errOut)
	}
	var created struct {
		ClientID  string `json:"client_id"`
		TenantID  string `json:"tenant_id"`
		CreatedBy string `json:"created_by"`
	}
	c.json(&created, "clients", "create", "--name", "By an operator", "--grant-type", "client_credentials")
	if !strings.HasPrefix(created.CreatedBy, "cli:") || created.CreatedBy == "cli:" {
		t.Fatalf("created_by %q, want cli:<os user>", created.CreatedBy)
	}
	// The same tenant, named explicitly, finds it.
	var shown struct {
		ClientID string `json:"client_id"`
	}
	c.json(&shown, "clients", "show", created.ClientID, "--tenant", created.TenantID)
	if shown.ClientID != created.ClientID {
		t.Fatalf("show in tenant %s: %+v", created.TenantID, shown)
	}
	st, err := store.OpenExisting(context.Background(), c.env.lookup("LATCHKEY_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.AuditEvents(context.Background(), created.TenantID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	if last.TargetID != created.ClientID || last.ActorKind != authz.KindCLI || last.ActorID != created.CreatedBy || last.ActorName == "" {
		t.Fatalf("audit event of the CLI's create: %+v", last)
	}
}
