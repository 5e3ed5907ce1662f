package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cliAt runs latchkey commands against a fresh SQLite file, with no server.
type cliAt struct {
	t   *testing.T
	env env
}

// newCLI makes the database with "latchkey migrate", as an operator would
// before the first "clients" command.
func newCLI(t *testing.T) *cliAt {
	db := filepath.Join(t.TempDir(), "latchkey.db")
	c := &cliAt{t: t, env: testEnv(map[string]string{"LATCHKEY_DATABASE_URL": db})}
	if out, errOut, code := c.run("migrate"); code != 0 || !strings.Contains(out, "Super admin") {
		t.Fatalf("migrate: %d %q %q", code, out, errOut)
	}
	return c
}

func (c *cliAt) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, c.env, &o, &e, nil)
	return o.String(), e.String(), code
}

func (c *cliAt) json(v any, args ...string) {
	c.t.Helper()
	out, errOut, code := c.run(append(args, "--json")...)
	if code != 0 {
		c.t.Fatalf("%v: %d %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("%v printed %q: %v", args, out, err)
	}
}

type clientJSON struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Name         string   `json:"name"`
	Status       string   `json:"status"`
	Scopes       []string `json:"scopes"`
	Secrets      []struct {
		Status string `json:"status"`
	} `json:"secrets"`
}

func TestCLIClientLifecycle(t *testing.T) {
	c := newCLI(t)
	var created clientJSON
	c.json(&created, "clients", "create", "--name", "Billing sync", "--grant-type", "client_credentials",
		"--scope", "read", "--scope", "write", "--secret-expires", "90d")
	if created.ClientSecret == "" || created.Status != "active" || len(created.Scopes) != 2 {
		t.Fatalf("created %+v", created)
	}
	// First start on the CLI still shows generated credentials, but apart
	// from the JSON on stdout.
	id := created.ClientID

	var shown clientJSON
	c.json(&shown, "clients", "show", id)
	if shown.ClientSecret != "" || shown.Name != "Billing sync" || len(shown.Secrets) != 1 {
		t.Fatalf("show %+v", shown)
	}

	var updated clientJSON
	c.json(&updated, "clients", "update", id, "--name", "Billing sync v2", "--scope", "read")
	if updated.Name != "Billing sync v2" || len(updated.Scopes) != 1 {
		t.Fatalf("update %+v", updated)
	}

	var rotated clientJSON
	c.json(&rotated, "clients", "rotate-secret", id, "--grace", "24h")
	if rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret || len(rotated.Secrets) != 2 ||
		rotated.Secrets[1].Status != "retiring" {
		t.Fatalf("rotate %+v", rotated)
	}

	// The grace period ends hours away: shown to the minute, not as a date.
	out, _, _ := c.run("clients", "show", id)
	if !regexp.MustCompile(`retiring, works until \d{4}-\d\d-\d\d \d\d:\d\d UTC`).MatchString(out) {
		t.Errorf("show after a rotation with grace:\n%s", out)
	}

	var st clientJSON
	c.json(&st, "clients", "deactivate", id)
	if st.Status != "inactive" {
		t.Fatal(st.Status)
	}
	c.json(&st, "clients", "activate", id)
	if st.Status != "active" {
		t.Fatal(st.Status)
	}
	c.json(&st, "clients", "revoke", id)
	if st.Status != "revoked" {
		t.Fatal(st.Status)
	}
	if _, errOut, code := c.run("clients", "activate", id); code != 1 || !strings.Contains(errOut, "revoked client cannot be changed") {
		t.Fatalf("activate revoked: %d %s", code, errOut)
	}
	out, _, _ = c.run("clients", "show", id)
	if !regexp.MustCompile(`Secret expires:\s+none: the client is revoked`).MatchString(out) ||
		regexp.MustCompile(`Secret expires:\s+Never`).MatchString(out) || strings.Contains(out, "revoked, expires") {
		t.Errorf("show of a revoked client:\n%s", out)
	}
	var list struct {
		Clients []clientJSON `json:"clients"`
		Total   int          `json:"total"`
	}
	c.json(&list, "clients", "list", "--status", "revoked")
	if list.Total != 1 || list.Clients[0].ClientID != id {
		t.Fatalf("revoked stays listed: %+v", list)
	}
	if out, _, code := c.run("clients", "delete", id); code != 0 || !strings.Contains(out, "Deleted") {
		t.Fatalf("delete: %d %s", code, out)
	}
	if _, errOut, code := c.run("clients", "show", id); code != 1 || !strings.Contains(errOut, "no client") {
		t.Fatalf("show deleted: %d %s", code, errOut)
	}
}

func TestCLIListSearchSort(t *testing.T) {
	c := newCLI(t)
	for _, n := range []string{"Alpha reporting", "beta sync", "Gamma Sync"} {
		var v clientJSON
		c.json(&v, "clients", "create", "--name", n, "--grant-type", "client_credentials")
	}
	var list struct {
		Clients []clientJSON `json:"clients"`
		Total   int          `json:"total"`
		Next    string       `json:"next"`
	}
	c.json(&list, "clients", "list", "--search", "SYNC", "--sort", "-name")
	if list.Total != 2 || list.Clients[0].Name != "Gamma Sync" || list.Clients[1].Name != "beta sync" {
		t.Fatalf("search/sort: %+v", list)
	}
	c.json(&list, "clients", "list", "--limit", "2", "--sort", "name")
	if len(list.Clients) != 2 || list.Next == "" || list.Total != 6 {
		t.Fatalf("page 1: %+v", list)
	}
	c.json(&list, "clients", "list", "--limit", "2", "--sort", "name", "--after", list.Next)
	if len(list.Clients) != 2 {
		t.Fatalf("page 2: %+v", list)
	}
	out, _, code := c.run("clients", "list", "--search", "alpha")
	if code != 0 || !strings.Contains(out, "Alpha reporting") || !strings.Contains(out, "Never used") || !strings.Contains(out, "Expires in 180 days") {
		t.Fatalf("human list: %s", out)
	}
}

func TestCLIBadInput(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"clients", "create", "--grant-type", "client_credentials"}, 1, "name (--name): is required"},
		{[]string{"clients", "create", "--name", strings.Repeat("x", 10240), "--grant-type", "client_credentials"}, 1, "at most 200"},
		{[]string{"clients", "create", "--name", "a\x00b", "--grant-type", "client_credentials"}, 1, "control characters"},
		{[]string{"clients", "create", "--name", "a\xffb", "--grant-type", "client_credentials"}, 1, "UTF-8"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "implicit"}, 1, "implicit grant is not supported"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "magic"}, 1, "unknown grant type"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "authorization_code", "--redirect-uri", "http://evil.example/cb"}, 1, "https"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "authorization_code", "--redirect-uri", "https://a.example/cb#f"}, 1, "fragment"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "client_credentials", "--access-token-ttl", "10s"}, 1, "access_token_ttl"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "client_credentials", "--client-id", "bad id"}, 1, "client_id"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "client_credentials", "--secret-expires", "soon"}, 2, "secret-expires"},
		{[]string{"clients", "create", "--name", "x", "--public", "--grant-type", "client_credentials"}, 1, "public client"},
		{[]string{"clients", "list", "--status", "gone"}, 1, "status"},
		{[]string{"clients", "list", "--sort", "secret"}, 1, "sort"},
		{[]string{"clients", "show"}, 2, "one client ID"},
		{[]string{"clients", "show", "lkc_none"}, 1, "no client"},
		{[]string{"clients", "frobnicate"}, 2, "unknown command"},
		{[]string{"clients", "update", "latchkey-console", "--name", "x"}, 1, "protected"},
		{[]string{"clients", "rotate-secret", "latchkey-console"}, 1, "public client has no secret"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "client_credentials", "--secret-expires", "0d"}, 2, "secret-expires"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "client_credentials", "--secret-file", "/nonexistent"}, 1, "secret-file"},
		{[]string{"clients", "revoke", "latchkey-admin"}, 1, "cannot be revoked"},
		{[]string{"clients", "deactivate", "latchkey-admin"}, 1, "--confirm"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"serve", "--issuer", "http://example.com"}, 2, "https"},
		{[]string{"serve", "--trusted-proxies", "10.0.0.0/8,nonsense"}, 2, "trusted-proxies"},
	}
	for _, tt := range tests {
		out, errOut, code := c.run(tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tt.args, code, out+errOut, tt.code, tt.want)
		}
	}
	// A duplicate client ID is refused, and nothing was written by the
	// failures above.
	var v clientJSON
	c.json(&v, "clients", "create", "--name", "x", "--grant-type", "client_credentials", "--client-id", "my-client")
	if _, errOut, code := c.run("clients", "create", "--name", "y", "--grant-type", "client_credentials", "--client-id", "my-client"); code != 1 || !strings.Contains(errOut, "already taken") {
		t.Errorf("duplicate: %d %s", code, errOut)
	}
	var list struct{ Total int }
	c.json(&list, "clients", "list")
	if list.Total != 4 { // the three defaults and my-client
		t.Errorf("total %d after failed creates", list.Total)
	}
}

func TestCLISuppliedSecret(t *testing.T) {
	c := newCLI(t)
	file := filepath.Join(t.TempDir(), "secret")
	secret := "an-admin-chosen-secret-of-enough-length"
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A secret the admin chose is never printed back, in JSON or not.
	var created clientJSON
	c.json(&created, "clients", "create", "--name", "Supplied", "--grant-type", "client_credentials", "--secret-file", file)
	if created.ClientSecret != "" || created.ClientID == "" {
		t.Fatalf("created %+v: the supplied secret was printed back", created)
	}
	if out, errOut, code := c.run("clients", "rotate-secret", created.ClientID, "--secret-file", file); code != 0 ||
		strings.Contains(out+errOut, secret) || strings.Contains(out, "Client secret:") {
		t.Fatalf("rotate with a supplied secret: %d %q %q", code, out, errOut)
	}
	if err := os.WriteFile(file, []byte("too-short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := c.run("clients", "rotate-secret", created.ClientID, "--secret-file", file); code != 1 || !strings.Contains(errOut, "at least 32") {
		t.Fatalf("short supplied secret: %d %s", code, errOut)
	}
}
