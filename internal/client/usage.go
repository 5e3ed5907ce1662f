package client

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

func subtleEqual(a, b [sha256.Size]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// UsageRecorder coalesces "last used" times in memory and writes them in
// batches, so authenticating a client costs no database write. Of several
// uses between flushes only the latest is kept.
type UsageRecorder struct {
	Repo Repository
	mu   sync.Mutex
	uses map[[2]string]time.Time
}

// Record notes that a client (and secret, if any) was used at t.
func (u *UsageRecorder) Record(clientID, secretID string, t time.Time) {
	k := [2]string{clientID, secretID}
	u.mu.Lock()
	if u.uses == nil {
		u.uses = make(map[[2]string]time.Time)
	}
	if t.After(u.uses[k]) {
		u.uses[k] = t
	}
	u.mu.Unlock()
}

// Flush writes the pending uses. On failure they are kept for the next
// flush (keeping the later time where a newer use arrived meanwhile).
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	pending := u.uses
	u.uses = nil
	u.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	batch := make([]Use, 0, len(pending))
	for k, t := range pending {
		batch = append(batch, Use{ClientID: k[0], SecretID: k[1], At: t})
	}
	if err := u.Repo.RecordUse(ctx, batch); err != nil {
		for k, t := range pending {
			u.Record(k[0], k[1], t)
		}
		return err
	}
	return nil
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
