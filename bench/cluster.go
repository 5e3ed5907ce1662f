package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// The cluster command asks whether a second instance on the same
// PostgreSQL database adds throughput: the same load, at the same total
// concurrency, against one instance and then split over two. Where the
// cores are shared (the load generator's, the instances', the database's)
// two cannot do more with the same CPU, and req/s follows the share of the
// machine each run gets; so it also measures what predicts scaling on more
// cores: the CPU each request costs in each process, and the database
// transactions each request makes.

// clusterOptions are the cluster command's flags.
type clusterOptions struct {
	duration, warmup     time.Duration
	concurrency, rounds  int
	postgres             string
	floor, introspection bool
}

func parseClusterOptions(args []string, stderr io.Writer) (clusterOptions, error) {
	o := clusterOptions{}
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checkTimes := loadTimes(fs, &o.duration, &o.warmup)
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent workers, in total: with two instances each gets half")
	fs.IntVar(&o.rounds, "rounds", 1, "times each side is run, alternating; the results are pooled")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("LATCHKEY_TEST_POSTGRES_URL"),
		"PostgreSQL server to create a scratch database on (default $LATCHKEY_TEST_POSTGRES_URL)")
	fs.BoolVar(&o.floor, "floor", true, "run the floor server as a reference")
	fs.BoolVar(&o.introspection, "introspection", true, "measure introspection too, after the token requests")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := checkTimes(); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case !store.IsPostgres(o.postgres):
		return o, errors.New("instances share a PostgreSQL database: give -postgres postgres://… (or LATCHKEY_TEST_POSTGRES_URL)")
	case o.concurrency < 2 || o.concurrency > maxConcurrency:
		// Two instances need a worker each.
		return o, fmt.Errorf("-concurrency must be in [2, %d]", maxConcurrency)
	case o.rounds < 1 || o.rounds > maxRounds:
		return o, fmt.Errorf("-rounds must be in [1, %d]", maxRounds)
	}
	return o, nil
}

// spread is a target that sends each worker's requests to one of ts, in
// turn by worker, so that N workers split evenly over len(ts) servers, as
// clients behind a connection-balancing proxy would.
func spread(ts ...target) target {
	next := 0 // runLoad sets its workers up one after another
	return target{flow: func(context.Context, *worker) (step, error) {
		t := ts[next%len(ts)]
		next++
		return func(ctx context.Context, w *worker) error {
			_, err := w.post(ctx, t.url, t.body, t.authorization, t.want)
			return err
		}, nil
	}}
}

// clusterSide is one arrangement under load and the processes that serve
// it.
type clusterSide struct {
	name string
	t    target
	pids []int
}

// clusterRun is one side of one scenario, measured.
type clusterRun struct {
	scenario, side string
	res            *result
	cost           cpuCost
}

// cpuCost is what the measured windows cost, summed.
type cpuCost struct {
	servers, postgres, bench time.Duration // CPU time of each
	machine                  time.Duration // CPU time of the whole machine, every process
	xacts                    int64         // transactions on the scratch database
	wall                     time.Duration
}

// cpuSnapshot is the counters a cpuCost is the difference of.
type cpuSnapshot struct {
	at       time.Time
	servers  time.Duration
	postgres map[int]time.Duration // by backend pid: connections may come and go
	bench    time.Duration
	machine  time.Duration
	xacts    int64
}

// cpuMeter reads the counters of the side's servers, of the database's
// backends and of this process.
type cpuMeter struct {
	pg     *pgx.Conn // on the server's maintenance database, not counted
	dbName string
}

func (m *cpuMeter) snapshot(ctx context.Context, pids []int) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now(), postgres: map[int]time.Duration{}}
	for _, pid := range pids {
		c, err := procCPU(pid)
		if err != nil {
			return s, err
		}
		s.servers += c
	}
	var err error
	if s.bench, err = procCPU(os.Getpid()); err != nil {
		return s, err
	}
	if s.machine, err = machineCPU(); err != nil {
		return s, err
	}
	// Statistics reach pg_stat_database within about a second of a
	// transaction's end; over a window of seconds that is noise.
	if err := m.pg.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
		m.dbName).Scan(&s.xacts); err != nil {
		return s, fmt.Errorf("read pg_stat_database: %w", err)
	}
	rows, err := m.pg.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", m.dbName)
	if err != nil {
		return s, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	backends, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return s, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	for _, pid := range backends {
		// A server elsewhere has no /proc here: its CPU is not measured.
		if c, err := procCPU(int(pid)); err == nil {
			s.postgres[int(pid)] = c
		}
	}
	return s, nil
}

// add adds the cost from a to b to c. A backend that closed in between
// is lost; one that opened is counted from its start.
func (c *cpuCost) add(a, b cpuSnapshot) {
	c.servers += b.servers - a.servers
	c.bench += b.bench - a.bench
	c.machine += b.machine - a.machine
	c.xacts += b.xacts - a.xacts
	c.wall += b.at.Sub(a.at)
	for pid, t := range b.postgres {
		c.postgres += t - a.postgres[pid]
	}
}

// clockTick is USER_HZ, the unit of /proc's CPU times: 100 a second on
// every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// procCPU returns the user and system CPU time process pid has used, from
// /proc/PID/stat (Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time (Linux /proc only): %w", err)
	}
	return parseProcStat(b)
}

// parseProcStat reads utime and stime, the 14th and 15th fields of a
// /proc/PID/stat; the command name in parentheses may hold spaces, so the
// fields are counted from its closing parenthesis.
func parseProcStat(b []byte) (time.Duration, error) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("/proc stat without a command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("/proc stat too short")
	}
	return sumTicks(f[11:13])
}

// sumTicks adds up counts of clock ticks.
func sumTicks(f []string) (time.Duration, error) {
	var ticks int64
	for _, v := range f {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc: %q is not a count of ticks", v)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineCPU returns the CPU time all cores have spent busy, from the
// first line of /proc/stat: everything but idle and iowait.
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineStat(b)
}

func parseMachineStat(b []byte) (time.Duration, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat without its cpu line")
	}
	// user nice system, then idle iowait (not busy), then irq softirq
	// steal; guest time is already in user.
	busy, err := sumTicks(f[1:4])
	if err != nil {
		return 0, err
	}
	irq, err := sumTicks(f[6:9])
	return busy + irq, err
}

// childPIDs returns the processes whose parent is this one, from /proc.
func childPIDs() ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			// state ppid …
			if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(self) {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

// cluster runs the benchmark and prints its table.
func cluster(ctx context.Context, o clusterOptions, stdout, stderr io.Writer) error {
	scenarios := []string{"client_credentials"}
	if o.introspection {
		scenarios = append(scenarios, "introspection")
	}
	sides := 2
	if o.floor {
		sides++
	}
	// Each run is an unmeasured and a measured load, each at most
	// 2 × requestTimeout longer than asked.
	perRun := o.warmup + o.duration + 4*requestTimeout + settle
	ctx, cancel := context.WithTimeout(ctx,
		setupBudget+cliTimeout+time.Duration(len(scenarios)*sides*o.rounds)*perRun)
	defer cancel()

	dir, bin, err := buildIn(ctx, "latchkey-cluster-", stderr)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// One issuer for both, as behind one name: each would otherwise
	// follow its own address and find the other's tokens not its own.
	srvs, dbURL, stopCluster, err := startCluster(ctx, bin, dir, o.postgres, []string{"a", "b"}, stderr,
		"LATCHKEY_ISSUER="+issuer)
	if err != nil {
		return err
	}
	defer stopCluster()
	a, b := srvs[0], srvs[1]
	// One token, introspected on both: the instances share the signing
	// keys through the database.
	caller, rs, tok, err := a.tokenClients(ctx)
	if err != nil {
		return err
	}

	var floorToken, floorBase string
	var floorClient, floorRS credentials
	var floorPIDs []int
	if o.floor {
		if floorClient, err = randomCredentials(); err != nil {
			return err
		}
		if floorRS, err = randomCredentials(); err != nil {
			return err
		}
		var stopFloor func() error
		floorBase, stopFloor, err = startFloor(ctx, floorConfig{Issuer: issuer, Client: floorClient, ResourceServer: floorRS})
		if err != nil {
			return err
		}
		defer stopFloor()
		if floorToken, err = fetchToken(ctx, floorBase+"/token", floorClient); err != nil {
			return err
		}
		// The floor is the child that is not an instance.
		children, err := childPIDs()
		if err != nil {
			return err
		}
		for _, pid := range children {
			if pid != a.cmd.Process.Pid && pid != b.cmd.Process.Pid {
				floorPIDs = append(floorPIDs, pid)
			}
		}
	}

	pg, err := pgx.Connect(ctx, o.postgres)
	if err != nil {
		return fmt.Errorf("connect to the PostgreSQL server: %w", err)
	}
	defer pg.Close(context.WithoutCancel(ctx))
	meter := &cpuMeter{pg: pg, dbName: strings.TrimPrefix(mustParse(dbURL).Path, "/")}

	ab := []int{a.cmd.Process.Pid, b.cmd.Process.Pid}
	var runs []*clusterRun
	run := 0
	for _, sc := range scenarios {
		mk := func(s *latchkeyServer) target {
			if sc == "introspection" {
				return introspectionTarget(s.base+"/oauth2/introspect", rs, tok)
			}
			return tokenTarget(s.base+"/oauth2/token", caller)
		}
		ss := []clusterSide{
			{"one", mk(a), ab[:1]},
			{"two", spread(mk(a), mk(b)), ab},
		}
		if o.floor {
			ft := tokenTarget(floorBase+"/token", floorClient)
			if sc == "introspection" {
				ft = introspectionTarget(floorBase+"/introspect", floorRS, floorToken)
			}
			ss = append(ss, clusterSide{"floor", ft, floorPIDs})
		}
		byName := map[string]*clusterRun{}
		for _, s := range ss {
			byName[s.name] = &clusterRun{scenario: sc, side: s.name, res: &result{}}
			runs = append(runs, byName[s.name])
		}
		for round := range o.rounds {
			// Each round starts with the next side, so none always runs
			// first or meets the same moment of background load.
			for i := range ss {
				s := ss[(i+run)%len(ss)]
				if err := ctx.Err(); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "%s %s c=%d (round %d/%d): %s warmup + %s ...\n",
					sc, s.name, o.concurrency, round+1, o.rounds, o.warmup, o.duration)
				r := byName[s.name]
				if err := measureSide(ctx, meter, s, o, r, stderr); err != nil {
					return err
				}
				time.Sleep(settle)
			}
			run++
		}
	}

	for _, s := range srvs {
		if err := s.stop(); err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
	}
	printCluster(stdout, o, runs)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	for _, r := range runs {
		if r.res.errors > 0 {
			return errors.New("some runs had errors; their numbers are not valid")
		}
	}
	return nil
}

// measureSide loads s for the warmup, unmeasured, then for the duration
// between two readings of the CPU counters, and adds both to r. The
// warmup is a load of its own, rather than runLoad's, so that the
// counters are read at the edges of the measured window.
func measureSide(ctx context.Context, m *cpuMeter, s clusterSide, o clusterOptions, r *clusterRun, stderr io.Writer) error {
	if o.warmup > 0 {
		warm := runLoad(ctx, s.t, o.concurrency, 0, o.warmup)
		r.res.merge(&result{errors: warm.errors, messages: warm.messages})
	}
	before, err := m.snapshot(ctx, s.pids)
	if err != nil {
		return err
	}
	res := runLoad(ctx, s.t, o.concurrency, 0, o.duration)
	after, err := m.snapshot(ctx, s.pids)
	if err != nil {
		return err
	}
	reportErrors(stderr, s.name, res)
	r.res.merge(res)
	r.cost.add(before, after)
	return nil
}

// perK is CPU-seconds per 1000 requests.
func perK(d time.Duration, requests int) string {
	if requests == 0 {
		return "-"
	}
	return strconv.FormatFloat(d.Seconds()*1000/float64(requests), 'f', 3, 64)
}

// clusterColumns says what the table's cost columns are.
const clusterColumns = `CPU columns: CPU-seconds per 1000 requests over the measured window (/proc/PID/stat utime+stime):
server = the side's serving processes, pg = the database's backends, bench = this load generator;
pg tx = transactions on the database per request; busy = cores in use on the whole machine,
other = busy cores none of these account for (other work on the machine: noise).

`

// printCluster prints the table, the ratio two/one, and what the CPU per
// request says about more cores.
func printCluster(w io.Writer, o clusterOptions, runs []*clusterRun) {
	fmt.Fprintf(w, "Latchkey cluster benchmark: %s %s/%s, NumCPU=%d; each server with GOMAXPROCS=NumCPU\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(w, "Two instances on one scratch PostgreSQL database. one: all %d workers on instance a (b idle);\n", o.concurrency)
	fmt.Fprintf(w, "two: the same %d workers, half on a and half on b; keep-alive HTTP/1.1 over loopback.\n", o.concurrency)
	fmt.Fprintf(w, "Each run: %s warmup, then %s measured, %d round(s) per side pooled, sides alternating.\n",
		o.warmup, o.duration, o.rounds)
	fmt.Fprint(w, clusterColumns)
	const line = "%-18s %-5s %8s %7s %8s %8s | %7s %7s %7s %7s | %5s %5s  %s\n"
	fmt.Fprintf(w, line, "scenario", "side", "requests", "req/s", "p50", "p99",
		"server", "pg", "bench", "pg tx", "busy", "other", "status")
	for _, r := range runs {
		status := "ok"
		if r.res.errors > 0 {
			status = fmt.Sprintf("ERRORS %d", r.res.errors)
		}
		c, n := r.cost, r.res.requests
		tx, busy, other := "-", "-", "-"
		if n > 0 && c.wall > 0 {
			tx = strconv.FormatFloat(float64(c.xacts)/float64(n), 'f', 3, 64)
			busy = strconv.FormatFloat(c.machine.Seconds()/c.wall.Seconds(), 'f', 2, 64)
			other = strconv.FormatFloat((c.machine-c.servers-c.postgres-c.bench).Seconds()/c.wall.Seconds(), 'f', 2, 64)
		}
		fmt.Fprintf(w, line, r.scenario, r.side, strconv.Itoa(n), fmt.Sprintf("%.0f", r.res.rate()),
			ms(r.res.percentile(0.50)), ms(r.res.percentile(0.99)),
			perK(c.servers, n), perK(c.postgres, n), perK(c.bench, n), tx, busy, other, status)
	}
	fmt.Fprintln(w)
	find := func(sc, side string) *clusterRun {
		i := slices.IndexFunc(runs, func(r *clusterRun) bool { return r.scenario == sc && r.side == side })
		if i < 0 {
			return nil
		}
		return runs[i]
	}
	for _, r := range runs {
		if r.side != "one" {
			continue
		}
		two := find(r.scenario, "two")
		if two == nil || r.res.rate() == 0 || r.res.requests == 0 || two.res.requests == 0 {
			continue
		}
		ratio := func(a, b float64) string {
			if b == 0 {
				return "-"
			}
			return strconv.FormatFloat(a/b, 'f', 2, 64)
		}
		// req/s follows the share of the machine a run got; the CPU per
		// request does not, and says whether two cost more per request.
		perRequest := func(r *clusterRun, d time.Duration) float64 { return d.Seconds() / float64(r.res.requests) }
		all := func(c cpuCost) time.Duration { return c.servers + c.postgres + c.bench }
		fmt.Fprintf(w, "%s two/one: req/s %s, p50 %s, p99 %s; CPU per request: servers %s, servers+pg+bench %s\n", r.scenario,
			ratio(two.res.rate(), r.res.rate()),
			ratio(float64(two.res.percentile(0.5)), float64(r.res.percentile(0.5))),
			ratio(float64(two.res.percentile(0.99)), float64(r.res.percentile(0.99))),
			ratio(perRequest(two, two.cost.servers), perRequest(r, r.cost.servers)),
			ratio(perRequest(two, all(two.cost)), perRequest(r, all(r.cost))))
		// What one core of an instance serves, and what a request costs
		// all told, predict a host with cores to spare: instances add
		// throughput until the database's share, or the network, binds.
		perReq, pgPerReq := perRequest(r, r.cost.servers), perRequest(r, r.cost.postgres)
		if perReq > 0 {
			fmt.Fprintf(w, "  at one instance's CPU per request, a core serves %.0f requests/s; the database spends %.1fµs and %.3f transactions on each",
				1/perReq, pgPerReq*1e6, float64(r.cost.xacts)/float64(r.res.requests))
			fmt.Fprintln(w)
		}
	}
}
