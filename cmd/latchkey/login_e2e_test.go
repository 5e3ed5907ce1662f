package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// loginRun is "latchkey login" running in-process, as a person at the
// terminal would see it: the sign-in URL it printed, and, once it ends,
// its exit status and output.
type loginRun struct {
	authURL string
	stdout  *lockedBuffer
	stderr  *lockedBuffer
	done    chan int
}

// startLogin runs "latchkey login --no-browser" with e and waits for the
// URL it prints.
func startLogin(t *testing.T, e env, args ...string) *loginRun {
	t.Helper()
	pr, pw := io.Pipe()
	lr := &loginRun{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan int, 1)}
	exited := make(chan int, 1)
	go func() {
		code := run(context.Background(), append([]string{"login", "--no-browser"}, args...), e, lr.stdout, pw, nil)
		pw.Close()
		exited <- code
	}()
	br := bufio.NewReader(pr)
	for lr.authURL == "" {
		line, err := br.ReadString('\n')
		lr.stderr.Write([]byte(line))
		if err != nil {
			t.Fatalf("login printed no URL (exit %d):\n%s%s", <-exited, lr.stdout, lr.stderr)
		}
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "http"); ok {
			lr.authURL = "http" + u
		}
	}
	// The rest of the output, to its end, before the status is known.
	go func() {
		io.Copy(lr.stderr, br)
		lr.done <- <-exited
	}()
	return lr
}

// wait returns the exit status once the command has ended.
func (lr *loginRun) wait() int { return <-lr.done }

// param is a query parameter of the sign-in URL.
func (lr *loginRun) param(t *testing.T, name string) string {
	t.Helper()
	u, err := url.Parse(lr.authURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(name)
}

func TestLoginThroughTheBrowser(t *testing.T) {
	const password = "correct horse battery staple"
	in := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_ADMIN_PASSWORD": password})
	config := t.TempDir()
	e := remoteEnv(t, map[string]string{"XDG_CONFIG_HOME": config})
	file := filepath.Join(config, "latchkey", "credentials.json")

	lr := startLogin(t, e, "--endpoint", in.url)
	redirect := lr.param(t, "redirect_uri")
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") || !strings.HasSuffix(redirect, "/callback") ||
		lr.param(t, "client_id") != "latchkey-cli" || lr.param(t, "code_challenge_method") != "S256" || lr.param(t, "state") == "" ||
		!slices.Contains(strings.Fields(lr.param(t, "scope")), "oauth:client:view") {
		t.Fatalf("the sign-in URL: %s", lr.authURL)
	}
	// The browser signs in; the server sends it back to the command.
	cb := newBrowser(t, in.url).signInAs(lr.authURL, redirect, "admin@localhost", password)
	if status, page := get(t, cb.String()); status != 200 || !strings.Contains(page, "You may close this tab") {
		t.Errorf("the page after the sign-in: %d %s", status, page)
	}
	if code := lr.wait(); code != 0 || lr.stdout.String() != "Signed in to "+in.url+" as admin@localhost.\n" {
		t.Fatalf("login: exit %d\n%s%s", code, lr.stdout, lr.stderr)
	}

	// The file is the user's alone, and holds a refresh token, no access
	// token.
	for path, want := range map[string]os.FileMode{file: 0o600, filepath.Dir(file): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want mode %v", path, fi.Mode(), err, want)
		}
	}
	stored := func() map[string]map[string]string {
		t.Helper()
		var c struct{ Logins map[string]map[string]string }
		b, err := os.ReadFile(file)
		if err != nil || json.Unmarshal(b, &c) != nil {
			t.Fatalf("the credentials file: %v %s", err, b)
		}
		return c.Logins
	}
	login := stored()[in.url]
	if keys := slices.Sorted(maps.Keys(login)); !slices.Equal(keys, []string{"client_id", "email", "endpoint", "issuer", "refresh_token"}) ||
		login["email"] != "admin@localhost" || login["issuer"] != in.url || !strings.HasPrefix(login["refresh_token"], "lkrt_") {
		t.Fatalf("stored %v", login)
	}

	// A remote command with no credentials in its environment uses the
	// sign-in, and stores the refresh token it rotated to.
	cliRun(e, "clients", "list", "--endpoint", in.url).expect(t, "clients list signed in", 0, "latchkey-admin")
	rotated := stored()[in.url]["refresh_token"]
	if rotated == login["refresh_token"] || rotated == "" {
		t.Errorf("the refresh token was not rotated: %q", rotated)
	}

	// Signing out revokes the sign-in at the server and forgets it.
	cliRun(e, "logout").expect(t, "logout", 0, "Signed out of "+in.url)
	if l := stored(); len(l) != 0 {
		t.Errorf("after logout the file holds %v", l)
	}
	cfg := &oauth2.Config{ClientID: "latchkey-cli", Endpoint: oauth2.Endpoint{TokenURL: in.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	_, err := refresh(context.Background(), cfg, rotated)
	wantInvalidGrant(t, "the refresh token after logout", err)
	cliRun(e, "clients", "list", "--endpoint", in.url).expect(t, "clients list signed out", 1,
		"not signed in", `"latchkey login --endpoint `+in.url+`"`)
	cliRun(e, "logout").expect(t, "logout again", 0, "nothing to do")
}

func TestLoginRefusedOrUnfinished(t *testing.T) {
	in := start(t, sqliteDatabase(t), nil)
	e := remoteEnv(t, nil)

	// A return with another state is not this sign-in's; a refusal ends
	// it with the server's error.
	lr := startLogin(t, e, "--endpoint", in.url)
	redirect, state := lr.param(t, "redirect_uri"), lr.param(t, "state")
	if status, _ := get(t, redirect+"?code=stolen&state=other"); status != http.StatusBadRequest {
		t.Errorf("a return with another state: %d", status)
	}
	q := url.Values{"error": {"access_denied"}, "error_description": {"the user said no"}, "state": {state}}
	if status, page := get(t, redirect+"?"+q.Encode()); status != 200 || !strings.Contains(page, "access_denied") {
		t.Errorf("a refusal's page: %d %s", status, page)
	}
	if code := lr.wait(); code != 1 || !strings.Contains(lr.stderr.String(), "the sign-in was refused: access_denied: the user said no") {
		t.Errorf("a refused sign-in: exit %d\n%s", code, lr.stderr)
	}

	// Nobody comes back in time.
	cliRun(e, "login", "--no-browser", "--endpoint", in.url, "--timeout", "1ms").expect(t, "an unfinished sign-in", 1,
		"did not finish within 1ms")
	cliRun(e, "login").expect(t, "login without --endpoint", 2, "--endpoint is required")
}

// Signing out of a server that cannot be reached still forgets the
// sign-in, with a warning.
func TestLogoutUnreachable(t *testing.T) {
	config := t.TempDir()
	e := remoteEnv(t, map[string]string{"XDG_CONFIG_HOME": config})
	file := filepath.Join(config, "latchkey", "credentials.json")
	const gone, kept = "http://127.0.0.1:1", "https://auth.example.com"
	c := &credentials{Logins: map[string]storedLogin{
		gone: {Endpoint: gone, Issuer: gone, ClientID: "latchkey-cli", RefreshToken: "lkr_x", Email: "a@example.com"},
		kept: {Endpoint: kept, Issuer: kept, ClientID: "latchkey-cli", RefreshToken: "lkr_y", Email: "a@example.com"},
	}}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeCredentials(file, c); err != nil {
		t.Fatal(err)
	}
	cliRun(e, "logout").expect(t, "logout of two servers", 2, "signed in to several servers", gone, kept)
	r := cliRun(e, "logout", "--endpoint", gone)
	r.expect(t, "logout of an unreachable server", 0, "Signed out of "+gone)
	if !strings.Contains(r.stderr, "warning: the server did not revoke the sign-in") {
		t.Errorf("no warning: %s", r.stderr)
	}
	got, err := readCredentials(file)
	if err != nil || len(got.Logins) != 1 || got.Logins[kept].RefreshToken != "lkr_y" {
		t.Errorf("after logout: %+v %v", got, err)
	}
}
