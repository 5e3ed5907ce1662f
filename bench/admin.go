package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/store"
)

// The admin benchmark times the client list, the admin API's busiest
// read, at fleet scale: a million clients in one tenant of each backend,
// loaded in bulk (the fleet of adminfleet.go), then every search, filter
// and sort of GET /admin/v1/clients asked one at a time, first of the
// store in this process and then of the real server over HTTP. A shape
// whose 95th percentile passes listBudget is flagged, and the plans of
// the statements the store runs for it are printed. Then the console's
// dashboard reads are timed in the store (adminstats.go).

// adminOptions are the admin command's flags.
type adminOptions struct {
	clients  int
	postgres string // the server to create the benchmark's database on
	backends []string
	requests int
	warmup   int
	// console times the console's list too (adminconsole.go).
	console bool
}

// Bounds on the flags, so a run always ends in reasonable time.
const (
	maxFleet         = 5_000_000
	maxAdminRequests = 1000
	maxAdminWarmup   = 100
)

// listBudget is the most a list request may take at the 95th percentile.
const listBudget = 50 * time.Millisecond

// A deep page is reached in deepHops pages of deepHopSize clients.
const (
	deepHops    = 10
	deepHopSize = 1000
)

// adminSecretBytes is the length of the admin API client's secret, which
// the benchmark chooses at provisioning so it can ask for a token.
const adminSecretBytes = 24

func parseAdminOptions(args []string, stderr io.Writer) (adminOptions, error) {
	o := adminOptions{}
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.clients, "clients", 1_000_000, "clients loaded into each backend")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("LATCHKEY_TEST_POSTGRES_URL"),
		"PostgreSQL server to create a scratch database on (default $LATCHKEY_TEST_POSTGRES_URL)")
	back := fs.String("backends", "all", "comma-separated backends, of sqlite, postgres (all: postgres only with a server)")
	fs.IntVar(&o.requests, "requests", 50, "measured requests per shape")
	fs.IntVar(&o.warmup, "warmup", 5, "unmeasured requests per shape before them")
	fs.BoolVar(&o.console, "console", false, "time the console's client list (GET /console/clients) too, beside the API's")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch *back {
	case "all":
		o.backends = []string{"sqlite"}
		if o.postgres != "" {
			o.backends = append(o.backends, "postgres")
		}
	default:
		for b := range strings.SplitSeq(*back, ",") {
			b = strings.TrimSpace(b)
			if b != "sqlite" && b != "postgres" {
				return o, fmt.Errorf("-backends: %q is not sqlite or postgres", b)
			}
			if !slices.Contains(o.backends, b) {
				o.backends = append(o.backends, b)
			}
		}
	}
	if slices.Contains(o.backends, "postgres") && !store.IsPostgres(o.postgres) {
		return o, errors.New("-backends postgres needs -postgres postgres://… (or LATCHKEY_TEST_POSTGRES_URL)")
	}
	if o.clients < 1 || o.clients > maxFleet {
		return o, fmt.Errorf("-clients must be in [1, %d]", maxFleet)
	}
	if o.requests < 1 || o.requests > maxAdminRequests {
		return o, fmt.Errorf("-requests must be in [1, %d]", maxAdminRequests)
	}
	if o.warmup < 0 || o.warmup > maxAdminWarmup {
		return o, fmt.Errorf("-warmup must be in [0, %d]", maxAdminWarmup)
	}
	return o, nil
}

// listShape is one kind of list request: the admin API's query
// parameters, and whether it is asked 10,000 clients deep.
type listShape struct {
	name   string
	params url.Values
	deep   bool
}

// adminShapes are the benchmark's requests on fleet f, as of now: each
// search length, each filter alone, each sort both ways, a deep page and
// the count.
func adminShapes(f *fleet, now time.Time) []listShape {
	p := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	shapes := []listShape{
		{name: "first page", params: p()},
		{name: "count (page_size=1)", params: p("page_size", "1")},
		{name: `q: 1 char "k"`, params: p("q", "k")},
		{name: `q: 2 chars "pa"`, params: p("q", "pa")},
		{name: `q: 3 chars "ing"`, params: p("q", "ing")},
		{name: `q: 8 chars "shipping"`, params: p("q", "shipping")},
		{name: "q: 8 chars of a client ID", params: p("q", f.middleID[6:14])},
		{name: "status=inactive", params: p("status", "inactive")},
		{name: "type=public", params: p("type", "public")},
		{name: "grant_type=authorization_code", params: p("grant_type", "authorization_code")},
		{name: "owner=<user>", params: p("owner", f.users[0])},
		{name: "created_by=<user>", params: p("created_by", f.users[1])},
		{name: "secret_expires_within=30d", params: p("secret_expires_within", "30d")},
		{name: "unused_since=<90 days ago>", params: p("unused_since", now.AddDate(0, 0, -90).Format(time.DateOnly))},
		{name: "unused_since=never", params: p("unused_since", "never")},
	}
	for _, s := range client.SortFields {
		for _, order := range []string{"asc", "desc"} {
			shapes = append(shapes, listShape{name: "sort=" + string(s) + " " + order,
				params: p("sort", string(s), "order", order)})
		}
	}
	return append(shapes, listShape{name: fmt.Sprintf("page %d deep", deepHops*deepHopSize), params: p(), deep: true})
}

// storeQuery is the client.ListQuery the admin API makes of v, as of now.
func storeQuery(tenantID string, v url.Values, now time.Time) (client.ListQuery, error) {
	q := client.ListQuery{TenantID: tenantID, Search: v.Get("q"), Status: client.Status(v.Get("status")),
		Type: client.Type(v.Get("type")), GrantType: client.GrantType(v.Get("grant_type")),
		OwnerUserID: v.Get("owner"), CreatedBy: v.Get("created_by"), Sort: client.SortField(v.Get("sort")),
		Desc: v.Get("order") == "desc", After: v.Get("page_token")}
	if s := v.Get("secret_expires_within"); s != "" {
		d, err := admin.ParseSpan(s)
		if err != nil {
			return q, err
		}
		q.SecretExpiresBefore = now.Add(d)
	}
	switch s := v.Get("unused_since"); s {
	case "":
	case "never":
		q.NeverUsed = true
	default:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, err
		}
		q.UnusedSince = t
	}
	if s := v.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, err
		}
		q.Limit = n
	}
	return q, q.Normalize()
}

// shapeResult is what one shape measured on one backend.
type shapeResult struct {
	shape          listShape
	total          int
	estimated      bool
	store, http    []time.Duration
	storeErr, hErr error
}

func (r *shapeResult) missed() bool {
	return p95(r.store) > listBudget || p95(r.http) > listBudget
}

// backendRun is one backend's load and results.
type backendRun struct {
	name    string
	loaded  time.Duration
	results []*shapeResult
	plans   map[string]string // by shape name, for the shapes that missed
	// dashboard are the reads of the console's start page (adminstats.go).
	dashboard []*statResult
	// console are the console's list pages, with -console.
	console []*consoleResult
}

// adminBench runs the benchmark and prints its tables to stdout and progress
// to stderr. It fails when setup fails or a request failed; shapes over
// the budget are flagged, not failed.
func adminBench(ctx context.Context, o adminOptions, stdout, stderr io.Writer) error {
	// Loading dominates: about ten minutes a million clients per backend.
	perBackend := 20*time.Minute + time.Duration(o.clients/1000)*time.Second
	ctx, cancel := context.WithTimeout(ctx, setupBudget+time.Duration(len(o.backends))*perBackend)
	defer cancel()
	dir, bin, err := buildIn(ctx, "latchkey-admin-", stderr)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var runs []*backendRun
	failed := false
	for _, b := range o.backends {
		run, err := runBackend(ctx, o, b, bin, filepath.Join(dir, b), stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		runs = append(runs, run)
		for _, r := range run.results {
			failed = failed || r.storeErr != nil || r.hErr != nil
		}
		for _, r := range run.dashboard {
			failed = failed || r.err != nil
		}
		for _, r := range run.console {
			failed = failed || r.err != nil
		}
	}
	printAdminReport(stdout, o, runs)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if failed {
		return errors.New("some requests failed; see the table")
	}
	return nil
}

// runBackend makes a database of backend b, loads the fleet into it, and
// times every shape through the store and through a server on it.
func runBackend(ctx context.Context, o adminOptions, b, bin, dir string, stderr io.Writer) (*backendRun, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	dbURL := filepath.Join(dir, "latchkey.db") // where startServer looks
	var env []string
	if b == "postgres" {
		u, drop, err := createDatabase(ctx, o.postgres)
		if err != nil {
			return nil, err
		}
		defer drop()
		// Instances sharing a PostgreSQL database share the key that
		// seals its signing keys; the scratch database gets a fresh one.
		kek := make([]byte, 32)
		rand.Read(kek)
		dbURL, env = u, []string{"LATCHKEY_DATABASE_URL=" + u, "LATCHKEY_SECRET_KEY=" + hex.EncodeToString(kek)}
	}
	secret := make([]byte, adminSecretBytes)
	rand.Read(secret)
	adminSecret := hex.EncodeToString(secret)

	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer func() { st.Close() }()
	res, err := provision.Run(ctx, st, provision.Params{Issuer: "http://127.0.0.1", AdminClientSecret: adminSecret})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	f := newFleet(1, res.Tenant.ID, now, o.clients)
	run := &backendRun{name: b, plans: map[string]string{}}
	start := time.Now()
	progress := func(done int) {
		if done%(10*loadBatch) == 0 || done == o.clients {
			fmt.Fprintf(stderr, "%s: loaded %d of %d clients (%s)\n", b, done, o.clients, time.Since(start).Round(time.Second))
		}
	}
	if b == "postgres" {
		err = loadPostgres(ctx, dbURL, f, o.clients, progress)
	} else {
		err = loadSQLite(ctx, dbURL, f, o.clients, progress)
	}
	if err != nil {
		return nil, err
	}
	run.loaded = time.Since(start)

	shapes := adminShapes(f, now)
	fmt.Fprintf(stderr, "%s: timing %d shapes in the store ...\n", b, len(shapes))
	for _, s := range shapes {
		r := &shapeResult{shape: s}
		r.store, r.total, r.estimated, r.storeErr = timeStore(ctx, st, res.Tenant.ID, s, o, now)
		run.results = append(run.results, r)
	}
	if run.dashboard, err = timeDashboard(ctx, st, res.Tenant.ID, f.middleID, o, now, stderr); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}

	srv, err := startServer(ctx, bin, dir, env...)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	token, err := adminToken(ctx, srv.base, adminSecret)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "%s: timing %d shapes over HTTP ...\n", b, len(shapes))
	hc := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}}
	defer hc.CloseIdleConnections()
	for _, r := range run.results {
		r.http, r.hErr = timeHTTP(ctx, hc, srv.base, token, r.shape, o)
	}
	if o.console {
		if run.console, err = timeConsole(ctx, srv, hc, token, run.results, o, now, stderr); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	if err := srv.stop(); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}

	explainer, _ := st.(interface {
		ExplainList(ctx context.Context, q client.ListQuery) (string, error)
	})
	for _, r := range run.results {
		if !r.missed() || explainer == nil {
			continue
		}
		q, err := deepQuery(ctx, st, res.Tenant.ID, r.shape, now)
		if err == nil {
			run.plans[r.shape.name], err = explainer.ExplainList(ctx, q)
		}
		if err != nil {
			run.plans[r.shape.name] = "no plan: " + err.Error()
		}
	}
	return run, nil
}

// deepQuery is s's query for the store, with the cursor of a deep shape.
func deepQuery(ctx context.Context, st store.Store, tenantID string, s listShape, now time.Time) (client.ListQuery, error) {
	q, err := storeQuery(tenantID, s.params, now)
	if err != nil || !s.deep {
		return q, err
	}
	limit := q.Limit
	q.Limit = deepHopSize
	for range deepHops {
		p, err := st.ListClients(ctx, q)
		if err != nil {
			return q, err
		}
		if p.Next == "" {
			return q, fmt.Errorf("fewer than %d clients", deepHops*deepHopSize)
		}
		q.After = p.Next
	}
	q.Limit = limit
	return q, nil
}

// timeStore asks the store for shape s, warmup times and then
// o.requests times, one at a time, and returns the times and the total
// of the last page.
func timeStore(ctx context.Context, st store.Store, tenantID string, s listShape, o adminOptions, now time.Time) (
	times []time.Duration, total int, estimated bool, err error) {
	q, err := deepQuery(ctx, st, tenantID, s, now)
	if err != nil {
		return nil, 0, false, err
	}
	for i := range o.warmup + o.requests {
		start := time.Now()
		p, err := st.ListClients(ctx, q)
		d := time.Since(start)
		if err != nil {
			return times, 0, false, err
		}
		if i >= o.warmup {
			times = append(times, d)
		}
		total, estimated = p.Total, p.TotalEstimated
	}
	return times, total, estimated, nil
}

// clientList is the admin API's answer to GET /admin/v1/clients.
type clientList struct {
	Clients        []json.RawMessage `json:"clients"`
	NextPageToken  string            `json:"next_page_token"`
	Total          int               `json:"total"`
	TotalEstimated bool              `json:"total_estimated"`
}

// timeHTTP asks the server for shape s as the store was asked.
func timeHTTP(ctx context.Context, hc *http.Client, base, token string, s listShape, o adminOptions) ([]time.Duration, error) {
	params := url.Values{}
	for k, v := range s.params {
		params[k] = v
	}
	if s.deep {
		hop := url.Values{"page_size": {strconv.Itoa(deepHopSize)}}
		for range deepHops {
			l, _, err := getClients(ctx, hc, base, token, hop)
			if err != nil {
				return nil, err
			}
			if l.NextPageToken == "" {
				return nil, fmt.Errorf("fewer than %d clients", deepHops*deepHopSize)
			}
			hop.Set("page_token", l.NextPageToken)
		}
		params.Set("page_token", hop.Get("page_token"))
	}
	var times []time.Duration
	for i := range o.warmup + o.requests {
		_, d, err := getClients(ctx, hc, base, token, params)
		if err != nil {
			return times, err
		}
		if i >= o.warmup {
			times = append(times, d)
		}
	}
	return times, nil
}

// getClients sends one list request and returns its answer and how long
// it took, body read and decoded.
func getClients(ctx context.Context, hc *http.Client, base, token string, params url.Values) (*clientList, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/v1/clients?"+params.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	var l clientList
	if err == nil && resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(body, &l)
	}
	d := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK || l.Clients == nil {
		return nil, 0, fmt.Errorf("GET /admin/v1/clients?%s: status %d, %v: %.300s", params.Encode(), resp.StatusCode, err, body)
	}
	return &l, d, nil
}

// adminToken obtains an admin API token with the provisioned client's
// secret; with no scope asked, it carries all the client's scopes.
func adminToken(ctx context.Context, base, secret string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth2/token",
		strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basicAuth(credentials{ID: provision.AdminClientID, Secret: secret}))
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
		return "", fmt.Errorf("admin token: status %d: %.300s", resp.StatusCode, body)
	}
	return tr.AccessToken, nil
}

// createDatabase makes an empty database on the server at adminURL and
// returns its URL and a function that drops it.
func createDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "latchkey_bench_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to the PostgreSQL server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if conn, err := pgx.Connect(ctx, adminURL); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

// p50 and p95 by nearest rank; 0 for no times.
func p50(d []time.Duration) time.Duration { return median(d) }

func p95(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return nearestRank(s, 0.95)
}

// printAdminReport prints one table per backend and the plans of the
// shapes that missed the budget.
func printAdminReport(w io.Writer, o adminOptions, runs []*backendRun) {
	fmt.Fprintf(w, "Latchkey admin list benchmark: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "%d clients in one tenant; per shape %d warm-up and %d measured requests, one at a time;\n",
		o.clients, o.warmup, o.requests)
	fmt.Fprintf(w, "store: ListClients in this process; http: GET /admin/v1/clients on the real server over loopback.\n")
	fmt.Fprintf(w, "! marks a p95 over %s.\n", listBudget)
	for _, run := range runs {
		fmt.Fprintf(w, "\n%s (loaded in %s)\n", run.name, run.loaded.Round(time.Second))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "shape\ttotal\tstore p50\tp95\thttp p50\tp95\t")
		for _, r := range run.results {
			total := strconv.Itoa(r.total)
			if r.estimated {
				total = "~" + total
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.shape.name, total,
				ms(p50(r.store)), flagged(r.store), ms(p50(r.http)), flagged(r.http), errNote(r))
		}
		tw.Flush()
		printConsole(w, run.results, run.console)
		printDashboard(w, run.dashboard)
	}
	for _, run := range runs {
		for _, r := range run.results {
			if plan, ok := run.plans[r.shape.name]; ok {
				fmt.Fprintf(w, "\n== %s, %s: plans of the store's statements\n%s", run.name, r.shape.name, plan)
			}
		}
	}
}

// flagged is d's p95, marked when over the budget.
func flagged(d []time.Duration) string {
	if p := p95(d); p > listBudget {
		return ms(p) + " !"
	}
	return ms(p95(d)) + "  "
}

func errNote(r *shapeResult) string {
	switch {
	case r.storeErr != nil:
		return "store: " + r.storeErr.Error()
	case r.hErr != nil:
		return "http: " + r.hErr.Error()
	}
	return ""
}
