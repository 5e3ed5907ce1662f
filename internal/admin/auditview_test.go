package admin

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
)

func TestAuditEventJSON(t *testing.T) {
	actor := authz.Actor{Kind: authz.KindUser, ID: "usr_1", Name: "Ana", TenantID: "ten_a", SourceAddr: "192.0.2.1", RequestID: "req_1"}
	e := audit.New(actor, time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.FixedZone("x", 3600)), "client.updated", "client", "lkc_1")
	e.Changes, e.Before, e.After = []string{"name"}, map[string]string{"name": "Old"}, map[string]string{"name": "New"}
	audit.Seal(e, 0, "")
	b, err := json.Marshal(NewAuditEvent(e))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2030-01-02T02:04:05.678901Z","tenant_id":"ten_a","seq":1,"actor_kind":"user","actor_id":"usr_1",` +
		`"actor_name":"Ana","action":"client.updated","target_type":"client","target_id":"lkc_1","result":"success",` +
		`"source_address":"192.0.2.1","request_id":"req_1","changes":["name"],"before":{"name":"Old"},"after":{"name":"New"},` +
		`"details":{},"prev_hash":"","hash":"` + e.Hash + `"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	// An event without changes has the same shape: empty, never null.
	bare := audit.New(authz.SystemActor("ten_a"), e.At, "client.created", "client", "lkc_2")
	audit.Seal(bare, 1, e.Hash)
	var m map[string]any
	b, _ = json.Marshal(NewAuditEvent(bare))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"changes", "before", "after", "details"} {
		if m[k] == nil {
			t.Errorf("%s is null in %s", k, b)
		}
	}
}
