package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestTwoTenantsEndToEnd runs the real server with a second tenant made by
// the CLI, gets tokens from both tenants with golang.org/x/oauth2, and
// checks that each tenant has its own discovery document and JWKS and
// refuses the other's clients and tokens: on SQLite, and on PostgreSQL
// when LATCHKEY_TEST_POSTGRES_URL names a server.
func TestTwoTenantsEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db database) { twoTenantsEndToEnd(t, start(t, db, nil)) })
}

func twoTenantsEndToEnd(t *testing.T, in *instance) {
	ctx := context.Background()
	issuer := in.url // the issuer follows the listen address

	out, code := in.cli(t, "tenants", "create", "--name", "Beta Corp", "--json")
	if code != 0 {
		t.Fatalf("tenants create: %d %s", code, out)
	}
	var beta tenantJSON
	if err := json.Unmarshal([]byte(out), &beta); err != nil || beta.Slug != "beta-corp" || beta.Default ||
		beta.Issuer != issuer+"/t/beta-corp" || !strings.HasPrefix(beta.ID, "ten_") {
		t.Fatalf("tenants create printed %s (%v)", out, err)
	}
	if out, code := in.cli(t, "tenants", "create", "--name", "Again", "--slug", "beta-corp"); code == 0 || !strings.Contains(out, "taken") {
		t.Errorf("a taken slug: %d %s", code, out)
	}
	out, code = in.cli(t, "tenants", "list", "--json")
	var list []tenantJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || !list[0].Default ||
		list[0].Issuer != issuer || list[1].ID != beta.ID {
		t.Fatalf("tenants list: %d %s", code, out)
	}

	rootID, rootSecret := in.createClient(t, "--name", "Root app", "--grant-type", "client_credentials", "--scope", "read")
	rootRS, rootRSSecret := in.createClient(t, "--name", "Root API", "--grant-type", "client_credentials", "--role", "resource_server")
	betaID, betaSecret := in.createClient(t, "--tenant", beta.ID, "--name", "Beta app", "--grant-type", "client_credentials", "--scope", "read")
	betaRS, betaRSSecret := in.createClient(t, "--tenant", beta.ID, "--name", "Beta API", "--grant-type", "client_credentials", "--role", "resource_server")

	rootBase, betaBase := in.url, in.url+"/t/beta-corp"
	get := func(id, secret, base string) (*oauth2.Token, error) {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: base + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader}
		return cfg.Token(ctx)
	}
	rootTok, err := get(rootID, rootSecret, rootBase)
	if err != nil {
		t.Fatalf("root token: %v", err)
	}
	betaTok, err := get(betaID, betaSecret, betaBase)
	if err != nil {
		t.Fatalf("beta token: %v", err)
	}

	// Discovery per tenant, at both the tenant's path and RFC 8414's.
	for path, iss := range map[string]string{
		"/.well-known/oauth-authorization-server":             issuer,
		"/t/beta-corp/.well-known/oauth-authorization-server": issuer + "/t/beta-corp",
		"/.well-known/oauth-authorization-server/t/beta-corp": issuer + "/t/beta-corp",
	} {
		var m map[string]any
		if status := getJSON(t, in.url+path, &m); status != 200 || m["issuer"] != iss ||
			m["token_endpoint"] != iss+"/oauth2/token" || m["jwks_uri"] != iss+"/.well-known/jwks.json" {
			t.Errorf("%s: %d %v", path, status, m)
		}
	}
	var none map[string]any
	if status := getJSON(t, in.url+"/t/nobody/.well-known/jwks.json", &none); status != 404 {
		t.Errorf("an unknown tenant's JWKS: %d", status)
	}

	// Each JWKS verifies its own tenant's token and not the other's.
	var rootSet, betaSet jose.JSONWebKeySet
	getJSON(t, rootBase+"/.well-known/jwks.json", &rootSet)
	getJSON(t, betaBase+"/.well-known/jwks.json", &betaSet)
	checkJWT(t, rootTok.AccessToken, rootSet, issuer, true)
	checkJWT(t, betaTok.AccessToken, betaSet, issuer+"/t/beta-corp", true)
	checkJWT(t, rootTok.AccessToken, betaSet, "", false)
	checkJWT(t, betaTok.AccessToken, rootSet, "", false)

	// Each tenant serves its own tokens and refuses the other's.
	if got := bearerStatus(t, rootBase+"/api/v1/me", rootTok.AccessToken); got != 200 {
		t.Errorf("root token at root /api/v1/me: %d", got)
	}
	if got := bearerStatus(t, betaBase+"/api/v1/me", betaTok.AccessToken); got != 200 {
		t.Errorf("beta token at beta /api/v1/me: %d", got)
	}
	if got := bearerStatus(t, betaBase+"/api/v1/me", rootTok.AccessToken); got != 401 {
		t.Errorf("root token at beta /api/v1/me: %d", got)
	}
	if got := bearerStatus(t, rootBase+"/api/v1/me", betaTok.AccessToken); got != 401 {
		t.Errorf("beta token at root /api/v1/me: %d", got)
	}
	for _, c := range []struct {
		name, base, rs, secret, tok string
		active                      bool
	}{
		{"root token, root introspection", rootBase, rootRS, rootRSSecret, rootTok.AccessToken, true},
		{"beta token, beta introspection", betaBase, betaRS, betaRSSecret, betaTok.AccessToken, true},
		{"root token, beta introspection", betaBase, betaRS, betaRSSecret, rootTok.AccessToken, false},
		{"beta token, root introspection", rootBase, rootRS, rootRSSecret, betaTok.AccessToken, false},
		{"root token, its own client introspecting", rootBase, rootID, rootSecret, rootTok.AccessToken, false},
	} {
		if got := introspectActive(t, c.base, c.rs, c.secret, c.tok); got != c.active {
			t.Errorf("%s: active=%v", c.name, got)
		}
	}

	// A client authenticating at the other tenant fails exactly like an
	// unknown client.
	_, unknownErr := get("lkc_0000000000000000000000", "lks_wrong", betaBase)
	for _, c := range []struct{ name, id, secret, base string }{
		{"root client at beta", rootID, rootSecret, betaBase},
		{"beta client at the root", betaID, betaSecret, rootBase},
	} {
		_, err := get(c.id, c.secret, c.base)
		re, ok := err.(*oauth2.RetrieveError)
		ure, _ := unknownErr.(*oauth2.RetrieveError)
		if !ok || ure == nil || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 ||
			re.ErrorDescription != ure.ErrorDescription {
			t.Errorf("%s: %v; an unknown client gets %v", c.name, err, unknownErr)
		}
	}
}

func TestTenantsCommandNeedsADatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "missing.db")
	c := &cliAt{t: t, env: testEnv(map[string]string{"LATCHKEY_DATABASE_URL": db})}
	for _, args := range [][]string{{"tenants", "create", "--name", "Beta"}, {"tenants", "list"}} {
		if _, errOut, code := c.run(args...); code != 1 || !strings.Contains(errOut, "no Latchkey database") {
			t.Errorf("%v on a missing database: %d %s", args, code, errOut)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the tenants command created a database")
	}
	for _, args := range [][]string{
		{"tenants", "create"},
		{"tenants", "create", "--name", "日本"},
		{"tenants", "create", "--name", "X", "--slug", "Not_A_Slug"},
		{"tenants", "frobnicate"},
	} {
		if _, _, code := c.run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	json.NewDecoder(res.Body).Decode(v)
	return res.StatusCode
}

func bearerStatus(t *testing.T, u, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func introspectActive(t *testing.T, base, id, secret, tok string) bool {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("introspect at %s: %d %v", base, res.StatusCode, err)
	}
	return body.Active
}

// checkJWT verifies tok against set with go-jose: it must succeed, with
// the issuer as iss and aud, exactly when want is set.
func checkJWT(t *testing.T, tok string, set jose.JSONWebKeySet, iss string, want bool) {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	err = parsed.Claims(set, &c)
	switch {
	case want && err != nil:
		t.Errorf("token of %s does not verify against its JWKS: %v", iss, err)
	case want && (c.Issuer != iss || !c.Audience.Contains(iss)):
		t.Errorf("iss %q aud %v, want %s", c.Issuer, c.Audience, iss)
	case !want && err == nil:
		t.Errorf("a token of %s verifies against another tenant's JWKS", c.Issuer)
	}
}
