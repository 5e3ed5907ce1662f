package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/store"
)

type bulkOptions struct {
	clients, match int
	postgres       string
}

func parseBulkOptions(args []string, stderr io.Writer) (bulkOptions, error) {
	var o bulkOptions
	fs := flag.NewFlagSet("bulk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.clients, "clients", 1_000_000, "clients in the tenant")
	fs.IntVar(&o.match, "match", 100_000, "active clients the bulk filter matches")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("LATCHKEY_TEST_POSTGRES_URL"), "PostgreSQL server to create the benchmark's database on")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.postgres == "" {
		return o, errors.New("bulk needs -postgres or LATCHKEY_TEST_POSTGRES_URL")
	}
	if o.match < 1 || o.match > o.clients {
		return o, errors.New("-match must be from 1 to -clients")
	}
	return o, nil
}

// benchCreator marks the clients the bulk filter selects (created_by).
const benchCreator = "usr_bulkbench"

// bulkBench loads a tenant of o.clients into a scratch PostgreSQL
// database, marks o.match active ones, and times a bulk dry run and a
// bulk deactivation over them in this process, with its peak heap and
// resident set for each.
func bulkBench(ctx context.Context, o bulkOptions, stdout, stderr io.Writer) error {
	u, drop, err := createDatabase(ctx, o.postgres)
	if err != nil {
		return err
	}
	defer drop()
	st, err := store.Open(ctx, u)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := provision.Run(ctx, st, provision.Params{Issuer: "http://127.0.0.1"})
	if err != nil {
		return err
	}
	tenant := res.Tenant.ID
	f := newFleet(1, tenant, time.Now(), o.clients)
	start := time.Now()
	progress := func(done int) {
		if done%(10*loadBatch) == 0 || done == o.clients {
			fmt.Fprintf(stderr, "bulk: loaded %d of %d clients (%s)\n", done, o.clients, time.Since(start).Round(time.Second))
		}
	}
	if err := loadPostgres(ctx, u, f, o.clients, progress); err != nil {
		return err
	}
	loaded := time.Since(start)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	for _, q := range []string{
		`UPDATE clients SET created_by = '` + benchCreator + `' WHERE id IN
			(SELECT id FROM clients WHERE tenant_id = '` + tenant + `' AND status = 'active' AND NOT protected ORDER BY id LIMIT ` + strconv.Itoa(o.match) + `)`,
		`TRUNCATE change_log`, `VACUUM ANALYZE clients`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	conn.Close(ctx)

	clients := &client.Service{Repo: st}
	bs := st.(bulk.Store)
	sealer, err := bulk.NewSealer(make([]byte, 32))
	if err != nil {
		return err
	}
	svc := &bulk.Service{Store: bs, Clients: clients, Sealer: sealer}
	actor := client.SystemActor(tenant)
	q := client.ListQuery{CreatedBy: benchCreator, Status: client.StatusActive}

	var dryN int
	dry := measure(func() error {
		dryN, err = svc.Match(ctx, actor, bulk.Deactivate, q, bulk.Params{}, func(bulk.Change) error { return nil })
		return err
	})
	if dry.err != nil {
		return dry.err
	}
	var job *bulk.Job
	snap := measure(func() error {
		job, err = svc.Create(ctx, actor, bulk.Deactivate, q, bulk.Params{}, dryN)
		return err
	})
	if snap.err != nil {
		return snap.err
	}
	runner := &bulk.Runner{Store: bs, Clients: clients, Sealer: sealer, Owner: "bench", Lease: time.Minute}
	runAll := measure(func() error {
		_, err := runner.RunOnce(ctx)
		return err
	})
	if runAll.err != nil {
		return runAll.err
	}
	end, err := bs.BulkJob(ctx, job.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bulk over %d matching clients of a %d-client tenant, PostgreSQL (loaded in %s)\n\n",
		dryN, o.clients, loaded.Round(time.Second))
	fmt.Fprintf(stdout, "| step | wall time | rate | peak Go heap | peak RSS |\n|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		m    measured
		n    int
	}{{"dry run (stream every change)", dry, dryN}, {"confirm (snapshot the items)", snap, dryN},
		{fmt.Sprintf("deactivate (job %s, %d done, %d failed)", end.State, end.Done, end.Failed), runAll, end.Done}} {
		fmt.Fprintf(stdout, "| %s | %s | %.0f/s | %.1f MiB | %.1f MiB |\n", r.name, r.m.wall.Round(time.Millisecond),
			float64(r.n)/r.m.wall.Seconds(), float64(r.m.heap)/(1<<20), float64(r.m.rss)/(1<<20))
	}
	if end.State != bulk.Succeeded || end.Done != dryN {
		return fmt.Errorf("the job ended %s with %d of %d done", end.State, end.Done, dryN)
	}
	return nil
}

type measured struct {
	wall      time.Duration
	heap, rss uint64
	err       error
}

// measure runs fn, sampling the heap in use every 10 ms, and reads the
// peak resident set the kernel recorded since it was reset before fn.
func measure(fn func() error) measured {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM
	var m measured
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			m.heap = max(m.heap, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	start := time.Now()
	m.err = fn()
	m.wall = time.Since(start)
	close(stop)
	wg.Wait()
	m.rss = peakRSS()
	return m
}

// peakRSS is VmHWM from /proc/self/status, in bytes; 0 where unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}
