package audit

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
)

// DefaultTallyKeys is the number of distinct keys a Tally counts apart
// between two flushes when MaxKeys is zero.
const DefaultTallyKeys = 10_000

// TallyOverflow is the target ID of an event that counts what a full
// Tally could not count apart.
const TallyOverflow = "(other)"

// tallyAddrs is how many distinct source addresses one tallied event
// names.
const tallyAddrs = 5

// tallyBatch bounds the events one write stores, so that a large flush
// does not hold a chain (and, in SQLite, the database) for long.
const tallyBatch = 256

// TallyKey is what one tallied event counts. TenantID, Action,
// TargetType and Reason must be set by the server, never taken from a
// request: the overflow keys are made of them, and only their few values
// keep the overflow bounded. TargetID and SourceAddr may come from the
// request.
type TallyKey struct {
	TenantID   string
	Action     string
	TargetType string
	TargetID   string
	// Reason is why the attempts failed; it is the event's
	// Details["reason"].
	Reason string
	// SourceAddr, when set, counts the attempts from one address apart
	// and is the event's source address. When empty, the event names up
	// to five of the addresses it counted in Details["source_addrs"].
	SourceAddr string
}

// Tally counts failures too frequent to audit one by one (failed client
// authentications, sign-ins refused by a rate limit) and turns each key's
// count into one event per window, so that a flood of attempts grows the
// trail by a bounded number of events. A window runs from the first
// attempt counted after a flush to the next flush, which Run makes every
// interval it is given.
//
// Its memory is bounded: at most MaxKeys keys are counted apart in a
// window; an attempt with a key beyond those is counted in its overflow
// key (TargetID TallyOverflow, no SourceAddr), one per tenant, action,
// target type and reason. Each key keeps at most five addresses.
//
// The zero value is ready to use; it is safe for concurrent use.
type Tally struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxKeys bounds the keys counted apart in a window; 0 means
	// DefaultTallyKeys.
	MaxKeys int

	mu    sync.Mutex
	start time.Time
	// counts holds the window's keys; distinct is how many of them are
	// not overflow keys.
	counts   map[TallyKey]*tallied
	distinct int
}

type tallied struct {
	n     int64
	addrs []string // distinct, at most tallyAddrs, for keys without SourceAddr
}

func (t *Tally) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC()
	}
	return time.Now().UTC()
}

// Add counts one attempt with key k from addr.
func (t *Tally) Add(k TallyKey, addr string) {
	var addrs []string
	if addr != "" {
		addrs = []string{addr}
	}
	t.add(k, 1, addrs, t.now())
}

// add counts n attempts with key k from addrs, the first at at.
func (t *Tally) add(k TallyKey, n int64, addrs []string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts, t.start = make(map[TallyKey]*tallied), at
	} else if at.Before(t.start) {
		t.start = at
	}
	c := t.counts[k]
	if c == nil {
		limit := t.MaxKeys
		if limit <= 0 {
			limit = DefaultTallyKeys
		}
		if o := overflow(k); o == k || t.distinct >= limit {
			k, c = o, t.counts[o]
		} else {
			t.distinct++
		}
		if c == nil {
			c = &tallied{}
			t.counts[k] = c
		}
	}
	c.n += n
	if k.SourceAddr != "" {
		return
	}
	for _, a := range addrs {
		if len(c.addrs) < tallyAddrs && !slices.Contains(c.addrs, a) {
			c.addrs = append(c.addrs, a)
		}
	}
}

// overflow is the key that counts k's attempts once the Tally is full.
func overflow(k TallyKey) TallyKey {
	k.TargetID, k.SourceAddr = TallyOverflow, ""
	return k
}

// Flush closes the window: it turns every key counted since the last
// flush into one event, in order of tenant and key, and stores them
// through write, a batch at a time, each batch in one transaction of its
// own. An event's time is the flush's; Details holds "count", "reason",
// "window_start" (RFC 3339) and, for a key without SourceAddr,
// "source_addrs" (comma-separated). What a write fails to store is
// counted again, for the next flush, and the error returned.
func (t *Tally) Flush(ctx context.Context, write func(context.Context, []*Event) error) error {
	t.mu.Lock()
	counts, start := t.counts, t.start
	t.counts, t.distinct = nil, 0
	t.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	keys := make([]TallyKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	// One order for every flush: appends lock tenants' chains in the same
	// order in every process.
	slices.SortFunc(keys, func(a, b TallyKey) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.Action, b.Action),
			strings.Compare(a.TargetType, b.TargetType), strings.Compare(a.TargetID, b.TargetID),
			strings.Compare(a.Reason, b.Reason), strings.Compare(a.SourceAddr, b.SourceAddr))
	})
	now := t.now()
	for i := 0; i < len(keys); i += tallyBatch {
		batch := keys[i:min(i+tallyBatch, len(keys))]
		events := make([]*Event, len(batch))
		for j, k := range batch {
			events[j] = tallyEvent(k, counts[k], start, now)
		}
		if err := write(ctx, events); err != nil {
			for _, k := range keys[i:] {
				t.add(k, counts[k].n, counts[k].addrs, start)
			}
			return err
		}
	}
	return nil
}

func tallyEvent(k TallyKey, c *tallied, start, now time.Time) *Event {
	actor := authz.Actor{Kind: authz.KindAnonymous, TenantID: k.TenantID, SourceAddr: k.SourceAddr}
	e := New(actor, now, k.Action, k.TargetType, k.TargetID)
	e.Result = ResultFailure
	e.Details = map[string]string{"count": strconv.FormatInt(c.n, 10), "reason": k.Reason,
		"window_start": start.UTC().Format(time.RFC3339)}
	if len(c.addrs) > 0 {
		addrs := slices.Clone(c.addrs)
		slices.Sort(addrs)
		e.Details["source_addrs"] = strings.Join(addrs, ",")
	}
	return e
}

// Run flushes every interval until ctx ends, then once more, so that what
// was counted before a shutdown is stored. Errors go to onErr, if set.
func (t *Tally) Run(ctx context.Context, every time.Duration, write func(context.Context, []*Event) error, onErr func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := t.Flush(ctx, write); err != nil && onErr != nil {
				onErr(err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := t.Flush(fctx, write); err != nil && onErr != nil {
				onErr(err)
			}
			cancel()
			return
		}
	}
}
