package changes

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Notifier delivers changes as they commit. *postgres.DB is one, through
// PostgreSQL's LISTEN/NOTIFY.
type Notifier interface {
	// ListenChanges calls fn with each change as it commits, and the time
	// it was logged, until ctx ends (returning nil) or the connection is
	// lost (returning why). listening is called once changes committed
	// from then on will be delivered.
	ListenChanges(ctx context.Context, listening func(), fn func(c Change, logged time.Time)) error
}

// Reconnection to the notifications backs off between these bounds.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 5 * time.Second
)

// Follower is the Source for a store that notifies: each change is
// applied as it is notified, within milliseconds of its commit, and the
// Poller still reads the log every Interval. The log is the truth and the
// notifications the fast path: a change whose notification was lost (the
// listening connection dropped, or the change committed while it was
// reconnecting) is applied at the next poll, and a notified change the
// poll reads again is applied twice, which is harmless.
type Follower struct {
	// Poller reads the log. Required; Start it before loading the caches.
	Poller *Poller
	// Notifier delivers changes as they commit. Required.
	Notifier Notifier
	// Logger receives one line each time notifications stop and resume.
	// Nil discards them.
	Logger *slog.Logger
	// Lag, when set, is told how long each notified change took from
	// being logged to being applied here.
	Lag func(time.Duration)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ Source = (*Follower)(nil)

func (f *Follower) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Follower) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run applies notified changes and polls the log until ctx ends. Batches
// are applied one at a time, whichever path brought them.
func (f *Follower) Run(ctx context.Context, a Applier, onErr func(error)) {
	var mu sync.Mutex
	one := ApplierFunc(func(ctx context.Context, b Batch) error {
		mu.Lock()
		defer mu.Unlock()
		return a.Apply(ctx, b)
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { f.Poller.Run(ctx, one, onErr) })
	f.listen(ctx, one, onErr)
}

// listen keeps a listening connection, reconnecting with jittered backoff,
// and logs once when notifications stop and once when they resume.
func (f *Follower) listen(ctx context.Context, a Applier, onErr func(error)) {
	delay, lost := listenRetryMin, false
	for ctx.Err() == nil {
		listening := func() {
			delay = listenRetryMin
			if lost {
				lost = false
				f.logger().Info("change notifications resumed")
			}
		}
		err := f.Notifier.ListenChanges(ctx, listening, func(c Change, logged time.Time) {
			if err := a.Apply(ctx, Batch{Changes: []Change{c}}); err != nil {
				// What the notification said is applied by the next
				// poll's reload instead.
				f.Poller.Resync()
				onErr(err)
				return
			}
			if f.Lag != nil {
				f.Lag(f.now().Sub(logged))
			}
		})
		if ctx.Err() != nil {
			return
		}
		if !lost {
			lost = true
			f.logger().Warn("change notifications lost: other instances' changes reach this one by polling the change log until they are back",
				"poll", f.Poller.interval().String(), "err", err)
		}
		wait := delay/2 + rand.N(delay/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		delay = min(2*delay, listenRetryMax)
	}
}
