package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/provision"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// keyRetainMargin keeps a retired signing key published a little longer
// than the longest token it can have signed, for clock skew and caches.
const keyRetainMargin = time.Hour

// pruneExpired deletes expired opaque tokens and revocations every
// interval until ctx ends. It also reloads the revocation list whole,
// dropping expired entries from memory, and so bounds how long a
// revocation whose change-log row was given up can go unseen.
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
			if err := errors.Join(st.PruneTokens(ctx, at), revoked.Load(ctx, st, at)); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

func serve(ctx context.Context, args []string, e env, stdout, stderr io.Writer, ready chan<- string) error {
	var c config
	var addr string
	var shutdownTimeout, keyRotation, usageFlush, cacheTTL, changePoll time.Duration
	var failLimit int
	var proxies string
	f := newFlags("serve", e, stderr)
	f.common(&c)
	f.str(&addr, "addr", "LATCHKEY_ADDR", ":8080", "address to listen on")
	f.duration(&shutdownTimeout, "shutdown-timeout", "LATCHKEY_SHUTDOWN_TIMEOUT", 15*time.Second, "how long to drain requests on SIGTERM")
	f.duration(&keyRotation, "key-rotation", "LATCHKEY_KEY_ROTATION", 30*24*time.Hour, "how often to start signing with a new key")
	f.signingAlgorithm(&c)
	f.duration(&usageFlush, "usage-flush", "LATCHKEY_USAGE_FLUSH", 30*time.Second, "how often last-used times are written")
	f.durationOrOff(&cacheTTL, "client-cache-ttl", "LATCHKEY_CLIENT_CACHE_TTL", 5*time.Second, "how long a change made by another process may take to reach this one's client cache (0, off or negative: no cache)")
	f.duration(&changePoll, "change-poll", "LATCHKEY_CHANGE_POLL", time.Second, "how often to check whether another process changed clients or revoked tokens")
	f.integer(&failLimit, "auth-failure-limit", "LATCHKEY_AUTH_FAILURE_LIMIT", 20, "failed client authentications per client ID or address per minute before 429 (0: no limit)")
	f.str(&proxies, "trusted-proxies", "LATCHKEY_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed")
	if _, err := f.parseArgs(args); err != nil {
		return err
	}
	if err := checkSigningAlgorithm(c.signingAlg); err != nil {
		return err
	}
	trusted, err := parsePrefixes(proxies)
	if err != nil {
		return err
	}
	log, err := c.setup(stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, &c, e, stdout, log)
	if err != nil {
		return err
	}
	defer st.Close()
	// Take the change log's position before loading what it keeps up to
	// date, so that no change committed during the loads is missed.
	feed := &changes.Poller{Log: st, Interval: changePoll, Logger: log}
	if err := feed.Start(ctx); err != nil {
		return err
	}
	keys, _, err := signingKeys(ctx, &c, e, st, log, keyRotation)
	if err != nil {
		return err
	}
	revoked := &token.Revocations{}
	if err := revoked.Load(ctx, st, time.Now()); err != nil {
		return err
	}
	usage := &client.UsageRecorder{Repo: st}
	auth := &client.Authenticator{Repo: st, TTL: cacheTTL}
	// Failed authentications are padded to argon2id's time from the
	// first request on, so none can tell unknown client IDs apart.
	auth.Calibrate()
	log.Debug("timed argon2id", "pad", auth.Pad())
	proto := oauth.New(oauth.Config{
		Issuer: c.issuer, Auth: auth, Usage: usage, Keys: keys,
		Tokens: st, Revoked: revoked, Accounts: st, Logger: log, FailureThreshold: failLimit, TrustedProxies: trusted,
	})
	handler := server.New(server.Config{DB: st, Logger: log, Mount: []func(*http.ServeMux){proto.Mount}})

	// Background work stops only after the server has drained, so the
	// last uses are flushed before the store closes.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }()
	onErr := func(what string) func(error) {
		return func(err error) { log.Warn(what, "err", err) }
	}
	// Keys are refreshed every minute, so that a next key is promoted
	// soon after it has been published long enough.
	wg.Go(func() { keys.Run(bg, time.Minute) })
	wg.Go(func() { usage.Run(bg, usageFlush, onErr("flush last-used times")) })
	caches := &changes.Caches{Clients: auth, Revocations: revoked, Tokens: st,
		ReloadKeys: keys.Reload}
	wg.Go(func() { feed.Run(bg, caches, onErr("follow changes")) })
	wg.Go(func() { pruneExpired(bg, st, revoked, time.Hour, time.Now, onErr("prune expired tokens")) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "issuer", c.issuer)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore opens the database, migrates it and provisions the defaults of
// a first start, printing any generated credentials once to stdout (never to
// the log).
func openStore(ctx context.Context, c *config, e env, stdout io.Writer, log *slog.Logger) (store.Store, error) {
	st, err := store.Open(ctx, c.database)
	if err != nil {
		return nil, err
	}
	res, err := provision.Run(ctx, st, provision.Params{
		Issuer:            c.issuer,
		AdminEmail:        e.lookup("LATCHKEY_ADMIN_EMAIL"),
		AdminPassword:     e.lookup("LATCHKEY_ADMIN_PASSWORD"),
		AdminClientSecret: e.lookup("LATCHKEY_ADMIN_CLIENT_SECRET"),
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	if res.CreatedTenant || res.CreatedAdmin || res.AdminClient || res.ConsoleClient {
		log.Info("first start: provisioned defaults", "tenant", res.Tenant.ID, "admin", res.Admin.Email)
		printProvisioned(stdout, res)
	}
	return st, nil
}

func printProvisioned(w io.Writer, r *provision.Result) {
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
	if r.AdminPassword != "" || r.AdminClientSecret != "" {
		fmt.Fprintln(w, "These credentials are shown once and are stored only as hashes: save them now.")
	}
}
