package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// startWith is start with flags for serve.
func startWith(t *testing.T, db database, kv map[string]string, args ...string) *instance {
	t.Helper()
	kv = db.with(kv)
	kv["LATCHKEY_ADDR"] = "127.0.0.1:0"
	kv["LATCHKEY_USAGE_FLUSH"] = "1h"
	e := testEnv(kv)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan int, 1)
	in := &instance{dir: db.dir, env: e, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	go func() { done <- run(ctx, append([]string{"serve"}, args...), e, in.stdout, in.stderr, ready) }()
	select {
	case addr := <-ready:
		in.url = "http://" + addr
	case code := <-done:
		cancel()
		t.Fatalf("serve %v exited with %d: %s", args, code, in.stderr)
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d: %s", code, in.stderr)
		}
	})
	return in
}

// The console's idle timeout is a setting: its flag and its variable
// reach the pages, whose sign-in page words it after an idle sign-out,
// and a value under the least is refused before the server starts.
func TestConsoleIdleTimeoutSetting(t *testing.T) {
	notice := func(t *testing.T, in *instance) string {
		t.Helper()
		code, body := get(t, in.url+"/account/login?reason=idle")
		if code != 200 {
			t.Fatalf("the sign-in page: %d %s", code, body)
		}
		return body
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"default", nil, nil, "signed out after 15 minutes without activity"},
		{"environment", map[string]string{"LATCHKEY_CONSOLE_IDLE_TIMEOUT": "3m"}, nil, "signed out after 3 minutes without activity"},
		{"flag over environment", map[string]string{"LATCHKEY_CONSOLE_IDLE_TIMEOUT": "3m"}, []string{"--console-idle-timeout", "1h"},
			"signed out after 60 minutes without activity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := startWith(t, sqliteDatabase(t), tc.env, tc.args...)
			if body := notice(t, in); !strings.Contains(body, tc.want) {
				t.Errorf("the sign-in page does not say %q:\n%s", tc.want, body)
			}
		})
	}
	plain := start(t, sqliteDatabase(t), nil)
	if _, body := get(t, plain.url+"/account/login"); strings.Contains(body, "without activity") {
		t.Error("the sign-in page says a session went idle when none did")
	}

	db := sqliteDatabase(t)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--console-idle-timeout", "1m"}, nil, "--console-idle-timeout"},
		{nil, map[string]string{"LATCHKEY_CONSOLE_IDLE_TIMEOUT": "30s"}, "LATCHKEY_CONSOLE_IDLE_TIMEOUT"},
		{nil, map[string]string{"LATCHKEY_CONSOLE_IDLE_TIMEOUT": "soon"}, "LATCHKEY_CONSOLE_IDLE_TIMEOUT"},
		{[]string{"--console-idle-timeout", "0"}, nil, "console-idle-timeout"},
	} {
		var o, e bytes.Buffer
		code := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), testEnv(db.with(tc.env)), &o, &e, nil)
		if code != 2 || !strings.Contains(e.String(), tc.want) {
			t.Errorf("serve %v with %v: exit %d %q, want 2 naming %s", tc.args, tc.env, code, e.String(), tc.want)
		}
	}
}

// A password the first start generated, or one the operator set, is not
// the user's own: the console asks them to change it. One given when the
// user is created is not asked about (the operator chose to hand it over).
func TestOperatorPasswordsMustBeChanged(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	writeFile(t, pwFile, "a long enough passphrase\n")
	if out, errOut, code := c.run("users", "create", "--email", "ana@example.com", "--password-file", pwFile); code != 0 {
		t.Fatalf("users create: %d %s %s", code, out, errOut)
	}
	required := func(email string) bool {
		t.Helper()
		st, err := store.OpenExisting(context.Background(), c.env.lookup("LATCHKEY_DATABASE_URL"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ten, err := st.DefaultTenant(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.UserByEmail(context.Background(), ten.ID, email)
		if err != nil {
			t.Fatal(err)
		}
		return u.PasswordChangeRequired
	}
	if !required("admin@localhost") {
		t.Error("the admin with a generated password is not asked to change it")
	}
	if required("ana@example.com") {
		t.Error("a user created with a password is asked to change it")
	}
	out, errOut, code := c.run("users", "set-password", "ana@example.com", "--password-file", pwFile)
	if code != 0 || !strings.Contains(out, "choose their own password") {
		t.Fatalf("users set-password: %d %q %q", code, out, errOut)
	}
	if !required("ana@example.com") {
		t.Error("a password the operator set is not to be changed")
	}
}
