package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
)

// TestPolicyCLIEndToEnd sets a tenant policy with "latchkey policy set",
// sees a write that breaks it refused with the rule named, and lists the
// clients made before it that break it with "latchkey compliance --json":
// on the database and through the admin API, on SQLite and PostgreSQL.
func TestPolicyCLIEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db database) {
		in := start(t, db, map[string]string{"LATCHKEY_ADMIN_CLIENT_SECRET": remoteAdminSecret})
		long, _ := in.createClient(t, "--name", "Long tokens", "--grant-type", "client_credentials", "--access-token-ttl", "2h")
		forever, _ := in.createClient(t, "--name", "Forever", "--grant-type", "client_credentials", "--secret-expires", "never")
		in.createClient(t, "--name", "Fine", "--grant-type", "client_credentials")

		out, code := in.cli(t, "policy", "set", "--max-access-token-ttl", "1h", "--require-secret-expiry",
			"--allowed-grant-types", "client_credentials,authorization_code,refresh_token", "--redirect-hosts", "app.example,*.corp.example", "--json")
		var p admin.Policy
		if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
			t.Fatalf("policy set: %d %s", code, out)
		}
		if p.MaxAccessTokenTTL != 3600 || !p.RequireSecretExpiry || !slices.Equal(p.RedirectHosts, []string{"app.example", "*.corp.example"}) ||
			len(p.AllowedGrantTypes) != 3 || p.RequirePKCE || p.UpdatedAt == nil {
			t.Errorf("policy set printed %s", out)
		}
		// Only the flags given change.
		if out, code := in.cli(t, "policy", "set", "--require-pkce", "--json"); code != 0 || json.Unmarshal([]byte(out), &p) != nil ||
			!p.RequirePKCE || p.MaxAccessTokenTTL != 3600 {
			t.Errorf("a second policy set: %d %s", code, out)
		}
		if out, code := in.cli(t, "policy", "set", "--max-access-token-ttl", "5s"); code == 0 || !strings.Contains(out, "max_access_token_ttl") {
			t.Errorf("an invalid cap: %d %s", code, out)
		}
		if out, code := in.cli(t, "clients", "create", "--name", "Too long", "--grant-type", "client_credentials", "--access-token-ttl", "3h"); code == 0 ||
			!strings.Contains(out, "tenant policy") {
			t.Errorf("a client breaking the policy: %d %s", code, out)
		}
		if out, code := in.cli(t, "policy", "show"); code != 0 || !strings.Contains(out, "Max access token TTL") || !strings.Contains(out, "1h0m0s") {
			t.Errorf("policy show: %d %s", code, out)
		}

		check := func(t *testing.T, where string, out string, code int) {
			t.Helper()
			var rep admin.ComplianceReport
			if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
				t.Fatalf("%s compliance: %d %s", where, code, out)
			}
			got := map[string]string{}
			for _, n := range rep.Clients {
				for _, v := range n.Violations {
					got[n.ClientID] += v.Policy
				}
			}
			// The provisioned admin client's operator-chosen secret never
			// expires: it is at fault too.
			want := map[string]string{long: client.RuleMaxAccessTokenTTL, forever: client.RuleRequireSecretExpiry,
				"latchkey-admin": client.RuleRequireSecretExpiry}
			if rep.Count != 3 || len(got) != 3 || got[long] != want[long] || got[forever] != want[forever] || got["latchkey-admin"] != want["latchkey-admin"] {
				t.Errorf("%s compliance lists %v, want %v: %s", where, got, want, out)
			}
		}
		out, code = in.cli(t, "compliance", "--json")
		check(t, "local", out, code)
		if out, code := in.cli(t, "compliance"); code != 0 || !strings.Contains(out, long) || !strings.Contains(out, "3 clients break the policy") {
			t.Errorf("compliance table: %d %s", code, out)
		}

		// The same through the admin API.
		remote := remoteEnv(t, map[string]string{"LATCHKEY_CLIENT_ID": "latchkey-admin", "LATCHKEY_CLIENT_SECRET": remoteAdminSecret})
		r := cliRun(remote, "compliance", "--json", "--endpoint", in.url)
		check(t, "remote", r.stdout+r.stderr, r.code)
		r = cliRun(remote, "policy", "set", "--require-pkce=false", "--json", "--endpoint", in.url)
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &p) != nil || p.RequirePKCE || p.MaxAccessTokenTTL != 3600 || !p.RequireSecretExpiry {
			t.Errorf("remote policy set: %d %s %s", r.code, r.stdout, r.stderr)
		}
		out, _ = in.cli(t, "policy", "show", "--json")
		var local admin.Policy
		if json.Unmarshal([]byte(out), &local) != nil || local.RequirePKCE || local.UpdatedBy == "" {
			t.Errorf("the remote change is not in the database: %s", out)
		}
	})
}
