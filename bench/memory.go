package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The memory command measures what the server's process holds: its
// resident set (VmRSS), the most it ever held (VmHWM, the peak), and the
// Go heap found live by each collection (the server runs with
// GODEBUG=gctrace=1, whose lines land in its log), across a first start
// and bursts of the kinds of load that allocate most. Nothing in the
// server is instrumented for it: only /proc and the runtime's own trace.

// memoryOptions are the memory command's flags.
type memoryOptions struct {
	concurrency int
	burst       time.Duration
	settle      time.Duration
	// budget is the peak resident set allowed, in bytes; over it the
	// command fails.
	budget int64
	// gomemlimit and gogc are passed to the server when set; otherwise
	// neither reaches it, so the server's own default is what is measured.
	gomemlimit, gogc string
	// logTo, when set, receives a copy of the server's log.
	logTo string
}

// defaultBudget is the operator's requirement: 64 MB peak under any load.
const defaultBudget = 64 << 20

func parseMemoryOptions(args []string, stderr io.Writer) (memoryOptions, error) {
	o := memoryOptions{}
	fs := flag.NewFlagSet("memory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent connections in each burst")
	fs.DurationVar(&o.burst, "burst", 3*time.Second, "length of each burst")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "quiet time before each reading")
	budget := fs.Int("budget-mib", defaultBudget>>20, "peak resident set (VmHWM) allowed, in MiB; over it the command exits 1")
	fs.StringVar(&o.gomemlimit, "gomemlimit", "", "GOMEMLIMIT for the server (default: none, the server's own budget)")
	fs.StringVar(&o.gogc, "gogc", "", "GOGC for the server (default: none)")
	fs.StringVar(&o.logTo, "log", "", "copy the server's log, with its gctrace lines, to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.concurrency < 1 || o.concurrency > maxConcurrency {
		return o, fmt.Errorf("-concurrency must be in [1, %d]", maxConcurrency)
	}
	if o.burst <= 0 || o.burst > time.Minute {
		return o, errors.New("-burst must be in (0, 1m]")
	}
	if o.settle < 0 || o.settle > time.Minute {
		return o, errors.New("-settle must be in [0, 1m]")
	}
	if *budget < 1 {
		return o, errors.New("-budget-mib must be positive")
	}
	o.budget = int64(*budget) << 20
	return o, nil
}

// memSample is the process's memory at one moment, and what the
// collections since the previous sample found.
type memSample struct {
	phase    string
	rss, hwm int64 // bytes
	gc       gcStats
	ok, errs int // requests of the phase
	refused  int // 429s: answers, but no argon2id was run
}

// gcStats summarises gctrace lines: the live heap after the last
// collection, and the most any collection found live and aimed at.
type gcStats struct {
	n                 int
	lastLive, maxLive int64 // bytes
	maxGoal           int64
}

// gctraceLine matches the sizes of a GODEBUG=gctrace=1 line:
// "... 70->71->3 MB, 72 MB goal, ...": heap at start, at end, live; goal.
var gctraceLine = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// parseGCTrace reads the gctrace lines of r.
func parseGCTrace(r io.Reader) gcStats {
	var s gcStats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := gctraceLine.FindSubmatch(sc.Bytes())
		if m == nil || !bytes.HasPrefix(sc.Bytes(), []byte("gc ")) {
			continue
		}
		live, _ := strconv.ParseInt(string(m[3]), 10, 64)
		goal, _ := strconv.ParseInt(string(m[4]), 10, 64)
		s.n++
		s.lastLive = live << 20
		s.maxLive = max(s.maxLive, live<<20)
		s.maxGoal = max(s.maxGoal, goal<<20)
	}
	return s
}

// procMemory returns VmRSS and VmHWM of process pid, in bytes (Linux).
func procMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read the server's memory (Linux /proc only): %w", err)
	}
	return parseProcStatus(b)
}

// parseProcStatus reads VmRSS and VmHWM ("VmRSS:   81234 kB") of a
// /proc/PID/status.
func parseProcStatus(b []byte) (rss, hwm int64, err error) {
	seen := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc status: %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc status: %q", line)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
		seen++
	}
	if seen != 2 {
		return 0, 0, errors.New("/proc status without VmRSS and VmHWM")
	}
	return rss, hwm, nil
}

// Credentials of the memory and soak commands' scratch databases,
// removed at the end.
const (
	benchAdminEmail    = "admin@example.com"
	benchAdminPassword = "bench-admin-password-of-a-fair-length"
)

// memoryBench starts the real binary on a new database, so its first
// start provisions (and hashes the admin's password), then drives bursts
// at it and reads its memory after each.
func memoryBench(ctx context.Context, o memoryOptions, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, setupBudget+10*(o.burst+o.settle+requestTimeout))
	defer cancel()
	serverRuntimeEnv(o.gomemlimit, o.gogc)
	dir, bin, err := buildIn(ctx, "latchkey-memory-", stderr)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := []string{"GODEBUG=gctrace=1",
		"LATCHKEY_ADMIN_EMAIL=" + benchAdminEmail, "LATCHKEY_ADMIN_PASSWORD=" + benchAdminPassword,
		// Sign-ins come from many made-up addresses, so the per-address
		// limits let each one's password be checked.
		"LATCHKEY_TRUSTED_PROXIES=127.0.0.1"}
	if o.gomemlimit != "" {
		env = append(env, "GOMEMLIMIT="+o.gomemlimit)
	}
	if o.gogc != "" {
		env = append(env, "GOGC="+o.gogc)
	}
	fmt.Fprintln(stderr, "first start ...")
	srv, err := startServer(ctx, bin, dir, env...)
	if err != nil {
		return err
	}
	defer srv.stop()
	m := &memMeter{pid: srv.cmd.Process.Pid, log: srv.logPath}
	var samples []memSample
	sample := func(phase string, c *burstCount) error {
		sleep(ctx, o.settle)
		s, err := m.sample(phase)
		if c != nil {
			s.ok, s.errs, s.refused = int(c.ok.Load()), int(c.errs.Load()), int(c.refused.Load())
			c.report(stderr, phase)
		}
		samples = append(samples, s)
		return err
	}
	if err := sample("first start (provisioning)", nil); err != nil {
		return err
	}

	bench, err := srv.createClient(ctx, "bench")
	if err != nil {
		return err
	}
	const chosen = "an-admin-chosen-secret-of-a-fair-length"
	slowID, err := srv.createSuppliedClient(ctx, "bench-chosen", chosen)
	if err != nil {
		return err
	}
	if err := srv.cli(ctx, benchUserPassword+"\n", nil, "users", "create", "--email", benchUserEmail,
		"--password-file", "-"); err != nil {
		return err
	}

	fmt.Fprintf(stderr, "GET /healthz, %d connections, %s ...\n", o.concurrency, o.burst)
	c := burst(ctx, o.concurrency, o.burst, func(ctx context.Context, w *burstWorker) error {
		return w.expect(ctx, http.MethodGet, srv.base+"/healthz", nil, "", http.StatusOK)
	})
	if err := sample("burst: GET /healthz", c); err != nil {
		return err
	}

	// One worker in eight sends a wrong secret for the client whose
	// secret an admin chose: each such failure costs an argon2id check.
	fmt.Fprintf(stderr, "POST /oauth2/token, %d connections, %s ...\n", o.concurrency, o.burst)
	good, bad := basicAuth(bench), basicAuth(credentials{ID: slowID, Secret: chosen + "?"})
	c = burst(ctx, o.concurrency, o.burst, func(ctx context.Context, w *burstWorker) error {
		body := "grant_type=client_credentials&scope=read"
		if w.id%8 == 7 {
			return w.expect(ctx, http.MethodPost, srv.base+"/oauth2/token", strings.NewReader(body), bad,
				http.StatusUnauthorized, http.StatusTooManyRequests)
		}
		return w.expect(ctx, http.MethodPost, srv.base+"/oauth2/token", strings.NewReader(body), good, http.StatusOK)
	})
	if err := sample("burst: token requests", c); err != nil {
		return err
	}

	fmt.Fprintf(stderr, "sign-ins, %d browsers, %s ...\n", o.concurrency, o.burst)
	c = burst(ctx, o.concurrency, o.burst, func(ctx context.Context, w *burstWorker) error {
		// Wrong password, unknown email, right password, in turn.
		email, password := benchUserEmail, benchUserPassword
		switch w.n % 3 {
		case 0:
			password += "?"
		case 1:
			email = fmt.Sprintf("nobody-%d-%d@example.com", w.id, w.n)
		}
		return w.signIn(ctx, srv.base, email, password, w.n%3 == 2)
	})
	if err := sample("burst: sign-ins", c); err != nil {
		return err
	}
	if err := sample("idle after the bursts", nil); err != nil {
		return err
	}
	if err := srv.stop(); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	if o.logTo != "" {
		if b, err := os.ReadFile(srv.logPath); err != nil || os.WriteFile(o.logTo, b, 0o600) != nil {
			fmt.Fprintf(stderr, "warning: the server's log was not copied to %s\n", o.logTo)
		}
	}
	return printMemory(stdout, o, samples)
}

// serverRuntimeEnv keeps the caller's own GOMEMLIMIT and GOGC from the
// server (startServer passes the environment on), so the server's own
// choices are what is measured; flags put them back deliberately.
func serverRuntimeEnv(gomemlimit, gogc string) {
	if gomemlimit == "" {
		os.Unsetenv("GOMEMLIMIT")
	}
	if gogc == "" {
		os.Unsetenv("GOGC")
	}
}

// memMeter samples one process.
type memMeter struct {
	pid int
	log string
	off int64 // of the log, read up to here
}

// sample reads the process's memory and the collections logged since
// the last sample.
func (m *memMeter) sample(phase string) (memSample, error) {
	s := memSample{phase: phase}
	var err error
	if s.rss, s.hwm, err = procMemory(m.pid); err != nil {
		return s, err
	}
	f, err := os.Open(m.log)
	if err != nil {
		return s, err
	}
	defer f.Close()
	if _, err := f.Seek(m.off, io.SeekStart); err != nil {
		return s, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return s, err
	}
	// Only whole lines; the rest is read next time.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	m.off += int64(len(b))
	s.gc = parseGCTrace(bytes.NewReader(b))
	return s, nil
}

// printMemory prints the table and fails when the peak passed the budget.
func printMemory(w io.Writer, o memoryOptions, samples []memSample) error {
	limit := o.gomemlimit
	if limit == "" {
		limit = "(not set: the server's default)"
	}
	fmt.Fprintf(w, "Latchkey memory: %s %s/%s, NumCPU=%d; server GOMEMLIMIT=%s GOGC=%s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), limit, orDefault(o.gogc, "(not set)"))
	fmt.Fprintf(w, "bursts: %d connections for %s each; each reading after %s quiet.\n", o.concurrency, o.burst, o.settle)
	fmt.Fprintln(w, "RSS = VmRSS, peak = VmHWM (the most so far), from /proc/PID/status; live = heap found live")
	fmt.Fprintln(w, "by the last collection of the phase, max live / max goal over its collections (gctrace, MB).")
	fmt.Fprintln(w)
	const line = "%-28s %8s %8s %6s %8s %8s %9s %8s %7s\n"
	fmt.Fprintf(w, line, "phase", "RSS", "peak", "GCs", "live", "max live", "max goal", "ok", "errors")
	var peak int64
	for _, s := range samples {
		ok, errs := "", ""
		if s.ok+s.errs > 0 {
			ok, errs = strconv.Itoa(s.ok), strconv.Itoa(s.errs)
		}
		live, maxLive, goal := "-", "-", "-"
		if s.gc.n > 0 {
			live, maxLive, goal = mb(s.gc.lastLive), mb(s.gc.maxLive), mb(s.gc.maxGoal)
		}
		fmt.Fprintf(w, line, s.phase, mb(s.rss), mb(s.hwm), strconv.Itoa(s.gc.n), live, maxLive, goal, ok, errs)
		peak = max(peak, s.hwm)
	}
	fmt.Fprintln(w)
	verdict := "within"
	if peak > o.budget {
		verdict = "OVER"
	}
	fmt.Fprintf(w, "peak RSS %s: %s the budget of %s\n", mb(peak), verdict, mb(o.budget))
	var failed bool
	for _, s := range samples {
		failed = failed || s.errs > 0
	}
	switch {
	case peak > o.budget:
		return fmt.Errorf("peak RSS %s is over the budget of %s", mb(peak), mb(o.budget))
	case failed:
		return errors.New("some requests failed; their phases' numbers are not valid")
	}
	return nil
}

// mb formats bytes in MiB with one decimal.
func mb(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + "M" }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// burstCount counts a burst's answers.
type burstCount struct {
	ok, errs, refused atomic.Int64
	mu                sync.Mutex
	messages          []string
}

func (c *burstCount) fail(err error) {
	c.errs.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.messages) < maxMessages {
		c.messages = append(c.messages, err.Error())
	}
}

// report prints the burst's errors, if any.
func (c *burstCount) report(w io.Writer, phase string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.messages) == 0 {
		return
	}
	fmt.Fprintf(w, "  %s: %d errors, e.g.:\n", phase, c.errs.Load())
	for _, m := range c.messages {
		fmt.Fprintf(w, "    %s\n", m)
	}
}

// burstWorker is one connection of a burst, with a browser's cookie jar.
type burstWorker struct {
	id, n int // worker number; requests so far
	hc    *http.Client
	c     *burstCount
}

// errRefused is a 429: an answer, counted apart.
var errRefused = errors.New("refused (429)")

// burst runs do from n workers, each on a connection of its own, back
// to back for d (and at most requestTimeout more), and counts answers.
func burst(ctx context.Context, n int, d time.Duration, do func(ctx context.Context, w *burstWorker) error) *burstCount {
	c := &burstCount{}
	ctx, cancel := context.WithTimeout(ctx, d+requestTimeout)
	defer cancel()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range n {
		jar, _ := cookiejar.New(nil)
		tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}
		w := &burstWorker{id: i, c: c, hc: &http.Client{Jar: jar, Timeout: requestTimeout, Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			for ctx.Err() == nil && time.Now().Before(end) {
				err := do(ctx, w)
				w.n++
				switch {
				case errors.Is(err, errRefused):
					c.refused.Add(1)
				case err != nil:
					c.fail(err)
				default:
					c.ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return c
}

// expect sends one request and checks its status is one of want.
func (w *burstWorker) expect(ctx context.Context, method, u string, body io.Reader, authorization string, want ...int) error {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	status, b, err := w.do(req)
	if err != nil {
		return err
	}
	for _, s := range want {
		if status == s {
			return nil
		}
	}
	return fmt.Errorf("%s %s: status %d: %.200s", method, u, status, bytes.TrimSpace(b))
}

func (w *burstWorker) do(req *http.Request) (int, []byte, error) {
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// signIn signs in on the account pages as a browser would, from an
// address of its own (X-Forwarded-For, through the trusted loopback
// proxy): the form for its CSRF token and cookie, then the form posted.
// A right password must be answered with a redirect, a wrong one with the
// form again (400), or 429 when a limit refused it, which is errRefused.
func (w *burstWorker) signIn(ctx context.Context, base, email, password string, right bool) error {
	fwd := fmt.Sprintf("10.%d.%d.%d", w.id%256, (w.n/256)%256, w.n%256)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/account/login", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Forwarded-For", fwd)
	status, page, err := w.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET /account/login: status %d", status)
	}
	form := url.Values{"csrf": {hiddenValue(string(page), "csrf")}, "email": {email}, "password": {password}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/account/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", fwd)
	status, body, err := w.do(req)
	switch {
	case err != nil:
		return err
	case status == http.StatusTooManyRequests:
		return errRefused
	case right && (status == http.StatusSeeOther || status == http.StatusFound):
		return nil
	case !right && status == http.StatusBadRequest:
		return nil
	}
	return fmt.Errorf("sign-in (right password %v): status %d: %.200s", right, status, bytes.TrimSpace(body))
}
