package client

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
)

func subtleEqual(a, b [sha256.Size]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// UsageRecorder coalesces what clients do on the hot path, in memory, and
// writes it in batches, so that authenticating a client, authorizing it or
// issuing it a token costs no database write: last-used times (Record),
// the latest authorization (RecordAuthorization), and the latest token
// issued with the count of tokens per client and UTC day (RecordToken).
// Of several observations of one kind between flushes only the latest is
// kept; counts add up. It is safe for concurrent use.
type UsageRecorder struct {
	Repo Repository

	mu     sync.Mutex
	uses   map[[2]string]use
	auths  map[string]Authorization
	tokens map[string]Issue
	// counts are the tokens issued since the last flush. The spares are
	// maps of an earlier flush, emptied, for the next interval: the token
	// path allocates nothing once the maps have grown to the traffic.
	counts, spare map[clientDay]dayTokens
	spareTokens   map[string]Issue
}

// clientDay is one client's UTC day (a unixDay).
type clientDay struct {
	client string
	day    int64
}

// dayTokens is what a clientDay counted: the tokens, and the client's
// tenant and division at the latest of them.
type dayTokens struct {
	tenant, division string
	tokens           int64
}

// use is the latest use of a client and secret: when, and from where.
type use struct {
	at   time.Time
	addr string
}

// Record notes that a client (and secret, if any) was used at t from the
// source address addr ("" when unknown); the latest use is kept, with its
// address.
func (u *UsageRecorder) Record(clientID, secretID, addr string, t time.Time) {
	k := [2]string{clientID, secretID}
	u.mu.Lock()
	if u.uses == nil {
		u.uses = make(map[[2]string]use)
	}
	if t.After(u.uses[k].at) {
		u.uses[k] = use{at: t, addr: addr}
	}
	u.mu.Unlock()
}

// RecordAuthorization notes a client's authorization by a user; the
// latest (by a.At) is kept.
func (u *UsageRecorder) RecordAuthorization(clientID string, a Authorization) {
	u.mu.Lock()
	if u.auths == nil {
		u.auths = make(map[string]Authorization)
	}
	if old, ok := u.auths[clientID]; !ok || a.At.After(old.At) {
		u.auths[clientID] = a
	}
	u.mu.Unlock()
}

// RecordToken notes that a token was issued to client c by grant g at at:
// the latest issue is kept, and the token is counted in c's UTC day of at.
// It costs a map update under a mutex, and no allocation once c has been
// counted that day.
func (u *UsageRecorder) RecordToken(c *Client, g GrantType, at time.Time) {
	k := clientDay{client: c.ID, day: unixDay(at)}
	u.mu.Lock()
	u.keepIssue(c.ID, Issue{At: at, Grant: g})
	if u.counts == nil {
		u.counts = make(map[clientDay]dayTokens)
	}
	d := u.counts[k]
	d.tenant, d.division = c.TenantID, c.DivisionID
	d.tokens++
	u.counts[k] = d
	u.mu.Unlock()
}

// keepIssue keeps is as the client's latest issue unless a later one is
// kept. u.mu must be held.
func (u *UsageRecorder) keepIssue(clientID string, is Issue) {
	if u.tokens == nil {
		u.tokens = make(map[string]Issue)
	}
	if old, ok := u.tokens[clientID]; !ok || is.At.After(old.At) {
		u.tokens[clientID] = is
	}
}

// Flush writes what is pending: the uses through RecordUse, the
// authorizations and tokens through RecordActivity, then the token counts
// through AddTokenCounts. What a write fails to store is kept for the
// next flush (keeping the later observation where a newer one arrived
// meanwhile, and adding counts to those counted meanwhile, so none is
// lost or counted twice); the failures are returned joined.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	uses, auths := u.uses, u.auths
	u.uses, u.auths = nil, nil
	var tokens map[string]Issue
	if len(u.tokens) > 0 {
		tokens, u.tokens, u.spareTokens = u.tokens, u.spareTokens, nil
	}
	var counts map[clientDay]dayTokens
	if len(u.counts) > 0 {
		counts, u.counts, u.spare = u.counts, u.spare, nil
	}
	u.mu.Unlock()
	var errs []error
	if len(uses) > 0 {
		batch := make([]Use, 0, len(uses))
		for k, us := range uses {
			batch = append(batch, Use{ClientID: k[0], SecretID: k[1], At: us.at, Addr: us.addr})
		}
		if err := u.Repo.RecordUse(ctx, batch); err != nil {
			for k, us := range uses {
				u.Record(k[0], k[1], us.addr, us.at)
			}
			errs = append(errs, err)
		}
	}
	if len(auths) > 0 || len(tokens) > 0 {
		acts := make([]Activity, 0, len(auths)+len(tokens))
		index := make(map[string]int, len(auths)+len(tokens))
		act := func(id string) *Activity {
			i, ok := index[id]
			if !ok {
				i = len(acts)
				index[id] = i
				acts = append(acts, Activity{ClientID: id})
			}
			return &acts[i]
		}
		for id, a := range auths {
			act(id).Authorization = &a
		}
		for id, t := range tokens {
			act(id).Token = &t
		}
		err := u.Repo.RecordActivity(ctx, acts)
		if err != nil {
			for id, a := range auths {
				u.RecordAuthorization(id, a)
			}
			errs = append(errs, err)
		}
		u.mu.Lock()
		if err != nil {
			for id, t := range tokens {
				u.keepIssue(id, t)
			}
		}
		if tokens != nil && u.spareTokens == nil {
			clear(tokens)
			u.spareTokens = tokens
		}
		u.mu.Unlock()
	}
	if len(counts) > 0 {
		if err := u.flushCounts(ctx, counts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// flushCounts adds counts through AddTokenCounts. On success the map is
// emptied and kept as the spare; on failure its counts go back, added to
// those counted meanwhile.
func (u *UsageRecorder) flushCounts(ctx context.Context, counts map[clientDay]dayTokens) error {
	batch := make([]TokenCount, 0, len(counts))
	for k, d := range counts {
		batch = append(batch, TokenCount{ClientID: k.client, TenantID: d.tenant,
			DivisionID: cmp.Or(d.division, authz.HomeDivision), Day: dayStart(k.day), Tokens: d.tokens})
	}
	err := u.Repo.AddTokenCounts(ctx, batch)
	if err == nil {
		clear(counts)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case err != nil && len(u.counts) == 0:
		// Nothing was counted meanwhile: the failed counts are the
		// pending ones again.
		u.counts, counts = counts, u.counts
	case err != nil:
		for k, d := range counts {
			if cur, ok := u.counts[k]; ok {
				// The later tokens' tenant and division stay.
				cur.tokens += d.tokens
				d = cur
			}
			u.counts[k] = d
		}
		clear(counts)
	}
	if counts != nil && u.spare == nil {
		u.spare = counts
	}
	return err
}

// Run flushes every interval until ctx ends, then flushes once more with a
// short deadline of its own so the last uses survive a graceful shutdown.
func (u *UsageRecorder) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := u.Flush(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := u.Flush(fctx); err != nil && onErr != nil {
				onErr(err)
			}
			cancel()
			return
		}
	}
}
