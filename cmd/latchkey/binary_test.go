package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary, as a newcomer would: built once, run in
// a directory of its own with no LATCHKEY_* variables, its output read from
// pipes. Each asserts the exit status, the message, and what was (not)
// written.

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// Link-time build information, which "latchkey version" must show.
const (
	testVersion = "v1.2.3-test"
	testCommit  = "0123456789abcdef0123"
	testDate    = "2026-11-30T12:00:00Z"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds the latchkey binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "latchkey-bin-"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "latchkey")
		ld := fmt.Sprintf("-X main.version=%s -X main.commit=%s -X main.date=%s", testVersion, testCommit, testDate)
		cmd := exec.Command("go", "build", "-o", builtBin, "-ldflags", ld, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// sandbox is a directory the binary runs in, with a clean environment.
type sandbox struct {
	t   *testing.T
	dir string
	env []string
}

func newSandbox(t *testing.T) *sandbox {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if u := os.Getenv("USER"); u != "" {
		env = append(env, "USER="+u)
	}
	return &sandbox{t: t, dir: t.TempDir(), env: env}
}

func (s *sandbox) run(stdin string, args ...string) result {
	s.t.Helper()
	cmd := exec.Command(binary(s.t), args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return result{o.String(), e.String(), code}
}

// files lists what the sandbox directory holds.
func (s *sandbox) files() []string {
	s.t.Helper()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		s.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func (r result) expect(t *testing.T, what string, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("%s: output lacks %q\nstdout: %s\nstderr: %s", what, w, r.stdout, r.stderr)
		}
	}
}

func TestBinaryNeverCreatesADatabase(t *testing.T) {
	s := newSandbox(t)
	abs := filepath.Join(s.dir, "latchkey.db")
	for _, args := range [][]string{
		{"clients", "list"},
		{"clients", "create", "--name", "x", "--grant-type", "client_credentials"},
		{"clients", "show", "lkc_x"},
		{"tenants", "list"},
		{"tenants", "create", "--name", "Acme"},
		{"keys", "rotate"},
	} {
		r := s.run("", args...)
		r.expect(t, strings.Join(args, " "), 1, abs, "--database", "LATCHKEY_DATABASE_URL")
		if f := s.files(); len(f) != 0 {
			t.Fatalf("%v wrote %v", args, f)
		}
	}
}

// migrated is a sandbox whose database "latchkey migrate" made.
func migrated(t *testing.T) (*sandbox, string) {
	s := newSandbox(t)
	s.run("", "migrate").expect(t, "migrate", 0, "applied")
	return s, filepath.Join(s.dir, "latchkey.db")
}

func TestBinaryGlobalFlagsAnywhere(t *testing.T) {
	home, db := migrated(t)
	elsewhere := newSandbox(t)
	for _, args := range [][]string{
		{"--database", db, "clients", "list"},
		{"clients", "--database", db, "list"},
		{"clients", "list", "--database", db},
		{"clients", "list", "--database=" + db, "--log-level", "warn"},
		{"--log-level=warn", "--database", db, "tenants", "list"},
	} {
		r := elsewhere.run("", args...)
		r.expect(t, strings.Join(args, " "), 0)
		if strings.Contains(r.stderr, "listening") {
			t.Errorf("%v started a server", args)
		}
	}
	if f := elsewhere.files(); len(f) != 0 {
		t.Errorf("the commands wrote %v where they ran", f)
	}
	// Stray arguments are usage errors, not ignored.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "now"}, `unexpected argument "now"`},
		{[]string{"migrate", "please"}, `unexpected argument "please"`},
		{[]string{"clients", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"clients", "show", "a", "b"}, `unexpected argument "b"`},
		{[]string{"clients", "show"}, "expects one client ID"},
		{[]string{"clients", "lst"}, `unknown command "lst" (did you mean "list"?)`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"clients", "list", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"--database", db}, "a command is required"},
		{[]string{}, "a command is required"},
		{[]string{"help", "nonexist"}, `no help for "nonexist"`},
		{[]string{"completion"}, "a command is required"},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh"`},
		{[]string{"version", "now"}, `unexpected argument "now"`},
	} {
		home.run("", tt.args...).expect(t, fmt.Sprint(tt.args), 2, tt.want)
	}
}

func TestBinaryUnknownTenant(t *testing.T) {
	s, _ := migrated(t)
	for _, args := range [][]string{
		{"clients", "create", "--tenant", "acme-typo", "--name", "x", "--grant-type", "client_credentials"},
		{"clients", "list", "--tenant", "acme-typo"},
		{"keys", "rotate", "--tenant", "acme-typo"},
	} {
		s.run("", args...).expect(t, strings.Join(args, " "), 1, `no tenant "acme-typo"`, "tenants list")
	}
	s.env = append(s.env, "LATCHKEY_TENANT=acme-typo")
	s.run("", "clients", "list").expect(t, "LATCHKEY_TENANT=acme-typo clients list", 1, `no tenant "acme-typo"`)
	s.env = s.env[:len(s.env)-1]
	var list struct{ Total int }
	r := s.run("", "clients", "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || list.Total != 3 {
		t.Errorf("after the refused create: %v %s (want the three provisioned clients)", err, r.stdout)
	}
}

func TestBinaryHelp(t *testing.T) {
	s := newSandbox(t)
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"help", "clients"}, {"clients", "--help"}, {"clients", "-h"},
		{"keys", "--help"}, {"help", "keys"}, {"keys", "rotate", "--help"}, {"help", "keys", "rotate"},
		{"clients", "create", "--help"}, {"help", "clients", "update"}, {"tenants", "--help"},
		{"serve", "--help"}, {"migrate", "--help"}, {"completion", "--help"}, {"health", "--help"},
		{"users", "--help"}, {"help", "users"}, {"users", "create", "--help"}, {"help", "users", "set-password"},
	} {
		r := s.run("", args...)
		r.expect(t, strings.Join(args, " "), 0, "Usage:")
		if r.stderr != "" {
			t.Errorf("%v wrote to stderr: %s", args, r.stderr)
		}
	}
	// The top-level help lists every command, and help of a group lists
	// its commands.
	top := s.run("", "--help")
	for _, c := range []string{"serve", "migrate", "clients", "users", "tenants", "keys", "health", "version", "completion"} {
		if !regexp.MustCompile(`(?m)^  ` + c + `\s`).MatchString(top.stdout) {
			t.Errorf("latchkey --help does not list %q:\n%s", c, top.stdout)
		}
	}
	keys := s.run("", "keys", "--help").stdout
	if !strings.Contains(keys, "rotate") || !strings.Contains(keys, "rewrap") {
		t.Errorf("keys --help:\n%s", keys)
	}
	// Update's help names no create-time defaults: an omitted flag keeps
	// the field as it is.
	upd := s.run("", "clients", "update", "--help").stdout
	if strings.Contains(upd, "default 1h") || strings.Contains(upd, "default 30d") || strings.Contains(upd, "(required)") {
		t.Errorf("clients update --help shows create's defaults:\n%s", upd)
	}
	golden(t, "help.golden", top.stdout)
	if f := s.files(); len(f) != 0 {
		t.Errorf("help wrote %v", f)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (rerun with -update if the change is meant):\n%s", name, path, got)
	}
}

func TestBinaryVersion(t *testing.T) {
	s := newSandbox(t)
	want := fmt.Sprintf("latchkey %s (commit %s, built %s, %s)\n", testVersion, testCommit[:12], testDate, runtime.Version())
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		r := s.run("", args...)
		if r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("%v: exit %d, %q %q; want %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	// The version needs no configuration: a broken file does not stop it.
	s.env = append(s.env, "LATCHKEY_CONFIG=/nonexistent.toml")
	s.run("", "version").expect(t, "version with a missing config file", 0, testVersion)
}

// Every flag a message suggests exists on the command that printed it.
func TestBinaryHintsNameRealFlags(t *testing.T) {
	s, _ := migrated(t)
	cases := [][]string{
		{"clients", "revoke", "latchkey-admin"},
		{"clients", "deactivate", "latchkey-admin"},
		{"clients", "update", "latchkey-admin", "--name", "x"},
		{"clients", "rotate-secret", "latchkey-admin"},
		{"clients", "delete", "latchkey-admin"},
		{"clients", "update", "latchkey-admin"},
		{"clients", "list", "--limit", "0"},
		{"clients", "create", "--name", "x", "--grant-type", "client_credentials", "--secret-expires", "soon"},
		{"keys", "rewrap"},
		{"tenants", "create"},
		{"clients", "show", "lkc_nobody"},
		{"clients", "list", "--authorized-by", "nobody@example.com"},
		{"clients", "list", "--last-grant", "magic"},
		{"clients", "update", "latchkey-admin", "--confirm", "--token-endpoint-auth-method", "none"},
		{"clients", "update", "latchkey-admin", "--confirm", "--scope", "a", "--scope", ""},
		{"users", "create"},
		{"users", "create", "--email", "x@example.com", "--locale", "de"},
		{"users", "set-password", "admin@localhost"},
		{"users", "show", "nobody@example.com"},
	}
	flagRe := regexp.MustCompile(`--[a-z][a-z-]+`)
	for _, args := range cases {
		r := s.run("", args...)
		if r.code == 0 {
			t.Errorf("%v succeeded", args)
			continue
		}
		sub := args[:2]
		help := s.run("", append(slices.Clone(sub), "--help")...).stdout
		for _, f := range flagRe.FindAllString(r.stderr, -1) {
			if !strings.Contains(help, "  "+f+" ") && !strings.Contains(help, ", "+f+" ") && !strings.Contains(help, " "+f+"\n") {
				t.Errorf("%v suggests %s, which %q does not have:\n%s", args, f, strings.Join(sub, " "), r.stderr)
			}
		}
	}
	// The protected client's refusals: --confirm only where it exists.
	r := s.run("", "clients", "revoke", "latchkey-admin")
	r.expect(t, "revoke protected", 1, "cannot be revoked")
	if strings.Contains(r.stderr, "--confirm") {
		t.Errorf("revoke suggests --confirm, which it does not have: %s", r.stderr)
	}
	s.run("", "clients", "deactivate", "latchkey-admin").expect(t, "deactivate protected", 1, "--confirm")
}

func TestBinaryUsageMistakes(t *testing.T) {
	s, _ := migrated(t)
	s.run("", "clients", "update", "latchkey-admin").expect(t, "update with no field", 2, "nothing to change")
	s.run("", "clients", "update", "latchkey-admin", "--confirm").expect(t, "update with only --confirm", 2, "nothing to change")
	s.run("", "clients", "list", "--limit", "0").expect(t, "--limit 0", 2, "--limit 0: use 1 to 1000")
	s.run("", "clients", "list", "--limit", "1001").expect(t, "--limit 1001", 2, "use 1 to 1000")
	s.run("", "clients", "list", "--limit", "many").expect(t, "--limit many", 2, "--limit")
	s.run("", "serve", "--addr", "127.0.0.1:0", "--auth-failure-limit", "-1").expect(t, "negative limit", 2, "auth-failure-limit")
	// An empty secret is refused, never replaced by a generated one.
	empty := filepath.Join(s.dir, "empty.secret")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.run("", "clients", "create", "--name", "x", "--grant-type", "client_credentials", "--secret-file", "-").expect(t,
		"create with an empty standard input", 2, "--secret-file: no secret in standard input")
	s.run("", "clients", "rotate-secret", "latchkey-admin", "--confirm", "--secret-file", empty).expect(t,
		"rotate with an empty file", 2, "no secret in "+empty)
	s.run("", "health", "--addr", "nonsense").expect(t, "health --addr nonsense", 2, "--addr")
	s.env = append(s.env, "LATCHKEY_LOG_FORMAT=yaml")
	s.run("", "clients", "list").expect(t, "bad LATCHKEY_LOG_FORMAT", 2, "LATCHKEY_LOG_FORMAT")
	s.env = append(s.env[:len(s.env)-1], "LATCHKEY_ISSUER=http://example.com")
	s.run("", "clients", "list").expect(t, "bad LATCHKEY_ISSUER", 2, "LATCHKEY_ISSUER", "must use https")
}

func TestBinaryCompletion(t *testing.T) {
	s := newSandbox(t)
	for shell, want := range map[string]string{"bash": "__start_latchkey", "zsh": "#compdef latchkey", "fish": "complete -c latchkey"} {
		s.run("", "completion", shell).expect(t, "completion "+shell, 0, want)
	}
	r := s.run("", "__complete", "clients", "list", "--status", "")
	r.expect(t, "complete --status", 0, "active", "inactive", "revoked")
	r = s.run("", "__complete", "clients", "list", "--log-format", "")
	r.expect(t, "complete --log-format", 0, "text", "json")
	r = s.run("", "__complete", "cli")
	r.expect(t, "complete a command", 0, "clients")
	if f := s.files(); len(f) != 0 {
		t.Errorf("completion wrote %v", f)
	}
}

// server is a "latchkey serve" process.
type process struct {
	cmd    *exec.Cmd
	addr   string
	issuer string
	stdout *bytes.Buffer
	logs   []string // stderr lines
	done   chan struct{}
}

// startBinary starts "latchkey serve" in s with args and waits for its
// "listening" log record.
func startBinary(t *testing.T, s *sandbox, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Dir, cmd.Env = s.dir, s.env
	srv := &process{cmd: cmd, stdout: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout = srv.stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(60 * time.Second)
	for srv.addr == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("serve exited before listening:\n%s", strings.Join(srv.logs, "\n"))
			}
			srv.logs = append(srv.logs, l)
			var rec struct{ Msg, Addr, Issuer string }
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "listening" {
				srv.addr, srv.issuer = rec.Addr, rec.Issuer
			}
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("serve did not listen:\n%s", strings.Join(srv.logs, "\n"))
		}
	}
	var mu sync.Mutex
	go func() {
		for l := range lines {
			mu.Lock()
			srv.logs = append(srv.logs, l)
			mu.Unlock()
		}
		close(srv.done)
	}()
	t.Cleanup(func() { srv.stop(t) })
	return srv
}

// stop ends the server as SIGTERM would, and checks it exited cleanly.
func (srv *process) stop(t *testing.T) {
	if srv.cmd.ProcessState != nil {
		return
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.done
	if err := srv.cmd.Wait(); err != nil {
		t.Errorf("serve: %v", err)
	}
}

// The first hour, as the README tells it, with the real binary and no
// terminal: the issuer follows the port, the log is pure JSON with no
// credential in it, and "clients token" gets a token.
func TestBinaryFirstHour(t *testing.T) {
	s := newSandbox(t)
	// No client cache: a change the CLI makes is seen by the next request,
	// not within the second the change log takes (tested elsewhere).
	srv := startBinary(t, s, "--client-cache-ttl", "off")
	if want := "http://" + srv.addr; srv.issuer != want {
		t.Errorf("issuer %q, want %q: it follows the listen address", srv.issuer, want)
	}
	iss := "--issuer=" + srv.issuer
	r := s.run("", "clients", "create", "--name", "Billing sync", "--grant-type", "client_credentials", "--scope", "read", "--json")
	r.expect(t, "clients create", 0)
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.ClientSecret == "" {
		t.Fatalf("clients create printed %q: %v", r.stdout, err)
	}
	r = s.run(c.ClientSecret+"\n", "clients", "token", c.ClientID, iss, "--scope", "read")
	r.expect(t, "clients token", 0, "Access token: ey", `"iss": "`+srv.issuer+`"`, `"sub": "`+c.ClientID+`"`, "Scope:        read", "Expires in:   ")
	if strings.Contains(r.stdout+r.stderr, c.ClientSecret) {
		t.Error("clients token printed the secret")
	}
	var tok tokenOutput
	r = s.run(c.ClientSecret, "clients", "token", c.ClientID, iss, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &tok); err != nil || tok.Claims["client_id"] != c.ClientID || tok.TokenType != "Bearer" ||
		tok.ExpiresIn < 3500 || tok.ExpiresIn > 3600 {
		t.Errorf("clients token --json: %v %s %s", err, r.stdout, r.stderr)
	}
	s.run("lks_wrong\n", "clients", "token", c.ClientID, iss).expect(t, "a wrong secret", 1, "invalid_client")
	s.run("", "clients", "token", c.ClientID, iss).expect(t, "no secret", 2, "--secret-file: no secret in standard input")
	s.run("x\n", "clients", "token", c.ClientID, "--issuer", "http://127.0.0.1:1").expect(t, "no server", 1, "no server answers")
	s.run("", "health", "--addr", srv.addr).expect(t, "health", 0, "ready")
	s.run("", "health", "--addr", "127.0.0.1:1").expect(t, "health of nothing", 1, "not ready")

	// A NUL or a quote in a request value cannot seem to end it early.
	res, err := http.PostForm(srv.issuer+"/oauth2/token", url.Values{"grant_type": {"a\x00\"b"}})
	if err != nil {
		t.Fatal(err)
	}
	var oerr struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(res.Body).Decode(&oerr)
	res.Body.Close()
	if oerr.Error != "unsupported_grant_type" || !strings.Contains(oerr.Description, "'a%00%22b'") {
		t.Errorf("a NUL and a quote in grant_type: %+v", oerr)
	}

	// A rotation with a grace period shows its end to the minute; the
	// admin-chosen secret is not printed back.
	chosen := filepath.Join(s.dir, "chosen.secret")
	const chosenSecret = "an-admin-chosen-secret-of-enough-length"
	if err := os.WriteFile(chosen, []byte(chosenSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.run("", "clients", "rotate-secret", c.ClientID, "--grace", "24h", "--secret-file", chosen)
	r.expect(t, "rotate with grace and a chosen secret", 0)
	if !regexp.MustCompile(`retiring, works until \d{4}-\d\d-\d\d \d\d:\d\d UTC`).MatchString(r.stdout) ||
		strings.Contains(r.stdout+r.stderr, chosenSecret) {
		t.Errorf("rotate-secret --grace --secret-file printed:\n%s%s", r.stdout, r.stderr)
	}
	// A revoked client: no expiry shown, and its failures logged as such.
	s.run("", "clients", "revoke", c.ClientID).expect(t, "revoke", 0)
	r = s.run("", "clients", "show", c.ClientID)
	if !regexp.MustCompile(`Secret expires:\s+none: the client is revoked`).MatchString(r.stdout) {
		t.Errorf("show of a revoked client:\n%s", r.stdout)
	}
	s.run(chosenSecret+"\n", "clients", "token", c.ClientID, iss).expect(t, "token of a revoked client", 1, "invalid_client")

	srv.stop(t)
	if srv.stdout.Len() != 0 {
		t.Errorf("with no terminal, serve printed to stdout:\n%s", srv.stdout)
	}
	logs := strings.Join(srv.logs, "\n")
	for _, l := range srv.logs {
		if !json.Valid([]byte(l)) {
			t.Errorf("a log line is not JSON: %q", l)
		}
	}
	if !strings.Contains(logs, "credentials_shown") || !strings.Contains(logs, "rotate-secret latchkey-admin --confirm") {
		t.Errorf("the log does not say where the credentials went:\n%s", logs)
	}
	for _, secret := range regexp.MustCompile(`lks_[0-9A-Za-z]{20,}`).FindAllString(logs, -1) {
		t.Errorf("a secret reached the log: %s", secret)
	}
	if strings.Contains(logs, c.ClientSecret) || strings.Contains(logs, chosenSecret) {
		t.Error("a client secret reached the log")
	}
	if !strings.Contains(logs, `"reason":"client_revoked"`) {
		t.Errorf("the revoked client's failure is not logged as client_revoked:\n%s", logs)
	}
	// A second start provisions nothing and says nothing of it.
	srv2 := startBinary(t, s)
	srv2.stop(t)
	if strings.Contains(strings.Join(srv2.logs, "\n"), "first start") {
		t.Error("a restart claimed a first start")
	}
}

// Options the server cannot serve are refused, and nothing is written by a
// refusal.
func TestBinaryOptionsTheServerCannotServe(t *testing.T) {
	s, _ := migrated(t)
	s.run("", "clients", "create", "--name", "x", "--grant-type", "client_credentials",
		"--redirect-uri", "https://app.example/cb").expect(t, "redirect URI without authorization_code", 1,
		"redirect_uris", "only by the authorization_code grant")
	s.run("", "clients", "create", "--name", "x", "--grant-type", "authorization_code",
		"--redirect-uri", "https://*.example.com/cb").expect(t, "wildcard redirect URI", 1,
		"redirect_uris[0]", "wildcards are not supported: redirect URIs match exactly")
	var list struct{ Total int }
	if r := s.run("", "clients", "list", "--json"); json.Unmarshal([]byte(r.stdout), &list) != nil || list.Total != 3 {
		t.Fatalf("refused creates wrote clients: %s", r.stdout)
	}
	// Every grant a client may hold is served: none is noted as ahead of
	// its endpoint (TestWarnUnserved covers the note).
	r := s.run("", "clients", "create", "--name", "Web app", "--grant-type", "authorization_code",
		"--grant-type", "refresh_token", "--redirect-uri", "https://app.example/cb", "--json")
	r.expect(t, "an authorization_code client", 0)
	if r.stderr != "" {
		t.Errorf("an authorization_code client: %s", r.stderr)
	}
	var c struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.ClientID == "" {
		t.Fatalf("clients create --json printed %v %q", err, r.stdout)
	}
	s.run("", "clients", "update", c.ClientID, "--grant-type", "client_credentials").expect(t,
		"dropping authorization_code but keeping redirect URIs", 1, "clear the redirect URIs too")
	s.run("", "clients", "update", c.ClientID, "--grant-type", "client_credentials", "--redirect-uri", "").expect(t,
		"dropping authorization_code and clearing the redirect URIs", 0)
	help := s.run("", "clients", "create", "--help").stdout
	if !strings.Contains(help, "grant type, repeatable: client_credentials, authorization_code, refresh_token\n") {
		t.Errorf("clients create --help does not list the grants served:\n%s", help)
	}
}

// A database whose signing keys are sealed under a key file that has gone
// missing is not given a new key file: that would stand in the way of the
// right key when it is restored.
func TestBinaryMissingKeyFileIsNotReplaced(t *testing.T) {
	s := newSandbox(t)
	srv := startBinary(t, s)
	srv.stop(t)
	key := filepath.Join(s.dir, "latchkey.key")
	if err := os.Rename(key, key+".moved"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"keys", "rotate"}, {"serve", "--addr", "127.0.0.1:0"}} {
		s.run("", args...).expect(t, strings.Join(args, " "), 1, "no key file at", key, "LATCHKEY_SECRET_KEY")
		if _, err := os.Stat(key); !os.IsNotExist(err) {
			t.Fatalf("%v made a new key file", args)
		}
	}
	if err := os.Rename(key+".moved", key); err != nil {
		t.Fatal(err)
	}
	s.run("", "keys", "rotate").expect(t, "keys rotate with the key restored", 0, "Published the next signing key")
}
