package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// The soak runs two instances on one PostgreSQL database under a steady
// mix of everything a deployment serves, for minutes, and watches what
// should not grow: each instance's resident set, its goroutines, and the
// database connections both hold. It fails when the last minute's average
// of one is over the first minute's by more than the tolerance.

// soakOptions are the soak command's flags.
type soakOptions struct {
	duration, warmup, interval time.Duration
	rate, workers              int
	postgres                   string
	tolerance                  float64
}

// Bounds on the soak's flags.
const (
	maxSoak     = 2 * time.Hour
	maxSoakRate = 2000
)

func parseSoakOptions(args []string, stderr io.Writer) (soakOptions, error) {
	o := soakOptions{}
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "sampled time under load")
	fs.DurationVar(&o.warmup, "warmup", 0, "load before the first sample (default a tenth of -duration, 5s to 1m)")
	fs.DurationVar(&o.interval, "interval", 10*time.Second, "time between samples")
	fs.IntVar(&o.rate, "rate", 40, "operations a second, over both instances")
	fs.IntVar(&o.workers, "workers", 8, "concurrent clients sending them")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("LATCHKEY_TEST_POSTGRES_URL"),
		"PostgreSQL server to create a scratch database on (default $LATCHKEY_TEST_POSTGRES_URL)")
	fs.Float64Var(&o.tolerance, "tolerance", 0.25, "growth allowed from the first window's average to the last's, as a fraction, beside a small absolute slack per measure")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !store.IsPostgres(o.postgres) {
		return o, errors.New("the soak runs on PostgreSQL: give -postgres postgres://… (or LATCHKEY_TEST_POSTGRES_URL)")
	}
	if o.interval < time.Second || o.interval > 10*time.Minute {
		return o, errors.New("-interval must be in [1s, 10m]")
	}
	if o.duration < 2*o.interval || o.duration > maxSoak {
		return o, fmt.Errorf("-duration must be in [2 × -interval, %s]", maxSoak)
	}
	if o.warmup == 0 {
		o.warmup = min(max(o.duration/10, 5*time.Second), time.Minute)
	}
	if o.warmup < 0 || o.warmup > maxSoak {
		return o, errors.New("-warmup must be in [0, 2h]")
	}
	if o.rate < 1 || o.rate > maxSoakRate {
		return o, fmt.Errorf("-rate must be in [1, %d]", maxSoakRate)
	}
	if o.workers < 1 || o.workers > 256 {
		return o, errors.New("-workers must be in [1, 256]")
	}
	if o.tolerance < 0 || o.tolerance > 10 {
		return o, errors.New("-tolerance must be in [0, 10]")
	}
	return o, nil
}

// window is how much of the start and of the end is averaged: a minute,
// or a third of a shorter run.
func (o soakOptions) window() time.Duration { return min(time.Minute, o.duration/3) }

// soakMeasure is one series the soak watches, and the slack beside the
// relative tolerance that a series this small needs.
type soakMeasure struct {
	name   string
	unit   string // "MiB" or ""
	slack  float64
	points []float64 // one per sample; NaN-free
	times  []time.Duration
}

// Absolute slack per kind of measure: a few MiB of resident set, some
// goroutines (each open connection has one), a couple of connections.
const (
	slackRSS        = 4  // MiB
	slackGoroutines = 10 // goroutines
	slackConns      = 2  // connections
)

// soakVerdict is a measure's summary.
type soakVerdict struct {
	first, last, max      float64
	firstAvg, lastAvg     float64
	allowed               float64
	grew                  bool
	firstCount, lastCount int
}

// judge averages the samples within w of the first and of the last, and
// says whether the last average is over the first's by more than
// tolerance (relative) and the measure's slack.
func (m *soakMeasure) judge(w time.Duration, tolerance float64) soakVerdict {
	var v soakVerdict
	n := len(m.points)
	if n == 0 {
		return v
	}
	v.first, v.last = m.points[0], m.points[n-1]
	start, end := m.times[0], m.times[n-1]
	var sf, sl float64
	for i, p := range m.points {
		v.max = max(v.max, p)
		if m.times[i] <= start+w {
			sf += p
			v.firstCount++
		}
		if m.times[i] >= end-w {
			sl += p
			v.lastCount++
		}
	}
	v.firstAvg, v.lastAvg = sf/float64(v.firstCount), sl/float64(v.lastCount)
	v.allowed = v.firstAvg*(1+tolerance) + m.slack
	v.grew = v.lastAvg > v.allowed
	return v
}

// soakInstance is one of the two servers and how its goroutines are read.
type soakInstance struct {
	name       string
	srv        *latchkeyServer
	goroutines func(ctx context.Context) (int, error) // nil: not exposed
	source     string                                 // where goroutines come from
	admin      atomic.Pointer[string]                 // the admin API's bearer token
	adminMu    sync.Mutex
}

// soak runs the soak and prints its report.
func soak(ctx context.Context, o soakOptions, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, setupBudget+o.warmup+o.duration+2*time.Minute)
	defer cancel()
	serverRuntimeEnv("", "")
	dir, bin, err := buildIn(ctx, "latchkey-soak-", stderr)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The admin API client gets a secret the soak knows.
	secret := make([]byte, adminSecretBytes)
	rand.Read(secret)
	adminSecret := hex.EncodeToString(secret)
	names := []string{"a", "b"}
	srvs, dbURL, stopCluster, err := startCluster(ctx, bin, dir, o.postgres, names, stderr,
		"LATCHKEY_ADMIN_EMAIL="+benchAdminEmail, "LATCHKEY_ADMIN_PASSWORD="+benchAdminPassword,
		"LATCHKEY_ADMIN_CLIENT_SECRET="+adminSecret,
		// Failed sign-ins come from many made-up addresses.
		"LATCHKEY_TRUSTED_PROXIES=127.0.0.1")
	if err != nil {
		return err
	}
	defer stopCluster()
	dbName := strings.TrimPrefix(mustParse(dbURL).Path, "/")
	var insts []*soakInstance
	for i, srv := range srvs {
		insts = append(insts, &soakInstance{name: names[i], srv: srv})
	}
	// The clients and the user, through the real CLI on the shared
	// database; then one of each operation on each instance, so that a
	// broken one fails here and not as a stream of errors.
	a := insts[0].srv
	caller, err := a.createClient(ctx, "soak")
	if err != nil {
		return err
	}
	rs, err := a.createClient(ctx, "soak-resource-server", "--role", "resource_server")
	if err != nil {
		return err
	}
	if err := a.cli(ctx, benchUserPassword+"\n", nil, "users", "create", "--email", benchUserEmail,
		"--password-file", "-"); err != nil {
		return err
	}
	hc := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil,
		MaxIdleConnsPerHost: o.workers, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	for _, in := range insts {
		if err := in.refreshAdmin(ctx, adminSecret); err != nil {
			return fmt.Errorf("instance %s: %w", in.name, err)
		}
		in.goroutines, in.source = goroutineSource(ctx, hc, in.srv.base)
	}
	l := newSoakLoad(insts, hc, caller, rs, adminSecret)
	if err := l.setup(ctx); err != nil {
		return err
	}

	pg, err := pgx.Connect(ctx, o.postgres) // not the bench database: not counted
	if err != nil {
		return fmt.Errorf("connect to the PostgreSQL server: %w", err)
	}
	defer pg.Close(context.WithoutCancel(ctx))

	measures := map[string]*soakMeasure{}
	var order []string
	add := func(name, unit string, slack float64, at time.Duration, v float64) {
		m := measures[name]
		if m == nil {
			m = &soakMeasure{name: name, unit: unit, slack: slack}
			measures[name] = m
			order = append(order, name)
		}
		m.points, m.times = append(m.points, v), append(m.times, at)
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var loadDone sync.WaitGroup
	loadDone.Go(func() { l.run(loadCtx, o.rate, o.workers) })

	fmt.Fprintf(stderr, "load: %d operations/s from %d workers; warming up %s, then sampling every %s for %s\n",
		o.rate, o.workers, o.warmup, o.interval, o.duration)
	sleep(ctx, o.warmup)
	start := time.Now()
	var sampleErr error
	for {
		at := time.Since(start).Round(time.Second)
		line := fmt.Sprintf("t=%-5s", at)
		for _, in := range insts {
			rss, _, err := procMemory(in.srv.cmd.Process.Pid)
			if err != nil {
				sampleErr = fmt.Errorf("instance %s: %w", in.name, err)
				break
			}
			add(in.name+" RSS", "MiB", slackRSS, at, float64(rss)/(1<<20))
			line += fmt.Sprintf(" %s: rss %s", in.name, mb(rss))
			if in.goroutines != nil {
				n, err := in.goroutines(ctx)
				if err != nil {
					sampleErr = fmt.Errorf("instance %s goroutines: %w", in.name, err)
					break
				}
				add(in.name+" goroutines", "", slackGoroutines, at, float64(n))
				line += fmt.Sprintf(" goroutines %d", n)
			}
		}
		if sampleErr != nil {
			break
		}
		var conns int
		if err := pg.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", dbName).Scan(&conns); err != nil {
			sampleErr = fmt.Errorf("count connections: %w", err)
			break
		}
		add("PostgreSQL connections", "", slackConns, at, float64(conns))
		ok, failed, refused := l.ok.Load(), l.failed.Load(), l.refused.Load()
		fmt.Fprintf(stderr, "%s pg conns %d | ops ok %d, errors %d, refused %d\n", line, conns, ok, failed, refused)
		if at >= o.duration || ctx.Err() != nil {
			break
		}
		sleep(ctx, min(o.interval, o.duration-time.Since(start)))
	}
	stopLoad()
	loadDone.Wait()
	for _, in := range insts {
		if err := in.srv.stop(); err != nil {
			fmt.Fprintf(stderr, "warning: instance %s: %v\n", in.name, err)
		}
	}
	if sampleErr != nil {
		return sampleErr
	}
	var ms []*soakMeasure
	for _, name := range order {
		ms = append(ms, measures[name])
	}
	return printSoak(stdout, o, insts, l, ms)
}

func mustParse(u string) *url.URL {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return p
}

// printSoak prints the report and fails when a measure grew, the load
// saw errors, or the run was cut short.
func printSoak(w io.Writer, o soakOptions, insts []*soakInstance, l *soakLoad, ms []*soakMeasure) error {
	fmt.Fprintf(w, "Latchkey soak: two instances on one PostgreSQL database, %d operations/s from %d workers,\n", o.rate, o.workers)
	fmt.Fprintf(w, "%s warmup, then %s sampled every %s. Operations ok %d, errors %d, refused (429) %d:\n",
		o.warmup, o.duration, o.interval, l.ok.Load(), l.failed.Load(), l.refused.Load())
	for _, op := range soakOps {
		fmt.Fprintf(w, "  %-22s %d\n", op.name, l.counts[op.name].Load())
	}
	for _, in := range insts {
		if in.goroutines == nil {
			fmt.Fprintf(w, "Goroutines of instance %s: not measured (%s).\n", in.name, in.source)
		} else {
			fmt.Fprintf(w, "Goroutines of instance %s: from %s.\n", in.name, in.source)
		}
	}
	win := o.window()
	fmt.Fprintf(w, "A measure fails when its last %s's average exceeds its first %s's by more than %.0f%% plus its slack\n",
		win, win, o.tolerance*100)
	fmt.Fprintf(w, "(RSS %d MiB, goroutines %d, connections %d).\n\n", slackRSS, slackGoroutines, slackConns)
	const line = "%-26s %9s %9s %9s %11s %10s %10s  %s\n"
	fmt.Fprintf(w, line, "measure", "first", "last", "max", "first avg", "last avg", "allowed", "verdict")
	var grew []string
	for _, m := range ms {
		v := m.judge(win, o.tolerance)
		verdict := "ok"
		if v.grew {
			verdict = "GREW"
			grew = append(grew, m.name)
		}
		f := func(x float64) string {
			if m.unit == "MiB" {
				return strconv.FormatFloat(x, 'f', 1, 64) + "M"
			}
			return strconv.FormatFloat(x, 'f', 1, 64)
		}
		fmt.Fprintf(w, line, m.name, f(v.first), f(v.last), f(v.max), f(v.firstAvg), f(v.lastAvg), f(v.allowed), verdict)
	}
	if l.failed.Load() > 0 {
		fmt.Fprintln(w, "\nErrors, e.g.:")
		l.mu.Lock()
		for _, m := range l.messages {
			fmt.Fprintf(w, "  %s\n", m)
		}
		l.mu.Unlock()
	}
	switch {
	case len(grew) > 0:
		return fmt.Errorf("grew over the run: %s", strings.Join(grew, ", "))
	case l.failed.Load() > 0:
		return fmt.Errorf("%d operations failed", l.failed.Load())
	}
	return nil
}

// goroutineSource finds where the instance at base tells its goroutine
// count: /debug/pprof, else /metrics (go_goroutines); else nowhere, and
// why.
func goroutineSource(ctx context.Context, hc *http.Client, base string) (func(context.Context) (int, error), string) {
	read := func(path string, parse func([]byte) (int, error)) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			ctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
			if err != nil {
				return 0, err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			if err != nil {
				return 0, err
			}
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
			}
			return parse(b)
		}
	}
	pprof := read("/debug/pprof/goroutine?debug=1", parsePprofGoroutines)
	if _, err := pprof(ctx); err == nil {
		return pprof, "/debug/pprof/goroutine"
	}
	metrics := read("/metrics", parseGoGoroutines)
	_, err := metrics(ctx)
	if err == nil {
		return metrics, "/metrics go_goroutines"
	}
	return nil, "neither /debug/pprof nor /metrics' go_goroutines answers: " + err.Error()
}

// parsePprofGoroutines reads "goroutine profile: total N".
func parsePprofGoroutines(b []byte) (int, error) {
	const prefix = "goroutine profile: total "
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return 0, errors.New("not a goroutine profile")
	}
	return strconv.Atoi(string(bytes.TrimSpace(line[len(prefix):])))
}

// parseGoGoroutines reads the go_goroutines gauge of a Prometheus text
// exposition.
func parseGoGoroutines(b []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "go_goroutines" {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0, fmt.Errorf("go_goroutines %q", f[1])
			}
			return int(v), nil
		}
	}
	return 0, errors.New("no go_goroutines in /metrics")
}

// refreshAdmin obtains a new admin API token for the instance.
func (in *soakInstance) refreshAdmin(ctx context.Context, secret string) error {
	in.adminMu.Lock()
	defer in.adminMu.Unlock()
	tok, err := adminToken(ctx, in.srv.base, secret)
	if err != nil {
		return err
	}
	in.admin.Store(&tok)
	return nil
}

// soakOp is one kind of operation and its share of the mix (in
// twentieths).
type soakOp struct {
	name   string
	weight int
	do     func(l *soakLoad, ctx context.Context, in *soakInstance, sw *soakWorker) error
}

// soakOps is the mix: mostly machine traffic, some administration, some
// people signing in (one in five of them with an email that names no one).
var soakOps = []soakOp{
	{"token", 6, (*soakLoad).token},
	{"introspect", 4, (*soakLoad).introspect},
	{"api/v1/me", 3, (*soakLoad).me},
	{"admin list", 2, (*soakLoad).adminList},
	{"admin create", 1, (*soakLoad).adminCreate},
	{"admin rotate", 1, (*soakLoad).adminRotate},
	{"console sign-in", 3, (*soakLoad).signIn},
}

// soakLoad drives the mix at both instances, in turn.
type soakLoad struct {
	insts       []*soakInstance
	hc          *http.Client
	caller, rs  credentials
	adminSecret string

	latest  atomic.Pointer[string] // the latest access token, for introspection and /me
	created struct {
		sync.Mutex
		ids []string // recent clients the soak created, for rotation
	}
	next                atomic.Int64
	ok, failed, refused atomic.Int64
	counts              map[string]*atomic.Int64
	mu                  sync.Mutex
	messages            []string
	signIns, badSignIns atomic.Int64
}

// soakWorker is one client sending operations one after another.
type soakWorker struct{ id int }

func newSoakLoad(insts []*soakInstance, hc *http.Client, caller, rs credentials, adminSecret string) *soakLoad {
	l := &soakLoad{insts: insts, hc: hc, caller: caller, rs: rs, adminSecret: adminSecret,
		counts: map[string]*atomic.Int64{}}
	for _, op := range soakOps {
		l.counts[op.name] = &atomic.Int64{}
	}
	return l
}

// setup runs each operation once on each instance; these are not counted.
func (l *soakLoad) setup(ctx context.Context) error {
	sw := &soakWorker{}
	for _, in := range l.insts {
		for _, op := range soakOps {
			if err := op.do(l, ctx, in, sw); err != nil && !errors.Is(err, errRefused) {
				return fmt.Errorf("instance %s, %s: %w", in.name, op.name, err)
			}
		}
	}
	return nil
}

// run sends rate operations a second from workers until ctx ends: a tick
// is taken by whichever worker is free, so a slow operation delays only
// the ticks it holds up.
func (l *soakLoad) run(ctx context.Context, rate, workers int) {
	var mix []soakOp
	for _, op := range soakOps {
		for range op.weight {
			mix = append(mix, op)
		}
	}
	ticks := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		sw := &soakWorker{id: i + 1}
		wg.Go(func() {
			for range ticks {
				n := l.next.Add(1)
				op := mix[int(n)%len(mix)]
				in := l.insts[int(n/int64(len(mix)))%len(l.insts)]
				err := op.do(l, ctx, in, sw)
				switch {
				case ctx.Err() != nil:
				case errors.Is(err, errRefused):
					l.refused.Add(1)
				case err != nil:
					l.fail(fmt.Errorf("instance %s, %s: %w", in.name, op.name, err))
				default:
					l.ok.Add(1)
					l.counts[op.name].Add(1)
				}
			}
		})
	}
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	defer wg.Wait()
	defer close(ticks)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			select {
			case ticks <- struct{}{}:
			case <-ctx.Done():
				return
			default: // every worker busy: the tick is dropped, not queued
			}
		}
	}
}

func (l *soakLoad) fail(err error) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.messages) < maxMessages {
		l.messages = append(l.messages, err.Error())
	}
}

// call sends one request and returns the status and body.
func call(ctx context.Context, hc *http.Client, method, u, contentType, authorization string, body []byte, header ...string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func want(status int, body []byte, ok ...int) error {
	for _, s := range ok {
		if status == s {
			return nil
		}
	}
	return fmt.Errorf("status %d: %.200s", status, bytes.TrimSpace(body))
}

func (l *soakLoad) token(ctx context.Context, in *soakInstance, _ *soakWorker) error {
	status, b, err := call(ctx, l.hc, http.MethodPost, in.srv.base+"/oauth2/token", "application/x-www-form-urlencoded",
		basicAuth(l.caller), []byte("grant_type=client_credentials&scope=read"))
	if err != nil {
		return err
	}
	if err := want(status, b, http.StatusOK); err != nil {
		return err
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		return fmt.Errorf("no access token: %.200s", b)
	}
	l.latest.Store(&tr.AccessToken)
	return nil
}

// latestToken is the last token issued, by either instance.
func (l *soakLoad) latestToken(ctx context.Context, in *soakInstance, sw *soakWorker) (string, error) {
	if t := l.latest.Load(); t != nil {
		return *t, nil
	}
	if err := l.token(ctx, in, sw); err != nil {
		return "", err
	}
	return *l.latest.Load(), nil
}

func (l *soakLoad) introspect(ctx context.Context, in *soakInstance, sw *soakWorker) error {
	tok, err := l.latestToken(ctx, in, sw)
	if err != nil {
		return err
	}
	status, b, err := call(ctx, l.hc, http.MethodPost, in.srv.base+"/oauth2/introspect", "application/x-www-form-urlencoded",
		basicAuth(l.rs), []byte(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	if err := want(status, b, http.StatusOK); err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(`"active":true`)) {
		return fmt.Errorf("token not active: %.200s", b)
	}
	return nil
}

func (l *soakLoad) me(ctx context.Context, in *soakInstance, sw *soakWorker) error {
	tok, err := l.latestToken(ctx, in, sw)
	if err != nil {
		return err
	}
	status, b, err := call(ctx, l.hc, http.MethodGet, in.srv.base+"/api/v1/me", "", "Bearer "+tok, nil)
	if err != nil {
		return err
	}
	return want(status, b, http.StatusOK)
}

// admin sends an admin API request with the instance's token, getting a
// new token once when the old one is refused.
func (l *soakLoad) admin(ctx context.Context, in *soakInstance, method, path string, body []byte, ok ...int) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		ct := ""
		if body != nil {
			ct = "application/json"
		}
		status, b, err := call(ctx, l.hc, method, in.srv.base+"/admin/v1"+path, ct, "Bearer "+*in.admin.Load(), body)
		if err != nil {
			return nil, err
		}
		if status == http.StatusUnauthorized && attempt == 0 {
			if err := in.refreshAdmin(ctx, l.adminSecret); err != nil {
				return nil, err
			}
			continue
		}
		return b, want(status, b, ok...)
	}
}

func (l *soakLoad) adminList(ctx context.Context, in *soakInstance, _ *soakWorker) error {
	_, err := l.admin(ctx, in, http.MethodGet, "/clients?page_size=20", nil, http.StatusOK)
	return err
}

// soakKeep is how many of the clients it created the soak rotates among.
const soakKeep = 64

func (l *soakLoad) adminCreate(ctx context.Context, in *soakInstance, _ *soakWorker) error {
	body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("soak-%d", l.next.Load()),
		"grant_types": []string{"client_credentials"}, "scopes": []string{"read"}})
	b, err := l.admin(ctx, in, http.MethodPost, "/clients", body, http.StatusCreated)
	if err != nil {
		return err
	}
	var c struct {
		ID string `json:"client_id"`
	}
	if json.Unmarshal(b, &c) != nil || c.ID == "" {
		return fmt.Errorf("no client_id in %.200s", b)
	}
	l.created.Lock()
	defer l.created.Unlock()
	if l.created.ids = append(l.created.ids, c.ID); len(l.created.ids) > soakKeep {
		l.created.ids = l.created.ids[1:]
	}
	return nil
}

func (l *soakLoad) adminRotate(ctx context.Context, in *soakInstance, sw *soakWorker) error {
	l.created.Lock()
	var id string
	if n := len(l.created.ids); n > 0 {
		id = l.created.ids[int(l.next.Load())%n]
	}
	l.created.Unlock()
	if id == "" {
		return l.adminCreate(ctx, in, sw)
	}
	_, err := l.admin(ctx, in, http.MethodPost, "/clients/"+id+"/rotate-secret?confirm=true", nil, http.StatusOK)
	return err
}

// signIn signs the user in through the pages, as a browser that was not
// signed in (a cookie jar of its own: the instances share sessions, and
// cookies do not tell ports apart); one sign-in in five is an email that
// names no one (the same argon2id cost), each from an address of its own.
func (l *soakLoad) signIn(ctx context.Context, in *soakInstance, sw *soakWorker) error {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: requestTimeout, Transport: l.hc.Transport, CheckRedirect: l.hc.CheckRedirect}
	n := l.signIns.Add(1)
	email, right := benchUserEmail, n%5 != 0
	fwd := fmt.Sprintf("10.%d.%d.%d", sw.id%256, (n/256)%256, n%256)
	if !right {
		email = fmt.Sprintf("nobody-%d@example.com", l.badSignIns.Add(1)%64)
	}
	status, page, err := call(ctx, browser, http.MethodGet, in.srv.base+"/account/login", "", "", nil, "X-Forwarded-For", fwd)
	if err != nil {
		return err
	}
	if err := want(status, page, http.StatusOK); err != nil {
		return err
	}
	form := url.Values{"csrf": {hiddenValue(string(page), "csrf")}, "email": {email}, "password": {benchUserPassword}}
	status, b, err := call(ctx, browser, http.MethodPost, in.srv.base+"/account/login", "application/x-www-form-urlencoded", "",
		[]byte(form.Encode()), "X-Forwarded-For", fwd)
	switch {
	case err != nil:
		return err
	case status == http.StatusTooManyRequests:
		return errRefused
	case right:
		return want(status, b, http.StatusSeeOther, http.StatusFound)
	default:
		return want(status, b, http.StatusBadRequest)
	}
}
