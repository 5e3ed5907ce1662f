package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// issuer is the floor server's issuer. Latchkey's own follows the address
// it listens on, as it does out of the box.
const issuer = "http://localhost:8080"

// Limits on the steps of starting and stopping the server.
const (
	buildTimeout = 5 * time.Minute
	readyTimeout = 30 * time.Second
	cliTimeout   = 30 * time.Second
	stopTimeout  = 20 * time.Second
)

// buildServer compiles ./cmd/latchkey of the module bench belongs to into
// dir and returns the binary's path.
func buildServer(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the benchmark inside the Latchkey module")
	}
	bin := filepath.Join(dir, "latchkey")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/latchkey")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/latchkey: %w\n%s", err, out)
	}
	return bin, nil
}

// latchkeyServer is the real binary serving as a subprocess, on a loopback
// port, with its database in a scratch directory.
type latchkeyServer struct {
	bin  string
	dir  string
	env  []string
	base string // http://127.0.0.1:port

	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has been waited for
	waitErr error
}

// buildIn builds the server into a new temporary directory named by
// prefix, which the caller removes; on an error it is removed already.
func buildIn(ctx context.Context, prefix string, stderr io.Writer) (dir, bin string, err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", err
	}
	fmt.Fprintln(stderr, "building ./cmd/latchkey ...")
	if bin, err = buildServer(ctx, dir); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, bin, nil
}

// launch builds the server into a new temporary directory named by prefix and
// starts it there. stop stops it and removes the directory; calls after
// the first do nothing and return nil.
func launch(ctx context.Context, prefix string, stderr io.Writer) (srv *latchkeyServer, stop func() error, err error) {
	dir, bin, err := buildIn(ctx, prefix, stderr)
	if err != nil {
		return nil, nil, err
	}
	if srv, err = startServer(ctx, bin, dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	var once sync.Once
	return srv, func() error {
		var err error
		once.Do(func() {
			err = srv.stop()
			os.RemoveAll(dir)
		})
		return err
	}, nil
}

// startCluster creates a scratch database on the PostgreSQL server at
// postgres and starts an instance on it for each name (startInstances).
// stop stops them and drops the database.
func startCluster(ctx context.Context, bin, dir, postgres string, names []string, stderr io.Writer, env ...string) (
	srvs []*latchkeyServer, dbURL string, stop func(), err error) {
	dbURL, drop, err := createDatabase(ctx, postgres)
	if err != nil {
		return nil, "", nil, err
	}
	if srvs, err = startInstances(ctx, bin, dir, dbURL, names, stderr, env...); err != nil {
		drop()
		return nil, "", nil, err
	}
	return srvs, dbURL, func() {
		for _, s := range srvs {
			s.stop() // already stopped, normally: its error was reported then
		}
		drop()
	}, nil
}

// startInstances starts one server of bin for each name, all on the
// PostgreSQL database dbURL, each in a directory of its own under dir. They
// start one after another, so that the first alone migrates and
// provisions. Instances sharing a database share the key that seals its
// signing keys: they get a fresh one. env is added to each's environment.
// On an error the instances already started are stopped.
func startInstances(ctx context.Context, bin, dir, dbURL string, names []string, stderr io.Writer, env ...string) ([]*latchkeyServer, error) {
	kek := make([]byte, 32)
	rand.Read(kek)
	env = append([]string{"LATCHKEY_DATABASE_URL=" + dbURL, "LATCHKEY_SECRET_KEY=" + hex.EncodeToString(kek)}, env...)
	var srvs []*latchkeyServer
	for _, name := range names {
		d := filepath.Join(dir, name)
		err := os.MkdirAll(d, 0o700)
		var srv *latchkeyServer
		if err == nil {
			fmt.Fprintf(stderr, "starting instance %s ...\n", name)
			srv, err = startServer(ctx, bin, d, env...)
		}
		if err != nil {
			for _, s := range srvs {
				s.stop()
			}
			return nil, err
		}
		srvs = append(srvs, srv)
	}
	return srvs, nil
}

// startServer runs bin serve with its data in dir and waits until
// /readyz answers 200. Variables in env are added to its environment,
// replacing the defaults (LATCHKEY_DATABASE_URL, say).
func startServer(ctx context.Context, bin, dir string, env ...string) (*latchkeyServer, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	s := &latchkeyServer{
		bin:  bin,
		dir:  dir,
		base: "http://" + addr,
		env: append(environWithout("LATCHKEY_"),
			"LATCHKEY_DATABASE_URL="+filepath.Join(dir, "latchkey.db"),
			"LATCHKEY_ADDR="+addr,
			// The benchmark authenticates tens of thousands of times a
			// second from one address; no failure should throttle it.
			"LATCHKEY_AUTH_FAILURE_LIMIT=0",
			"LATCHKEY_LOG_LEVEL=warn",
		),
		logPath: filepath.Join(dir, "server.log"),
		exited:  make(chan struct{}),
	}
	// exec keeps the last of duplicate variables.
	s.env = append(s.env, env...)
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Dir = dir
	s.cmd.Env = s.env
	// With no terminal attached, the first start prints no credentials;
	// the log stays in the scratch directory, which is removed at the end.
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls /readyz until it answers 200, the process exits, or
// readyTimeout passes.
func (s *latchkeyServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before it was ready (%v):\n%s", s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("server not ready within %s:\n%s", readyTimeout, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// createClient registers a client_credentials client with scope read
// (and any extra flags, such as a role) through the real CLI, against the
// server's database, and returns the credentials it prints once.
func (s *latchkeyServer) createClient(ctx context.Context, name string, extra ...string) (credentials, error) {
	args := append([]string{"clients", "create", "--name", name,
		"--grant-type", "client_credentials", "--scope", "read", "--json"}, extra...)
	var c credentials
	if err := s.cli(ctx, "", &c, args...); err != nil {
		return credentials{}, err
	}
	if c.ID == "" || c.Secret == "" {
		return credentials{}, errors.New("clients create printed no credentials")
	}
	return c, nil
}

// tokenClients creates the two clients the token endpoints are loaded
// with: one that asks for tokens, and a resource server that introspects
// them (only a client entitled to introspect gets an answer: an API's own
// client holds the resource_server role); and it obtains one token.
func (s *latchkeyServer) tokenClients(ctx context.Context) (caller, rs credentials, tok string, err error) {
	if caller, err = s.createClient(ctx, "bench"); err != nil {
		return
	}
	if rs, err = s.createClient(ctx, "bench-resource-server", "--role", "resource_server"); err != nil {
		return
	}
	tok, err = s.accessToken(ctx, caller)
	return
}

// accessToken obtains one token for c from the server.
func (s *latchkeyServer) accessToken(ctx context.Context, c credentials) (string, error) {
	return fetchToken(ctx, s.base+"/oauth2/token", c)
}

// stop sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. It reports an unclean exit.
func (s *latchkeyServer) stop() error {
	select {
	case <-s.exited:
		return fmt.Errorf("server had already exited (%v):\n%s", s.waitErr, s.logTail())
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("server did not stop within %s of SIGTERM; killed", stopTimeout)
	}
	if s.waitErr != nil {
		return fmt.Errorf("server exited with %v:\n%s", s.waitErr, s.logTail())
	}
	return nil
}

// logTail returns the end of the server's output, for error messages.
func (s *latchkeyServer) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// fetchToken asks tokenURL for one client_credentials token as c.
func fetchToken(ctx context.Context, tokenURL string, c credentials) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	t := tokenTarget(tokenURL, c)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(t.body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", t.authorization)
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("token from %s: status %d: %.300s", tokenURL, resp.StatusCode, body)
	}
	return tr.AccessToken, nil
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port free a moment
// ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// environWithout returns the environment minus variables starting with
// prefix, so the caller's own Latchkey settings cannot leak into the run.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}
