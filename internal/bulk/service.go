package bulk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// Audit actions of bulk jobs; their target is the job.
const (
	TargetJob      = "bulk_job"
	ActionStarted  = "bulk_job.started"
	ActionFinished = "bulk_job.finished"
	ActionStopped  = "bulk_job.stopped"
	ActionFailed   = "bulk_job.failed"
)

// pageSize is how many clients a match reads at a time: a match of any
// size is streamed, never held whole.
const pageSize = 1000

// Service makes jobs: dry runs, confirmed jobs, cancels and results.
type Service struct {
	Store   Store
	Clients *client.Service
	Sealer  *Sealer
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Change is what a job would do to one client.
type Change struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	Change   string `json:"change"`
}

// change says what op does to c, or "" when op would leave c as it is
// or cannot apply to it (a deactivation of an inactive client, a rotation
// of a public or revoked one): such clients are not matched.
func change(op Op, c *client.Client, p Params) string {
	switch op {
	case Deactivate:
		if c.Status == client.StatusActive {
			return "status active → inactive"
		}
	case Activate:
		if c.Status == client.StatusInactive {
			return "status inactive → active"
		}
	case Revoke:
		if c.Status != client.StatusRevoked {
			return "status " + string(c.Status) + " → revoked"
		}
	case Delete:
		return "delete"
	case Rotate:
		if c.Status != client.StatusRevoked && c.Type == client.Confidential {
			if p.Grace > 0 {
				return "rotate secret, old one kept " + p.Grace.String()
			}
			return "rotate secret"
		}
	}
	return ""
}

func (s *Service) check(actor client.Actor, op Op, q *client.ListQuery) error {
	if !op.Valid() {
		return errs.Invalid("operation", "must be deactivate, activate, revoke, delete or rotate")
	}
	if err := actor.RequireSome(op.Permission()); err != nil {
		return err
	}
	q.Sort, q.Desc, q.After, q.Before, q.Limit = client.SortClientID, false, "", "", pageSize
	return nil
}

// Match calls fn with every client the filter matches that op would
// change, page by page, as the actor sees them, and returns how many.
// It writes nothing: it is the dry run, and the snapshot of a job.
func (s *Service) Match(ctx context.Context, actor client.Actor, op Op, q client.ListQuery, p Params, fn func(Change) error) (int, error) {
	if err := s.check(actor, op, &q); err != nil {
		return 0, err
	}
	n := 0
	for {
		page, err := s.Clients.List(ctx, actor, q)
		if err != nil {
			return n, err
		}
		for _, c := range page.Clients {
			if ch := change(op, c, p); ch != "" {
				n++
				if err := fn(Change{ClientID: c.ID, Name: c.Name, Change: ch}); err != nil {
					return n, err
				}
			}
		}
		if page.Next == "" {
			return n, nil
		}
		q.After = page.Next
	}
}

func newJobID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "bkj_" + hex.EncodeToString(b), nil
}

// Create snapshots the clients a dry run of the same op and filter
// matches now as a job's items and queues the job. expected is the dry
// run's total the caller confirms: when the match has changed since, no
// job is queued and the error is a field error on expected_count.
func (s *Service) Create(ctx context.Context, actor client.Actor, op Op, q client.ListQuery, p Params, expected int) (*Job, error) {
	if err := s.check(actor, op, &q); err != nil {
		return nil, err
	}
	if p.Grace < 0 || p.Lifetime < 0 && p.Lifetime != client.NeverExpires {
		return nil, errs.Invalid("grace", "must not be negative")
	}
	id, err := newJobID()
	if err != nil {
		return nil, err
	}
	now := s.now()
	filter := q
	filter.Sort, filter.Limit = "", 0
	j := &Job{ID: id, TenantID: actor.TenantID, Op: op, Filter: filter, Params: p, Actor: actor,
		State: Preparing, CreatedAt: now, UpdatedAt: now}
	j.Actor.Catalog = nil
	if err := s.inBulkTx(ctx, func(b Tx, _ client.Tx) error { return b.CreateBulkJob(ctx, j) }); err != nil {
		return nil, err
	}
	batch := make([]string, 0, pageSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.inBulkTx(ctx, func(b Tx, _ client.Tx) error { return b.AddBulkItems(ctx, id, batch) })
		batch = batch[:0]
		return err
	}
	total, err := s.Match(ctx, actor, op, q, p, func(c Change) error {
		batch = append(batch, c.ClientID)
		if len(batch) == pageSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	j.Total, j.UpdatedAt = total, s.now()
	if err == nil && total != expected {
		j.State, j.Error, j.FinishedAt = Failed, "the match changed since the dry run", j.UpdatedAt
		if err := s.inBulkTx(ctx, func(b Tx, _ client.Tx) error { return b.SetBulkJob(ctx, j) }); err != nil {
			return nil, err
		}
		return nil, errs.Invalid("expected_count", fmt.Sprintf("the filter matches %d clients now, not %d: run the dry run again", total, expected))
	}
	if err != nil {
		return nil, err
	}
	j.State = Pending
	err = s.inBulkTx(ctx, func(b Tx, tx client.Tx) error {
		if err := b.SetBulkJob(ctx, j); err != nil {
			return err
		}
		return appendJobEvent(ctx, tx, j, j.Actor, ActionStarted, j.UpdatedAt)
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

func (s *Service) inBulkTx(ctx context.Context, fn func(Tx, client.Tx) error) error {
	return inBulkTx(ctx, s.Store, fn)
}

func inBulkTx(ctx context.Context, st Store, fn func(Tx, client.Tx) error) error {
	return st.InTx(ctx, func(tx client.Tx) error {
		b, err := bulkTx(tx)
		if err != nil {
			return err
		}
		return fn(b, tx)
	})
}

// appendJobEvent records one event of job j's life: the operation, the
// filter and the counts.
func appendJobEvent(ctx context.Context, tx client.Tx, j *Job, actor client.Actor, action string, now time.Time) error {
	filter, err := json.Marshal(filterOf(j.Filter))
	if err != nil {
		return err
	}
	e := audit.New(actor, now, action, TargetJob, j.ID)
	e.Details = map[string]string{"operation": string(j.Op), "filter": string(filter),
		"total": strconv.Itoa(j.Total), "done": strconv.Itoa(j.Done), "failed": strconv.Itoa(j.Failed)}
	if j.Error != "" {
		e.Details["error"] = j.Error
	}
	return tx.AppendAudit(ctx, e)
}

// Job returns a job of the actor's tenant.
func (s *Service) Job(ctx context.Context, actor client.Actor, id string) (*Job, error) {
	j, err := s.Store.BulkJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.TenantID != actor.TenantID || actor.RequireSome(authz.ClientView) != nil {
		return nil, ErrNotFound
	}
	return j, nil
}

// Jobs lists the actor's tenant's latest jobs.
func (s *Service) Jobs(ctx context.Context, actor client.Actor, limit int) ([]Job, error) {
	if err := actor.RequireSome(authz.ClientView); err != nil {
		return nil, err
	}
	return s.Store.BulkJobs(ctx, actor.TenantID, limit)
}

// JobWithFailures returns a job and up to limit of its failed items.
func (s *Service) JobWithFailures(ctx context.Context, actor client.Actor, id string, limit int) (*Job, []Item, error) {
	j, err := s.Job(ctx, actor, id)
	if err != nil {
		return nil, nil, err
	}
	items, err := s.Store.BulkItems(ctx, id, ItemFailed, 0, limit)
	if err != nil {
		return nil, nil, err
	}
	return j, items, nil
}

// Cancel asks a job to stop before its next client.
func (s *Service) Cancel(ctx context.Context, actor client.Actor, id string) (*Job, error) {
	j, err := s.Job(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if err := actor.RequireSome(j.Op.Permission()); err != nil {
		return nil, err
	}
	return s.Store.CancelBulkJob(ctx, id, s.now())
}

// Secret is one rotated client's new secret in a job's result.
type Secret struct {
	ClientID  string     `json:"client_id"`
	Secret    string     `json:"secret"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// Result returns a rotation job's new secrets, once: they are deleted as
// they are read, and a second call is ErrDelivered. Any holder of
// oauth:client:rotate in the tenant may take them, once.
func (s *Service) Result(ctx context.Context, actor client.Actor, id string) ([]Secret, error) {
	j, err := s.Job(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if j.Op != Rotate {
		return nil, errs.Invalid("operation", "only a rotation has a result to download")
	}
	if err := actor.RequireSome(authz.ClientRotate); err != nil {
		return nil, err
	}
	if !j.State.Finished() {
		return nil, ErrNotFinished
	}
	sealed, err := s.Store.TakeBulkResult(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Secret, 0, len(sealed))
	for _, x := range sealed {
		plain, err := s.Sealer.Open(id, x.ClientID, x.Sealed)
		if err != nil {
			return nil, err
		}
		sec := Secret{ClientID: x.ClientID, Secret: plain}
		if !x.ExpiresAt.IsZero() {
			at := x.ExpiresAt
			sec.ExpiresAt = &at
		}
		out = append(out, sec)
	}
	return out, nil
}

// errStop ends a job at a client's validation error.
var errStop = errors.New("bulk: stopped at a validation error")
