package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/errs"
)

// Reconnection backs off from probeMin to probeMax between attempts,
// each delay drawn from its upper half so that many instances that lost
// the database at once do not knock on it in step.
const (
	probeMin = 100 * time.Millisecond
	probeMax = 2 * time.Second
	// heartbeatEvery is how often an idle store checks that the database
	// still answers, so that readiness fails soon after an outage begins
	// even when no request is there to notice it.
	heartbeatEvery = 5 * time.Second
	// defaultConnectTimeout bounds one connection attempt when the URL
	// sets none (pgxpool would wait two minutes for a host that drops
	// packets).
	defaultConnectTimeout = 5 * time.Second
)

// health follows whether the database can be reached. While it cannot,
// the pool makes no connection of its own: every request fails at once
// with errs.ErrUnavailable instead of dialling anew, and one prober
// reconnects with backoff. Without that, each request of a busy server
// dials a database that is not there — a storm of connection attempts
// that can even take the database's own port (a TCP connection to a local
// port from the ephemeral range may connect to itself) and keep it from
// starting again.
//
// The state changes on connection attempts only: a failed attempt (after
// every host of the URL was tried) marks the database down; the prober's
// success marks it up. A query that fails on a connection that broke is
// answered as unavailable but leaves the state alone, since the pool's
// next attempt to connect will tell.
type health struct {
	connConfig *pgx.ConnConfig // what the prober connects with
	now        func() time.Time

	mu      sync.Mutex
	log     *slog.Logger
	down    bool
	since   time.Time // when the current state began
	cause   error     // why it is down
	stopped bool
	wake    chan struct{} // starts the prober
	done    chan struct{} // closed by stop
	wg      sync.WaitGroup
}

func newHealth(cfg *pgx.ConnConfig) *health {
	h := &health{connConfig: cfg, now: time.Now, log: slog.New(slog.DiscardHandler),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.since = h.now()
	return h
}

// errDown is what a request gets while the database is down.
var errDown = fmt.Errorf("postgres: %w (reconnecting)", errs.ErrUnavailable)

// beforeConnect is the pool's BeforeConnect hook: no dial while down.
func (h *health) beforeConnect(context.Context, *pgx.ConnConfig) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return errDown
	}
	return nil
}

// ready returns nil while the database is reachable. It never waits on
// the database.
func (h *health) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return fmt.Errorf("postgres: %w since %s: %v", errs.ErrUnavailable, h.since.UTC().Format(time.RFC3339), h.cause)
	}
	return nil
}

// observe looks at an error the pool returned and marks the database
// down when it says no connection could be made.
func (h *health) observe(err error) {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down || h.stopped {
		return
	}
	h.down, h.since, h.cause = true, h.now(), redact(err)
	h.log.Warn("database unreachable: requests that need it are answered 503 until it is back; reconnecting",
		"err", h.cause)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// redact keeps a connection error's words but not the configuration it
// may print (user and database names are no secret, but a password in a
// keyword string could be).
func redact(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if inner := ce.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// run probes while down and checks a heartbeat while up, until stop.
func (h *health) run(ping func(context.Context) error) {
	h.wg.Go(func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-h.wake:
				h.reconnect()
			case <-t.C:
				if h.ready() == nil {
					ctx, cancel := context.WithTimeout(context.Background(), defaultConnectTimeout)
					h.observe(ping(ctx))
					cancel()
				}
			}
		}
	})
}

// reconnect tries to connect, backing off with jitter, until it can or
// the store closes; then it marks the database up.
func (h *health) reconnect() {
	delay := probeMin
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), defaultConnectTimeout)
		conn, err := pgx.ConnectConfig(ctx, h.connConfig.Copy())
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			h.mu.Lock()
			down := h.now().Sub(h.since)
			h.down, h.since, h.cause = false, h.now(), nil
			h.log.Info("database reachable again", "down_for", down.Round(time.Millisecond).String(), "attempts", attempt)
			h.mu.Unlock()
			return
		}
		h.mu.Lock()
		h.cause = redact(err)
		h.mu.Unlock()
		wait := delay/2 + rand.N(delay/2+1)
		select {
		case <-h.done:
			return
		case <-time.After(wait):
		}
		delay = min(2*delay, probeMax)
	}
}

// stop ends the prober and heartbeat.
func (h *health) stop() {
	h.mu.Lock()
	if !h.stopped {
		h.stopped = true
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// unavailable reports whether err says the database could not be used,
// rather than that it refused the statement: no connection, a connection
// that broke, a server shutting down, starting up, out of connections,
// or a standby that cannot take writes (a failover under way).
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errs.ErrUnavailable) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// The server answered: only these answers mean "not now".
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, crashed, starting
			pe.Code == "53300", // too many connections
			pe.Code == "25006": // read-only transaction: a standby
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// classify marks err as errs.ErrUnavailable when it is one (and tells
// health about failed connection attempts); other errors pass unchanged.
func (h *health) classify(err error) error {
	if err == nil || errors.Is(err, errs.ErrUnavailable) {
		return err
	}
	if !unavailable(err) {
		return err
	}
	h.observe(err)
	return fmt.Errorf("%w: %w", errs.ErrUnavailable, err)
}
