package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// userShape is the set of keys "users ... --json" prints for a user: no
// password and no hash among them.
var userShape = []string{"created_at", "division_id", "email", "id", "locale", "name", "password_set", "roles", "status", "tenant_id", "updated_at"}

// userOut runs a users command with --json and decodes the user it
// prints, checking the shape of the JSON.
func userOut(t *testing.T, s *sandbox, stdin string, args ...string) userJSON {
	t.Helper()
	r := s.run(stdin, append(args, "--json")...)
	r.expect(t, strings.Join(args, " "), 0)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil {
		t.Fatalf("%v printed %q: %v", args, r.stdout, err)
	}
	got := make([]string, 0, len(keys))
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, userShape) {
		t.Errorf("%v printed the keys %v, want %v", args, got, userShape)
	}
	var u userJSON
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// neverShown fails when a password appears in a run's output, or in
// the database's files in plain text.
func neverShown(t *testing.T, s *sandbox, r result, passwords ...string) {
	t.Helper()
	for _, pw := range passwords {
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Errorf("a password was printed:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
		}
	}
	files, _ := filepath.Glob(filepath.Join(s.dir, "latchkey.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range passwords {
			if bytes.Contains(b, []byte(pw)) {
				t.Errorf("%s holds a password in plain text", f)
			}
		}
	}
}

func TestBinaryUsersLifecycle(t *testing.T) {
	s, _ := migrated(t)
	const pw = "a long enough passphrase"

	// Created without a password: it says so, on stderr, apart from the JSON.
	r := s.run("", "users", "create", "--email", "Ana@Example.com", "--name", "Ana Lima", "--locale", "nb", "--role", "viewer", "--json")
	r.expect(t, "create without a password", 0, "note: ana@example.com has no password", "latchkey users set-password ana@example.com")
	if strings.Contains(r.stdout, "note:") {
		t.Errorf("the note reached stdout, breaking --json: %s", r.stdout)
	}
	var ana userJSON
	if err := json.Unmarshal([]byte(r.stdout), &ana); err != nil {
		t.Fatalf("create --json printed %q: %v", r.stdout, err)
	}
	if !strings.HasPrefix(ana.ID, "usr_") || ana.Email != "ana@example.com" || ana.Name != "Ana Lima" || ana.Locale != "nb" ||
		ana.Status != "active" || !slices.Equal(ana.Roles, []string{"viewer"}) || ana.PasswordSet {
		t.Fatalf("created %+v", ana)
	}

	// Shown by email, in any case, or by ID.
	r = s.run("", "users", "show", "ANA@example.com")
	r.expect(t, "show by email", 0, ana.ID, "Ana Lima", "viewer")
	if !regexp.MustCompile(`Password:\s+none: cannot sign in until one is set`).MatchString(r.stdout) ||
		!regexp.MustCompile(`Locale:\s+nb`).MatchString(r.stdout) {
		t.Errorf("show:\n%s", r.stdout)
	}
	if u := userOut(t, s, "", "users", "show", ana.ID); u.Email != ana.Email || u.CreatedAt != ana.CreatedAt {
		t.Errorf("show by ID: %+v", u)
	}

	// The password from standard input, never echoed nor stored as given.
	r = s.run(pw+"\n", "users", "set-password", "ana@example.com")
	r.expect(t, "set-password from stdin", 0, "Set the password of ana@example.com ("+ana.ID+")", "sessions ended")
	neverShown(t, s, r, pw)
	if u := userOut(t, s, "", "users", "show", ana.ID); !u.PasswordSet || !u.UpdatedAt.After(ana.UpdatedAt) {
		t.Errorf("after set-password: %+v", u)
	}
	if u := userOut(t, s, pw, "users", "set-password", ana.ID); !u.PasswordSet || u.ID != ana.ID {
		t.Errorf("set-password --json: %+v", u)
	}

	// Disabling ends what the user holds; doing it twice changes nothing.
	s.run("", "users", "disable", "ana@example.com").expect(t, "disable", 0,
		"Disabled ana@example.com", "their sessions ended and their applications' tokens were revoked")
	if u := userOut(t, s, "", "users", "show", ana.ID); u.Status != "disabled" {
		t.Errorf("after disable: %+v", u)
	}
	s.run("", "users", "disable", ana.ID).expect(t, "disable again", 0, "already disabled: nothing changed")
	r = s.run(pw+"\n", "users", "set-password", ana.ID)
	r.expect(t, "set-password of a disabled user", 0, "The user is disabled", "latchkey users enable ana@example.com")
	s.run("", "users", "enable", ana.ID).expect(t, "enable", 0, "Enabled ana@example.com", "can sign in again")
	if u := userOut(t, s, "", "users", "disable", ana.ID); u.Status != "disabled" {
		t.Errorf("disable --json: %+v", u)
	}
	if u := userOut(t, s, "", "users", "enable", ana.ID); u.Status != "active" {
		t.Errorf("enable --json: %+v", u)
	}

	// A password from a file; a user with none is told how to get one.
	file := filepath.Join(s.dir, "bo.password")
	const filePW = "another long passphrase"
	if err := os.WriteFile(file, []byte(filePW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.run("", "users", "create", "--email", "bo@example.com", "--password-file", file, "--role", "oauth_admin", "--role", "viewer")
	r.expect(t, "create with a password file", 0, "bo@example.com")
	neverShown(t, s, r, filePW, pw)
	if strings.Contains(r.stderr, "no password") || !regexp.MustCompile(`Password:\s+set`).MatchString(r.stdout) {
		t.Errorf("create with a password:\n%s%s", r.stdout, r.stderr)
	}
	s.run("", "users", "create", "--email", "cy@example.com").expect(t, "create cy", 0)
	s.run("", "users", "disable", "cy@example.com").expect(t, "disable cy", 0)
	s.run("", "users", "enable", "cy@example.com").expect(t, "enable a user with no password", 0,
		"no password yet", "latchkey users set-password cy@example.com")

	// The list, by email, as a table and as JSON.
	r = s.run("", "users", "list")
	r.expect(t, "list", 0, "4 user(s)")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 || !regexp.MustCompile(`^ID\s+EMAIL\s+NAME\s+STATUS\s+ROLES\s+CREATED$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^usr_\S+\s+admin@localhost\s+Super admin\s+active\s+super_admin\s+\d{4}-\d\d-\d\d$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^`+ana.ID+`\s+ana@example.com\s+Ana Lima\s+active\s+viewer\s`).MatchString(lines[2]) ||
		!regexp.MustCompile(`\sbo@example.com\s+\(none\)\s+active\s+oauth_admin,viewer\s`).MatchString(lines[3]) {
		t.Errorf("list:\n%s", r.stdout)
	}
	var list struct {
		Users []userJSON `json:"users"`
		Total int        `json:"total"`
	}
	r = s.run("", "users", "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || list.Total != 4 || len(list.Users) != 4 ||
		list.Users[0].Email != "admin@localhost" || list.Users[1].ID != ana.ID || list.Users[1].PasswordSet != true {
		t.Errorf("list --json: %v %s", err, r.stdout)
	}
	if strings.Contains(r.stdout, "argon2id") || strings.Contains(r.stdout, "hash") {
		t.Errorf("list --json shows a password hash: %s", r.stdout)
	}
}

// A password is never a flag value, and every mistake has its exit status:
// 2 for the command line, 1 for what the domain refuses.
func TestBinaryUsersMistakes(t *testing.T) {
	s, _ := migrated(t)
	const secret = "hunter2hunter2hunter2"
	short := filepath.Join(s.dir, "short.password")
	if err := os.WriteFile(short, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.run("", "users", "create", "--email", "ana@example.com").expect(t, "create ana", 0)
	for _, tt := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"users", "create", "--email", "x@example.com", "--password", secret}, 2, "unknown flag: --password"},
		{"", []string{"users", "create", "--email", "x@example.com", "--password=" + secret}, 2, "unknown flag: --password"},
		{"", []string{"users", "set-password", "ana@example.com", "--password", secret}, 2, "unknown flag: --password"},
		{"", []string{"users", "set-password", "ana@example.com"}, 2, "--password-file: no password in standard input"},
		{"", []string{"users", "create", "--email", "x@example.com", "--password-file", "-"}, 2, "--password-file: no password in standard input"},
		{"", []string{"users", "set-password"}, 2, "expects one user ID or email"},
		{"", []string{"users", "show", "a", "b"}, 2, `unexpected argument "b"`},
		{"", []string{"users", "list", "extra"}, 2, `unexpected argument "extra"`},
		{"", []string{"users", "create", "extra"}, 2, `unexpected argument "extra"`},
		{"", []string{"users", "lst"}, 2, `unknown command "lst" (did you mean "list"?)`},
		{"", []string{"users"}, 2, "a command is required"},

		{"", []string{"users", "create"}, 1, "email (--email): is required"},
		{"", []string{"users", "create", "--email", "not-an-email"}, 1, "email (--email): must be an email address"},
		{"", []string{"users", "create", "--email", "ANA@example.com"}, 1, "email (--email): is taken"},
		{"", []string{"users", "create", "--email", "x@example.com", "--locale", "de"}, 1, "locale (--locale): must be one of en, nb, sv, fr, fi, da"},
		{"", []string{"users", "create", "--email", "x@example.com", "--role", "root"}, 1, `roles (--role): unknown role "root"`},
		{"", []string{"users", "create", "--email", "x@example.com", "--password-file", short}, 1, "password (--password-file): must be at least 12 characters"},
		{"", []string{"users", "create", "--email", "x@example.com", "--password-file", "/nonexistent"}, 1, "--password-file /nonexistent"},
		{"short\n", []string{"users", "set-password", "ana@example.com"}, 1, "password (--password-file): must be at least 12 characters"},
		{secret, []string{"users", "set-password", "nobody@example.com"}, 1, `no user "nobody@example.com" in this tenant`},
		{"", []string{"users", "show", "usr_nobody"}, 1, `no user "usr_nobody" in this tenant`},
		{"", []string{"users", "disable", "nobody@example.com"}, 1, `no user "nobody@example.com"`},
		{"", []string{"users", "enable", "usr_nobody"}, 1, `no user "usr_nobody"`},
		{"", []string{"users", "list", "--tenant", "acme-typo"}, 1, `no tenant "acme-typo"`},
	} {
		r := s.run(tt.stdin, tt.args...)
		r.expect(t, strings.Join(tt.args, " "), tt.code, tt.want)
		neverShown(t, s, r, secret)
	}
	// Nothing was written by the refusals.
	var list struct{ Total int }
	if r := s.run("", "users", "list", "--json"); json.Unmarshal([]byte(r.stdout), &list) != nil || list.Total != 2 {
		t.Errorf("after the refusals: %s", r.stdout)
	}
	if u := userOut(t, s, "", "users", "show", "ana@example.com"); u.PasswordSet {
		t.Error("a refused password was set")
	}
}

// The users commands act in the tenant --tenant names, and only there.
func TestBinaryUsersTenant(t *testing.T) {
	s, _ := migrated(t)
	s.run("", "tenants", "create", "--name", "Acme").expect(t, "tenants create", 0)
	r := s.run("", "users", "create", "--tenant", "acme", "--email", "bo@acme.example")
	r.expect(t, "create in acme", 0, "latchkey users set-password bo@acme.example --tenant acme")
	s.run("", "users", "show", "bo@acme.example").expect(t, "show in the default tenant", 1, `no user "bo@acme.example"`)
	bo := userOut(t, s, "", "users", "show", "bo@acme.example", "--tenant", "acme")
	s.run("", "users", "disable", bo.ID).expect(t, "disable by ID from the default tenant", 1, "no user")
	s.env = append(s.env, "LATCHKEY_TENANT=acme")
	if u := userOut(t, s, "", "users", "disable", bo.ID); u.Status != "disabled" {
		t.Errorf("disable with LATCHKEY_TENANT: %+v", u)
	}
}
