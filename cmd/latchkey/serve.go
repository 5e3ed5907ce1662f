package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/console"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/leak"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// keyRetainMargin keeps a retired signing key published a little longer
// than the longest token it can have signed, for clock skew and caches.
const keyRetainMargin = time.Hour

// pruneExpired deletes expired opaque tokens, revocations, authorization
// codes, refresh tokens, sessions and failure counts every interval until
// ctx ends. It also reloads the revocation list whole, dropping expired
// entries from memory, and so bounds how long a revocation whose
// change-log row was given up can go unseen.
func pruneExpired(ctx context.Context, st store.Store, revoked *token.Revocations, every time.Duration,
	now func() time.Time, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			at := now()
			err := errors.Join(st.PruneTokens(ctx, at), st.PruneGrants(ctx, at), st.PruneSessions(ctx, at),
				st.PruneIdempotency(ctx, at), st.PruneFailures(ctx, at), revoked.Load(ctx, st, at))
			if err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

// serveOptions are serve's own settings.
type serveOptions struct {
	addr, metricsAddr                                        string
	shutdownTimeout, keyRotation, usageFlush, cacheTTL, poll time.Duration
	sessionLifetime, consoleIdle, notifyInterval             time.Duration
	mail                                                     mailSettings
	failLimit                                                int
	proxies                                                  string
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		Long: `Run the authorization server. On a new database it first applies the
migrations and provisions a default tenant, a super admin and the admin API
client; generated credentials are printed once, to a terminal only.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serve(cmd.Context(), o) },
	}
	fs := cmd.Flags()
	stringSetting(fs, &o.addr, "addr", "LATCHKEY_ADDR", defaultAddr, "address to listen on")
	stringSetting(fs, &o.metricsAddr, "metrics-addr", "LATCHKEY_METRICS_ADDR", "",
		"address to serve /metrics on, apart from --addr (empty: on --addr; off: nowhere)")
	durationSetting(fs, &o.shutdownTimeout, "shutdown-timeout", "LATCHKEY_SHUTDOWN_TIMEOUT", 15*time.Second, "how long to drain requests on SIGTERM")
	durationSetting(fs, &o.keyRotation, "key-rotation", "LATCHKEY_KEY_ROTATION", 30*24*time.Hour, "how often to start signing with a new key")
	signingAlgorithm(fs, &a.cfg)
	durationSetting(fs, &o.usageFlush, "usage-flush", "LATCHKEY_USAGE_FLUSH", 30*time.Second, "how often last-used times are written")
	durationOrOffSetting(fs, &o.cacheTTL, "client-cache-ttl", "LATCHKEY_CLIENT_CACHE_TTL", 5*time.Second, "how long a change made by another process may take to reach this one's client cache (0, off or negative: no cache)")
	durationSetting(fs, &o.poll, "change-poll", "LATCHKEY_CHANGE_POLL", time.Second, "how often to check whether another process changed clients or revoked tokens")
	durationSetting(fs, &o.sessionLifetime, "session-lifetime", "LATCHKEY_SESSION_LIFETIME", account.DefaultSessionTTL,
		"how long a sign-in to the account pages lasts before the password is asked again")
	durationSetting(fs, &o.consoleIdle, "console-idle-timeout", "LATCHKEY_CONSOLE_IDLE_TIMEOUT", console.DefaultConsoleIdle,
		"how long a console session may go without a request before it ends (at least "+console.MinConsoleIdle.String()+")")
	fs.IntVar(&o.failLimit, "auth-failure-limit", 20, "failed client authentications per client ID or address per minute before 429 (0: no limit)")
	setting(fs, "auth-failure-limit", "LATCHKEY_AUTH_FAILURE_LIMIT")
	stringSetting(fs, &o.proxies, "trusted-proxies", "LATCHKEY_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed")
	durationSetting(fs, &o.notifyInterval, "notify-interval", "LATCHKEY_NOTIFY_INTERVAL", 15*time.Minute,
		"how often to sweep for due secret expiry warnings")
	mailFlags(fs, &o.mail)
	completeValues(cmd, "signing-algorithm", token.ES256, token.EdDSA, token.RS256)
	return cmd
}

func (a *app) serve(ctx context.Context, o serveOptions) error {
	c, log := &a.cfg, a.log
	defer limitMemory(a.env, log)()
	if err := checkSigningAlgorithm(c.signingAlg); err != nil {
		return err
	}
	if o.failLimit < 0 {
		return usageError{msg: fmt.Sprintf("the auth failure limit %d (--auth-failure-limit or LATCHKEY_AUTH_FAILURE_LIMIT): use 0 (no limit) or more", o.failLimit)}
	}
	if o.consoleIdle < console.MinConsoleIdle {
		return usageError{msg: fmt.Sprintf("the console idle timeout %s (--console-idle-timeout or LATCHKEY_CONSOLE_IDLE_TIMEOUT): use %s or more",
			o.consoleIdle, console.MinConsoleIdle)}
	}
	if o.notifyInterval < time.Minute {
		return usageError{msg: fmt.Sprintf("the notify interval %s (--notify-interval or LATCHKEY_NOTIFY_INTERVAL): use 1m or more", o.notifyInterval)}
	}
	trusted, err := parsePrefixes(o.proxies)
	if err != nil {
		return err
	}
	// Listen first: an issuer that was not given follows the port the
	// server really listens on (":0" included).
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	listening := ln.Addr().String()
	if a.issuerDefaulted {
		c.issuer = defaultIssuer(listening)
	}
	if _, port, _ := net.SplitHostPort(listening); issuerPort(c.issuer) != port && len(trusted) == 0 {
		log.Warn("the issuer's port is not the port this server listens on, and no --trusted-proxies are set: "+
			"clients are told to connect where nothing may answer; set --issuer to the URL clients use",
			"issuer", c.issuer, "addr", listening)
	}
	st, res, err := openStore(ctx, c, a.env)
	if err != nil {
		return err
	}
	defer st.Close()
	if h, ok := st.(store.Health); ok {
		h.LogTo(log)
	}
	// Take the change log's position before loading what it keeps up to
	// date, so that no change committed during the loads is missed.
	feed := &changes.Poller{Log: st, Interval: o.poll, Logger: log}
	if err := feed.Start(ctx); err != nil {
		return err
	}
	keys, kek, err := signingKeys(ctx, c, a.env, st, log, o.keyRotation)
	if err != nil {
		return err
	}
	requests, err := authreq.NewSealer(kek, nil, nil)
	if err != nil {
		return err
	}
	revoked := &token.Revocations{}
	if err := revoked.Load(ctx, st, time.Now()); err != nil {
		return err
	}
	var m *metrics.Metrics
	if o.metricsAddr != metricsOff {
		m = newMetrics(st)
	}
	usage := &client.UsageRecorder{Repo: st}
	auth := &client.Authenticator{Repo: st, TTL: o.cacheTTL}
	if m != nil {
		auth.Metrics = m
	}
	// Each tenant's roles, built in and custom, kept like the clients.
	catalogs := &authz.Catalogs{Source: st, TTL: o.cacheTTL}
	// Failed authentications are padded to argon2id's time from the
	// first request on, so none can tell unknown client IDs apart.
	auth.Calibrate()
	log.Debug("timed argon2id", "pad", auth.Pad())
	// A revocation made here (a user disabled, an application's access
	// revoked) takes effect in this process at once; others learn of it
	// from the change log.
	addRevoked := func(rs []token.Revocation) {
		for _, rv := range rs {
			revoked.Add(rv)
		}
	}
	sessions := &account.Sessions{Repo: st, TTL: o.sessionLifetime, OnRevoke: addRevoked}
	pages := &lazySessions{}
	// Failures too many to audit one by one are counted and written as
	// one event per kind a minute. Two tallies, so that a spray of client
	// IDs cannot push refused sign-ins into the overflow.
	authFailures, refusedSignIns := &audit.Tally{}, &audit.Tally{}
	// Every instance on the database counts failures into one pool, so
	// a guesser spreading tries over them meets one limit.
	failures := &ratelimit.Pool{Store: st}
	proto := oauth.New(oauth.Config{
		Issuer: c.issuer, Auth: auth, Usage: usage, RetiringUse: &client.RetiringUseWarner{Repo: st}, Keys: keys,
		Tokens: st, Revoked: revoked, Accounts: st, Logger: log, FailureThreshold: o.failLimit, TrustedProxies: trusted,
		Sessions: pages, Requests: requests, GrantStore: st, Consents: sessions, AuthFailures: authFailures,
		Catalogs: catalogs, Metrics: m,
		SharedFailures: failures,
	})
	// The admin API and the console share one set of domain services.
	clients := &client.Service{Repo: st, OnChange: auth.Invalidate}
	users := &account.Users{Repo: st, OnRevoke: addRevoked}
	roles := &account.Roles{Repo: st, OnChange: catalogs.Invalidate}
	divisions := &account.Divisions{Repo: st}
	notifier, err := newNotifier(c.issuer, o.mail, st, kek, clients, log)
	if err != nil {
		return err
	}
	notifier.sweep.Metrics, notifier.dispatch.Metrics = m, m
	if notifier.smtp == "" {
		log.Info("no SMTP server configured (--smtp-url, LATCHKEY_SMTP_URL): expiry warning mails wait in the outbox")
	}
	bulkJobs, bulkRunner, err := newBulk(st, kek, clients)
	if err != nil {
		return err
	}
	consoleAdmin := &console.Admin{Clients: clients, Users: users, Roles: roles, Divisions: divisions,
		Catalogs: catalogs, Audit: st, Chain: st, Notify: notifier.service, MailLink: notifier.dispatch.Link}
	// Second factors: TOTP seeds and pending sign-ins are sealed under a
	// key of their own, derived like the others from the KEK.
	mfaKey, err := hkdf.Key(sha256.New, kek, nil, "latchkey second factors", 32)
	if err != nil {
		return err
	}
	accountPages, err := console.New(console.Config{
		Sessions: sessions, Accounts: st, Requests: requests, Logger: log, TrustedProxies: trusted, Refused: refusedSignIns,
		ConsoleIdle: o.consoleIdle, SharedFailures: failures,
		MFA: &account.MFA{Repo: st, Key: mfaKey},
		Client: func(ctx context.Context, id string) (*client.Client, error) {
			c, _, err := auth.Current(ctx, id)
			return c, err
		},
		Tenant: proto.Tenant,
		Admin:  consoleAdmin,
	})
	if err != nil {
		return err
	}
	pages.Sessions = accountPages
	adminAPI := &admin.API{
		Clients: clients, Users: users, Bulk: bulkJobs,
		Tenants: &account.Tenants{Repo: st}, Roles: roles, Catalogs: catalogs, Divisions: divisions,
		Notify: notifier.service, MailLink: notifier.dispatch.Link,
		Accounts: st, Audit: st, Idempotency: st,
		Authenticate: bearerFor(proto), Issuer: c.issuer, TrustedProxies: trusted, Logger: log,
		// A source guessing tokens is refused after 20 failures a minute.
		AuthFailures: ratelimit.New(20, time.Minute),
	}
	if adminAPI.RequestKey, err = hkdf.Key(sha256.New, kek, nil, "latchkey admin API idempotency", 32); err != nil {
		return err
	}
	// Secret scanners report leaked secrets here; 60 reports a minute from
	// one address is more than any scanner sends.
	leaks := &leak.Handler{Reporter: clients, TrustedProxies: trusted, Logger: log,
		Limit: ratelimit.New(60, time.Minute).Share(failures, "leak_report")}
	mounts := []func(*http.ServeMux){proto.Mount, accountPages.Mount, adminAPI.Mount, leaks.Mount}
	var metricsSrv *http.Server
	switch o.metricsAddr {
	case metricsOff:
	case "":
		mounts = append(mounts, func(mux *http.ServeMux) { mux.Handle("GET /metrics", m.Handler()) })
	default:
		if metricsSrv, err = metricsListener(o.metricsAddr, m, log); err != nil {
			return err
		}
		defer metricsSrv.Close()
	}
	handler := server.New(server.Config{DB: st, Logger: log, Mount: mounts, Wrap: m.Middleware})

	// Background work stops only after the server has drained, so the
	// last uses are flushed before the store closes.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }()
	onErr := func(what string) func(error) {
		return func(err error) {
			if errors.Is(err, errs.ErrUnavailable) {
				// The store logged the outage once; each job that waits
				// for the database need not say so every round.
				log.Debug(what, "err", err)
				return
			}
			log.Warn(what, "err", err)
		}
	}
	// Keys are refreshed every minute, so that a next key is promoted
	// soon after it has been published long enough.
	wg.Go(func() { keys.Run(bg, time.Minute) })
	wg.Go(func() { usage.Run(bg, o.usageFlush, onErr("flush last-used times")) })
	caches := &changes.Caches{Clients: auth, Revocations: revoked, Tokens: st,
		ReloadKeys: keys.Reload, Catalogs: catalogs, Lockouts: failures}
	var follow changes.Source = feed
	if n, ok := st.(changes.Notifier); ok {
		// PostgreSQL notifies changes as they commit; the poll stays as
		// the safety net.
		f := &changes.Follower{Poller: feed, Notifier: n, Logger: log}
		if m != nil {
			f.Lag = m.ChangeLag
		}
		follow = f
	}
	wg.Go(func() { follow.Run(bg, caches, onErr("follow changes")) })
	wg.Go(func() { notifier.run(bg, o.notifyInterval, log) })
	if bulkRunner != nil {
		bulkRunner.Log = log
		wg.Go(func() { bulkRunner.Run(bg) })
	}
	wg.Go(func() { pruneExpired(bg, st, revoked, time.Hour, time.Now, onErr("prune expired tokens")) })
	appendAudit := func(ctx context.Context, es []*audit.Event) error { return account.AppendAudit(ctx, st, es) }
	wg.Go(func() { authFailures.Run(bg, time.Minute, appendAudit, onErr("audit failed client authentications")) })
	wg.Go(func() { refusedSignIns.Run(bg, time.Minute, appendAudit, onErr("audit refused sign-ins")) })
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", listening, "issuer", c.issuer)
	a.firstStart(res, c.issuer)
	if a.ready != nil {
		a.ready <- listening
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if metricsSrv != nil {
		// Scrapes may watch the drain; they stop with it.
		defer metricsSrv.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore opens the database, migrates it and provisions the defaults of
// a first start. The result says what was provisioned, with any generated
// credentials, for firstStart to show.
func openStore(ctx context.Context, c *config, e env) (store.Store, *provision.Result, error) {
	st, err := store.Open(ctx, c.database)
	if err != nil {
		return nil, nil, err
	}
	res, err := provision.Run(ctx, st, provision.Params{
		Issuer:            c.issuer,
		AdminEmail:        e.lookup("LATCHKEY_ADMIN_EMAIL"),
		AdminPassword:     e.lookup("LATCHKEY_ADMIN_PASSWORD"),
		AdminClientSecret: e.lookup("LATCHKEY_ADMIN_CLIENT_SECRET"),
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, res, nil
}

// lazySessions lets the protocol server and the account pages be built
// in either order: each needs the other (the pages resolve tenants through
// the protocol server, which asks the pages who is signed in).
type lazySessions struct{ oauth.Sessions }

// provisioned reports whether a first start made anything.
func provisioned(r *provision.Result) bool {
	return r.CreatedTenant || r.CreatedAdmin || r.AdminClient || r.ConsoleClient || r.CLIClient
}

// firstStart tells the operator what a first start made and what to do
// next. The banner goes to an interactive terminal only (standard output,
// else standard error), never into a log: it may hold generated
// credentials, and a log stream is often collected and kept. With no
// terminal, one log record says what was made and how to get credentials.
func (a *app) firstStart(r *provision.Result, baseURL string) {
	if !provisioned(r) {
		return
	}
	if !r.CreatedTenant && !r.CreatedAdmin && !r.AdminClient && !r.ConsoleClient {
		// A database from an earlier release gained a default client it
		// lacked: no first start, and nothing secret to show.
		a.log.Info("provisioned a default client this release adds", "client_id", provision.CLIClientID)
		return
	}
	var w io.Writer
	switch {
	case a.terminal(a.stdout):
		w = a.stdout
	case a.terminal(a.stderr):
		w = a.stderr
	}
	if w == nil {
		generated := r.AdminPassword != "" || r.AdminClientSecret != ""
		a.log.Info("first start: provisioned defaults", "tenant", r.Tenant.ID, "admin", r.Admin.Email,
			"credentials_shown", false)
		if generated {
			a.log.Warn("first start: generated credentials are printed only to a terminal, and none is attached; " +
				"set LATCHKEY_ADMIN_PASSWORD and LATCHKEY_ADMIN_CLIENT_SECRET before a first start to choose them, " +
				"or issue a new admin API secret with: latchkey clients rotate-secret " + provision.AdminClientID + " --confirm" +
				", and set the admin's password with: latchkey users set-password " + r.Admin.Email)
		}
		return
	}
	a.log.Info("first start: provisioned defaults", "tenant", r.Tenant.ID, "admin", r.Admin.Email)
	printProvisioned(w, r, baseURL, a.cfg.database != defaultDatabase)
}

func printProvisioned(w io.Writer, r *provision.Result, baseURL string, otherDatabase bool) {
	fmt.Fprintf(w, "Latchkey first start: provisioned tenant %q.\n", r.Tenant.Name)
	if r.CreatedAdmin {
		fmt.Fprintf(w, "  Super admin:        %s\n", r.Admin.Email)
		if r.AdminPassword != "" {
			fmt.Fprintf(w, "  Password:           %s\n", r.AdminPassword)
		}
	}
	if r.AdminClient {
		fmt.Fprintf(w, "  Admin API client:   %s\n", provision.AdminClientID)
		if r.AdminClientSecret != "" {
			fmt.Fprintf(w, "  Client secret:      %s\n", r.AdminClientSecret)
		}
	}
	if r.ConsoleClient {
		fmt.Fprintf(w, "  Console client:     %s (public, PKCE)\n", provision.ConsoleClientID)
	}
	if r.CLIClient {
		fmt.Fprintf(w, "  CLI client:         %s (public, PKCE, loopback redirect)\n", provision.CLIClientID)
	}
	if r.AdminPassword != "" || r.AdminClientSecret != "" {
		fmt.Fprintln(w, "These credentials are shown once and are stored only as hashes: save them now.")
	}
	fmt.Fprintln(w, "\nNext:")
	if baseURL != "" {
		fmt.Fprintf(w, "  Discovery:          %s/.well-known/oauth-authorization-server\n", baseURL)
	}
	if r.CreatedAdmin {
		fmt.Fprintf(w, "  Set a password:     latchkey users set-password %s   (asked twice on a terminal, or read from standard input)\n", r.Admin.Email)
	}
	fmt.Fprintln(w, `  Create a client:    latchkey clients create --name "My service" --grant-type client_credentials`)
	token := "latchkey clients token CLIENT_ID"
	if baseURL != "" && baseURL != defaultIssuer(defaultAddr) {
		token += " --issuer " + baseURL
	}
	fmt.Fprintf(w, "  Get a token:        %s   (the secret on standard input)\n", token)
	if otherDatabase {
		fmt.Fprintln(w, "  Give those commands this server's --database (or LATCHKEY_DATABASE_URL).")
	}
}

// bearerFor lets the admin API check tokens as the protocol does: by the
// tenant's issuer and keys, the revocation list and the client cache.
func bearerFor(proto *oauth.Server) admin.Authenticator {
	return func(ctx context.Context, slug, tok string) (*admin.Token, error) {
		b, err := proto.Bearer(ctx, slug, tok)
		if b == nil || err != nil {
			return nil, err
		}
		return &admin.Token{TenantID: b.Tenant.ID, DefaultTenant: b.Tenant.Default, Subject: b.Claims.Subject, ClientID: b.Claims.ClientID,
			Scopes: strings.Fields(b.Claims.Scope), Client: b.Client}, nil
	}
}
