//go:build linux

package testpg

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// connect opens a connection the test closes at its end.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// count returns how many rows table holds.
func count(t *testing.T, conn *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestServerKeepsDataAcrossStopAndStart(t *testing.T) {
	s := StartServer(t)
	if p := s.Port(); p < 20000 || p >= 32768 {
		t.Errorf("port %d is not below the ephemeral range", p)
	}
	url := s.CreateDatabase(t, "kept")
	conn := connect(t, url)
	mustExec(t, conn, "CREATE TABLE t (v int)")
	mustExec(t, conn, "INSERT INTO t VALUES (1), (2)")
	conn.Close(context.Background())

	port := s.Port()
	s.Stop(t)
	if err := ping(context.Background(), url); err == nil {
		t.Fatal("a stopped server accepted a connection")
	}
	s.Start(t)
	if s.Port() != port {
		t.Fatalf("restarted on port %d, was %d", s.Port(), port)
	}
	if n := count(t, connect(t, url), "t"); n != 2 {
		t.Fatalf("after a restart the table holds %d rows, want 2", n)
	}
}

func TestServerRecoversFromKill(t *testing.T) {
	s := StartServer(t)
	url := s.CreateDatabase(t, "crashed")
	conn := connect(t, url)
	mustExec(t, conn, "CREATE TABLE t (v int)")
	mustExec(t, conn, "INSERT INTO t VALUES (1)")

	s.Kill(t)
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Fatal("a connection to a killed server still answers")
	}
	s.Start(t)
	if n := count(t, connect(t, url), "t"); n != 1 {
		t.Fatalf("after crash recovery the table holds %d rows, want the 1 committed", n)
	}
}

func TestStandbyFollowsAndTakesOver(t *testing.T) {
	primary := StartPrimary(t)
	standby := primary.StartStandby(t)
	if primary.Port() == standby.Port() {
		t.Fatalf("primary and standby share port %d", primary.Port())
	}
	p := connect(t, primary.URL("postgres"))
	var state string
	if err := p.QueryRow(context.Background(),
		"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'").Scan(&state); err != nil || state != "sync" {
		t.Fatalf("standby1's sync_state: %q %v, want sync", state, err)
	}
	mustExec(t, p, "CREATE TABLE t (v int)")
	mustExec(t, p, "INSERT INTO t VALUES (1)")

	// A synchronous commit waits for the standby's flush, not its replay:
	// the row becomes visible there moments later.
	s := connect(t, standby.URL("postgres"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		err := s.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n)
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby does not show the committed row: %d %v", n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.Exec(context.Background(), "INSERT INTO t VALUES (2)"); err == nil {
		t.Fatal("the standby accepted a write")
	}

	both := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write",
		primary.Port(), standby.Port())
	if got := serverPort(t, both); got != primary.Port() {
		t.Fatalf("the two-host URL reached port %d, want the primary's %d", got, primary.Port())
	}

	primary.Kill(t)
	standby.Promote(t)
	mustExec(t, s, "INSERT INTO t VALUES (2)")
	if n := count(t, s, "t"); n != 2 {
		t.Fatalf("the promoted standby holds %d rows, want 2", n)
	}
	if got := serverPort(t, both); got != standby.Port() {
		t.Fatalf("after the failover the two-host URL reached port %d, want the promoted standby's %d", got, standby.Port())
	}
}

// serverPort connects to url and returns the port of the server that
// answered.
func serverPort(t *testing.T, url string) int {
	t.Helper()
	conn := connect(t, url)
	defer conn.Close(context.Background())
	var port int
	if err := conn.QueryRow(context.Background(), "SELECT current_setting('port')::int").Scan(&port); err != nil {
		t.Fatal(err)
	}
	return port
}
