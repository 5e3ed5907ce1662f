//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/testpg"
)

// These tests break the database under a running server, on PostgreSQL
// servers of the tests' own (never the machine's shared one), and check
// what clients see: a 503 with Retry-After while the database is away,
// never a 500; readiness that follows the database; recovery without a
// restart; and no acknowledged write lost.

// recoveryLimit bounds how long the server may take to serve again once
// the database is back.
const recoveryLimit = 15 * time.Second

const faultAdminSecret = "an-operator-chosen-admin-secret-for-faults"

// ownedDatabase is an instance's database at dbURL, on a test-owned
// server, with a secret key as postgresDatabase gives one on the shared
// server.
func ownedDatabase(t *testing.T, dbURL string) database {
	t.Helper()
	return database{dir: t.TempDir(), env: map[string]string{
		"LATCHKEY_DATABASE_URL": dbURL,
		"LATCHKEY_SECRET_KEY":   base64.StdEncoding.EncodeToString(randomKey(t)),
	}}
}

// faultEnv runs an instance for a fault test: no client cache, so every
// request needs the database, and a JSON log the test can read.
var faultEnv = map[string]string{
	"LATCHKEY_CLIENT_CACHE_TTL":    "off",
	"LATCHKEY_LOG_FORMAT":          "json",
	"LATCHKEY_ADMIN_CLIENT_SECRET": faultAdminSecret,
}

// outcome is one request of a load and its answer.
type outcome struct {
	what       string // token, introspect, me, readyz, create
	start, end time.Time
	status     int // 0: no answer
	retryAfter string
	body       []byte
	err        error
}

func (o outcome) String() string {
	if o.status == 0 {
		return fmt.Sprintf("%s at %s: no answer: %v", o.what, o.start.Format("15:04:05.000"), o.err)
	}
	return fmt.Sprintf("%s at %s: %d %s", o.what, o.start.Format("15:04:05.000"), o.status, bytes.TrimSpace(o.body))
}

// load runs requests in goroutines until halted, recording every answer.
type load struct {
	mu   sync.Mutex
	outs []outcome
	stop chan struct{}
	wg   sync.WaitGroup
}

func newLoad(t *testing.T) *load {
	l := &load{stop: make(chan struct{})}
	t.Cleanup(func() { l.halt() })
	return l
}

// pace is how often each of a load's goroutines sends: enough to see
// every phase of a fault without taking the machine's two cores.
const pace = 20 * time.Millisecond

// run sends the requests reqs makes, one after the other, over and over.
func (l *load) run(reqs ...func() outcome) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for i := 0; ; i++ {
			o := reqs[i%len(reqs)]()
			l.mu.Lock()
			l.outs = append(l.outs, o)
			l.mu.Unlock()
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

// halt stops the load and returns every outcome, in the order answered.
func (l *load) halt() []outcome {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	return l.snapshot()
}

func (l *load) snapshot() []outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.outs)
}

// first returns the first outcome of kind what, sent at or after from,
// that ok accepts, polling until within, and whether there was one.
func (l *load) first(what string, from time.Time, within time.Duration, ok func(outcome) bool) (outcome, bool) {
	deadline := time.Now().Add(within)
	for {
		for _, o := range l.snapshot() {
			if o.what == what && !o.start.Before(from) && ok(o) {
				return o, true
			}
		}
		if time.Now().After(deadline) {
			return outcome{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCount polls until the load holds n outcomes of kind what that ok
// accepts, failing the test after ten seconds.
func (l *load) waitCount(t *testing.T, what string, n int, ok func(outcome) bool) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d %s answers", n, what), func() bool {
		c := 0
		for _, o := range l.snapshot() {
			if o.what == what && ok(o) {
				c++
			}
		}
		return c >= n
	})
}

func succeeded(o outcome) bool { return o.status == 200 || o.status == 201 }

var faultHTTP = &http.Client{Timeout: 10 * time.Second}

// send makes one request and records its answer.
func send(what string, req *http.Request) outcome {
	o := outcome{what: what, start: time.Now()}
	res, err := faultHTTP.Do(req)
	if err != nil {
		o.end, o.err = time.Now(), err
		return o
	}
	o.body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	o.end, o.status, o.retryAfter = time.Now(), res.StatusCode, res.Header.Get("Retry-After")
	return o
}

func formRequest(endpoint, id, secret string, form url.Values) *http.Request {
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req
}

func tokenRequest(base, id, secret string) func() outcome {
	return func() outcome {
		return send("token", formRequest(base+"/oauth2/token", id, secret, url.Values{"grant_type": {"client_credentials"}}))
	}
}

func introspectRequest(base, id, secret, tok string) func() outcome {
	return func() outcome {
		return send("introspect", formRequest(base+"/oauth2/introspect", id, secret, url.Values{"token": {tok}}))
	}
}

func meRequest(base, tok string) func() outcome {
	return func() outcome {
		req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return send("me", req)
	}
}

func readyzRequest(base string) func() outcome {
	return func() outcome {
		req, _ := http.NewRequest("GET", base+"/readyz", nil)
		return send("readyz", req)
	}
}

// adminToken gets a token for the provisioned admin client holding every
// permission.
func adminToken(t *testing.T, base string) string {
	t.Helper()
	var scopes []string
	for _, p := range authz.AllPermissions() {
		scopes = append(scopes, string(p))
	}
	cfg := clientcredentials.Config{ClientID: "latchkey-admin", ClientSecret: faultAdminSecret,
		TokenURL: base + "/oauth2/token", Scopes: scopes}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	return tok.AccessToken
}

// adminCall makes one admin API request with a JSON body.
func adminCall(what, base, tok, method, path string, body any) outcome {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+"/admin/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(what, req)
}

// newClientBody is an admin API request for a client_credentials client.
func newClientBody(name string) map[string]any {
	return map[string]any{"name": name, "grant_types": []string{"client_credentials"}}
}

// issued is the client ID and secret a create or rotation answered.
type issued struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func issuedIn(o outcome) issued {
	var v issued
	json.Unmarshal(o.body, &v)
	return v
}

// checkAnswers holds every answer to the rules of an outage: success, or
// a 503 with Retry-After, and a 503 only once the fault began.
func checkAnswers(t *testing.T, outs []outcome, faultAt time.Time) {
	t.Helper()
	var wrong []string
	for _, o := range outs {
		switch {
		case succeeded(o):
		case o.status == http.StatusServiceUnavailable && o.retryAfter == "":
			wrong = append(wrong, "503 without Retry-After: "+o.String())
		case o.status == http.StatusServiceUnavailable && o.end.Before(faultAt):
			wrong = append(wrong, "503 with the database up: "+o.String())
		case o.status == http.StatusServiceUnavailable:
		default:
			wrong = append(wrong, o.String())
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d answers were neither a success nor a 503 with Retry-After during the fault; the first:\n%s",
			len(wrong), len(outs), strings.Join(wrong[:min(len(wrong), 10)], "\n"))
	}
}

// tally counts the answers per kind and status, for the log.
func tally(outs []outcome) string {
	n := map[string]int{}
	for _, o := range outs {
		n[fmt.Sprintf("%s %d", o.what, o.status)]++
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range n {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d; ", k, n[k])
	}
	return b.String()
}

// logRecord is a line of the JSON log.
type logRecord struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	line  string
}

// errorLines returns the log's ERROR records written from from to to.
func errorLines(log string, from, to time.Time) []logRecord {
	return logged(log, "ERROR", "", from, to)
}

// logged returns the log's records at level whose message contains msg,
// written from from to to.
func logged(log, level, msg string, from, to time.Time) []logRecord {
	var out []logRecord
	for _, l := range strings.Split(log, "\n") {
		var r logRecord
		if json.Unmarshal([]byte(l), &r) != nil || r.Level != level || !strings.Contains(r.Msg, msg) ||
			r.Time.Before(from) || r.Time.After(to) {
			continue
		}
		r.line = l
		out = append(out, r)
	}
	return out
}

// maxOutageErrors is how many ERROR lines an outage may log: one per
// change of state and background task, not one per request.
const maxOutageErrors = 5

func checkErrorLines(t *testing.T, log string, from, to time.Time, requests int) {
	t.Helper()
	errs := errorLines(log, from, to)
	var lines []string
	for _, r := range errs {
		lines = append(lines, r.line)
	}
	t.Logf("%d ERROR log lines for %d requests during the fault", len(errs), requests)
	if len(errs) > maxOutageErrors {
		t.Errorf("the fault logged %d ERROR lines (want at most %d, one per change of state); the first:\n%s",
			len(errs), maxOutageErrors, strings.Join(lines[:min(len(lines), 10)], "\n"))
	}
}

// pollReady polls /readyz until it answers 200 or the limit passes.
func pollReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(recoveryLimit)
	for {
		o := readyzRequest(base)()
		if o.status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("/readyz not 200 within %s of the database's return: %s", recoveryLimit, o)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDatabaseOutage stops PostgreSQL for three seconds under load and
// starts it again, Latchkey running throughout.
func TestDatabaseOutage(t *testing.T) {
	pg := testpg.StartServer(t)
	in := start(t, ownedDatabase(t, pg.CreateDatabase(t, "latchkey")), faultEnv)
	id, secret := in.createClient(t, "--name", "Under load", "--grant-type", "client_credentials")
	tok := mustToken(t, in.url, id, secret)

	l := newLoad(t)
	for range 4 {
		l.run(tokenRequest(in.url, id, secret))
	}
	l.run(introspectRequest(in.url, id, secret, tok), meRequest(in.url, tok), readyzRequest(in.url))
	l.waitCount(t, "token", 20, succeeded)

	stopping := time.Now()
	pg.Stop(t)
	// The outage itself: its length is the test's subject, not a wait.
	time.Sleep(3 * time.Second)
	back := time.Now()
	pg.Start(t)
	started := time.Now()

	recovered, ok := l.first("token", started, recoveryLimit, succeeded)
	if ok {
		t.Logf("recovered in %s after PostgreSQL accepted connections again (outage %s)",
			recovered.end.Sub(started).Round(time.Millisecond), back.Sub(stopping).Round(time.Millisecond))
		// Run on a little, to see that recovery holds.
		l.waitCount(t, "token", 20, func(o outcome) bool { return o.start.After(recovered.end) })
	} else {
		t.Errorf("no token request succeeded within %s of PostgreSQL's restart", recoveryLimit)
		recovered.end = time.Now()
	}
	outs := l.halt()
	t.Logf("answers: %s", tally(outs))

	checkAnswers(t, outs, stopping)
	var during, after []outcome
	for _, o := range outs {
		if o.start.After(stopping) && o.end.Before(started) {
			during = append(during, o)
		}
		if o.start.After(recovered.end) && o.what == "token" {
			after = append(after, o)
		}
	}
	if !slices.ContainsFunc(during, func(o outcome) bool { return o.what == "readyz" && o.status == 503 }) {
		t.Errorf("/readyz never answered 503 while PostgreSQL was down: %s", tally(during))
	}
	if !slices.ContainsFunc(during, func(o outcome) bool { return o.what == "token" && o.status == 503 }) {
		t.Errorf("no token request failed while PostgreSQL was down, so the outage went untested: %s", tally(during))
	}
	for _, o := range after {
		if o.status != 200 {
			t.Errorf("after recovery a token request failed again: %s", o)
			break
		}
	}
	pollReady(t, in.url)
	checkErrorLines(t, in.stderr.String(), stopping, recovered.end, len(during))
}

// TestFailover kills the primary of a synchronous pair and promotes the
// standby, Latchkey connected through a URL naming both.
func TestFailover(t *testing.T) {
	primary := testpg.StartPrimary(t)
	standby := primary.StartStandby(t)
	primary.CreateDatabase(t, "latchkey")
	both := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/latchkey?sslmode=disable&target_session_attrs=read-write",
		primary.Port(), standby.Port())
	in := start(t, ownedDatabase(t, both), faultEnv)
	id, secret := in.createClient(t, "--name", "Under load", "--grant-type", "client_credentials")
	admin := adminToken(t, in.url)

	l := newLoad(t)
	for range 4 {
		l.run(tokenRequest(in.url, id, secret))
	}
	l.run(readyzRequest(in.url))
	n := 0
	l.run(func() outcome {
		n++
		return adminCall("create", in.url, admin, "POST", "/clients", newClientBody(fmt.Sprintf("Failover %d", n)))
	})
	l.waitCount(t, "create", 5, succeeded)

	killed := time.Now()
	primary.Kill(t)
	standby.Promote(t)
	promoted := time.Now()

	tokenBack, ok := l.first("token", promoted, recoveryLimit, succeeded)
	createBack, ok2 := l.first("create", promoted, recoveryLimit, succeeded)
	recovered := later(promoted, tokenBack.end, createBack.end)
	if ok && ok2 {
		t.Logf("recovered in %s after the promotion (%s after the primary died): tokens in %s, admin writes in %s",
			recovered.Sub(promoted).Round(time.Millisecond), recovered.Sub(killed).Round(time.Millisecond),
			tokenBack.end.Sub(promoted).Round(time.Millisecond), createBack.end.Sub(promoted).Round(time.Millisecond))
		l.waitCount(t, "create", 5, func(o outcome) bool { return succeeded(o) && o.start.After(createBack.end) })
	} else {
		t.Errorf("within %s of the promotion: a token succeeded %v, a create succeeded %v", recoveryLimit, ok, ok2)
	}
	outs := l.halt()
	t.Logf("answers: %s", tally(outs))
	checkAnswers(t, outs, killed)
	during := 0
	for _, o := range outs {
		if o.start.After(killed) && o.end.Before(recovered) {
			during++
		}
	}
	checkErrorLines(t, in.stderr.String(), killed, recovered, during)

	// Every client the server acknowledged survived the primary: on the
	// promoted standby, with its audit event.
	var acked []string
	for _, o := range outs {
		if o.what == "create" && o.status == 201 {
			acked = append(acked, issuedIn(o).ClientID)
		}
	}
	conn := pgConnect(t, standby.URL("latchkey"))
	var found, audited []string
	query(t, conn, &found, "SELECT id FROM clients WHERE id = ANY($1)", acked)
	query(t, conn, &audited, "SELECT DISTINCT target_id FROM audit_events WHERE action = 'client.created' AND target_id = ANY($1)", acked)
	if missing := missingFrom(acked, found); len(missing) > 0 {
		t.Errorf("%d of %d acknowledged clients are gone after the failover: %v", len(missing), len(acked), missing)
	}
	if missing := missingFrom(acked, audited); len(missing) > 0 {
		t.Errorf("%d of %d acknowledged clients have no client.created event: %v", len(missing), len(acked), missing)
	}
	// A write whose answer was a 503 may still have committed (the commit
	// reached the standby, its answer not the client): only an idempotency
	// key makes such a retry safe.
	var all []string
	query(t, conn, &all, "SELECT id FROM clients WHERE name LIKE 'Failover %'")
	t.Logf("%d acknowledged clients, all on the promoted standby; %d more committed unacknowledged",
		len(acked), len(all)-len(acked))
}

// later returns the latest of its times.
func later(first time.Time, rest ...time.Time) time.Time {
	for _, t := range rest {
		if t.After(first) {
			first = t
		}
	}
	return first
}

func pgConnect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// query reads a column of text into dest.
func query(t *testing.T, conn *pgx.Conn, dest *[]string, sql string, args ...any) {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	*dest = v
}

// missingFrom returns the values of want not in got.
func missingFrom(want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
}

// adminWrites is what the admin API acknowledged to one writer: the
// clients created, each one's last acknowledged secret and rotations, and
// the client of an operation sent but never answered.
type adminWrites struct {
	mu        sync.Mutex
	order     []string
	secret    map[string]string
	rotations map[string]int
	inFlight  string
}

// write creates a client and rotates its secret, over and over, until an
// operation goes unanswered (the server died).
func (w *adminWrites) write(base, tok string) {
	for i := 0; ; i++ {
		o := adminCall("create", base, tok, "POST", "/clients", newClientBody(fmt.Sprintf("Killed %d", i)))
		if o.status != 201 {
			return
		}
		c := issuedIn(o)
		w.mu.Lock()
		w.order = append(w.order, c.ClientID)
		w.secret[c.ClientID] = c.ClientSecret
		w.inFlight = c.ClientID
		w.mu.Unlock()
		o = adminCall("rotate", base, tok, "POST", "/clients/"+c.ClientID+"/rotate-secret", nil)
		if o.status != 200 {
			return
		}
		w.mu.Lock()
		w.secret[c.ClientID] = issuedIn(o).ClientSecret
		w.rotations[c.ClientID]++
		w.inFlight = ""
		w.mu.Unlock()
	}
}

func (w *adminWrites) acknowledged() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.order)
	for _, r := range w.rotations {
		n += r
	}
	return n
}

// TestKillDuringAdminWrites kills the real binary with SIGKILL while the
// admin API creates clients and rotates their secrets, and restarts it on
// the same database: every acknowledged write is there, whole.
func TestKillDuringAdminWrites(t *testing.T) {
	dbURL := testpg.Database(t, "latchkey_kill_")
	s := newSandbox(t)
	s.env = append(s.env, "LATCHKEY_DATABASE_URL="+dbURL,
		"LATCHKEY_SECRET_KEY="+base64.StdEncoding.EncodeToString(randomKey(t)),
		"LATCHKEY_ADMIN_CLIENT_SECRET="+faultAdminSecret)
	srv := startBinary(t, s, "--client-cache-ttl", "off")
	base := "http://" + srv.addr
	w := &adminWrites{secret: map[string]string{}, rotations: map[string]int{}}
	tok := adminToken(t, base)
	wrote := make(chan struct{})
	go func() { defer close(wrote); w.write(base, tok) }()
	eventually(t, "ten acknowledged admin writes", func() bool { return w.acknowledged() >= 10 })

	srv.cmd.Process.Signal(syscall.SIGKILL)
	<-srv.done
	srv.cmd.Wait()
	<-wrote
	t.Logf("killed after %d acknowledged writes (%d clients)", w.acknowledged(), len(w.order))

	srv = startBinary(t, s, "--client-cache-ttl", "off")
	base = "http://" + srv.addr
	conn := pgConnect(t, dbURL)
	var found, secretless []string
	query(t, conn, &found, "SELECT id FROM clients WHERE id = ANY($1)", w.order)
	if missing := missingFrom(w.order, found); len(missing) > 0 {
		t.Errorf("acknowledged clients lost to the kill: %v", missing)
	}
	query(t, conn, &secretless, `SELECT id FROM clients c WHERE type = 'confidential' AND NOT EXISTS
		(SELECT 1 FROM client_secrets s WHERE s.client_id = c.id AND s.status = 'active')`)
	if len(secretless) > 0 {
		t.Errorf("confidential clients without an active secret after the kill: %v", secretless)
	}
	for _, id := range w.order {
		var secrets, rotated int
		if err := conn.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM client_secrets WHERE client_id = $1),
			(SELECT count(*) FROM audit_events WHERE action = 'client.secret_rotated' AND target_id = $1)`, id).Scan(&secrets, &rotated); err != nil {
			t.Fatal(err)
		}
		// The write in flight at the kill may or may not have committed.
		unknown := 0
		if id == w.inFlight {
			unknown = 1
		}
		if want := w.rotations[id]; rotated < want || rotated > want+unknown || secrets < want+1 || secrets > want+1+unknown {
			t.Errorf("client %s: %d secrets and %d rotation events, want %d acknowledged rotations (+%d in flight)",
				id, secrets, rotated, want, unknown)
		}
		if id == w.inFlight {
			continue
		}
		if _, err := fetchToken(base, id, w.secret[id]); err != nil {
			t.Errorf("client %s's last acknowledged secret after the restart: %v", id, err)
		}
	}
	s.run("", "audit", "verify", "--all-tenants").expect(t, "audit verify after the kill", 0, "verified")
}

// TestOutageServesFromMemory stops PostgreSQL under a server whose client
// cache is on: what memory can answer safely goes on being answered (keys,
// discovery, tokens for cached clients, introspection of JWTs against the
// last revocation list, logged stale once), everything else is a 503 with
// Retry-After, and a cached client is trusted no longer than the cache's
// TTL.
func TestOutageServesFromMemory(t *testing.T) {
	// Long enough for the checks from memory to run well inside it, short
	// enough that the test can wait for it to pass.
	const ttl = 8 * time.Second
	const poll = 250 * time.Millisecond
	pg := testpg.StartServer(t)
	env := maps.Clone(faultEnv)
	env["LATCHKEY_CLIENT_CACHE_TTL"] = ttl.String()
	env["LATCHKEY_CHANGE_POLL"] = poll.String()
	db := ownedDatabase(t, pg.CreateDatabase(t, "latchkey"))
	setup := start(t, db, env)
	id, secret := setup.createClient(t, "--name", "Cached", "--grant-type", "client_credentials")
	rs, rsSecret := setup.createClient(t, "--name", "API", "--grant-type", "client_credentials", "--role", "resource_server")
	cold, coldSecret := setup.createClient(t, "--name", "Never used", "--grant-type", "client_credentials")
	// Opaque tokens are stored: issuing and introspecting one needs the
	// database, cached client or not.
	opq, opqSecret := setup.createClient(t, "--name", "Opaque", "--grant-type", "client_credentials", "--token-format", "opaque")
	// The instance under test starts after the clients were made: its
	// change feed begins past their creation, so no invalidation of them
	// can arrive once they are cached (one landing while a client loads
	// would keep it out of the cache).
	in := start(t, db, env)

	var outs []outcome
	do := func(o outcome) outcome { outs = append(outs, o); return o }
	get := func(what, path string) outcome {
		req, _ := http.NewRequest("GET", in.url+path, nil)
		return do(send(what, req))
	}
	tokenFor := func(id, secret string) outcome { return do(tokenRequest(in.url, id, secret)()) }
	introspect := func(tok string) outcome { return do(introspectRequest(in.url, rs, rsSecret, tok)()) }
	active := func(o outcome) bool {
		var v struct {
			Active bool `json:"active"`
		}
		return o.status == 200 && json.Unmarshal(o.body, &v) == nil && v.Active
	}
	accessToken := func(o outcome) string {
		var v struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(o.body, &v)
		return v.AccessToken
	}
	unavailable := func(what string, o outcome) {
		t.Helper()
		if o.status != http.StatusServiceUnavailable || o.retryAfter == "" {
			t.Errorf("%s: %s (Retry-After %q), want 503 with Retry-After", what, o, o.retryAfter)
		}
	}

	tok := accessToken(tokenFor(id, secret))
	revoked := accessToken(tokenFor(id, secret))
	revokeAt(t, in.url, id, secret, revoked)
	opaque := accessToken(tokenFor(opq, opqSecret))
	if o := introspect(tok); !active(o) {
		t.Fatalf("introspection before the outage: %s", o)
	}
	if o := introspect(revoked); o.status != 200 || active(o) {
		t.Fatalf("introspection of the revoked token before the outage: %s", o)
	}
	warm := time.Now()

	stopping := time.Now()
	pg.Stop(t)
	// A request that needs the database, so that the server learns it is
	// gone as a busy one would.
	unavailable("token for a client not in the cache", tokenFor(cold, coldSecret))
	eventually(t, "/readyz 503", func() bool { return get("readyz", "/readyz").status == 503 })

	if o := get("jwks", "/.well-known/jwks.json"); o.status != 200 {
		t.Errorf("JWKS during the outage: %s", o)
	}
	if o := get("discovery", "/.well-known/oauth-authorization-server"); o.status != 200 {
		t.Errorf("discovery during the outage: %s", o)
	}
	fresh := tokenFor(id, secret)
	if fresh.status != 200 {
		t.Fatalf("token for a cached client during the outage: %s", fresh)
	}
	verifyAgainstJWKS(t, in.url, accessToken(fresh), id)
	// Many introspections, one stale line.
	for range 10 {
		if o := introspect(tok); !active(o) {
			t.Errorf("introspection of a token issued before the outage: %s", o)
			break
		}
	}
	if o := introspect(accessToken(fresh)); !active(o) {
		t.Errorf("introspection of a token issued during the outage: %s", o)
	}
	if o := introspect(revoked); o.status != 200 || active(o) {
		t.Errorf("introspection of a token revoked before the outage: %s", o)
	}
	// /api/v1/me checks a JWT the same way, from memory.
	if got := meStatus(t, in.url, tok); got != http.StatusOK {
		t.Errorf("/api/v1/me with a token issued before the outage: %d", got)
	}
	if got := meStatus(t, in.url, revoked); got != http.StatusUnauthorized {
		t.Errorf("/api/v1/me with a token revoked before the outage: %d, want 401", got)
	}
	unavailable("token for a client not in the cache", tokenFor(cold, coldSecret))
	unavailable("opaque token for a cached client", tokenFor(opq, opqSecret))
	unavailable("introspection of an opaque token", introspect(opaque))
	if time.Since(warm) >= ttl {
		t.Fatalf("the checks from memory took %s, longer than the cache's TTL %s: they prove nothing", time.Since(warm), ttl)
	}

	// Once the TTL is over, a cached client needs the database too.
	time.Sleep(time.Until(warm.Add(ttl + poll)))
	unavailable("token for a client whose cache entry expired", tokenFor(id, secret))
	unavailable("introspection by a client whose cache entry expired", introspect(tok))

	back := time.Now()
	pg.Start(t)
	started := time.Now()
	var recovered time.Time
	deadline := started.Add(recoveryLimit)
	for recovered.IsZero() && time.Now().Before(deadline) {
		if o := tokenFor(cold, coldSecret); o.status == 200 {
			recovered = o.end
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if recovered.IsZero() {
		t.Fatalf("no token for the uncached client within %s of PostgreSQL's restart", recoveryLimit)
	}
	t.Logf("recovered in %s after PostgreSQL accepted connections again (outage %s)",
		recovered.Sub(started).Round(time.Millisecond), back.Sub(stopping).Round(time.Millisecond))
	if o := tokenFor(id, secret); o.status != 200 {
		t.Errorf("token for the cached client after recovery: %s", o)
	}
	if o := introspect(tok); !active(o) {
		t.Errorf("introspection after recovery: %s", o)
	}
	if o := introspect(revoked); o.status != 200 || active(o) {
		t.Errorf("introspection of the revoked token after recovery: %s", o)
	}
	if o := introspect(opaque); !active(o) {
		t.Errorf("introspection of the opaque token after recovery: %s", o)
	}
	pollReady(t, in.url)

	t.Logf("answers: %s", tally(outs))
	for _, o := range outs {
		if o.status >= 500 && o.status != http.StatusServiceUnavailable || o.status == 0 {
			t.Errorf("an answer neither a success nor a 503: %s", o)
		}
	}
	log := in.stderr.String()
	eventually(t, "the log to say the revocation list is current again", func() bool {
		return len(logged(in.stderr.String(), "INFO", "the revocation list is current", started, time.Now())) == 1
	})
	stale := logged(log, "WARN", "revocation list last loaded (stale)", stopping, recovered)
	if len(stale) != 1 {
		t.Errorf("the outage logged %d lines naming the revocation list stale, want 1: %v", len(stale), stale)
	} else {
		var r struct {
			LoadedAt time.Time `json:"loaded_at"`
		}
		json.Unmarshal([]byte(stale[0].line), &r)
		if r.LoadedAt.After(stopping) || r.LoadedAt.Before(warm.Add(-ttl)) {
			t.Errorf("the stale line says the list was loaded at %s; PostgreSQL stopped at %s", r.LoadedAt, stopping)
		}
	}
	checkErrorLines(t, log, stopping, recovered, len(outs))
}

// TestFailureLimitDuringOutage stops the database under an instance that
// has its client cached: wrong secrets are still answered 401, never 500
// or 503, and the instance's own count still refuses past the limit.
// Nothing is logged per request.
func TestFailureLimitDuringOutage(t *testing.T) {
	pg := testpg.StartServer(t)
	kv := maps.Clone(faultEnv)
	kv["LATCHKEY_CLIENT_CACHE_TTL"], kv["LATCHKEY_AUTH_FAILURE_LIMIT"] = "1h", "3"
	in := start(t, ownedDatabase(t, pg.CreateDatabase(t, "latchkey")), kv)
	id, secret := in.createClient(t, "--name", "Cached", "--grant-type", "client_credentials")
	mustToken(t, in.url, id, secret) // caches the client

	stopping := time.Now()
	pg.Stop(t)
	for i := range 3 {
		if got := tokenFrom(t, in.url, "", id, "lks_wrong"); got != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d with the database down: %d, want 401", i+1, got)
		}
	}
	if got := tokenFrom(t, in.url, "", id, "lks_wrong"); got != http.StatusTooManyRequests {
		t.Fatalf("past the limit with the database down: %d, want 429", got)
	}
	checkErrorLines(t, in.stderr.String(), stopping, time.Now(), 4)
	pg.Start(t)
	pollReady(t, in.url)
}
