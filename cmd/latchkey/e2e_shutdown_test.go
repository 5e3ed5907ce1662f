package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

func TestShutdownFinishesAndFlushes(t *testing.T) { forEachBackend(t, testShutdownFinishesAndFlushes) }

// testShutdownFinishesAndFlushes stops the real serve command as SIGTERM
// would, with a token request in flight, uses and failed authentications
// only in memory (the usage flush is an hour away, the tally's minute not
// over): the request is answered, what was in memory reaches the
// database, and nothing of the instance is left listening or connected.
func testShutdownFinishesAndFlushes(t *testing.T, db database) {
	in, stop := launch(t, db, map[string]string{"LATCHKEY_USAGE_FLUSH": "1h"})
	host := strings.TrimPrefix(in.url, "http://")
	used, usedSecret := in.createClient(t, "--name", "Used before", "--grant-type", "client_credentials")
	late, lateSecret := in.createClient(t, "--name", "In flight", "--grant-type", "client_credentials")
	token := url.Values{"grant_type": {"client_credentials"}}
	if status, err := httpPostForm(in.url+"/oauth2/token", used, usedSecret, token); err != nil || status != 200 {
		t.Fatalf("token: %d %v", status, err)
	}
	for range 2 {
		if status, err := httpPostForm(in.url+"/oauth2/token", used, "lks_not-the-secret", token); err != nil || status != 401 {
			t.Fatalf("token with a wrong secret: %d %v", status, err)
		}
	}
	// Nothing is written yet: whatever is found after the stop, the stop
	// wrote.
	if c := storedClient(t, db, used); !c.LastUsedAt.IsZero() || !c.LastToken.At.IsZero() {
		t.Fatalf("last use written before the stop: %v %+v", c.LastUsedAt, c.LastToken)
	}
	if es := authFailureEvents(t, db); len(es) != 0 {
		t.Fatalf("failures audited before the stop: %+v", es)
	}
	// The listening connection is seen while the instance runs, so that
	// its absence after the stop means something.
	postgres := strings.HasPrefix(db.env["LATCHKEY_DATABASE_URL"], "postgres")
	if postgres {
		if conns := waitConnections(t, db, listening); !listening(conns) {
			t.Fatalf("no LISTEN connection while serving: %v", conns)
		}
	}

	// A token request whose body is held back: with Expect: 100-continue,
	// the server's "100 Continue" says the handler is reading the body.
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := token.Encode()
	req, _ := http.NewRequest("POST", in.url+"/oauth2/token", nil)
	req.SetBasicAuth(url.QueryEscape(late), url.QueryEscape(lateSecret))
	fmt.Fprintf(conn, "POST /oauth2/token HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		host, req.Header.Get("Authorization"), len(body))
	br := bufio.NewReader(conn)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("before the body: %v %v", res, err)
	}
	stopped := make(chan int, 1)
	go func() { stopped <- stop() }()
	// The listener closes as the shutdown begins; the request is then in
	// flight during the shutdown, not before it.
	waitListenerClosed(t, host)
	select {
	case code := <-stopped:
		t.Fatalf("serve returned (%d) with a request in flight", code)
	default:
	}
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight at shutdown: %v", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || err != nil || tok.AccessToken == "" {
		t.Fatalf("the request in flight at shutdown: %d %v", res.StatusCode, err)
	}
	if code := <-stopped; code != 0 {
		t.Fatalf("serve exited with %d: %s", code, in.stderr)
	}
	if c, err := net.Dial("tcp", host); err == nil {
		c.Close()
		t.Error("the port still accepts connections after serve returned")
	}

	if postgres {
		// Checked before the test opens the store itself.
		if left := waitConnections(t, db, func(c []string) bool { return len(c) == 0 }); len(left) > 0 {
			t.Errorf("connections left after serve returned: %v", left)
		}
	}
	for _, id := range []string{used, late} {
		c := storedClient(t, db, id)
		if c.LastUsedAt.IsZero() || c.LastToken.At.IsZero() {
			t.Errorf("%s: last use not written at shutdown: %v %+v", id, c.LastUsedAt, c.LastToken)
		}
	}
	es := authFailureEvents(t, db)
	if len(es) != 1 || es[0].TargetID != used || es[0].Details["count"] != "2" || es[0].Details["reason"] != "wrong_secret" {
		t.Errorf("failed authentications audited at shutdown: %+v", es)
	}
}

// waitListenerClosed waits until nothing accepts connections at addr. It
// polls: a closed listener sends no signal to wait on.
func waitListenerClosed(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener did not close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openStored opens the instance's database as another process would.
func openStored(t *testing.T, db database) store.Store {
	t.Helper()
	st, err := store.OpenExisting(context.Background(), db.env["LATCHKEY_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedClient reads client id from the instance's database.
func storedClient(t *testing.T, db database, id string) *client.Client {
	t.Helper()
	st := openStored(t, db)
	defer st.Close()
	c, err := st.Client(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// authFailureEvents returns the default tenant's audited failed client
// authentications.
func authFailureEvents(t *testing.T, db database) []audit.Event {
	t.Helper()
	ctx := context.Background()
	st := openStored(t, db)
	defer st.Close()
	tenant, err := st.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es, err := st.AuditEvents(ctx, tenant.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range es {
		if e.Action == oauth.ActionClientAuthFailed {
			out = append(out, e)
		}
	}
	return out
}

// waitConnections waits, for a few seconds, until the connections to the
// instance's PostgreSQL database other than the one asking (each as
// "state: query") are as done says, and returns the last list. It polls:
// a server process ends a moment after its client hangs up, and nothing
// signals that.
func waitConnections(t *testing.T, db database, done func([]string) bool) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.env["LATCHKEY_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(5 * time.Second); ; {
		rows, err := conn.Query(ctx, `SELECT coalesce(state, '') || ': ' || query FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if err != nil {
			t.Fatal(err)
		}
		conns, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if done(conns) || time.Now().After(deadline) {
			return conns
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listening reports whether one of conns is the instance's LISTEN.
func listening(conns []string) bool {
	return slices.ContainsFunc(conns, func(c string) bool { return strings.Contains(c, "LISTEN") })
}
