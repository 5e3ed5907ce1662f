package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/authz"
)

// TestNoSecretAtRest drives the real binary (log level debug, JSON log)
// through every surface that takes or hands out a credential, collects each
// credential it saw (first-start credentials, passwords right and wrong,
// client secrets generated, chosen, refused, rotated and wrong, codes,
// PKCE verifiers, access, refresh and ID tokens, session cookies, a webhook
// signing secret, a TOTP seed and recovery codes), and then looks for every
// one of them, as is and encoded, in everything the scenario left behind:
// the log, the audit trail, every column of every row of every table, the
// outbox, the webhook deliveries, /metrics, and the files the binary wrote.
// Hashes, sealed blobs, token IDs and the four-character hints are what
// may be kept; the credentials themselves may not, nor may a credential
// sent where an identifier belongs (a client's secret and ID swapped, a
// password typed as the email): a failure's record must not keep it.
func TestNoSecretAtRest(t *testing.T) {
	t.Run("scanner", testSecretScanner)
	forEachBackend(t, testNoSecretAtRest)
}

// secretValue is one credential the scenario produced or sent.
type secretValue struct {
	what  string // what it is, for the failure message
	value string
	// jwt marks a signed token: looked for whole, while its signature is a
	// value of its own (the header and claims are no secret).
	jwt bool
	// sentAs says where else the scenario sent the value, for the
	// failure message: a secret found where it was misplaced reads so.
	sentAs []string
}

// secretSet is the credentials collected so far, each once.
type secretSet struct{ values []secretValue }

func (ss *secretSet) add(t *testing.T, what, value string) {
	t.Helper()
	if value == "" {
		t.Fatalf("the scenario produced no %s to collect", what)
	}
	if slices.ContainsFunc(ss.values, func(s secretValue) bool { return s.value == value }) {
		return
	}
	ss.values = append(ss.values, secretValue{what: what, value: value})
}

// sentAs notes that value, collected already, was also sent as how.
func (ss *secretSet) sentAs(t *testing.T, value, how string) {
	t.Helper()
	i := slices.IndexFunc(ss.values, func(s secretValue) bool { return s.value == value })
	if i < 0 {
		t.Fatalf("%s: the value was not collected", how)
	}
	ss.values[i].sentAs = append(ss.values[i].sentAs, how)
}

// addJWT collects a signed token and, apart, its signature.
func (ss *secretSet) addJWT(t *testing.T, what, tok string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("the %s is not a JWT", what)
	}
	ss.add(t, what, tok)
	ss.values[len(ss.values)-1].jwt = true
	ss.add(t, what+" (its signature)", parts[2])
}

// needle is one form of a value the scanner looks for.
type needle struct {
	secret *secretValue
	form   string
	text   string
}

// needles are the forms a value may be stored in without being hashed:
// as is, URL- and JSON-escaped, hex, base64 and base64url at each of the
// three alignments it can have inside a longer encoded blob, and, for long
// values, their first and last 20 characters (a value cut short, or kept
// without its prefix, is still most of a secret).
func needles(s *secretValue) []needle {
	var out []needle
	add := func(form, text string) {
		if text == "" || slices.ContainsFunc(out, func(n needle) bool { return n.text == text }) {
			return
		}
		out = append(out, needle{secret: s, form: form, text: text})
	}
	v := s.value
	add("as is", v)
	if len(v) < 16 {
		return out
	}
	add("URL-encoded", url.QueryEscape(v))
	add("path-escaped", url.PathEscape(v))
	if j, err := json.Marshal(v); err == nil {
		add("JSON-escaped", string(j[1:len(j)-1]))
	}
	if s.jwt {
		return out
	}
	add("hex", hex.EncodeToString([]byte(v)))
	add("HEX", strings.ToUpper(hex.EncodeToString([]byte(v))))
	for _, enc := range []struct {
		name string
		enc  *base64.Encoding
	}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
		for off := range 3 {
			add(fmt.Sprintf("%s at offset %d", enc.name, off), base64Core(enc.enc, []byte(v), off))
		}
	}
	if len(v) >= 32 {
		add("first 20 characters", v[:20])
		add("last 20 characters", v[len(v)-20:])
	}
	return out
}

// base64Core is the part of the base64 encoding of b, preceded by off
// other bytes, that depends on b alone: the characters of the 3-byte
// groups wholly within b. However b sits in a longer encoded blob, one of
// the three offsets finds it.
func base64Core(enc *base64.Encoding, b []byte, off int) string {
	buf := append(make([]byte, off), b...)
	s := enc.EncodeToString(buf)
	start, end := 0, 4*(len(buf)/3)
	if off > 0 {
		start = 4
	}
	if end-start < 12 {
		return ""
	}
	return s[start:end]
}

// place is one piece of text the scenario left behind, and where it is.
type place struct{ where, text string }

// finding is a value found in a place.
type finding struct {
	needle needle
	where  string
}

func (f finding) String() string {
	what := f.needle.secret.what
	if len(f.needle.secret.sentAs) > 0 {
		what += ", also sent " + strings.Join(f.needle.secret.sentAs, " and ")
	}
	return fmt.Sprintf("%s (%s…, found %s) in %s", what, secretPrefix(f.needle.secret.value), f.needle.form, f.where)
}

// secretPrefix is enough of a value to tell which it is, never the value.
func secretPrefix(v string) string {
	n := min(6, len(v)/4)
	return v[:n]
}

// groupFindings words findings one line per value and place, naming
// every form it was found in.
func groupFindings(fs []finding) []string {
	var keys []string
	forms := map[string][]string{}
	for _, f := range fs {
		k := f.String()
		k = k[:strings.Index(k, ", found ")] + ") in " + f.where
		if forms[k] == nil {
			keys = append(keys, k)
		}
		forms[k] = append(forms[k], f.needle.form)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + " [" + strings.Join(forms[k], ", ") + "]"
	}
	return out
}

// scan returns every needle found in every place.
func scan(ns []needle, places []place) []finding {
	var out []finding
	for _, p := range places {
		for _, n := range ns {
			if strings.Contains(p.text, n.text) {
				out = append(out, finding{n, p.where})
			}
		}
	}
	return out
}

func allNeedles(ss []secretValue) []needle {
	var out []needle
	for i := range ss {
		out = append(out, needles(&ss[i])...)
	}
	return out
}

// testSecretScanner shows the scanner is not vacuous: a value planted in
// each of the forms it looks for, inside other text, is found; a text
// without it is not.
func testSecretScanner(t *testing.T) {
	ss := []secretValue{{what: "planted secret", value: "lks_" + randomText(t, 43)}}
	ns := allNeedles(ss)
	v := ss[0].value
	noise := func(s string) string { return `{"before":"x` + s + `y","after":1}` }
	plants := map[string]string{
		"as is":          noise(v),
		"cut to 40":      noise(v[:40]),
		"prefix gone":    noise(strings.TrimPrefix(v, "lks_")),
		"form-encoded":   url.Values{"client_secret": {v + "/+"}}.Encode(),
		"hex":            hex.EncodeToString([]byte(noise(v))),
		"base64":         base64.StdEncoding.EncodeToString([]byte(noise(v))),
		"base64 +1":      base64.StdEncoding.EncodeToString([]byte("a" + noise(v))),
		"base64 +2":      base64.RawURLEncoding.EncodeToString([]byte("ab" + noise(v))),
		"basic header":   "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("lkc_x:"+v)),
		"json in base64": base64.RawStdEncoding.EncodeToString([]byte(`{"client_id":"lkc_abc","client_secret":"` + v + `"}`)),
	}
	for name, text := range plants {
		if len(scan(ns, []place{{name, text}})) == 0 {
			t.Errorf("the scanner missed the value planted %s", name)
		}
	}
	if f := scan(ns, []place{{"clean", noise("lks_" + randomText(t, 32))}}); len(f) != 0 {
		t.Errorf("the scanner found %v in a text without the value", f)
	}
	set := &secretSet{}
	set.addJWT(t, "planted token", "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJhYmMifQ."+randomText(t, 86))
	jwt := set.values
	if len(scan(allNeedles(jwt), []place{{"jti only", `{"jti":"abc"}`}})) != 0 {
		t.Error("a token's header or claims count as the token")
	}
	if len(scan(allNeedles(jwt), []place{{"signature", "x" + strings.Split(jwt[0].value, ".")[2]}})) == 0 {
		t.Error("the scanner missed a token's signature")
	}
}

// randomText is n characters of base64url, from crypto/rand.
func randomText(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// scanSite is the running binary and what the scenario collected.
type scanSite struct {
	t       *testing.T
	s       *sandbox
	srv     *process
	issuer  string
	secrets secretSet
	// canaries are values stored and logged on purpose, which the scan
	// must find: proof that it reads real rows, events and log lines.
	canaries map[string][]string // value → the sources it must be found in
	cliErr   []place             // the CLI commands' standard error
}

func (ss *scanSite) run(stdin string, args ...string) result {
	ss.t.Helper()
	r := ss.s.run(stdin, args...)
	ss.cliErr = append(ss.cliErr, place{"stderr of latchkey " + strings.Join(args, " "), r.stderr})
	return r
}

// form posts v to the server, with HTTP Basic credentials form-encoded as
// RFC 6749 §2.3.1 says when id is set.
func (ss *scanSite) form(path string, v url.Values, id, secret string) (int, []byte) {
	ss.t.Helper()
	req, err := http.NewRequest(http.MethodPost, ss.issuer+path, strings.NewReader(v.Encode()))
	if err != nil {
		ss.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return scanDo(ss.t, http.DefaultClient, req)
}

// scanDo sends req and reads the answer whole.
func scanDo(t *testing.T, c *http.Client, req *http.Request) (int, []byte) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// api calls the admin API with a bearer token.
func (ss *scanSite) api(token, method, path string, body any, header ...string) (int, []byte) {
	ss.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			ss.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ss.issuer+"/admin/v1"+path, rd)
	if err != nil {
		ss.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return scanDo(ss.t, http.DefaultClient, req)
}

// decodeAs checks an answer's status and decodes its body as a T.
func decodeAs[T any](t *testing.T, what string, status, want int, body []byte) T {
	t.Helper()
	var v T
	if status != want {
		t.Fatalf("%s: status %d, want %d", what, status, want)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func testNoSecretAtRest(t *testing.T, db database) {
	s := newSandbox(t)
	for k, v := range db.env {
		s.env = append(s.env, k+"="+v)
	}
	// Chosen first-start credentials, so the scan knows them. The
	// password has a space, so its form-encoded form differs; the secret a
	// '/' and a '+'.
	adminPassword := randomText(t, 24) + " first start"
	adminSecret := "adm/" + randomText(t, 36) + "+"
	s.env = append(s.env, "LATCHKEY_ADMIN_PASSWORD="+adminPassword, "LATCHKEY_ADMIN_CLIENT_SECRET="+adminSecret)
	srv := startBinary(t, s, "--log-level", "debug", "--client-cache-ttl", "off")
	ss := &scanSite{t: t, s: s, srv: srv, issuer: srv.issuer, canaries: map[string][]string{}}
	ss.secrets.add(t, "first-start admin password", adminPassword)
	ss.secrets.add(t, "first-start admin client secret", adminSecret)
	ctx := context.Background()

	// A webhook receiver on loopback, added first so that the rotations and
	// revocations below are posted to it.
	var (
		mu         sync.Mutex
		deliveries []place
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var h bytes.Buffer
		r.Header.Write(&h)
		mu.Lock()
		deliveries = append(deliveries, place{fmt.Sprintf("webhook delivery %d", len(deliveries)+1), h.String() + "\n" + string(b)})
		mu.Unlock()
	}))
	defer recv.Close()
	r := ss.run("", "webhooks", "add", recv.URL+"/cli", "--events", "secret-rotated,client-revoked", "--json")
	r.expect(t, "webhooks add", 0)
	var hook struct{ Secret string }
	if err := json.Unmarshal([]byte(r.stdout), &hook); err != nil {
		t.Fatalf("webhooks add printed %v", err)
	}
	ss.secrets.add(t, "webhook signing secret (CLI)", hook.Secret)

	// A user with a password, made at the CLI.
	const userEmail = "scan.user@example.com"
	userPassword := randomText(t, 20) + " user&pass"
	r = ss.run(userPassword+"\n", "users", "create", "--email", userEmail, "--name", "Scan User", "--password-file", "-", "--json")
	r.expect(t, "users create", 0)
	ss.secrets.add(t, "user password", userPassword)

	// The clients the flows use: a resource server that introspects, and a
	// web application with an admin-chosen secret from standard input.
	rs := newClientCreds(t, ss.run("", "clients", "create", "--json", "--name", "Scan API", "--grant-type", "client_credentials",
		"--role", "resource_server"))
	ss.secrets.add(t, "resource server client secret (generated, CLI)", rs.Secret)
	webSecret := "web/" + randomText(t, 36) + "%"
	web := newClientCreds(t, ss.run(webSecret+"\n", "clients", "create", "--json", "--name", "Scan Web",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", webCallback, "--post-logout-redirect-uri", webSignedOut,
		"--scope", "openid", "--scope", "profile", "--scope", "email", "--require-consent", "--secret-file", "-"))
	ss.secrets.add(t, "web client secret (chosen, CLI)", webSecret)
	web.Secret = webSecret // a chosen secret is not printed back

	admin := ss.adminAPI(ctx, adminSecret)
	ss.clientCredentials(ctx, rs, web)
	ss.authorizationCode(ctx, web, rs, userEmail, userPassword)
	ss.signInAsAdmin(adminPassword)
	ss.secondFactor(userEmail, userPassword)

	// The secret rotations and revocation above queued webhook events:
	// post them.
	ss.run("", "notify", "run").expect(t, "notify run", 0)
	mu.Lock()
	if len(deliveries) == 0 {
		t.Error("the webhook received nothing: the events above were not posted")
	}
	got := slices.Clone(deliveries)
	mu.Unlock()

	// /metrics, which labels series by client and reason: the scenario's
	// tokens and failures must be there, and no secret among them.
	res, err := http.Get(ss.issuer + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "latchkey_tokens_issued_total{") ||
		!strings.Contains(string(b), "latchkey_client_auth_failures_total{") {
		t.Errorf("/metrics answers %d without the scenario's tokens and failures:\n%.2000s", res.StatusCode, b)
	}
	metrics := []place{{"/metrics", string(b)}}
	auditAPI := ss.apiAudit(admin)

	srv.stop(t)
	ss.scanAll(db, map[string][]place{
		"log":     logLines(srv),
		"stdout":  {{"the server's standard output", srv.stdout.String()}},
		"audit":   append(ss.auditExport(), auditAPI...),
		"outbox":  ss.outbox(),
		"webhook": got,
		"metrics": metrics,
		"cli":     ss.cliErr,
	})
}

func newClientCreds(t *testing.T, r result) clientCreds {
	t.Helper()
	r.expect(t, "clients create", 0)
	var c clientCreds
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.ID == "" {
		t.Fatalf("clients create --json printed no client: %v", err)
	}
	return c
}

// adminAPI gets a token for the provisioned admin client and uses it: a
// client made with a generated secret (and an Idempotency-Key, whose
// stored response is replayed), one with a chosen secret, a chosen secret
// refused, a rotation with a grace period, a secret added, a user with a
// password, a webhook, a revocation, and a forged token refused. It
// returns the admin token.
func (ss *scanSite) adminAPI(ctx context.Context, adminSecret string) string {
	t := ss.t
	var scopes []string
	for _, p := range authz.AllPermissions() {
		scopes = append(scopes, string(p))
	}
	cfg := clientcredentials.Config{ClientID: "latchkey-admin", ClientSecret: adminSecret, TokenURL: ss.issuer + "/oauth2/token", Scopes: scopes}
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	at := tok.AccessToken
	ss.secrets.addJWT(t, "admin API access token", at)

	canary := "canary-" + hex.EncodeToString([]byte(randomText(t, 12)))
	ss.canaries[canary] = []string{"database"}
	body := map[string]any{"name": "Scan service", "description": canary,
		"grant_types": []string{"client_credentials"}, "scopes": []string{"read"}}
	key := "scan-" + randomText(t, 8)
	status, b := ss.api(at, "POST", "/clients", body, "Idempotency-Key", key)
	created := decodeAs[clientCreds](t, "create a client over the API", status, http.StatusCreated, b)
	ss.secrets.add(t, "client secret (generated, admin API)", created.Secret)
	status, b = ss.api(at, "POST", "/clients", body, "Idempotency-Key", key)
	if status != http.StatusCreated || bytes.Contains(b, []byte(created.Secret)) {
		t.Errorf("the replayed create: %d, secret shown again: %t", status, bytes.Contains(b, []byte(created.Secret)))
	}

	chosen := "api/" + randomText(t, 36) + "+"
	status, b = ss.api(at, "POST", "/clients", map[string]any{"name": "Scan chosen", "client_secret": chosen,
		"grant_types": []string{"client_credentials"}}, "Idempotency-Key", "scan-chosen-"+randomText(t, 8))
	decodeAs[clientCreds](t, "create a client with a chosen secret", status, http.StatusCreated, b)
	ss.secrets.add(t, "client secret (chosen, admin API)", chosen)
	refused := randomText(t, 20) + " has a space " + randomText(t, 12)
	if status, _ = ss.api(at, "POST", "/clients", map[string]any{"name": "Scan refused", "client_secret": refused,
		"grant_types": []string{"client_credentials"}}); status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
		t.Errorf("a chosen secret with a space: %d", status)
	}
	ss.secrets.add(t, "refused chosen secret (admin API)", refused)

	status, b = ss.api(at, "POST", "/clients/"+created.ID+"/rotate-secret", map[string]any{"grace_period": 3600})
	rotated := decodeAs[struct {
		ClientSecret string `json:"client_secret"`
	}](t, "rotate over the API", status, http.StatusOK, b)
	ss.secrets.add(t, "rotated-in client secret (admin API)", rotated.ClientSecret)
	added := "add/" + randomText(t, 36)
	status, _ = ss.api(at, "POST", "/clients/"+created.ID+"/secrets", map[string]any{"client_secret": added})
	if status != http.StatusCreated {
		t.Errorf("add a chosen secret: %d", status)
	}
	ss.secrets.add(t, "added client secret (chosen, admin API)", added)

	// The old secret works through its grace period, the new ones too.
	for what, sec := range map[string]string{"rotated-out": created.Secret, "rotated-in": rotated.ClientSecret, "added": added} {
		c := clientcredentials.Config{ClientID: created.ID, ClientSecret: sec, TokenURL: ss.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := c.Token(ctx)
		if err != nil {
			t.Fatalf("the %s secret: %v", what, err)
		}
		ss.secrets.addJWT(t, "access token of the "+what+" secret", tok.AccessToken)
	}

	apiPassword := randomText(t, 20) + " api&user"
	status, _ = ss.api(at, "POST", "/users", map[string]any{"email": "api.user@example.com", "password": apiPassword},
		"Idempotency-Key", "scan-user-"+randomText(t, 8))
	if status != http.StatusCreated {
		t.Errorf("create a user over the API: %d", status)
	}
	ss.secrets.add(t, "user password (admin API)", apiPassword)
	status, b = ss.api(at, "POST", "/webhooks", map[string]any{"url": "http://127.0.0.1:9/api", "events": []string{"secret-expiring"}})
	hook := decodeAs[struct{ Secret string }](t, "create a webhook over the API", status, http.StatusCreated, b)
	ss.secrets.add(t, "webhook signing secret (admin API)", hook.Secret)

	// A revoked client (a webhook event), then list, show, and a forged
	// token refused.
	doomed := newClientCreds(t, ss.run("", "clients", "create", "--json", "--name", "Scan doomed", "--grant-type", "client_credentials"))
	ss.secrets.add(t, "client secret (generated, CLI)", doomed.Secret)
	if status, _ = ss.api(at, "POST", "/clients/"+doomed.ID+"/revoke", nil); status != http.StatusOK {
		t.Errorf("revoke over the API: %d", status)
	}
	for _, path := range []string{"/clients", "/clients/" + created.ID, "/clients/" + created.ID + "/secrets", "/users", "/webhooks", "/outbox"} {
		if status, _ = ss.api(at, "GET", path, nil); status != http.StatusOK {
			t.Errorf("GET %s: %d", path, status)
		}
	}
	parts := strings.Split(at, ".")
	forged := parts[0] + "." + parts[1] + "." + randomText(t, len(parts[2]))
	if status, _ = ss.api(forged, "GET", "/clients", nil); status != http.StatusUnauthorized {
		t.Errorf("a forged admin token: %d", status)
	}
	ss.secrets.addJWT(t, "forged admin token", forged)
	return at
}

// clientCredentials runs the client_credentials grant with a generated
// secret, the wrong secret in both styles, the secret and ID swapped,
// introspects and revokes the token.
func (ss *scanSite) clientCredentials(ctx context.Context, rs, web clientCreds) {
	t := ss.t
	id, secret := newClientCreds(t, ss.run("", "clients", "create", "--json", "--name", "Scan batch", "--grant-type", "client_credentials",
		"--scope", "read")).pair()
	ss.secrets.add(t, "batch client secret (generated, CLI)", secret)
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: ss.issuer + "/oauth2/token", Scopes: []string{"read"},
		AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	ss.secrets.addJWT(t, "client_credentials access token", tok.AccessToken)

	// The wrong secret, in the header and in the body.
	wrong := "lks_" + randomText(t, 43)
	if status, _ := ss.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, wrong); status != http.StatusUnauthorized {
		t.Errorf("a wrong secret in the header: %d", status)
	}
	ss.secrets.add(t, "wrong client secret (HTTP Basic)", wrong)
	wrongPost := "lks_" + randomText(t, 43)
	if status, _ := ss.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
		"client_secret": {wrongPost}}, "", ""); status != http.StatusUnauthorized {
		t.Errorf("a wrong secret in the body: %d", status)
	}
	ss.secrets.add(t, "wrong client secret (client_secret_post)", wrongPost)
	// A canary client ID, which the failure is logged and audited with.
	canary := "lkc_canary" + hex.EncodeToString([]byte(randomText(t, 6)))
	ss.canaries[canary] = []string{"log", "audit"}
	ss.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, canary, "lks_"+randomText(t, 43))
	// An operator's slip: the fields swapped, the secret sent as the
	// client ID, in the body and in the header; a generated secret (which
	// is a well-formed client ID) and a chosen one (which is not).
	if status, _ := ss.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {secret},
		"client_secret": {id}}, "", ""); status != http.StatusUnauthorized {
		t.Errorf("swapped credentials in the body: %d", status)
	}
	ss.secrets.sentAs(t, secret, "as client_id in the body (fields swapped)")
	if status, _ := ss.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, rs.Secret, rs.ID); status != http.StatusUnauthorized {
		t.Errorf("swapped credentials in the header: %d", status)
	}
	ss.secrets.sentAs(t, rs.Secret, "as the HTTP Basic user (fields swapped)")
	if status, _ := ss.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, web.Secret, web.ID); status != http.StatusUnauthorized {
		t.Errorf("swapped chosen credentials in the header: %d", status)
	}
	ss.secrets.sentAs(t, web.Secret, "as the HTTP Basic user (fields swapped)")

	if m := ss.introspect(rs, tok.AccessToken); m["active"] != true || m["client_id"] != id {
		t.Errorf("introspection of the client_credentials token: %v", m)
	}
	if status, _ := ss.form("/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, id, secret); status != http.StatusOK {
		t.Errorf("revoke the client_credentials token: %d", status)
	}
	if m := ss.introspect(rs, tok.AccessToken); m["active"] != false {
		t.Errorf("a revoked token introspects as %v", m)
	}
	// Introspection of something that is no token at all.
	garbage := "lkrt_" + randomText(t, 43)
	ss.introspect(rs, garbage)
	ss.secrets.add(t, "garbage token sent to introspection", garbage)
}

func (c clientCreds) pair() (string, string) { return c.ID, c.Secret }

func (ss *scanSite) introspect(rs clientCreds, tok string) map[string]any {
	ss.t.Helper()
	status, b := ss.form("/oauth2/introspect", url.Values{"token": {tok}}, rs.ID, rs.Secret)
	return decodeAs[map[string]any](ss.t, "introspect", status, http.StatusOK, b)
}

// signIn signs b in at the account pages as email; a wrong password
// first, when wrong is set. It returns the last page.
func (ss *scanSite) signIn(b *browser, next, email, password, wrong string) page {
	t := ss.t
	t.Helper()
	login := ss.issuer + "/account/login"
	if next != "" {
		login += "?next=" + url.QueryEscape(next)
	}
	p := b.get(login)
	forms := parseForms(p.body)
	if p.status != http.StatusOK || len(forms) != 1 {
		t.Fatalf("the sign-in page: %d, %d forms", p.status, len(forms))
	}
	if wrong != "" {
		if q := b.submit(login, p, forms[0], "", url.Values{"email": {email}, "password": {wrong}}); q.status != http.StatusBadRequest {
			t.Fatalf("a wrong password: %d", q.status)
		}
		ss.secrets.add(t, "wrong password", wrong)
		// A user's slip: the password typed into the email field.
		p = b.get(login)
		if q := b.submit(login, p, parseForms(p.body)[0], "", url.Values{"email": {password}, "password": {email}}); q.status != http.StatusBadRequest {
			t.Fatalf("the password as the email: %d", q.status)
		}
		ss.secrets.sentAs(t, password, "as the email on the sign-in page (fields swapped)")
		p = b.get(login)
		forms = parseForms(p.body)
	}
	p = b.submit(login, p, forms[0], "", url.Values{"email": {email}, "password": {password}})
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("signing in as %s: %d", email, p.status)
	}
	return p
}

// collectCookies collects the browser's Latchkey cookies (sessions and
// pending sign-ins) but the CSRF token, which is no credential.
func (ss *scanSite) collectCookies(b *browser, what string) {
	ss.t.Helper()
	u, _ := url.Parse(ss.issuer)
	for _, c := range b.hc.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "latchkey-") && c.Name != "latchkey-csrf" && c.Value != "" {
			ss.secrets.add(ss.t, what+" cookie "+c.Name, c.Value)
		}
	}
}

// authorizationCode signs the user in (a wrong password first), runs the
// code flow with PKCE, a wrong verifier, userinfo, introspection, a
// refresh rotation, a reused refresh token, a replayed code, a revoked
// refresh token and an RP-initiated logout.
func (ss *scanSite) authorizationCode(ctx context.Context, web, rs clientCreds, email, password string) {
	t := ss.t
	b := newBrowser(t, ss.issuer)
	ss.signIn(b, "", email, password, randomText(t, 20)+" wrong pass")
	ss.collectCookies(b, "user session")
	ep := oauth2.Endpoint{AuthURL: ss.issuer + "/oauth2/authorize", TokenURL: ss.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
	cfg := &oauth2.Config{ClientID: web.ID, ClientSecret: web.Secret, Endpoint: ep, RedirectURL: webCallback,
		Scopes: []string{"openid", "profile", "email", "offline_access"}}
	authorize := func(pages string) (string, string) {
		t.Helper()
		state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		a := b.authorize(authURL(cfg, state, nonce, verifier), webCallback, "approve")
		if a.asked() != pages || a.code() == "" {
			t.Fatalf("authorize: pages %q, want %q; callback %s", a.asked(), pages, redact(a.callback.Query()))
		}
		ss.secrets.add(t, "authorization code", a.code())
		ss.secrets.add(t, "PKCE code verifier", verifier)
		return a.code(), verifier
	}
	code, verifier := authorize("consent")
	wrongVerifier := oauth2.GenerateVerifier()
	_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(wrongVerifier))
	wantInvalidGrant(t, "the wrong code_verifier", err)
	ss.secrets.add(t, "wrong PKCE code verifier", wrongVerifier)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	ss.collectTokens("code flow", tok)
	if status, _ := ss.bearerGet("/userinfo", tok.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo: %d", status)
	}
	for what, v := range map[string]string{"access": tok.AccessToken, "refresh": tok.RefreshToken} {
		if m := ss.introspect(rs, v); m["active"] != true {
			t.Errorf("introspection of the %s token: %v", what, m)
		}
	}
	next, err := refresh(ctx, cfg, tok.RefreshToken)
	if err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}
	ss.collectTokens("refreshed", next)
	_, err = refresh(ctx, cfg, tok.RefreshToken)
	wantInvalidGrant(t, "a reused refresh token", err)
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	wantInvalidGrant(t, "a replayed code", err)

	// Again (the consent is kept), and the refresh token revoked by its
	// client.
	code, verifier = authorize("")
	tok, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("second exchange: %v", err)
	}
	ss.collectTokens("second code flow", tok)
	if status, _ := ss.form("/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}},
		web.ID, web.Secret); status != http.StatusOK {
		t.Errorf("revoke a refresh token: %d", status)
	}
	if ss.introspect(rs, tok.RefreshToken)["active"] != false {
		t.Error("a revoked refresh token is active")
	}
	raw, _ := tok.Extra("id_token").(string)
	q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {webSignedOut}, "state": {"bye"}}
	if p := b.get(ss.issuer + "/oauth2/logout?" + q.Encode()); p.location != webSignedOut+"?state=bye" {
		t.Errorf("logout: %d to %q", p.status, p.location)
	}
}

func (ss *scanSite) collectTokens(what string, tok *oauth2.Token) {
	t := ss.t
	t.Helper()
	ss.secrets.addJWT(t, what+" access token", tok.AccessToken)
	ss.secrets.add(t, what+" refresh token", tok.RefreshToken)
	id, _ := tok.Extra("id_token").(string)
	ss.secrets.addJWT(t, what+" ID token", id)
}

func (ss *scanSite) bearerGet(path, tok string) (int, []byte) {
	ss.t.Helper()
	req, err := http.NewRequest(http.MethodGet, ss.issuer+path, nil)
	if err != nil {
		ss.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return scanDo(ss.t, http.DefaultClient, req)
}

// signInAsAdmin signs the provisioned admin in with the first-start
// password and opens the console.
func (ss *scanSite) signInAsAdmin(password string) {
	b := newBrowser(ss.t, ss.issuer)
	p := ss.signIn(b, "/console/", "admin@localhost", password, "")
	ss.collectCookies(b, "admin session")
	if p = b.get(p.location); p.status != http.StatusOK {
		ss.t.Errorf("the console after signing in: %d", p.status)
	}
}

var (
	seedRe     = regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`)
	recoveryRe = regexp.MustCompile(`<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>`)
)

// formWithButton returns the form of a page with a button of that value.
func formWithButton(t *testing.T, p page, button string) htmlForm {
	t.Helper()
	for _, f := range parseForms(p.body) {
		if slices.ContainsFunc(f.buttons, func(b formField) bool { return b.value == button }) {
			return f
		}
	}
	t.Fatalf("no form with a %q button:\n%.3000s", button, p.body)
	return htmlForm{}
}

// secondFactor enrols an authenticator app for the user (its seed and
// the recovery codes are collected), then signs in with the password and
// a recovery code.
func (ss *scanSite) secondFactor(email, password string) {
	t := ss.t
	b := newBrowser(t, ss.issuer)
	ss.signIn(b, "", email, password, "")
	security := ss.issuer + "/account/security"
	p := b.get(security)
	if p.status != http.StatusOK {
		t.Fatalf("the security page: %d", p.status)
	}
	p = b.submit(security, p, formWithButton(t, p, "totp-begin"), "totp-begin", nil)
	if p = b.get(p.location); p.status != http.StatusOK {
		t.Fatalf("after totp-begin: %d", p.status)
	}
	m := seedRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the setup page shows no key:\n%.3000s", p.body)
	}
	seed := strings.ReplaceAll(m[1], " ", "")
	ss.secrets.add(t, "TOTP seed (base32)", seed)
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(seed)
	if err != nil {
		t.Fatal(err)
	}
	ss.secrets.add(t, "TOTP seed (raw bytes)", string(raw))
	code, err := totp.GenerateCode(seed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p = b.submit(security, p, formWithButton(t, p, "totp-confirm"), "totp-confirm", url.Values{"code": {code}})
	codes := recoveryRe.FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(codes) == 0 {
		t.Fatalf("confirming the app: %d, %d recovery codes", p.status, len(codes))
	}
	for _, c := range codes {
		ss.secrets.add(t, "recovery code", c[1])
		ss.secrets.add(t, "recovery code (as typed, without dashes)", strings.ReplaceAll(c[1], "-", ""))
	}

	// A new sign-in: the password, then a recovery code.
	b = newBrowser(t, ss.issuer)
	p = ss.signIn(b, "", email, password, "")
	ss.collectCookies(b, "pending sign-in")
	mfa := p.location
	if p = b.get(mfa); p.status != http.StatusOK {
		t.Fatalf("the second-factor page: %d", p.status)
	}
	p = b.submit(mfa, p, formWithButton(t, p, "recovery"), "recovery", url.Values{"code": {codes[0][1]}})
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("signing in with a recovery code: %d\n%.2000s", p.status, p.body)
	}
	ss.collectCookies(b, "session after a recovery code")
}

// apiAudit reads the audit events through the admin API.
func (ss *scanSite) apiAudit(admin string) []place {
	status, b := ss.api(admin, "GET", "/audit/events?page_size=1000", nil)
	if status != http.StatusOK {
		ss.t.Errorf("GET /audit/events: %d", status)
	}
	return []place{{"GET /admin/v1/audit/events", string(b)}}
}

// auditExport reads every audit event through "latchkey audit export".
func (ss *scanSite) auditExport() []place {
	t := ss.t
	r := ss.run("", "audit", "export", "--since", "1h")
	r.expect(t, "audit export", 0)
	var out []place
	for i, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e struct {
			Action string `json:"action"`
		}
		json.Unmarshal([]byte(l), &e)
		out = append(out, place{fmt.Sprintf("audit event %d (%s)", i+1, e.Action), l})
	}
	if len(out) < 10 {
		t.Errorf("audit export gave %d events", len(out))
	}
	return out
}

// outbox reads every outbox row, and each in full.
func (ss *scanSite) outbox() []place {
	t := ss.t
	r := ss.run("", "notify", "outbox", "--json")
	r.expect(t, "notify outbox", 0)
	var rows []struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("notify outbox --json: %v", err)
	}
	if len(rows) == 0 {
		t.Error("the outbox is empty: the rotations and the revocation queued nothing")
	}
	out := []place{{"notify outbox --json", r.stdout}}
	for _, row := range rows {
		r := ss.run("", "notify", "show", row.ID)
		r.expect(t, "notify show", 0)
		out = append(out, place{"notify show " + row.ID, r.stdout})
	}
	return out
}

// logLines is the server's log, one place per line.
func logLines(srv *process) []place {
	out := make([]place, len(srv.logs))
	for i, l := range srv.logs {
		out[i] = place{fmt.Sprintf("log line %d", i+1), l}
	}
	return out
}

// scanAll adds the database's rows and the files the binary wrote to the
// sources, scans them all for every collected value, and checks the
// canaries were found where they must be.
func (ss *scanSite) scanAll(db database, sources map[string][]place) {
	t := ss.t
	if u := db.env["LATCHKEY_DATABASE_URL"]; strings.HasPrefix(u, "postgres") {
		sources["database"] = postgresPlaces(t, u)
	} else {
		sources["database"] = sqlitePlaces(t, u)
	}
	home := ""
	for _, kv := range ss.s.env {
		if h, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = h
		}
	}
	sources["files"] = writtenFiles(t, db.dir, ss.s.dir, home)

	ns := allNeedles(ss.secrets.values)
	var findings []finding
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		findings = append(findings, scan(ns, sources[name])...)
	}
	for _, f := range groupFindings(findings) {
		t.Errorf("a secret at rest: %s", f)
	}
	// The canaries prove each source was really read.
	for value, in := range ss.canaries {
		c := secretValue{what: "canary", value: value}
		for _, source := range in {
			if len(scan(needles(&c)[:1], sources[source])) == 0 {
				t.Errorf("the canary %s… was not found in the %s: the scan of it is vacuous", secretPrefix(value), source)
			}
		}
	}
	var summary []string
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		n := 0
		for _, p := range sources[name] {
			n += len(p.text)
		}
		summary = append(summary, fmt.Sprintf("%s: %d places, %d bytes", name, len(sources[name]), n))
	}
	t.Logf("scanned %d values (%d forms) in %s; %d findings", len(ss.secrets.values), len(ns), strings.Join(summary, "; "), len(findings))
}

// sqlitePlaces is every column of every row of every table of the SQLite
// database at path, as text.
func sqlitePlaces(t *testing.T, path string) []place {
	t.Helper()
	dbh, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer dbh.Close()
	var tables []string
	rows, err := dbh.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var out []place
	for _, table := range tables {
		rows, err := dbh.Query(`SELECT * FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for n := 1; rows.Next(); n++ {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			for i, v := range vals {
				out = append(out, place{fmt.Sprintf("%s.%s row %d", table, cols[i], n), columnText(v)})
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	t.Logf("SQLite: %d tables, %d column values", len(tables), len(out))
	return out
}

// postgresPlaces is every column of every row of every table of the
// PostgreSQL database at dbURL, as text (bytea as its bytes).
func postgresPlaces(t *testing.T, dbURL string) []place {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	type column struct{ name, kind string }
	tables := map[[2]string][]column{}
	rows, err := conn.Query(ctx, `SELECT c.table_schema, c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
		ORDER BY c.table_schema, c.table_name, c.ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var schema, table string
		var c column
		if err := rows.Scan(&schema, &table, &c.name, &c.kind); err != nil {
			t.Fatal(err)
		}
		tables[[2]string{schema, table}] = append(tables[[2]string{schema, table}], c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var out []place
	for key, cols := range tables {
		var sel []string
		for _, c := range cols {
			id := pgx.Identifier{c.name}.Sanitize()
			if c.kind == "bytea" {
				sel = append(sel, id)
			} else {
				sel = append(sel, id+"::text")
			}
		}
		rows, err := conn.Query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+pgx.Identifier{key[0], key[1]}.Sanitize())
		if err != nil {
			t.Fatalf("dump %s: %v", key[1], err)
		}
		for n := 1; rows.Next(); n++ {
			vals, err := rows.Values()
			if err != nil {
				t.Fatalf("dump %s: %v", key[1], err)
			}
			for i, v := range vals {
				out = append(out, place{fmt.Sprintf("%s.%s row %d", key[1], cols[i].name, n), columnText(v)})
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("PostgreSQL: %d tables, %d column values", len(tables), len(out))
	return out
}

// columnText is a column value as the scan reads it: bytes as they are.
func columnText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(v)
	case string:
		return v
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// writtenFiles is every file under the directories: the SQLite database,
// its WAL (freed pages keep old rows), the key file, anything else the
// binary or the CLI wrote.
func writtenFiles(t *testing.T, dirs ...string) []place {
	t.Helper()
	var out []place
	seen := map[string]bool{}
	for _, dir := range dirs {
		if dir == "" || seen[dir] {
			continue
		}
		seen[dir] = true
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out = append(out, place{"file " + path, string(b)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
