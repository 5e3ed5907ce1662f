package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// Runner works through queued jobs, one at a time, in the background of
// every server: a job one instance leases the others leave alone until
// the lease expires, so a job whose server died is resumed by the next
// (or by the same one after a restart).
//
// Store, Clients and Owner are required; Owner must be unique per process.
// Lease defaults to 30 s, Interval (how often it looks for work) to 1 s.
type Runner struct {
	Store    Store
	Clients  *client.Service
	Sealer   *Sealer
	Owner    string
	Now      func() time.Time
	Lease    time.Duration
	Interval time.Duration
	Log      *slog.Logger
}

// batch is how many items the runner reads at a time; it renews its lease
// and looks for a cancel between batches.
const batch = 20

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) lease() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return 30 * time.Second
}

// Run runs jobs until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			ran, err := r.RunOnce(ctx)
			// An outage is the store's to tell, once per change of state:
			// a line per tick here would flood the log while it lasts.
			if err != nil && ctx.Err() == nil && r.Log != nil && !errors.Is(err, errs.ErrUnavailable) {
				r.Log.Error("bulk job", "err", err)
			}
			if !ran || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims one job and runs it to its end (or until its lease is
// lost or a store error); it reports whether it found a job.
func (r *Runner) RunOnce(ctx context.Context) (bool, error) {
	now := r.now()
	j, err := r.Store.ClaimBulkJob(ctx, r.Owner, now, now.Add(r.lease()))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, r.run(ctx, j)
}

func (r *Runner) run(ctx context.Context, j *Job) error {
	for {
		now := r.now()
		j, err := r.Store.RenewBulkLease(ctx, j.ID, r.Owner, now, now.Add(r.lease()))
		if err != nil {
			return err
		}
		if j.State == Stopping {
			return r.finish(ctx, j, Stopped, "")
		}
		items, err := r.Store.BulkItems(ctx, j.ID, ItemPending, 0, batch)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return r.finish(ctx, j, Succeeded, "")
		}
		for _, it := range items {
			err := r.apply(ctx, j, it.ClientID)
			if errors.Is(err, errStop) {
				return r.finish(ctx, j, Failed, "stopped at "+it.ClientID+": a change was refused")
			}
			if err != nil {
				return err
			}
		}
	}
}

// finish ends j in state st with its audit event.
func (r *Runner) finish(ctx context.Context, j *Job, st State, msg string) error {
	// The counts are read before the transaction, which on SQLite holds
	// the one write connection; only this lease holder changes them.
	cur, err := r.Store.BulkJob(ctx, j.ID)
	if err != nil {
		return err
	}
	return inBulkTx(ctx, r.Store, func(b Tx, tx client.Tx) error {
		now := r.now()
		cur.State, cur.Error, cur.UpdatedAt, cur.FinishedAt = st, msg, now, now
		if err := b.SetBulkJob(ctx, cur); err != nil {
			return err
		}
		action := map[State]string{Stopped: ActionStopped, Succeeded: ActionFinished, Failed: ActionFailed}[st]
		return appendJobEvent(ctx, tx, cur, cur.Actor, action, now)
	})
}

// apply changes one client through the client service, marking its item
// done in the change's own transaction. A validation error records the
// item and returns errStop; other refusals of the client are recorded and
// the job goes on; anything else (the store) is returned and the job is
// retried from this client.
func (r *Runner) apply(ctx context.Context, j *Job, id string) error {
	hook := func(ctx context.Context, tx client.Tx, c client.Committed) error {
		b, err := bulkTx(tx)
		if err != nil {
			return err
		}
		var sealed *Sealed
		if c.Secret != nil {
			if r.Sealer == nil {
				return errors.New("bulk: no key to seal rotated secrets with")
			}
			s, err := r.Sealer.Seal(j.ID, c.ClientID, c.Secret.Plaintext)
			if err != nil {
				return err
			}
			sealed = &Sealed{ClientID: c.ClientID, Sealed: s, ExpiresAt: c.Secret.ExpiresAt}
		}
		return b.FinishBulkItem(ctx, j.ID, c.ClientID, ItemDone, "", sealed)
	}
	cctx := client.WithinTx(client.WithAuditDetail(ctx, "bulk_job", j.ID), hook)
	actor, p := j.Actor, j.Params
	var err error
	switch j.Op {
	case Deactivate:
		_, err = r.Clients.SetStatus(cctx, actor, id, client.StatusInactive, p.Confirm)
	case Activate:
		_, err = r.Clients.SetStatus(cctx, actor, id, client.StatusActive, p.Confirm)
	case Revoke:
		_, err = r.Clients.Revoke(cctx, actor, id)
	case Delete:
		err = r.Clients.Delete(cctx, actor, id)
	case Rotate:
		_, err = r.Clients.RotateSecret(cctx, actor, id, client.RotateParams{Grace: p.Grace, Lifetime: p.Lifetime, Confirm: p.Confirm})
	}
	var ve *errs.ValidationError
	switch {
	case err == nil, errors.Is(err, ErrItemTaken):
		return nil
	case errors.As(err, &ve):
		detail, jerr := json.Marshal(ve.Fields)
		if jerr != nil {
			return jerr
		}
		if err := r.fail(ctx, j, id, string(detail)); err != nil {
			return err
		}
		return errStop
	case errors.Is(err, errs.ErrNotFound), errors.Is(err, errs.ErrProtected), errors.Is(err, errs.ErrForbidden):
		return r.fail(ctx, j, id, err.Error())
	}
	return err
}

func (r *Runner) fail(ctx context.Context, j *Job, id, detail string) error {
	err := inBulkTx(ctx, r.Store, func(b Tx, _ client.Tx) error {
		return b.FinishBulkItem(ctx, j.ID, id, ItemFailed, detail, nil)
	})
	if errors.Is(err, ErrItemTaken) {
		return nil
	}
	return err
}
