package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// listedKey is a key as "keys list --json" prints it.
type listedKey struct {
	ID        string `json:"id"`
	Use       string `json:"use"`
	Algorithm string `json:"algorithm"`
	State     string `json:"state"`
}

// summary words keys as "use/alg/state" each, in the order listed.
func summary(keys []listedKey) string {
	var s []string
	for _, k := range keys {
		s = append(s, k.Use+"/"+k.Algorithm+"/"+k.State)
	}
	return strings.Join(s, " ")
}

func TestKeysListAndRotateByUse(t *testing.T) {
	c := newCLI(t)
	var keys []listedKey
	c.json(&keys, "keys", "list")
	if len(keys) != 0 {
		t.Fatalf("keys before any server or rotation: %+v", keys)
	}

	out, errOut, code := c.run("keys", "rotate", "--use", "id")
	if code != 0 || !strings.Contains(out, "Published the next signing key") || !strings.Contains(out, "for ID tokens") ||
		strings.Contains(out, "for access tokens") {
		t.Fatalf("keys rotate --use id: %d %q %q", code, out, errOut)
	}
	c.json(&keys, "keys", "list")
	// The access lineage first; each newest first.
	if got, want := summary(keys), "access/ES256/current id/RS256/next id/RS256/current"; got != want {
		t.Fatalf("keys list: %s, want %s", got, want)
	}

	out, _, code = c.run("keys", "rotate", "--use", "access", "--now")
	if code != 0 || !strings.Contains(out, "access tokens") || strings.Contains(out, "ID tokens") {
		t.Fatalf("keys rotate --use access --now: %d %q", code, out)
	}
	out, _, code = c.run("keys", "rotate")
	if code != 0 || !strings.Contains(out, "Published the next signing key") || !strings.Contains(out, "already published as the next key for ID tokens") {
		t.Fatalf("keys rotate of both: %d %q", code, out)
	}
	c.json(&keys, "keys", "list")
	if got, want := summary(keys), "access/ES256/next access/ES256/current access/ES256/retired id/RS256/next id/RS256/current"; got != want {
		t.Fatalf("keys list: %s, want %s", got, want)
	}
	table, _, code := c.run("keys", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if code != 0 || len(lines) != 6 || !strings.HasPrefix(lines[0], "USE") || !strings.HasPrefix(lines[1], "access") ||
		!strings.HasPrefix(lines[5], "id") || !strings.Contains(table, keys[0].ID) {
		t.Fatalf("keys list: %d\n%s", code, table)
	}

	for _, args := range [][]string{
		{"keys", "rotate", "--use", "refresh"},
		{"keys", "rotate", "--id-token-signing-algorithm", "HS256"},
	} {
		if _, errOut, code := c.run(args...); code != 2 || !strings.Contains(errOut, args[2]) {
			t.Errorf("%v: exit %d, %q; want a usage error naming %s", args, code, errOut, args[2])
		}
	}
	if _, errOut, code := c.run("keys", "list", "--tenant", "nope"); code != 1 || !strings.Contains(errOut, `no tenant "nope"`) {
		t.Errorf("keys list of an unknown tenant: exit %d, %q", code, errOut)
	}
	missing := &cliAt{t: t, env: testEnv(map[string]string{"LATCHKEY_DATABASE_URL": filepath.Join(t.TempDir(), "none.db")})}
	if _, errOut, code := missing.run("keys", "list"); code != 1 || !strings.Contains(errOut, "--database") {
		t.Errorf("keys list without a database: exit %d, %q", code, errOut)
	}
}

func TestKeysIDTokenSigningAlgorithmSetting(t *testing.T) {
	c := newCLI(t)
	c.env = testEnv(map[string]string{"LATCHKEY_DATABASE_URL": c.env.lookup("LATCHKEY_DATABASE_URL"),
		"LATCHKEY_ID_TOKEN_SIGNING_ALGORITHM": "EdDSA"})
	if out, errOut, code := c.run("keys", "rotate", "--use", "id"); code != 0 {
		t.Fatalf("keys rotate: %d %q %q", code, out, errOut)
	}
	var keys []listedKey
	c.json(&keys, "keys", "list")
	if got, want := summary(keys), "access/ES256/current id/EdDSA/next id/EdDSA/current"; got != want {
		t.Fatalf("keys list: %s, want %s", got, want)
	}
	c.env = testEnv(map[string]string{"LATCHKEY_DATABASE_URL": c.env.lookup("LATCHKEY_DATABASE_URL"),
		"LATCHKEY_ID_TOKEN_SIGNING_ALGORITHM": "none"})
	if _, errOut, code := c.run("keys", "rotate"); code != 2 || !strings.Contains(errOut, "LATCHKEY_ID_TOKEN_SIGNING_ALGORITHM") {
		t.Errorf("an unknown algorithm in the environment: exit %d, %q", code, errOut)
	}
}
