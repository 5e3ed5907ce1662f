//go:build linux

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// A safe rotation through the running server: rotate with a grace
// period, use the old secret, see its last use and source address in the
// API and in "clients show", finish the rotation, and the old secret is
// refused while the new one works.
func TestFinishRotationEndToEnd(t *testing.T) { forEachBackend(t, testFinishRotationEndToEnd) }

func testFinishRotationEndToEnd(t *testing.T, db database) {
	kv := map[string]string{"LATCHKEY_ADMIN_CLIENT_SECRET": faultAdminSecret}
	first, stop := launch(t, db, kv)
	ctx := context.Background()
	id, oldSecret := first.createClient(t, "--name", "Nightly export", "--grant-type", "client_credentials")
	out, code := first.cli(t, "clients", "rotate-secret", id, "--grace", "24h", "--json")
	var rotated issued
	if err := json.Unmarshal([]byte(out), &rotated); code != 0 || err != nil || rotated.ClientSecret == "" {
		t.Fatalf("rotate-secret: %d %s", code, out)
	}
	oldCfg := clientcredentials.Config{ClientID: id, ClientSecret: oldSecret, TokenURL: first.url + "/oauth2/token"}
	if _, err := oldCfg.Token(ctx); err != nil {
		t.Fatalf("the old secret in its grace period: %v", err)
	}
	// Uses are flushed in batches; a graceful stop writes the last ones.
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}

	in := start(t, db, kv)
	tok := adminToken(t, in.url)
	o := adminCall("secrets", in.url, tok, "GET", "/clients/"+id+"/secrets", nil)
	var list struct {
		Secrets []struct {
			ID           string  `json:"id"`
			Status       string  `json:"status"`
			LastUsedAt   *string `json:"last_used_at"`
			LastUsedAddr *string `json:"last_used_addr"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(o.body, &list); o.status != 200 || err != nil || len(list.Secrets) != 2 {
		t.Fatalf("secrets: %d %s", o.status, o.body)
	}
	old := list.Secrets[1] // newest first
	if old.Status != "retiring" || old.LastUsedAt == nil || old.LastUsedAddr == nil || *old.LastUsedAddr != "127.0.0.1" {
		t.Fatalf("the retiring secret's last use: %s", o.body)
	}
	if s := list.Secrets[0]; s.Status != "active" || s.LastUsedAt != nil || s.LastUsedAddr != nil {
		t.Errorf("the unused new secret: %s", o.body)
	}
	out, code = in.cli(t, "clients", "show", id)
	if code != 0 || !strings.Contains(out, "retiring, works until") || !strings.Contains(out, "from 127.0.0.1") {
		t.Fatalf("clients show: %d %s", code, out)
	}

	o = adminCall("finish", in.url, tok, "POST", "/clients/"+id+"/finish-rotation", nil)
	if o.status != 200 || !strings.Contains(string(o.body), `"id":"`+old.ID+`"`) || !strings.Contains(string(o.body), `"status":"revoked"`) {
		t.Fatalf("finish-rotation: %d %s", o.status, o.body)
	}
	oldCfg.TokenURL = in.url + "/oauth2/token"
	var rerr *oauth2.RetrieveError
	if _, err := oldCfg.Token(ctx); !asRetrieveError(err, &rerr) || rerr.ErrorCode != "invalid_client" {
		t.Fatalf("the old secret after finishing: %v, want invalid_client", err)
	}
	newCfg := clientcredentials.Config{ClientID: id, ClientSecret: rotated.ClientSecret, TokenURL: in.url + "/oauth2/token"}
	if _, err := newCfg.Token(ctx); err != nil {
		t.Fatalf("the new secret after finishing: %v", err)
	}
	// Nothing is left to finish, at the API and at the CLI.
	if o := adminCall("finish", in.url, tok, "POST", "/clients/"+id+"/finish-rotation", nil); o.status != 422 {
		t.Errorf("finishing twice: %d %s", o.status, o.body)
	}
	if out, code := in.cli(t, "clients", "finish-rotation", id); code == 0 || !strings.Contains(out, "grace period") {
		t.Errorf("clients finish-rotation with nothing to finish: %d %s", code, out)
	}
	o = adminCall("audit", in.url, tok, "GET", "/audit/events?target_id="+id, nil)
	if o.status != 200 || strings.Count(string(o.body), "client.rotation_finished") != 1 ||
		strings.Contains(string(o.body), oldSecret) || strings.Contains(string(o.body), rotated.ClientSecret) {
		t.Errorf("audit: %d %s", o.status, o.body)
	}
}

// An old secret used in the last hour of its grace is audited once, with
// where it was used from, through the running server and after a
// restart on the same database.
func TestRetiringSecretInUseEndToEnd(t *testing.T) {
	forEachBackend(t, testRetiringSecretInUseEndToEnd)
}

func testRetiringSecretInUseEndToEnd(t *testing.T, db database) {
	kv := map[string]string{"LATCHKEY_ADMIN_CLIENT_SECRET": faultAdminSecret}
	first, stop := launch(t, db, kv)
	ctx := context.Background()
	id, oldSecret := first.createClient(t, "--name", "Late mover", "--grant-type", "client_credentials")
	// A grace of 30 minutes is in its last hour from the start.
	if out, code := first.cli(t, "clients", "rotate-secret", id, "--grace", "30m"); code != 0 {
		t.Fatalf("rotate-secret: %d %s", code, out)
	}
	oldCfg := clientcredentials.Config{ClientID: id, ClientSecret: oldSecret, TokenURL: first.url + "/oauth2/token"}
	for range 3 {
		if _, err := oldCfg.Token(ctx); err != nil {
			t.Fatalf("the old secret in its grace period: %v", err)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
	in := start(t, db, kv)
	oldCfg.TokenURL = in.url + "/oauth2/token"
	if _, err := oldCfg.Token(ctx); err != nil {
		t.Fatalf("the old secret after a restart: %v", err)
	}
	o := adminCall("audit", in.url, adminToken(t, in.url), "GET", "/audit/events?target_id="+id, nil)
	body := string(o.body)
	if o.status != 200 || strings.Count(body, "client.retiring_secret_in_use") != 1 || !strings.Contains(body, "127.0.0.1") ||
		strings.Contains(body, oldSecret) {
		t.Fatalf("audit: %d %s", o.status, body)
	}
}

// The stale report through the running server and the CLI: a client made
// now is not stale for never having been used, and bad days are refused.
func TestStaleReportEndToEnd(t *testing.T) {
	in := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_ADMIN_CLIENT_SECRET": faultAdminSecret})
	id, _ := in.createClient(t, "--name", "Fresh", "--grant-type", "client_credentials")
	tok := adminToken(t, in.url)
	o := adminCall("stale", in.url, tok, "GET", "/reports/stale?days=1", nil)
	if o.status != 200 || !strings.Contains(string(o.body), `"clients":[`) || strings.Contains(string(o.body), id) {
		t.Fatalf("stale report: %d %s", o.status, o.body)
	}
	if o := adminCall("stale", in.url, tok, "GET", "/reports/stale?days=0", nil); o.status != 422 || !strings.Contains(string(o.body), `"days"`) {
		t.Errorf("days=0: %d %s", o.status, o.body)
	}
	out, code := in.cli(t, "clients", "stale", "--days", "1", "--json")
	if code != 0 || !strings.Contains(out, `"clients"`) || strings.Contains(out, id) {
		t.Errorf("clients stale: %d %s", code, out)
	}
	if out, code := in.cli(t, "clients", "stale", "--days", "0"); code == 0 {
		t.Errorf("clients stale --days 0: %d %s", code, out)
	}
}
