package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// The clients and users commands given --endpoint run against the real
// server's admin API, and say exactly what they say on the database: the
// same output, table and JSON, the same messages, the same exit codes.
// Each command runs twice on one instance, once on its database and once
// through its API, on records made the same way.

const remoteAdminSecret = "an-operator-chosen-admin-secret-0123456789"

// cliRun runs a latchkey command in-process with e, its output kept
// apart.
func cliRun(e env, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, e, &out, &errOut, nil)
	return result{out.String(), errOut.String(), code}
}

// remoteEnv is an environment with no database to find (a command that
// opened one would fail) and no stored sign-in, plus kv.
func remoteEnv(t *testing.T, kv map[string]string) env {
	t.Helper()
	m := map[string]string{"LATCHKEY_DATABASE_URL": filepath.Join(t.TempDir(), "none.db"),
		"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir()}
	for k, v := range kv {
		m[k] = v
	}
	return testEnv(m)
}

// varying are the keys whose values differ between two records made the
// same way: IDs, times, actors, secrets and emails. A null stays null.
var varying = map[string]bool{"client_id": true, "id": true, "created_at": true, "updated_at": true, "created_by": true,
	"expires_at": true, "secret_expires_at": true, "last_used_at": true, "revoked_at": true, "client_secret": true,
	"hint": true, "email": true}

// shape is a JSON document with the varying values masked and the keys
// drop left out.
func shape(t *testing.T, what, doc string, drop ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("%s printed %q: %v", what, doc, err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch {
				case slices.Contains(drop, k):
					delete(x, k)
				case varying[k] && e != nil:
					x[k] = "(varies)"
				default:
					x[k] = walk(e)
				}
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	return walk(v)
}

// sameShape checks that two runs exited alike and printed JSON of one
// shape, and returns the documents.
func sameShape(t *testing.T, what string, local, remote result, drop ...string) (l, r map[string]any) {
	t.Helper()
	if local.code != 0 || remote.code != 0 {
		t.Fatalf("%s: exit %d locally (%s), %d remotely (%s)", what, local.code, local.stderr, remote.code, remote.stderr)
	}
	if a, b := shape(t, what, local.stdout, drop...), shape(t, what, remote.stdout, drop...); !reflect.DeepEqual(a, b) {
		t.Errorf("%s: the JSON differs\nlocally:  %s\nremotely: %s", what, local.stdout, remote.stdout)
	}
	json.Unmarshal([]byte(local.stdout), &l)
	json.Unmarshal([]byte(remote.stdout), &r)
	return l, r
}

// same checks that two runs exited alike and printed the same, after
// replacing, in the remote run's output, each old string with its new.
func same(t *testing.T, what string, local, remote result, oldnew ...string) {
	t.Helper()
	rp := strings.NewReplacer(oldnew...)
	remote.stdout, remote.stderr = rp.Replace(remote.stdout), rp.Replace(remote.stderr)
	if local != remote {
		t.Errorf("%s differs\nlocally:  exit %d\n%s%s\nremotely: exit %d\n%s%s", what,
			local.code, local.stdout, local.stderr, remote.code, remote.stdout, remote.stderr)
	}
}

func TestRemoteCommandsMatchLocal(t *testing.T) {
	in := start(t, sqliteDatabase(t), map[string]string{"LATCHKEY_ADMIN_CLIENT_SECRET": remoteAdminSecret})
	admin := remoteEnv(t, map[string]string{"LATCHKEY_CLIENT_ID": "latchkey-admin", "LATCHKEY_CLIENT_SECRET": remoteAdminSecret})
	local := func(args ...string) result { return cliRun(in.env, args...) }
	remote := func(args ...string) result { return cliRun(admin, append(args, "--endpoint", in.url)...) }
	both := func(args ...string) (result, result) { return local(args...), remote(args...) }

	create := []string{"clients", "create", "--json", "--name", "Billing sync", "--description", "Nightly export",
		"--grant-type", "client_credentials", "--scope", "read"}
	l, r := sameShape(t, "clients create", local(create...), remote(create...))
	lid, rid := l["client_id"].(string), r["client_id"].(string)
	if lid == "" || rid == "" || l["client_secret"] == "" || r["client_secret"] == "" || r["created_by"] != "latchkey-admin" {
		t.Fatalf("created %v and %v", l, r)
	}

	// Both see the same records the same way.
	for _, args := range [][]string{
		{"clients", "list", "--search", "Billing"},
		{"clients", "list", "--search", "Billing", "--json", "--sort", "-name", "--limit", "1"},
		{"clients", "show", lid},
		{"clients", "show", rid, "--json"},
	} {
		lr, rr := both(args...)
		same(t, strings.Join(args, " "), lr, rr)
		if lr.code != 0 {
			t.Errorf("%v: exit %d: %s", args, lr.code, lr.stderr)
		}
	}

	for _, args := range [][]string{
		{"update", "--description", "Hourly export", "--scope", "", "--json"},
		{"rotate-secret", "--grace", "1h", "--json"},
		{"deactivate", "--json"},
	} {
		cmd := append([]string{"clients", args[0]}, args[1:]...)
		sameShape(t, strings.Join(cmd, " "), local(append(cmd, lid)...), remote(append(cmd, rid)...))
	}
	same(t, "clients delete", local("clients", "delete", lid), remote("clients", "delete", rid), rid, lid)

	// Refusals: the same words and status.
	for _, args := range [][]string{
		{"clients", "show", "lkc_nobody"},
		{"clients", "delete", lid},
		{"clients", "create", "--name", "", "--grant-type", "magic", "--redirect-uri", "not a uri"},
		{"clients", "list", "--sort", "colour", "--after", "!"},
		{"clients", "list", "--limit", "0"},
		{"clients", "deactivate", "latchkey-admin"},
		{"clients", "revoke", "latchkey-admin"},
		{"clients", "update", "latchkey-admin", "--name", "x"},
		{"clients", "list", "--authorized-by", "nobody@example.com"},
	} {
		lr, rr := both(args...)
		same(t, strings.Join(args, " "), lr, rr)
		if lr.code == 0 {
			t.Errorf("%v succeeded", args)
		}
	}

	// Users: made alike, listed alike. The API's view of a user has no
	// division, so that field is left out of the comparison.
	lu, ru := sameShape(t, "users create",
		local("users", "create", "--json", "--email", "ana@example.com", "--name", "Ana", "--role", "viewer"),
		remote("users", "create", "--json", "--email", "bo@example.com", "--name", "Ana", "--role", "viewer"), "division_id")
	for _, args := range [][]string{{"users", "list"}, {"users", "show", "ana@example.com"}, {"users", "show", "nobody@example.com"}} {
		lr, rr := both(args...)
		lr.stdout = divisionRow.ReplaceAllString(lr.stdout, "")
		same(t, strings.Join(args, " "), lr, rr)
	}
	lr, rr := both("users", "list", "--json")
	sameShape(t, "users list --json", lr, rr, "division_id")
	same(t, "users disable", local("users", "disable", "ana@example.com"), remote("users", "disable", "bo@example.com"),
		"bo@example.com", "ana@example.com", ru["id"].(string), lu["id"].(string))
	remote("users", "set-password", "bo@example.com").expect(t, "users set-password remotely", 2,
		`"users set-password" cannot run against --endpoint`)

	// "clients token" needs no database either; a secret the admin chose
	// is not printed back, though the API answers with it.
	dir := t.TempDir()
	chosen := filepath.Join(dir, "chosen")
	const chosenSecret = "an-admin-chosen-secret-of-enough-length"
	if err := os.WriteFile(chosen, []byte(chosenSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	made := remote("clients", "create", "--json", "--name", "Token test", "--grant-type", "client_credentials", "--scope", "read",
		"--secret-file", chosen)
	var c clientCreds
	if err := json.Unmarshal([]byte(made.stdout), &c); made.code != 0 || err != nil || c.Secret != "" || strings.Contains(made.stdout, chosenSecret) {
		t.Fatalf("clients create --secret-file remotely: exit %d %v\n%s%s", made.code, err, made.stdout, made.stderr)
	}
	remote("clients", "token", c.ID, "--secret-file", chosen).expect(t, "clients token remotely", 0,
		"Access token: ey", "Scope:        read")

	// A viewer's own sign-in may look, not change; the refusal names the
	// permission, as the domain words it.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(oidcUserPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cliRun(in.env, "users", "create", "--email", "viewer@example.com", "--role", "viewer", "--password-file", pwFile).
		expect(t, "users create viewer", 0)
	viewer := remoteEnv(t, map[string]string{"LATCHKEY_TOKEN": userToken(t, in.url, "viewer@example.com", oidcUserPassword)})
	asViewer := func(args ...string) result { return cliRun(viewer, append(args, "--endpoint", in.url)...) }
	asViewer("clients", "list").expect(t, "a viewer listing", 0, "latchkey-admin", "4 of 4 client(s)")
	r2 := asViewer("clients", "create", "--name", "x", "--grant-type", "client_credentials")
	if want := "latchkey clients create: permission denied: this needs the oauth:client:add permission\n"; r2.code != 1 || r2.stderr != want {
		t.Errorf("a viewer creating: exit %d %q, want 1 %q", r2.code, r2.stderr, want)
	}
	asViewer("users", "list").expect(t, "a viewer listing users", 1, "this needs the users:manage permission")

	// Without credentials that work, the message says how to give some.
	hint := `"latchkey login --endpoint ` + in.url + `"`
	cliRun(remoteEnv(t, map[string]string{"LATCHKEY_TOKEN": "not-a-token"}), "clients", "list", "--endpoint", in.url).
		expect(t, "a bad token", 1, "the server did not accept the credentials", hint, "LATCHKEY_TOKEN")
	cliRun(remoteEnv(t, nil), "clients", "list", "--endpoint", in.url).expect(t, "no credentials", 1, "not signed in", hint)
	cliRun(remoteEnv(t, map[string]string{"LATCHKEY_CLIENT_ID": "latchkey-admin", "LATCHKEY_CLIENT_SECRET": "wrong"}),
		"clients", "list", "--endpoint", in.url).expect(t, "a wrong client secret", 1, "invalid_client")
	cliRun(admin, "clients", "list", "--endpoint", "http://example.com").expect(t, "plain http elsewhere", 2, "must use https")
	cliRun(admin, "clients", "list", "--endpoint", in.url, "--tenant", "nope").expect(t, "a tenant not served", 1, "/t/nope")
}

// divisionRow is the line of a user's summary the API's view cannot fill.
var divisionRow = regexp.MustCompile(`(?m)^Division:.*\n`)

// userToken signs a user in through the provisioned latchkey-cli client,
// with the real sign-in pages, and returns the access token.
func userToken(t *testing.T, issuer, email, password string) string {
	t.Helper()
	cfg := &oauth2.Config{ClientID: "latchkey-cli", RedirectURL: "http://127.0.0.1/callback",
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/oauth2/authorize", TokenURL: issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   append([]string{"openid"}, adminScopes()...)}
	verifier := oauth2.GenerateVerifier()
	cb := newBrowser(t, issuer).signInAs(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), cfg.RedirectURL, email, password)
	tok, err := cfg.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// signInAs sends the browser to authURL and answers the account pages on
// the way (signing in as email, approving a consent page) until the
// server sends it to redirectURI, whose URL it returns.
func (b *browser) signInAs(authURL, redirectURI, email, password string) *url.URL {
	b.t.Helper()
	here := authURL
	p := b.get(here)
	for range 10 {
		switch {
		case p.status == http.StatusFound || p.status == http.StatusSeeOther:
			if strings.HasPrefix(p.location, redirectURI+"?") {
				u, err := url.Parse(p.location)
				if err != nil {
					b.t.Fatal(err)
				}
				return u
			}
			here = p.location
			p = b.get(here)
		case p.status == http.StatusOK:
			forms := parseForms(p.body)
			if len(forms) != 1 {
				b.t.Fatalf("%s: want one form, got %d:\n%s", here, len(forms), p.body)
			}
			switch f := forms[0]; {
			case strings.HasSuffix(f.action, "/account/login") || strings.Contains(f.action, "/account/login?"):
				p = b.submit(here, p, f, "", url.Values{"email": {email}, "password": {password}})
			case strings.Contains(f.action, "/account/consent"):
				p = b.submit(here, p, f, "approve", nil)
			default:
				b.t.Fatalf("%s: an unexpected form to %s", here, f.action)
			}
		default:
			b.t.Fatalf("%s: status %d:\n%.2000s", here, p.status, p.body)
		}
	}
	b.t.Fatalf("the sign-in did not end within 10 steps; last at %s", here)
	return nil
}
