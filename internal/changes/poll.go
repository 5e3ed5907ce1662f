package changes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults for Poller's zero-valued fields.
const (
	DefaultInterval = time.Second
	// DefaultGrace is how long a gap is waited for: far longer than any
	// of Latchkey's write transactions lasts between taking a seq and
	// committing.
	DefaultGrace = time.Minute
	// DefaultRetain is how long the log keeps a change.
	DefaultRetain = time.Hour
)

const (
	// pageSize is how many rows one read of the log returns at most.
	pageSize = 1000
	// maxGaps bounds the seqs a cursor waits for.
	maxGaps = 1000
)

// Poller is the Source that reads the change log every Interval. It
// works on every backend; on PostgreSQL a LISTEN/NOTIFY source may later
// wake it sooner.
//
// Set the fields, then call Start (or let Run do it) before the caches
// it keeps up to date are loaded, so that no change committed during the
// load is missed. Poller prunes the log as it goes: every instance may,
// since deleting old rows twice is harmless.
type Poller struct {
	// Log is the change log. Required.
	Log Log
	// Interval is how often Run polls. Zero means DefaultInterval.
	Interval time.Duration
	// Grace is how long a seq missing below seen ones is asked for
	// before it is given up. Zero means DefaultGrace.
	Grace time.Duration
	// Retain is how long the log keeps a change. A poller that has not
	// read the log for half of it asks for a Resync, since changes it
	// needs may have been pruned. Zero means DefaultRetain.
	Retain time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives given-up gaps at debug level, and one line each
	// when Step starts failing and when it succeeds again. Nil discards
	// them.
	Logger *slog.Logger

	mu        sync.Mutex // serializes Start, Poll, Step and Prune
	started   bool
	cur       cursor
	resync    bool      // the next batch must be a Resync
	lastRead  time.Time // the last successful read of the log
	lastPrune time.Time
	// synced is when the caches last matched the log: Start, or the
	// start of the last Step that succeeded. stale is set while Steps
	// fail.
	synced time.Time
	stale  bool
}

var _ Source = (*Poller)(nil)

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Poller) interval() time.Duration {
	if p.Interval > 0 {
		return p.Interval
	}
	return DefaultInterval
}

func (p *Poller) grace() time.Duration {
	if p.Grace > 0 {
		return p.Grace
	}
	return DefaultGrace
}

func (p *Poller) retain() time.Duration {
	if p.Retain > 0 {
		return p.Retain
	}
	return DefaultRetain
}

func (p *Poller) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Start places the poller at the end of the log: the changes it delivers
// from now on are those committed after Start (and any committed late
// with a seq among the latest ones).
func (p *Poller) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.startLocked(ctx); err != nil {
		return err
	}
	p.synced = p.now()
	return nil
}

func (p *Poller) startLocked(ctx context.Context) error {
	if p.Log == nil {
		return errors.New("changes: Poller.Log is nil")
	}
	latest, err := p.Log.LatestChangeSeqs(ctx, maxGaps)
	if err != nil {
		return fmt.Errorf("changes: reading the end of the change log: %w", err)
	}
	now := p.now()
	p.cur = cursor{maxGaps: maxGaps}
	p.cur.reset(latest, now)
	p.started, p.resync, p.lastRead = true, false, now
	if p.lastPrune.IsZero() {
		p.lastPrune = now
	}
	return nil
}

// Poll reads the log once and returns what is new. A poller that was not
// started, or that may have missed changes, starts afresh and returns a
// Resync batch.
func (p *Poller) Poll(ctx context.Context) (Batch, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pollLocked(ctx)
}

func (p *Poller) pollLocked(ctx context.Context) (Batch, error) {
	now := p.now()
	if !p.started || p.resync || now.Sub(p.lastRead) > p.retain()/2 {
		if err := p.startLocked(ctx); err != nil {
			p.resync = true
			return Batch{}, err
		}
		return Batch{Resync: true}, nil
	}
	var b Batch
	for {
		rows, err := p.Log.Changes(ctx, p.cur.high, p.cur.missing(), pageSize)
		if err != nil {
			// What was taken is lost with b: ask for a Resync instead.
			p.resync = p.resync || len(b.Changes) > 0
			return Batch{}, fmt.Errorf("changes: reading the change log: %w", err)
		}
		fresh, overflow := p.cur.take(rows, now)
		if overflow {
			p.logger().Warn("changes: too many changes missing from the log; reloading everything")
			if err := p.startLocked(ctx); err != nil {
				p.resync = true
				return Batch{}, err
			}
			return Batch{Resync: true}, nil
		}
		b.Changes = append(b.Changes, fresh...)
		if len(rows) < pageSize {
			break
		}
	}
	if n := p.cur.expire(now, p.grace()); n > 0 {
		p.logger().Debug("changes: gave up waiting for missing changes", "count", n, "grace", p.grace())
	}
	p.lastRead = now
	return b, nil
}

// Step polls once and applies what is new to a. When a fails, the next
// batch is a Resync, so nothing it left unapplied is lost.
//
// While Steps fail (the database is away, most often), the caches stay as
// the last Step left them, and the revocation list among them is what
// introspection and bearer checks go on answering with: Step logs that
// once at warning level when it first fails, with the time the caches
// last matched the log, and once when a Step succeeds again.
func (p *Poller) Step(ctx context.Context, a Applier) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.now()
	err := p.stepLocked(ctx, a)
	switch {
	case err == nil:
		if p.stale {
			p.logger().Info("the change log is read again: the revocation list is current",
				"stale_for", start.Sub(p.synced).Round(time.Millisecond).String())
		}
		p.stale, p.synced = false, start
	case !p.stale && ctx.Err() == nil:
		p.stale = true
		p.logger().Warn("the change log cannot be read: introspection answers with the revocation list last loaded (stale), "+
			"and changes other instances make are not seen, until it can",
			"loaded_at", p.synced, "err", err)
	}
	return err
}

func (p *Poller) stepLocked(ctx context.Context, a Applier) error {
	b, err := p.pollLocked(ctx)
	if err != nil {
		return err
	}
	if len(b.Changes) == 0 && !b.Resync {
		return nil
	}
	if err := a.Apply(ctx, b); err != nil {
		p.resync = true
		return fmt.Errorf("changes: applying changes: %w", err)
	}
	return nil
}

// Resync makes the next batch a Resync: a change delivered some other way
// (a notification) could not be applied.
func (p *Poller) Resync() {
	p.mu.Lock()
	p.resync = true
	p.mu.Unlock()
}

// Prune deletes changes older than Retain, at most once per quarter of
// Retain.
func (p *Poller) Prune(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.lastPrune) < p.retain()/4 {
		return nil
	}
	if err := p.Log.PruneChanges(ctx, now.Add(-p.retain())); err != nil {
		return fmt.Errorf("changes: pruning the change log: %w", err)
	}
	p.lastPrune = now
	return nil
}

// Run calls Step and Prune every Interval until ctx ends.
func (p *Poller) Run(ctx context.Context, a Applier, onErr func(error)) {
	t := time.NewTicker(p.interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := errors.Join(p.Step(ctx, a), p.Prune(ctx))
			if err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
