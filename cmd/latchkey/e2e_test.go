package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// lockedBuffer is a bytes.Buffer safe for the server goroutine to write
// while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// instance is a running "latchkey serve".
type instance struct {
	url    string
	dir    string
	env    env
	stdout *lockedBuffer
	stderr *lockedBuffer
}

// testEnv builds an environment for run from key=value pairs.
func testEnv(kv map[string]string) env {
	return env{func(k string) string { return kv[k] }}
}

// start runs the real server command on a free loopback port against db,
// and stops it (gracefully, as SIGTERM would) at cleanup.
func start(t *testing.T, db database, kv map[string]string) *instance {
	t.Helper()
	in, _ := launch(t, db, kv)
	return in
}

// launch is start that also returns stop: it begins the graceful shutdown
// SIGTERM would, waits for serve to return and gives its exit code. A
// test may call it before cleanup does.
func launch(t *testing.T, db database, kv map[string]string) (*instance, func() int) {
	t.Helper()
	kv = db.with(kv)
	dir := db.dir
	kv["LATCHKEY_ADDR"] = "127.0.0.1:0"
	kv["LATCHKEY_USAGE_FLUSH"] = "1h"
	e := testEnv(kv)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	in := &instance{dir: dir, env: e, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	go func() { done <- run(ctx, []string{"serve"}, e, in.stdout, in.stderr, ready) }()
	select {
	case addr := <-ready:
		in.url = "http://" + addr
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d: %s", code, in.stderr)
	}
	// Unless given one, the server took its issuer from the port it
	// listens on; the CLI is told it, as an operator would be.
	cli := maps.Clone(kv)
	if cli["LATCHKEY_ISSUER"] == "" {
		cli["LATCHKEY_ISSUER"] = in.url
	}
	in.env = testEnv(cli)
	stop := sync.OnceValue(func() int {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if code := stop(); code != 0 {
			t.Errorf("serve exited with %d: %s", code, in.stderr)
		}
	})
	return in, stop
}

// cli runs a latchkey command against the instance's database.
func (in *instance) cli(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, in.env, &out, &errOut, nil)
	return out.String() + errOut.String(), code
}

func (in *instance) createClient(t *testing.T, args ...string) (id, secret string) {
	t.Helper()
	out, code := in.cli(t, append([]string{"clients", "create", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("clients create: %d %s", code, out)
	}
	var v struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("clients create --json printed %q: %v", out, err)
	}
	return v.ClientID, v.ClientSecret
}

func TestFirstStartPrintsCredentialsOnce(t *testing.T) {
	forEachBackend(t, testFirstStartPrintsCredentialsOnce)
}

func testFirstStartPrintsCredentialsOnce(t *testing.T, db database) {
	in := start(t, db, nil)
	out := in.stdout.String()
	for _, want := range []string{"Super admin:", "admin@localhost", "Password:", "latchkey-admin", "Client secret:      lks_", "latchkey-console"} {
		if !strings.Contains(out, want) {
			t.Errorf("first start output lacks %q:\n%s", want, out)
		}
	}
	secret := regexp.MustCompile(`lks_[0-9A-Za-z]+`).FindString(out)
	if strings.Contains(in.stderr.String(), secret) {
		t.Error("the admin client secret reached the log")
	}

	// The printed admin client secret works with a real OAuth library.
	cfg := clientcredentials.Config{ClientID: "latchkey-admin", ClientSecret: secret, TokenURL: in.url + "/oauth2/token"}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tok.Extra("scope").(string), "oauth:client:view") {
		t.Errorf("admin token scope %v", tok.Extra("scope"))
	}

	// Deleting a protected client is refused.
	if out, code := in.cli(t, "clients", "delete", "latchkey-admin"); code == 0 || !strings.Contains(out, "protected") {
		t.Errorf("delete protected: %d %s", code, out)
	}
}

func TestRestartProvisionsNothing(t *testing.T) { forEachBackend(t, testRestartProvisionsNothing) }

func testRestartProvisionsNothing(t *testing.T, db database) {
	first := start(t, db, map[string]string{"LATCHKEY_ADMIN_PASSWORD": "correct horse battery staple"})
	if !strings.Contains(first.stdout.String(), "Super admin:") || strings.Contains(first.stdout.String(), "Password:") {
		t.Fatalf("first start: %s", first.stdout)
	}
	out, code := first.cli(t, "clients", "list", "--json")
	if code != 0 || strings.Count(out, `"client_id"`) != 3 {
		t.Fatalf("list after first start: %d %s", code, out)
	}
	second := start(t, db, nil)
	if s := second.stdout.String(); s != "" {
		t.Fatalf("second start printed %q", s)
	}
}

func TestClientCredentialsWithOAuth2Library(t *testing.T) {
	forEachBackend(t, testClientCredentialsWithOAuth2Library)
}

func testClientCredentialsWithOAuth2Library(t *testing.T, db database) {
	in := start(t, db, nil)
	ctx := context.Background()
	var id, secret string
	// Each client is held to its token_endpoint_auth_method: one client
	// per style, and the other style refused.
	for style, method := range map[oauth2.AuthStyle]string{
		oauth2.AuthStyleInHeader: "client_secret_basic", oauth2.AuthStyleInParams: "client_secret_post"} {
		id, secret = in.createClient(t, "--name", "Billing sync", "--grant-type", "client_credentials",
			"--scope", "read", "--scope", "write", "--token-endpoint-auth-method", method)
		if !strings.HasPrefix(id, "lkc_") || !strings.HasPrefix(secret, "lks_") {
			t.Fatalf("id %q secret %q", id, secret)
		}
		other := oauth2.AuthStyleInParams + oauth2.AuthStyleInHeader - style
		wrong := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.url + "/oauth2/token", AuthStyle: other}
		var rerr *oauth2.RetrieveError
		if _, err := wrong.Token(ctx); !asRetrieveError(err, &rerr) || rerr.ErrorCode != "invalid_client" || !strings.Contains(rerr.ErrorDescription, method) {
			t.Fatalf("%s client with the other style: %v", method, err)
		}
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.url + "/oauth2/token",
			Scopes: []string{"read"}, AuthStyle: style}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Extra("scope") != "read" || tok.Expiry.IsZero() {
			t.Errorf("token %+v", tok)
		}
		verifyAgainstJWKS(t, in.url, tok.AccessToken, id)

		// The token reaches the protected resource through the library's client.
		res, err := cfg.Client(ctx).Get(in.url + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), `"client_id":"`+id+`"`) {
			t.Fatalf("me: %d %s", res.StatusCode, body)
		}
	}

	// A wrong secret is an RFC 6749 error the library surfaces.
	bad := clientcredentials.Config{ClientID: id, ClientSecret: "lks_wrong", TokenURL: in.url + "/oauth2/token"}
	_, err := bad.Token(ctx)
	var re *oauth2.RetrieveError
	if !asRetrieveError(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
	// The log never holds the secret (the storage suites check the
	// database files and rows).
	if strings.Contains(in.stderr.String(), secret) {
		t.Error("the client secret reached the log")
	}
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool {
	re, ok := err.(*oauth2.RetrieveError)
	if ok {
		*target = re
	}
	return ok
}

// verifyAgainstJWKS checks a JWT with an independent JOSE library against
// the keys the server publishes.
func verifyAgainstJWKS(t *testing.T, base, tok, clientID string) {
	t.Helper()
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	var priv struct {
		ClientID string `json:"client_id"`
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not published", parsed.Headers[0].KeyID)
	}
	if err := parsed.Claims(keys[0].Key, &claims, &priv); err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != base || claims.Subject != clientID || priv.ClientID != clientID {
		t.Errorf("claims %+v %+v", claims, priv)
	}
}

func TestCLIChangesReachTheServer(t *testing.T) { forEachBackend(t, testCLIChangesReachTheServer) }

func testCLIChangesReachTheServer(t *testing.T, db database) {
	// No client cache, so a change made by another process (the CLI) is
	// seen by the next request without waiting.
	in := start(t, db, map[string]string{"LATCHKEY_CLIENT_CACHE_TTL": "-1s"})
	id, secret := in.createClient(t, "--name", "Nightly export", "--grant-type", "client_credentials")
	ctx := context.Background()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.url + "/oauth2/token"}
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	me := func() int {
		req, _ := http.NewRequest("GET", in.url+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if me() != 200 {
		t.Fatal("fresh token refused")
	}
	if out, code := in.cli(t, "clients", "revoke", id); code != 0 {
		t.Fatalf("revoke: %s", out)
	}
	if got := me(); got != 401 {
		t.Fatalf("token of a revoked client: %d", got)
	}
	if _, err := cfg.Token(ctx); err == nil {
		t.Fatal("a revoked client obtained a token")
	}
}
