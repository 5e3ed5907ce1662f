package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

// exported runs "audit export" with args and returns its lines, each
// checked to be one JSON event with every field present.
func (c *cliAt) exported(args ...string) []admin.AuditEvent {
	c.t.Helper()
	out, errOut, code := c.run(append([]string{"audit", "export"}, args...)...)
	if code != 0 || errOut != "" {
		c.t.Fatalf("audit export %v: exit %d, %s", args, code, errOut)
	}
	var events []admin.AuditEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &fields); err != nil {
			c.t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"time", "tenant_id", "seq", "actor_kind", "actor_id", "actor_name", "action",
			"target_type", "target_id", "result", "source_address", "request_id", "changes", "before", "after",
			"details", "prev_hash", "hash"} {
			if v, ok := fields[k]; !ok || string(v) == "null" {
				c.t.Errorf("line %q has no %s", sc.Text(), k)
			}
		}
		var e admin.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			c.t.Fatal(err)
		}
		events = append(events, e)
	}
	return events
}

// rawDB opens the CLI's SQLite file beside the store, with the audit
// trail's append-only triggers dropped: what someone with the file could
// do.
func (c *cliAt) rawDB() *sql.DB {
	c.t.Helper()
	raw, err := sql.Open("sqlite", c.env.lookup("LATCHKEY_DATABASE_URL"))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { raw.Close() })
	for _, q := range []string{"DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"} {
		if _, err := raw.Exec(q); err != nil {
			c.t.Fatal(err)
		}
	}
	return raw
}

func TestCLIAuditVerifyAndExport(t *testing.T) {
	c := newCLI(t)
	var created clientJSON
	c.json(&created, "clients", "create", "--name", "Billing sync", "--grant-type", "client_credentials", "--scope", "read")
	c.json(&clientJSON{}, "clients", "update", created.ClientID, "--name", "Billing sync v2", "--scope", "read", "--scope", "write")
	var rotated clientJSON
	c.json(&rotated, "clients", "rotate-secret", created.ClientID)

	out, errOut, code := c.run("audit", "verify")
	m := regexp.MustCompile(`^audit chain of tenant default verified: (\d+) events\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil || errOut != "" {
		t.Fatalf("audit verify: exit %d, %q %q", code, out, errOut)
	}

	events := c.exported("--since", "1h")
	if fmt.Sprint(len(events)) != m[1] {
		t.Errorf("exported %d events, verified %s", len(events), m[1])
	}
	var update *admin.AuditEvent
	for i, e := range events {
		if e.Seq != int64(i+1) || (i > 0 && e.PrevHash != events[i-1].Hash) || e.TenantID != events[0].TenantID {
			t.Errorf("line %d: seq %d, prev %q; not the chain in order", i+1, e.Seq, e.PrevHash)
		}
		if e.Action == client.ActionUpdated && e.TargetID == created.ClientID {
			update = &events[i]
		}
	}
	if update == nil {
		t.Fatal("the update was not exported")
	}
	if update.Before["name"] != "Billing sync" || update.After["name"] != "Billing sync v2" ||
		update.Before["scopes"] != `["read"]` || update.After["scopes"] != `["read","write"]` ||
		strings.Join(update.Changes, " ") != "name scopes" || !strings.HasPrefix(update.ActorID, "cli:") {
		t.Errorf("the update event: %+v", update)
	}
	all, _, _ := c.run("audit", "export", "--since", "1h")
	for _, secret := range []string{created.ClientSecret, rotated.ClientSecret} {
		if secret == "" || strings.Contains(all, secret) {
			t.Fatalf("a secret (%q) reached the export", secret)
		}
	}

	// A window: --until before the first event exports nothing; a future
	// --since neither.
	if es := c.exported("--since", "2000-01-01", "--until", "2000-01-02T00:00:00Z"); len(es) != 0 {
		t.Errorf("an old window exported %d events", len(es))
	}
	if es := c.exported("--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(es) != 0 {
		t.Errorf("a future --since exported %d events", len(es))
	}

	var verified struct {
		Tenants []chainJSON `json:"tenants"`
	}
	c.json(&verified, "audit", "verify")
	if len(verified.Tenants) != 1 || !verified.Tenants[0].Verified || verified.Tenants[0].Slug != "default" ||
		fmt.Sprint(verified.Tenants[0].Events) != m[1] || verified.Tenants[0].Broken != nil {
		t.Errorf("audit verify --json: %+v", verified)
	}
}

func TestCLIAuditMistakes(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "export"}, "--since is required"},
		{[]string{"audit", "export", "--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"audit", "export", "--since", "-3h"}, `--since "-3h"`},
		{[]string{"audit", "export", "--since", "1h", "--until", "2h"}, "--until must be later than --since"},
		{[]string{"audit", "verify", "--all-tenants", "--tenant", "default"}, "--all-tenants"},
		{[]string{"audit", "verify", "extra"}, "unexpected argument"},
		{[]string{"audit", "frobnicate"}, "unknown command"},
	} {
		if _, errOut, code := c.run(tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, errOut, code := c.run("audit", "verify", "--tenant", "nope"); code != 1 || !strings.Contains(errOut, `no tenant "nope"`) {
		t.Errorf("unknown tenant: exit %d, %q", code, errOut)
	}
}

// A SQLite file whose trail was altered fails verification, exit 1,
// naming the first broken link.
func TestCLIAuditVerifyTampered(t *testing.T) {
	c := newCLI(t)
	for i := range 3 {
		c.json(&clientJSON{}, "clients", "create", "--name", fmt.Sprint("Client ", i), "--grant-type", "client_credentials")
	}
	var tenants []tenantJSON
	c.json(&tenants, "tenants", "list")
	if len(tenants) != 1 {
		t.Fatalf("tenants: %+v", tenants)
	}
	home := tenants[0].ID
	n := len(c.exported("--since", "1h"))
	if n < 4 {
		t.Fatalf("only %d events to tamper with", n)
	}
	raw := c.rawDB()

	if _, err := raw.Exec(`UPDATE audit_events SET actor_name = 'mallory' WHERE tenant_id = ? AND seq = 3`, home); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := c.run("audit", "verify")
	if code != 1 || out != "" || !strings.Contains(errOut, "audit chain of tenant default is broken: event 3 was altered (2 events before it verified)") {
		t.Errorf("an edited event: exit %d, %q %q", code, out, errOut)
	}
	var res struct {
		Tenants []chainJSON `json:"tenants"`
	}
	out, _, code = c.run("audit", "verify", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || len(res.Tenants) != 1 || res.Tenants[0].Verified ||
		res.Tenants[0].Broken == nil || res.Tenants[0].Broken.Seq != 3 || res.Tenants[0].Broken.Kind != "altered" ||
		res.Tenants[0].Events != 2 {
		t.Errorf("--json of a broken chain: exit %d, %s", code, out)
	}

	// A removed event before the altered one is the first broken link.
	if _, err := raw.Exec(`DELETE FROM audit_events WHERE tenant_id = ? AND seq = 2`, home); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := c.run("audit", "verify"); code != 1 || !strings.Contains(errOut, "event 2 is missing") {
		t.Errorf("a removed event: exit %d, %q", code, errOut)
	}

	// --all-tenants checks each: the untouched one verifies, and the
	// broken one still fails the command.
	c.json(&struct{}{}, "tenants", "create", "--name", "Acme", "--slug", "acme")
	out, errOut, code = c.run("audit", "verify", "--all-tenants")
	if code != 1 || !strings.Contains(out, "audit chain of tenant acme verified: ") ||
		!strings.Contains(errOut, "audit chain of tenant default is broken: event 2 is missing") {
		t.Errorf("--all-tenants: exit %d, %q %q", code, out, errOut)
	}
	if out, _, code := c.run("audit", "verify", "--tenant", "acme"); code != 0 || !strings.HasPrefix(out, "audit chain of tenant acme verified") {
		t.Errorf("the other tenant: exit %d, %q", code, out)
	}
}

// The export reads the trail a batch at a time: a trail longer than
// several batches comes out whole and in order.
func TestCLIAuditExportInBatches(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	st, err := store.OpenExisting(ctx, c.env.lookup("LATCHKEY_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	home, err := st.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.ListAudit(ctx, audit.Query{TenantID: home.ID, Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	const extra = 2*exportBatch + 17
	now := time.Now()
	if err := st.InTx(ctx, func(tx client.Tx) error {
		for i := range extra {
			e := audit.New(authz.OperatorActor(home.ID, "alice"), now, client.ActionUpdated, audit.TargetClient, fmt.Sprint("lkc_", i))
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	events := c.exported("--since", "1h")
	if want := len(before.Events) + extra; len(events) != want {
		t.Fatalf("exported %d events, want %d", len(events), want)
	}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d", i+1, e.Seq)
		}
	}
	if out, _, code := c.run("audit", "verify"); code != 0 || !strings.Contains(out, fmt.Sprintf(": %d events", len(events))) {
		t.Errorf("audit verify: exit %d, %q", code, out)
	}
}

func TestCLIAuditHelp(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"audit", "--help"}, {"help", "audit"}, {"audit", "verify", "--help"}, {"audit", "export", "--help"}} {
		out, errOut, code := c.run(args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	out, _, _ := c.run("audit", "verify", "--help")
	for _, s := range []string{"--all-tenants", "--tenant", "Exit status", "event 17 was altered"} {
		if !strings.Contains(out, s) {
			t.Errorf("audit verify --help does not mention %q", s)
		}
	}
	out, _, _ = c.run("audit", "export", "--help")
	for _, s := range []string{"--since", "--until", "RFC 3339", "24h", "prev_hash"} {
		if !strings.Contains(out, s) {
			t.Errorf("audit export --help does not mention %q", s)
		}
	}
}
