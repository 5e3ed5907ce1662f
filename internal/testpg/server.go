//go:build linux

package testpg

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a PostgreSQL server a test owns: its own data directory and
// port, so the test may stop, restart or kill it without touching the
// machine's shared server. Its methods are for the test's goroutine.
type Server struct {
	bin      string // the directory holding initdb, postgres, pg_basebackup
	dir      string // the server's temporary directory: data/, the socket, postgres.log
	port     int
	settings []string // each name=value, passed as postgres -c
	cred     *syscall.Credential
	proc     *exec.Cmd
	exited   chan struct{} // closed once proc has been waited for
}

// Option changes how StartServer configures the server.
type Option func(*Server)

// Setting sets a server setting, as postgres -c name=value would; it
// overrides StartServer's own.
func Setting(name, value string) Option {
	return func(s *Server) { s.settings = append(s.settings, name+"="+value) }
}

// readyTimeout bounds every wait for the server: initdb, a start, a
// promotion. Far longer than any takes on an idle machine, it only fails
// a server that will never be ready.
const readyTimeout = 30 * time.Second

// StartServer runs initdb into a temporary directory and starts a server
// on 127.0.0.1 at a free port below the ephemeral range, trusting every
// local connection (user postgres). The server stops when the test ends.
// Without the PostgreSQL programs the test skips, except in CI, where it
// fails.
//
// PostgreSQL refuses to run as root: when the test is root, the server
// runs as the postgres system user.
func StartServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := newServer(t, binaries(t), opts...)
	s.initdb(t)
	s.Start(t)
	return s
}

// StartPrimary starts a server other servers can stream from, whose
// commits wait until the standby named standby1 (see StartStandby) has
// flushed them. Until that standby runs, a write on the primary blocks.
func StartPrimary(t testing.TB) *Server {
	t.Helper()
	return StartServer(t,
		Setting("fsync", "on"),
		Setting("wal_level", "replica"),
		Setting("max_wal_senders", "4"),
		Setting("synchronous_standby_names", "standby1"),
		Setting("synchronous_commit", "on"))
}

// newServer prepares a server, not yet initialised, in a new temporary
// directory the server's user owns, and stops it when the test ends.
func newServer(t testing.TB, bin string, opts ...Option) *Server {
	t.Helper()
	s := &Server{bin: bin, dir: t.TempDir(), port: freePort(t), cred: serverUser(t)}
	if s.cred != nil {
		// t.TempDir's parent is root's, mode 0700: the server's user must
		// pass through it.
		if err := os.Chmod(filepath.Dir(s.dir), 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	s.settings = []string{
		"listen_addresses=127.0.0.1",
		"port=" + strconv.Itoa(s.port),
		"unix_socket_directories=" + socketDir(s.dir),
		// Only the server's process is ever killed, never the machine, so
		// what it wrote survives in the page cache without fsync.
		"fsync=off",
		"shared_buffers=16MB",
		"max_connections=50",
	}
	for _, o := range opts {
		o(s)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// socketDir is where the server puts its Unix socket: dir, unless the
// socket's path would pass the kernel's limit, in which case there is
// none (every connection is TCP).
func socketDir(dir string) string {
	const sunPath = 107 // sizeof(sockaddr_un.sun_path) less the NUL
	if len(filepath.Join(dir, ".s.PGSQL.00000.lock")) > sunPath {
		return ""
	}
	return dir
}

// binaries returns the directory of the PostgreSQL server programs:
// pg_config's, else the newest /usr/lib/postgresql/*/bin. Without one the
// test skips, except in CI.
func binaries(t testing.TB) string {
	t.Helper()
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d
		}
	}
	const msg = "no PostgreSQL server programs (initdb, postgres): not in pg_config --bindir nor /usr/lib/postgresql/*/bin"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + ": CI must run the PostgreSQL fault tests")
	}
	t.Skip(msg)
	return ""
}

// versionOf is the major version in /usr/lib/postgresql/VERSION/bin.
func versionOf(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// serverUser is the user the server's programs run as: nil (the test's
// own) unless the test is root, then the postgres system user.
func serverUser(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("the test runs as root, which PostgreSQL refuses, and there is no postgres user to run it as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}

// freePort returns a port on 127.0.0.1 nothing listens on, below the
// ephemeral range (32768 and up on Linux), where a burst of outgoing
// connections could take it between a stop and a start.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port in 20000-32000 after 100 tries")
	return 0
}

// command prepares one of the PostgreSQL programs to run as the server's
// user, in its directory, with an environment of its own.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	// Its own process group, so Kill reaches every backend; and killed
	// should the test binary die without its cleanups (a timeout), so no
	// server outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// run runs a PostgreSQL program to completion.
func (s *Server) run(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if out, err := s.command(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// initdb creates the cluster: user postgres, trusted from 127.0.0.1 for
// both queries and replication.
func (s *Server) initdb(t testing.TB) {
	t.Helper()
	s.run(t, "initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	s.writeHBA(t)
}

// writeHBA trusts local connections, replication included.
func (s *Server) writeHBA(t testing.TB) {
	t.Helper()
	const hba = "local all all trust\n" +
		"host all all 127.0.0.1/32 trust\n" +
		"host replication all 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(s.data(), "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	if s.cred != nil {
		if err := os.Chown(filepath.Join(s.data(), "pg_hba.conf"), int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
}

// URL is the address of database db on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port is the TCP port the server listens on, the same across restarts.
func (s *Server) Port() int { return s.port }

// CreateDatabase creates database name on the server and returns its URL.
// The database goes with the server when the test ends.
func (s *Server) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	s.exec(t, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return s.URL(name)
}

// exec runs one statement on the server's postgres database.
func (s *Server) exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("connect to the test server on port %d: %v", s.port, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Start starts the server, on the same port as before, and returns once
// it accepts connections. After a Kill the first attempts may be refused
// while the killed processes' resources are released: Start retries
// until its deadline.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if s.running() {
		t.Fatal("testpg: Start of a running server")
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.launch()
		if err == nil {
			err = s.waitReady(deadline)
		}
		if err == nil {
			return
		}
		if !errors.Is(err, errExited) || time.Now().After(deadline) {
			s.kill()
			t.Fatalf("start the test server on port %d: %v\n%s", s.port, err, s.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errExited = errors.New("postgres exited")

// launch starts the postmaster, its output appended to postgres.log.
func (s *Server) launch() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close() // the child keeps its own descriptor
	args := []string{"-D", s.data()}
	for _, kv := range s.settings {
		args = append(args, "-c", kv)
	}
	cmd := s.command(context.Background(), "postgres", args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.proc, s.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(s.exited)
	return nil
}

// waitReady polls until the server accepts a connection and answers a
// query, it exits (errExited), or the deadline passes.
func (s *Server) waitReady(deadline time.Time) error {
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errExited
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		last = ping(ctx, s.URL("postgres"))
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s: %v", readyTimeout, last)
}

func ping(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

func (s *Server) running() bool {
	if s.proc == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Stop shuts the server down as pg_ctl stop -m fast does (SIGINT to the
// postmaster: open transactions roll back, connections close, a clean
// checkpoint), and waits until it has exited. Stopping a stopped server
// does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop(t)
}

func (s *Server) stop(t testing.TB) {
	t.Helper()
	if !s.running() {
		return
	}
	s.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(readyTimeout):
		s.kill()
		t.Errorf("the test server on port %d did not stop within %s: killed\n%s", s.port, readyTimeout, s.logTail())
	}
}

// Kill ends the server with SIGKILL, as a crash of its machine would: the
// postmaster and every backend at once, with no shutdown checkpoint and
// no connection closed politely. Start recovers it from its WAL.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if !s.running() {
		t.Fatal("testpg: Kill of a server that is not running")
	}
	s.kill()
}

func (s *Server) kill() {
	if !s.running() {
		return
	}
	// Every backend is a process group of its own (PostgreSQL calls
	// setsid in each child), so the postmaster's group holds none of
	// them, and an orphaned backend goes on answering its connection
	// until it notices the postmaster is gone. Stopped first, the
	// postmaster forks no child while its children are listed.
	pid := s.proc.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP)
	children := childrenOf(pid)
	syscall.Kill(-pid, syscall.SIGKILL)
	for _, c := range children {
		syscall.Kill(c, syscall.SIGKILL)
	}
	<-s.exited
	deadline := time.Now().Add(readyTimeout)
	for _, c := range children {
		for alive(c) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(c); ok && ppid == pid {
			out = append(out, c)
		}
	}
	return out
}

// alive reports whether pid is a process that has not yet exited: a
// zombie has closed its files and sockets, and counts as gone.
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// procStat reads a process's parent and state from /proc/pid/stat, whose
// second field (the command, in parentheses) may itself hold spaces and
// parentheses.
func procStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0][0], err == nil
}

// logTail is the end of the server's log, for a failure message.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "postgres.log:\n" + string(b)
}

// StartStandby clones s with pg_basebackup and starts the clone as a hot
// standby streaming from s under the name standby1, which StartPrimary's
// commits wait for. It returns once s reports the standby streaming (and
// synchronous, when s waits for standby1). s must be running.
func (s *Server) StartStandby(t testing.TB) *Server {
	t.Helper()
	sb := newServer(t, s.bin, Setting("fsync", "on"), Setting("hot_standby", "on"),
		// A standby whose primary is gone sees a promotion only when it
		// next retries the primary: every 5 s by default.
		Setting("wal_retrieve_retry_interval", "100ms"),
		Setting("primary_conninfo", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=standby1", s.port)))
	// -R writes standby.signal; the command line's primary_conninfo
	// overrides the one -R writes beside it.
	sb.run(t, "pg_basebackup", "-D", sb.data(), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres",
		"-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
	sb.Start(t)
	s.waitFor(t, "standby1 streaming from the primary", `SELECT EXISTS (SELECT 1 FROM pg_stat_replication
		WHERE application_name = 'standby1' AND state = 'streaming'
		AND (sync_state = 'sync' OR current_setting('synchronous_standby_names') = ''))`)
	return sb
}

// Promote makes a standby a primary, and returns once it accepts writes.
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	s.run(t, "pg_ctl", "promote", "-D", s.data())
	s.waitFor(t, "the promoted standby out of recovery", "SELECT NOT pg_is_in_recovery()")
}

// waitFor polls query, which returns one boolean, until it is true.
func (s *Server) waitFor(t testing.TB, what, query string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var ok bool
		last = queryRow(ctx, s.URL("postgres"), query, &ok)
		cancel()
		if last == nil && ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last error: %v)\n%s", what, readyTimeout, last, s.logTail())
}

func queryRow(ctx context.Context, url, query string, dest ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, query).Scan(dest...)
}
