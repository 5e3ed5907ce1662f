package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
)

// The notify benchmark times the expiry-warning sweep at fleet scale: the
// admin benchmark's fleet (adminfleet.go) in a scratch PostgreSQL
// database, each client given one active secret expiring within the next
// year, its owners and creators made users with addresses, and one webhook
// subscribed to the expiry events. It then times one notify.Sweeper.Run at
// the load time, a second at the same instant (which must find nothing:
// the due set is read from the warn_at index, not by a scan), and a third
// a day later, and prints the plan of the query that reads the due
// secrets.

// notifyOptions are the notify command's flags.
type notifyOptions struct {
	clients  int
	postgres string // the server to create the benchmark's database on
	// span is how far ahead the secrets' expiries are spread, uniformly.
	span time.Duration
}

// sweepBudget is the target for one sweep over a million clients.
const sweepBudget = 10 * time.Second

// defaultPostgres is the server used without -postgres or
// LATCHKEY_TEST_POSTGRES_URL.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func parseNotifyOptions(args []string, stderr io.Writer) (notifyOptions, error) {
	o := notifyOptions{}
	fs := flag.NewFlagSet("notify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.clients, "clients", 1_000_000, "clients loaded, each with one active secret")
	pg := os.Getenv("LATCHKEY_TEST_POSTGRES_URL")
	if pg == "" {
		pg = defaultPostgres
	}
	fs.StringVar(&o.postgres, "postgres", pg,
		"PostgreSQL server to create a scratch database on (default $LATCHKEY_TEST_POSTGRES_URL, or a local server)")
	span := fs.String("secrets-over", "365d", "the secrets expire uniformly over this span from now (like 90d or 2160h)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !store.IsPostgres(o.postgres) {
		return o, errors.New("-postgres must be a postgres:// URL")
	}
	if o.clients < 1 || o.clients > maxFleet {
		return o, fmt.Errorf("-clients must be in [1, %d]", maxFleet)
	}
	d, err := admin.ParseSpan(*span)
	if err != nil {
		return o, fmt.Errorf("-secrets-over: %w", err)
	}
	if d < 24*time.Hour {
		return o, errors.New("-secrets-over must be at least a day")
	}
	o.span = d
	return o, nil
}

// notifySeed makes the notify benchmark's fleet; the admin benchmark's
// is another.
const notifySeed = 11

// A fleet user is disabled one time in disabledEvery: a warning to them
// is recorded as skipped for want of an address, not queued.
const disabledEvery = 25

// fleetUserDisabled reports whether the i-th of a fleet's users is
// disabled.
func fleetUserDisabled(i int) bool { return i%disabledEvery == disabledEvery-1 }

// fleetSecret is the one secret of a fleet client in the notify
// benchmark.
type fleetSecret struct {
	ID               string
	Created, Expires time.Time
}

// secretOf returns c's secret, made deterministically from c's ID so that
// a test can make it again: it expires uniformly within span of now and
// was issued some time in the past, never before its client. One in ten
// was issued within the last week and one in ten within the last month
// (rotated recently, to a short-lived secret: their schedules lack the
// early stages); the others up to two years ago.
func secretOf(c *client.Client, now time.Time, span time.Duration) fleetSecret {
	h := fnv.New64a()
	h.Write([]byte(c.ID))
	r := mrand.New(mrand.NewPCG(h.Sum64(), 0x6e6f74696679))
	const day = 24 * time.Hour
	s := fleetSecret{ID: "sec_" + strings.TrimPrefix(c.ID, "lkc_")}
	s.Expires = now.Add(time.Duration(1 + r.Int64N(int64(span)))).Truncate(time.Microsecond)
	age := 2 * 365 * day
	switch r.IntN(10) {
	case 0:
		age = 7 * day
	case 1:
		age = 30 * day
	}
	s.Created = now.Add(-time.Duration(r.Int64N(int64(age)))).Truncate(time.Microsecond)
	if s.Created.Before(c.CreatedAt) {
		s.Created = c.CreatedAt
	}
	return s
}

// notifyFleet is what the benchmark loaded.
type notifyFleet struct {
	tenantID string
	now      time.Time
	clients  int
	span     time.Duration
	// users are the fleet's user IDs, in fleetUserDisabled's order.
	users []string
	// loadClients and loadRest are how long the clients and then their
	// secrets, users and statistics took to load.
	loadClients, loadRest time.Duration
}

// newNotifyFleet returns the fleet of n clients the benchmark loads for
// the tenant as of now; made again with the same arguments, it makes the
// same clients.
func newNotifyFleet(tenantID string, now time.Time, n int) *fleet {
	return newFleet(notifySeed, tenantID, now, n)
}

// setupNotify migrates and provisions the empty database at dbURL and
// loads the fleet into it: the clients with loadPostgres, then in one
// COPY each their users and secrets (warn_at set as the store sets it, by
// notify.FirstDue), and one webhook for the expiry events. It ends with
// VACUUM ANALYZE, as autovacuum would soon after such a load.
func setupNotify(ctx context.Context, dbURL string, o notifyOptions, stderr io.Writer) (*postgres.DB, *notifyFleet, error) {
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	nf, err := loadNotify(ctx, st, dbURL, o, stderr)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, nf, nil
}

func loadNotify(ctx context.Context, st *postgres.DB, dbURL string, o notifyOptions, stderr io.Writer) (*notifyFleet, error) {
	if _, err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	// The admin API client's secret is chosen, so it never expires: the
	// fleet's secrets are the only ones the sweeps meet.
	secret := make([]byte, adminSecretBytes)
	rand.Read(secret)
	res, err := provision.Run(ctx, st, provision.Params{Issuer: "http://127.0.0.1", AdminClientSecret: fmt.Sprintf("%x", secret)})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	f := newNotifyFleet(res.Tenant.ID, start, o.clients)
	nf := &notifyFleet{tenantID: res.Tenant.ID, now: f.now, clients: o.clients, span: o.span, users: f.users}
	progress := func(done int) {
		if done%(10*loadBatch) == 0 || done == o.clients {
			fmt.Fprintf(stderr, "notify: loaded %d of %d clients (%s)\n", done, o.clients, time.Since(start).Round(time.Second))
		}
	}
	if err := loadPostgres(ctx, dbURL, f, o.clients, progress); err != nil {
		return nil, err
	}
	nf.loadClients = time.Since(start)

	fmt.Fprintf(stderr, "notify: loading %d secrets and %d users ...\n", o.clients, len(nf.users))
	rest := time.Now()
	if err := loadSecrets(ctx, dbURL, nf); err != nil {
		return nil, err
	}
	err = st.InNotifyTx(ctx, func(tx notify.Tx) error {
		return tx.CreateWebhook(ctx, &notify.Webhook{ID: "whk_bench", TenantID: nf.tenantID,
			URL: "https://hooks.example.com/latchkey", Events: []event.Type{event.SecretExpiring, event.SecretExpired},
			SealedSecret: []byte("not a sealed secret: never delivered"), CreatedAt: nf.now, CreatedBy: "system"})
	})
	if err != nil {
		return nil, err
	}
	nf.loadRest = time.Since(rest)
	return nf, nil
}

// loadSecrets writes the fleet's users and its clients' secrets with
// COPY: the fleet is made again from its seed, which gives the same
// clients loadPostgres wrote.
func loadSecrets(ctx context.Context, dbURL string, nf *notifyFleet) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	locales := []string{"en", "en", "da", "fi", "fr", "nb", "sv"}
	var users [][]any
	for i, id := range nf.users {
		status := "active"
		if fleetUserDisabled(i) {
			status = "disabled"
		}
		users = append(users, []any{id, nf.tenantID, fmt.Sprintf("user%03d@fleet.example.com", i),
			fmt.Sprintf("Fleet User %d", i), "", []string{}, locales[i%len(locales)], nf.now, nf.now, status})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "tenant_id", "email", "name",
		"password_hash", "roles", "locale", "created_at", "updated_at", "status"}, pgx.CopyFromRows(users)); err != nil {
		return fmt.Errorf("copy users: %w", err)
	}

	f := newNotifyFleet(nf.tenantID, nf.now, nf.clients)
	made := 0
	var row []any
	next := func() bool {
		if made == nf.clients {
			return false
		}
		made++
		c := f.next()
		s := secretOf(c, nf.now, nf.span)
		// As the store's CreateSecret does (postgres.warnAt).
		warnAt, _ := notify.FirstDue(s.Created, s.Expires)
		row = []any{s.ID, c.ID, "bench-not-a-hash", "****", string(client.SecretActive), s.Created,
			c.CreatedBy, s.Expires, warnAt}
		return true
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"client_secrets"}, []string{"id", "client_id", "hash", "hint",
		"status", "created_at", "created_by", "expires_at", "warn_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if !next() {
				return nil, nil
			}
			return row, nil
		})); err != nil {
		return fmt.Errorf("copy secrets: %w", err)
	}
	for _, q := range []string{`TRUNCATE change_log`, `VACUUM ANALYZE client_secrets`, `VACUUM ANALYZE users`, `ANALYZE`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// explainDue returns the plan of one batch of the due-secrets query at
// now; with analyze, run in a transaction rolled back afterwards, with
// its times and buffers.
func explainDue(ctx context.Context, dbURL string, now time.Time, analyze bool) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	opts := "EXPLAIN "
	if analyze {
		opts = "EXPLAIN (ANALYZE, BUFFERS) "
	}
	rows, err := tx.Query(ctx, opts+postgres.DueSecretsQuery, now, notify.DefaultBatch)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	return strings.Join(lines, "\n"), nil
}

// sweepResult is one timed sweep.
type sweepResult struct {
	name string
	at   time.Time
	// due is how many secrets were due at at, counted before the sweep.
	due  int
	rep  notify.SweepReport
	took time.Duration
	// webhooks are the webhook deliveries the sweep queued.
	webhooks int
	// calls is where the time went.
	calls callTimes
}

// callTimes add up where a sweep's time goes: each store call of its
// transactions, their BEGIN and COMMIT, and the rest (the sweep's own
// work in Go).
type callTimes struct {
	batches                                   int
	due, record, deliveries, events, next, tx time.Duration
}

// since adds the time since start to *d; deferred, it times a call.
func since(d *time.Duration, start time.Time) { *d += time.Since(start) }

// timedStore is a notify.Store whose sweep transactions are timed, call by
// call, into t. It adds a few clock readings to each call.
type timedStore struct {
	notify.Store
	t *callTimes
}

func (s timedStore) InNotifyTx(ctx context.Context, fn func(notify.Tx) error) error {
	start := time.Now()
	var inside time.Duration
	err := s.Store.InNotifyTx(ctx, func(tx notify.Tx) error {
		defer since(&inside, time.Now())
		return fn(timedTx{tx, s.t})
	})
	s.t.batches++
	s.t.tx += time.Since(start) - inside
	return err
}

// timedTx times the calls a sweep makes of a notify.Tx.
type timedTx struct {
	notify.Tx
	t *callTimes
}

func (x timedTx) DueSecrets(ctx context.Context, now time.Time, limit int) ([]notify.Due, error) {
	defer since(&x.t.due, time.Now())
	return x.Tx.DueSecrets(ctx, now, limit)
}

func (x timedTx) RecordWarnings(ctx context.Context, ws []notify.Warning) error {
	defer since(&x.t.record, time.Now())
	return x.Tx.RecordWarnings(ctx, ws)
}

func (x timedTx) AddDeliveries(ctx context.Context, ds []notify.Delivery) error {
	defer since(&x.t.deliveries, time.Now())
	return x.Tx.AddDeliveries(ctx, ds)
}

func (x timedTx) AppendEvents(ctx context.Context, es []event.Event) error {
	defer since(&x.t.events, time.Now())
	return x.Tx.AppendEvents(ctx, es)
}

func (x timedTx) SetNextDue(ctx context.Context, next []notify.NextDue) error {
	defer since(&x.t.next, time.Now())
	return x.Tx.SetNextDue(ctx, next)
}

// rows is how many rows the sweep wrote: the stages recorded, the outbox
// rows (mails, mails skipped, webhook deliveries) and the secrets' next
// due times.
func (r *sweepResult) rows() int {
	return r.rep.Warned + r.rep.Skipped + r.rep.Mails + r.rep.NoAddress + r.webhooks + r.rep.Secrets
}

// notifyResult is what the benchmark measured.
type notifyResult struct {
	fleet  *notifyFleet
	server string
	sweeps []*sweepResult
	// plan is EXPLAIN of the due-secrets query before the first sweep;
	// analyzed, EXPLAIN ANALYZE of one batch two days on, after the sweeps.
	plan, analyzed string
}

// runNotify times the three sweeps over the loaded fleet.
func runNotify(ctx context.Context, st *postgres.DB, dbURL string, nf *notifyFleet, stderr io.Writer) (*notifyResult, error) {
	res := &notifyResult{fleet: nf}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var jit string
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version') || ', jit=' || current_setting('jit')`).Scan(&jit); err != nil {
		return nil, err
	}
	res.server = jit
	if res.plan, err = explainDue(ctx, dbURL, nf.now, false); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	webhooks := func() (int, error) {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE channel = 'webhook'`).Scan(&n)
		return n, err
	}
	for _, s := range []struct {
		name string
		at   time.Time
	}{{"first", nf.now}, {"again", nf.now}, {"next day", nf.now.Add(24 * time.Hour)}} {
		r := &sweepResult{name: s.name, at: s.at}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM client_secrets WHERE warn_at <= $1`, s.at).Scan(&r.due); err != nil {
			return nil, err
		}
		before, err := webhooks()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "notify: sweep %q: %d secrets due ...\n", s.name, r.due)
		sw := &notify.Sweeper{Store: timedStore{st, &r.calls}}
		start := time.Now()
		r.rep, err = sw.Run(ctx, s.at)
		r.took = time.Since(start)
		if err != nil {
			return nil, err
		}
		after, err := webhooks()
		if err != nil {
			return nil, err
		}
		r.webhooks = after - before
		res.sweeps = append(res.sweeps, r)
	}
	if res.analyzed, err = explainDue(ctx, dbURL, nf.now.Add(48*time.Hour), true); err != nil {
		return nil, fmt.Errorf("explain analyze: %w", err)
	}
	return res, nil
}

// notifyBench runs the benchmark and prints its table to stdout and
// progress to stderr. The scratch database is dropped at the end, also
// on an error or an interrupt.
func notifyBench(ctx context.Context, o notifyOptions, stdout, stderr io.Writer) error {
	// Loading dominates: some minutes a million clients.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute+time.Duration(o.clients/1000)*time.Second)
	defer cancel()
	dbURL, drop, err := createDatabase(ctx, o.postgres)
	if err != nil {
		return err
	}
	defer drop()
	st, nf, err := setupNotify(ctx, dbURL, o, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := runNotify(ctx, st, dbURL, nf, stderr)
	if err != nil {
		return err
	}
	printNotifyReport(stdout, res)
	return nil
}

// printNotifyReport prints the load, one line per sweep, and the plans.
func printNotifyReport(w io.Writer, r *notifyResult) {
	nf := r.fleet
	fmt.Fprintf(w, "Latchkey expiry-warning sweep benchmark: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d, PostgreSQL %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), r.server)
	disabled := 0
	for i := range nf.users {
		if fleetUserDisabled(i) {
			disabled++
		}
	}
	fmt.Fprintf(w, "%d clients in one tenant, one active secret each expiring uniformly over the next %s;\n",
		nf.clients, spanString(nf.span))
	fmt.Fprintf(w, "owners and creators among %d users (%d disabled); one webhook for the expiry events; batch %d.\n",
		len(nf.users), disabled, notify.DefaultBatch)
	fmt.Fprintf(w, "Loaded in %s (clients %s; secrets, users, VACUUM ANALYZE %s); now = %s.\n\n",
		(nf.loadClients + nf.loadRest).Round(time.Second), nf.loadClients.Round(time.Second),
		nf.loadRest.Round(100*time.Millisecond), nf.now.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sweep\tat\tdue\tsecrets\twarned\tskipped\tmails\tno address\tevents\twebhook rows\twall\tsecrets/s\trows/s\t")
	for _, s := range r.sweeps {
		at := "now"
		if d := s.at.Sub(nf.now); d != 0 {
			at = "now+" + spanString(d)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", s.name, at, s.due, s.rep.Secrets,
			s.rep.Warned, s.rep.Skipped, s.rep.Mails, s.rep.NoAddress, s.rep.Events, s.webhooks,
			ms(s.took), perSecond(s.rep.Secrets, s.took), perSecond(s.rows(), s.took))
	}
	tw.Flush()
	fmt.Fprintln(w, "rows/s counts the rows written: stages recorded, outbox rows (mails, skipped mails, webhook")
	fmt.Fprintln(w, "deliveries) and the secrets' next due times.")
	fmt.Fprintln(w, "\nWhere the time went, summed over each sweep's transactions:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sweep\tbatches\tDueSecrets\tper batch\tRecordWarnings\tAddDeliveries\tAppendEvents\tSetNextDue\tBEGIN+COMMIT\tin Go\t")
	for _, s := range r.sweeps {
		c := s.calls
		perBatch := time.Duration(0)
		if c.batches > 0 {
			perBatch = c.due / time.Duration(c.batches)
		}
		rest := s.took - c.due - c.record - c.deliveries - c.events - c.next - c.tx
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.name, c.batches, ms(c.due), ms(perBatch),
			ms(c.record), ms(c.deliveries), ms(c.events), ms(c.next), ms(c.tx), ms(rest))
	}
	tw.Flush()
	if first := r.sweeps[0]; nf.clients >= 1_000_000 {
		verdict := "met"
		if first.took > sweepBudget {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "Target: the first sweep over %d clients under %s: %s (%s).\n", nf.clients, sweepBudget, verdict, ms(first.took))
	}
	fmt.Fprintf(w, "\nPlan of the due-secrets query at now (EXPLAIN, one batch of %d):\n%s\n", notify.DefaultBatch, indent(r.plan))
	fmt.Fprintf(w, "\nOne batch at now+2d, after the sweeps (EXPLAIN (ANALYZE, BUFFERS), rolled back):\n%s\n", indent(r.analyzed))
}

// spanString formats d in whole days when it is some, else as a duration.
func spanString(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// perSecond formats n over d as a rate.
func perSecond(n int, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(n)/d.Seconds())
}

// indent prefixes each line of s with two spaces.
func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
