package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Each setting is taken from the flag, else the environment, else the
// configuration file, else its default.
func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "latchkey.db")
	c := &cliAt{t: t, env: testEnv(map[string]string{"LATCHKEY_DATABASE_URL": db})}
	c.run("migrate")
	file := filepath.Join(dir, "latchkey.toml")
	writeFile(t, file, `# keys are the flags' names
issuer = "https://file.example"
log-level = "warn"
addr = "127.0.0.1:9999"       # serve's setting: other commands ignore it
trusted-proxies = ["10.0.0.0/8", "192.168.0.1"]
`)
	issuerOf := func(kv map[string]string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		all := map[string]string{}
		maps.Copy(all, kv)
		all["LATCHKEY_DATABASE_URL"] = db
		code := run(context.Background(), append([]string{"tenants", "list", "--json"}, args...), testEnv(all), &out, &errOut, nil)
		var list []tenantJSON
		if code != 0 || json.Unmarshal(out.Bytes(), &list) != nil || len(list) == 0 {
			t.Fatalf("tenants list %v with %v: %d %s %s", args, kv, code, out.String(), errOut.String())
		}
		return list[0].Issuer
	}
	withFile := map[string]string{"LATCHKEY_CONFIG": file}
	withEnv := map[string]string{"LATCHKEY_CONFIG": file, "LATCHKEY_ISSUER": "https://env.example"}
	for _, tt := range []struct {
		name string
		kv   map[string]string
		args []string
		want string
	}{
		{"default", nil, nil, "http://localhost:8080"},
		{"file", withFile, nil, "https://file.example"},
		{"--config flag", nil, []string{"--config", file}, "https://file.example"},
		{"environment over file", withEnv, nil, "https://env.example"},
		{"flag over environment", withEnv, []string{"--issuer", "https://flag.example"}, "https://flag.example"},
		{"addr picks the default issuer's port", map[string]string{"LATCHKEY_ADDR": "127.0.0.1:7000"}, nil, "http://127.0.0.1:7000"},
	} {
		if got := issuerOf(tt.kv, tt.args...); got != tt.want {
			t.Errorf("%s: issuer %q, want %q", tt.name, got, tt.want)
		}
	}

	refused := []struct {
		name, text, want string
	}{
		{"unknown key", `isuer = "https://x.example"`, `"isuer" is not a setting`},
		{"bad value", `log-format = "yaml"`, "log-format"},
		{"wrong type", `auth-failure-limit = 1.5`, "auth-failure-limit"},
		{"not TOML", `issuer = `, "latchkey.toml"},
		{"a file naming a file", `config = "other.toml"`, `"config" is not a setting`},
		{"a secret is no setting", `secret-key = "x"`, `"secret-key" is not a setting`},
	}
	for _, tt := range refused {
		writeFile(t, file, tt.text+"\n")
		_, errOut, code := (&cliAt{t: t, env: testEnv(map[string]string{"LATCHKEY_DATABASE_URL": db, "LATCHKEY_CONFIG": file})}).run("clients", "list")
		if code != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, file) || strings.Contains(errOut, " config,") {
			t.Errorf("%s: exit %d %q, want 2 naming %s and %q", tt.name, code, errOut, file, tt.want)
		}
	}
	_, errOut, code := c.run("clients", "list", "--config", filepath.Join(dir, "missing.toml"))
	if code != 1 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("a missing configuration file: exit %d %q", code, errOut)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// With no --issuer, serve advertises the address it listens on; given one
// whose port differs, with no proxy in front, it warns.
func TestServeIssuerFollowsTheListenPort(t *testing.T) {
	in := start(t, sqliteDatabase(t), nil)
	res, body := get(t, in.url+"/.well-known/oauth-authorization-server")
	if res != 200 || !strings.Contains(body, `"issuer":"`+in.url+`"`) {
		t.Fatalf("discovery: %d %s", res, body)
	}
	if strings.Contains(in.stderr.String(), "port this server listens on") {
		t.Errorf("warned with a matching issuer:\n%s", in.stderr)
	}
	other := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_ISSUER": "http://localhost:9"})
	if !strings.Contains(other.stderr.String(), "the issuer's port is not the port this server listens on") {
		t.Errorf("no warning for an issuer on another port:\n%s", other.stderr)
	}
	proxied := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_ISSUER": "https://auth.example.com", "LATCHKEY_TRUSTED_PROXIES": "127.0.0.1"})
	if strings.Contains(proxied.stderr.String(), "port this server listens on") {
		t.Errorf("warned behind a configured proxy:\n%s", proxied.stderr)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// The README's configuration table names every setting's flag and
// variable, so none goes undocumented.
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	seen := 0
	visitSettings((&app{env: env{}}).root(), func(fl *pflag.Flag, envName string) {
		seen++
		row := fmt.Sprintf("| `--%s` | `%s` |", fl.Name, envName)
		if !strings.Contains(readme, row) {
			t.Errorf("the README's configuration table has no row %s", row)
		}
	})
	if seen < 15 {
		t.Fatalf("found only %d settings", seen)
	}
}
