// Command bench measures Latchkey's token endpoints against a floor: a
// minimal server, in a process of its own, doing only the work no
// implementation can avoid. The ratio of their throughputs under the same load is the
// measure; absolute numbers depend on the machine.
//
//	go run ./bench tokens [-duration 10s] [-concurrency 16,64] [-warmup 2s] [-rounds 1] [-scenarios all]
//	go run ./bench oracle [-samples 60] [-max-diff 5ms]
//	go run ./bench admin [-clients 1000000] [-postgres URL] [-backends all] [-requests 50] [-warmup 5]
//	go run ./bench memory [-concurrency 64] [-burst 3s] [-settle 3s] [-budget-mib 64]
//	go run ./bench soak [-duration 10m] [-rate 40] [-workers 8] [-postgres URL]
//	go run ./bench cluster [-duration 10s] [-concurrency 32] [-rounds 1] [-postgres URL]
//
// The oracle command probes instead whether failed authentications' response
// times tell which client IDs exist; the admin command times the admin
// API's client list over a million clients on each backend. The memory,
// soak and cluster commands watch the server's resident set under bursts,
// two instances on one database for minutes, and what a second instance
// adds to token throughput.
//
// It builds and starts the real binary on a loopback port with a scratch
// database, creates its clients with the real CLI, and stops it with
// SIGTERM at the end. Every run is bounded in time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: go run ./bench tokens [-duration 10s] [-concurrency 16,64] [-warmup 2s] [-rounds 1] [-scenarios all]
       go run ./bench oracle [-samples 60] [-max-diff 5ms]
       go run ./bench admin [-clients 1000000] [-postgres URL] [-backends all] [-requests 50] [-warmup 5]
       go run ./bench notify [-clients 1000000] [-postgres URL] [-secrets-over 365d]
       go run ./bench memory [-concurrency 64] [-burst 3s] [-settle 3s] [-budget-mib 64] [-gomemlimit X] [-gogc N] [-log FILE]
       go run ./bench soak [-duration 10m] [-warmup 1m] [-interval 10s] [-rate 40] [-workers 8] [-postgres URL] [-tolerance 0.25]
       go run ./bench bulk [-clients 1000000] [-match 100000] [-postgres URL]
       go run ./bench cluster [-duration 10s] [-warmup 2s] [-concurrency 32] [-rounds 1] [-postgres URL] [-floor] [-introspection]

  tokens   load POST /oauth2/token (client_credentials), POST /oauth2/introspect,
           the authorization code flow (authorize with a session, then the
           code exchange) and the refresh grant on Latchkey and on the floor server
  oracle   time failed authentications (wrong admin-chosen secret, unknown
           client ID, wrong generated secret) and compare their medians
  admin    load a million clients into SQLite and PostgreSQL and time every
           search, filter, sort and a deep page of GET /admin/v1/clients
  notify   load a million clients with expiring secrets into PostgreSQL and
           time the expiry-warning sweep
  memory   peak resident set of the server across a first start and bursts
           of health checks, token requests and sign-ins, against a budget
  soak     two instances on one PostgreSQL database under a steady mix for
           minutes: resident set, goroutines and connections must stay flat
  bulk     load a million clients into PostgreSQL and time a bulk dry run
           and a bulk deactivation of 100,000 of them, with peak memory
  cluster  token (and introspection) throughput of one instance, then of two
           on the same PostgreSQL database at the same total load, with the
           CPU and database transactions each request costs
`

// run executes one command line and returns the exit status: 0 success,
// 1 failure (including a run with errors), 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "floor" {
		if err := runFloor(ctx, stdout); err != nil {
			fmt.Fprintf(stderr, "bench floor: %v\n", err)
			return 1
		}
		return 0
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	c := cmdline{ctx: ctx, name: args[0], args: args[1:], stdout: stdout, stderr: stderr}
	switch args[0] {
	case "tokens":
		return command(c, parseOptions, tokens)
	case "oracle":
		return command(c, parseOracleOptions, oracle)
	case "admin":
		return command(c, parseAdminOptions, adminBench)
	case "notify":
		return command(c, parseNotifyOptions, notifyBench)
	case "memory":
		return command(c, parseMemoryOptions, memoryBench)
	case "soak":
		return command(c, parseSoakOptions, soak)
	case "cluster":
		return command(c, parseClusterOptions, cluster)
	case "bulk":
		return command(c, parseBulkOptions, bulkBench)
	}
	fmt.Fprint(stderr, usage)
	return 2
}

// cmdline is one command and what it runs with.
type cmdline struct {
	ctx            context.Context
	name           string
	args           []string
	stdout, stderr io.Writer
}

// command parses c's flags into options with parse and runs them with do,
// returning the exit status as run does.
func command[O any](c cmdline, parse func([]string, io.Writer) (O, error),
	do func(context.Context, O, io.Writer, io.Writer) error) int {
	opts, err := parse(c.args, c.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "bench %s: %v\n", c.name, err)
		return 2
	}
	if err := do(c.ctx, opts, c.stdout, c.stderr); err != nil {
		fmt.Fprintf(c.stderr, "bench %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

// options are the tokens command's flags.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency []int
	rounds      int
	scenarios   []string
}

// scenarioNames are the tokens command's scenarios, in the order they run.
var scenarioNames = []string{"client_credentials", "introspection", "authorization_code", "refresh_token"}

// Bounds on the flags, so a run always ends in reasonable time.
const (
	maxDuration    = 10 * time.Minute
	maxConcurrency = 4096
	maxRounds      = 20
)

// loadTimes defines the -duration and -warmup flags of a command that
// loads endpoints; check, after parsing, says whether they are in bounds.
func loadTimes(fs *flag.FlagSet, duration, warmup *time.Duration) (check func() error) {
	fs.DurationVar(duration, "duration", 10*time.Second, "measured time of each run")
	fs.DurationVar(warmup, "warmup", 2*time.Second, "unmeasured time before each run")
	return func() error {
		if *duration <= 0 || *duration > maxDuration {
			return fmt.Errorf("-duration must be in (0, %s]", maxDuration)
		}
		if *warmup < 0 || *warmup > maxDuration {
			return fmt.Errorf("-warmup must be in [0, %s]", maxDuration)
		}
		return nil
	}
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("tokens", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checkTimes := loadTimes(fs, &o.duration, &o.warmup)
	fs.IntVar(&o.rounds, "rounds", 1, "times each side is run per scenario and concurrency, alternating; the results are pooled")
	conc := fs.String("concurrency", "16,64", "comma-separated numbers of concurrent workers")
	scen := fs.String("scenarios", "all", "comma-separated scenarios to run, of "+strings.Join(scenarioNames, ", "))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *scen == "all" {
		o.scenarios = scenarioNames
	} else {
		for f := range strings.SplitSeq(*scen, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains(scenarioNames, f) {
				return o, fmt.Errorf("-scenarios: %q is not one of %s", f, strings.Join(scenarioNames, ", "))
			}
			if !slices.Contains(o.scenarios, f) {
				o.scenarios = append(o.scenarios, f)
			}
		}
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := checkTimes(); err != nil {
		return o, err
	}
	if o.rounds < 1 || o.rounds > maxRounds {
		return o, fmt.Errorf("-rounds must be in [1, %d]", maxRounds)
	}
	for f := range strings.SplitSeq(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxConcurrency {
			return o, fmt.Errorf("-concurrency: %q is not a number in [1, %d]", f, maxConcurrency)
		}
		o.concurrency = append(o.concurrency, n)
	}
	return o, nil
}

// scenario is one kind of request, aimed at Latchkey and at the floor.
type scenario struct {
	name          string
	server, floor target
}

// row is one scenario at one concurrency, measured on both sides.
type row struct {
	scenario      string
	concurrency   int
	server, floor *result
}

// settle is the pause between runs, letting the previous side's
// connections close and its CPU quiet down.
const settle = 500 * time.Millisecond

// setupBudget bounds everything but the runs: building, starting,
// creating the clients and the user, signing in, stopping.
const setupBudget = buildTimeout + readyTimeout + 6*cliTimeout + stopTimeout + time.Minute

// tokens runs the benchmark and prints its table to stdout and progress
// to stderr. It fails when setup fails or any run saw errors.
func tokens(ctx context.Context, o options, stdout, stderr io.Writer) error {
	// Each scenario on two sides, each run at most perRun long.
	perRun := o.warmup + o.duration + 2*requestTimeout + settle
	runs := len(o.scenarios) * 2 * len(o.concurrency) * o.rounds
	ctx, cancel := context.WithTimeout(ctx, setupBudget+time.Duration(runs)*perRun)
	defer cancel()

	srv, stop, err := launch(ctx, "latchkey-bench-", stderr)
	if err != nil {
		return err
	}
	defer stop()
	benchClient, resourceServer, serverToken, err := srv.tokenClients(ctx)
	if err != nil {
		return err
	}

	floorClient, err := randomCredentials()
	if err != nil {
		return err
	}
	floorRS, err := randomCredentials()
	if err != nil {
		return err
	}
	// The user grants: on Latchkey a user signed in through its pages,
	// who approved the application once; on the floor the same, made up.
	var serverUser userFlow
	if slices.Contains(o.scenarios, "authorization_code") || slices.Contains(o.scenarios, "refresh_token") {
		if serverUser, err = srv.userFlowOn(ctx); err != nil {
			return err
		}
	}
	floorUser, fcfg, err := floorUserFlow()
	if err != nil {
		return err
	}
	fcfg.Issuer, fcfg.Client, fcfg.ResourceServer = issuer, floorClient, floorRS
	floorBase, stopFloor, err := startFloor(ctx, fcfg)
	if err != nil {
		return err
	}
	defer stopFloor()
	floorUser = floorUserFlowAt(floorUser, floorBase)
	floorToken, err := fetchToken(ctx, floorBase+"/token", floorClient)
	if err != nil {
		return err
	}

	var scenarios []scenario
	for _, sc := range []scenario{
		{
			name:   "client_credentials",
			server: tokenTarget(srv.base+"/oauth2/token", benchClient),
			floor:  tokenTarget(floorBase+"/token", floorClient),
		},
		{
			name:   "introspection",
			server: introspectionTarget(srv.base+"/oauth2/introspect", resourceServer, serverToken),
			floor:  introspectionTarget(floorBase+"/introspect", floorRS, floorToken),
		},
		{name: "authorization_code", server: codeTarget(serverUser), floor: codeTarget(floorUser)},
		{name: "refresh_token", server: refreshTarget(serverUser), floor: refreshTarget(floorUser)},
	} {
		if slices.Contains(o.scenarios, sc.name) {
			scenarios = append(scenarios, sc)
		}
	}

	var rows []row
	run := 0
	for _, sc := range scenarios {
		for _, c := range o.concurrency {
			r := row{scenario: sc.name, concurrency: c, server: &result{}, floor: &result{}}
			for round := range o.rounds {
				// One side at a time, alternating which goes first so
				// neither always runs on a machine warmed by the other,
				// or always meets the same moment of background load.
				sides := []struct {
					name string
					t    target
					res  *result
				}{{"server", sc.server, r.server}, {"floor", sc.floor, r.floor}}
				if run%2 == 1 {
					sides[0], sides[1] = sides[1], sides[0]
				}
				run++
				for _, s := range sides {
					if err := ctx.Err(); err != nil {
						return err
					}
					fmt.Fprintf(stderr, "%s c=%d %s (round %d/%d): %s warmup + %s ...\n",
						sc.name, c, s.name, round+1, o.rounds, o.warmup, o.duration)
					res := runLoad(ctx, s.t, c, o.warmup, o.duration)
					reportErrors(stderr, s.name, res)
					s.res.merge(res)
					time.Sleep(settle)
				}
			}
			rows = append(rows, r)
		}
	}

	if err := stop(); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	printReport(stdout, o, rows)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	for _, r := range rows {
		if r.server.errors > 0 || r.floor.errors > 0 {
			return errors.New("some runs had errors; their numbers are not valid")
		}
	}
	return nil
}

// reportErrors prints a run's error count and messages, if any.
func reportErrors(w io.Writer, side string, r *result) {
	if r.errors == 0 {
		return
	}
	fmt.Fprintf(w, "  %s: %d errors, e.g.:\n", side, r.errors)
	for _, m := range r.messages {
		fmt.Fprintf(w, "    %s\n", m)
	}
}

// printReport prints the environment and one line per scenario and
// concurrency.
func printReport(w io.Writer, o options, rows []row) {
	fmt.Fprintf(w, "Latchkey token benchmark: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "Each run: %s warmup, then %s measured, %d round(s) per side pooled; keep-alive HTTP/1.1 over loopback;\n",
		o.warmup, o.duration, o.rounds)
	fmt.Fprintln(w, "server and floor run one at a time, alternating.")
	fmt.Fprintln(w, "Note: the load generator shares this machine with the servers (each in its own process);")
	fmt.Fprintln(w, "absolute numbers understate a dedicated host. The ratio server/floor is the measure.")
	fmt.Fprintln(w, "authorization_code: one request is an authorize (with the session cookie, consent given before)")
	fmt.Fprintln(w, "and its code's exchange; refresh_token: one refresh, rotating the refresh token.")
	fmt.Fprintln(w)
	const line = "%-18s %4s | %8s %7s %8s %8s | %8s %7s %8s %8s | %5s  %s\n"
	fmt.Fprintf(w, line, "", "", "server", "", "", "", "floor", "", "", "", "", "")
	fmt.Fprintf(w, line, "scenario", "conc", "requests", "req/s", "p50", "p99", "requests", "req/s", "p50", "p99", "ratio", "status")
	for _, r := range rows {
		status := "ok"
		if r.server.errors > 0 || r.floor.errors > 0 {
			status = fmt.Sprintf("ERRORS server=%d floor=%d", r.server.errors, r.floor.errors)
		}
		ratio := 0.0
		if f := r.floor.rate(); f > 0 {
			ratio = r.server.rate() / f
		}
		fmt.Fprintf(w, line, r.scenario, strconv.Itoa(r.concurrency),
			strconv.Itoa(r.server.requests), fmt.Sprintf("%.0f", r.server.rate()),
			ms(r.server.percentile(0.50)), ms(r.server.percentile(0.99)),
			strconv.Itoa(r.floor.requests), fmt.Sprintf("%.0f", r.floor.rate()),
			ms(r.floor.percentile(0.50)), ms(r.floor.percentile(0.99)),
			fmt.Sprintf("%.2f", ratio), status)
	}
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}
