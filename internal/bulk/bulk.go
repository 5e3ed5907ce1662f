package bulk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// Op is the change a job makes to each client.
type Op string

const (
	Deactivate Op = "deactivate"
	Activate   Op = "activate"
	Revoke     Op = "revoke"
	Delete     Op = "delete"
	Rotate     Op = "rotate"
)

// Ops lists every operation.
var Ops = []Op{Deactivate, Activate, Revoke, Delete, Rotate}

// Permission is what the actor needs for op, in each client's division.
func (op Op) Permission() authz.Permission {
	switch op {
	case Revoke:
		return authz.ClientRevoke
	case Delete:
		return authz.ClientDelete
	case Rotate:
		return authz.ClientRotate
	}
	return authz.ClientEdit
}

// Valid reports whether op is one of Ops.
func (op Op) Valid() bool {
	for _, o := range Ops {
		if o == op {
			return true
		}
	}
	return false
}

// State is where a job is in its life.
type State string

const (
	// Preparing: the items are being snapshot; no runner takes it.
	Preparing State = "preparing"
	Pending   State = "pending"
	Running   State = "running"
	// Stopping: cancel was asked; the runner stops before its next client.
	Stopping  State = "stopping"
	Stopped   State = "stopped"
	Succeeded State = "succeeded"
	Failed    State = "failed"
)

// Finished reports whether st is final.
func (st State) Finished() bool { return st == Stopped || st == Succeeded || st == Failed }

// Item states.
const (
	ItemPending = "pending"
	ItemDone    = "done"
	ItemFailed  = "failed"
)

// Params tune an operation; only Rotate reads them.
type Params struct {
	// Grace keeps each replaced secret working this long.
	Grace time.Duration `json:"grace,omitempty"`
	// Lifetime of each new secret: 0 for the default.
	Lifetime time.Duration `json:"lifetime,omitempty"`
	// Confirm changes protected clients too, as a single write's confirm.
	Confirm bool `json:"confirm,omitempty"`
}

// Job is one confirmed bulk change.
type Job struct {
	ID       string
	TenantID string
	Op       Op
	// Filter is the list filter the items were matched by (paging fields
	// cleared).
	Filter client.ListQuery
	Params Params
	// Actor is who confirmed the job: the runner acts with the grants it
	// held then.
	Actor                authz.Actor
	State                State
	Total, Done, Failed  int
	Error                string
	CreatedAt, UpdatedAt time.Time
	FinishedAt           time.Time
	// ResultDelivered is set once a rotation's secrets were downloaded.
	ResultDelivered bool
}

// Item is one client of a job.
type Item struct {
	Seq      int
	ClientID string
	State    string
	// Detail says why a failed item failed (its field errors as JSON, or
	// the error's text).
	Detail string
}

// Sealed is a rotated client's new secret, sealed.
type Sealed struct {
	ClientID  string
	Sealed    []byte
	ExpiresAt time.Time
}

// Errors of the store and the service.
var (
	ErrNotFound = fmt.Errorf("bulk job: %w", errs.ErrNotFound)
	// ErrNotFinished: the result is ready once the job has ended.
	ErrNotFinished = errors.New("the job has not finished: its result is ready when it ends")
	// ErrLeaseLost: another runner holds the job.
	ErrLeaseLost = errors.New("bulk job lease lost")
	// ErrDelivered: the result was downloaded already.
	ErrDelivered = errors.New("the result of this bulk job was already delivered")
	// ErrItemTaken: the item is not pending any more.
	ErrItemTaken = errors.New("bulk item already done")
)

// Tx is what a job's writes need of the store's transaction, beside the
// client change they commit with.
type Tx interface {
	// CreateBulkJob inserts j in state Preparing.
	CreateBulkJob(ctx context.Context, j *Job) error
	// AddBulkItems appends pending items for ids, in order.
	AddBulkItems(ctx context.Context, jobID string, ids []string) error
	// SetBulkJob writes j's State, Total, Error, UpdatedAt, FinishedAt.
	SetBulkJob(ctx context.Context, j *Job) error
	// FinishBulkItem moves a pending item to state (ItemDone or
	// ItemFailed) with detail and, for a rotation, the sealed secret, and
	// counts it on the job; ErrItemTaken when it is not pending.
	FinishBulkItem(ctx context.Context, jobID, clientID, state, detail string, sealed *Sealed) error
}

// Store is a job's persistence outside a client change.
type Store interface {
	// InTx is client.Repository's: its Tx implements Tx too.
	InTx(ctx context.Context, fn func(client.Tx) error) error
	BulkJob(ctx context.Context, id string) (*Job, error)
	// BulkJobs lists a tenant's jobs, newest first.
	BulkJobs(ctx context.Context, tenantID string, limit int) ([]Job, error)
	// BulkItems returns up to limit items after seq (0 from the start)
	// in the state given ("" for all).
	BulkItems(ctx context.Context, jobID, state string, after, limit int) ([]Item, error)
	// ClaimBulkJob leases the oldest pending, running or stopping job whose
	// lease is free or expired (or owner's), until until, moving a pending
	// one to running; ErrNotFound when none.
	ClaimBulkJob(ctx context.Context, owner string, now, until time.Time) (*Job, error)
	// RenewBulkLease extends owner's lease and returns the job;
	// ErrLeaseLost when another holds it.
	RenewBulkLease(ctx context.Context, id, owner string, now, until time.Time) (*Job, error)
	// CancelBulkJob moves a pending or running job to stopping; a finished
	// one is left as it is. It returns the job.
	CancelBulkJob(ctx context.Context, id string, now time.Time) (*Job, error)
	// TakeBulkResult returns a job's sealed secrets and deletes them, in
	// one transaction, marking the result delivered; ErrDelivered when it
	// was.
	TakeBulkResult(ctx context.Context, id string) ([]Sealed, error)
}

// bulkTx returns the store transaction's bulk side.
func bulkTx(tx client.Tx) (Tx, error) {
	b, ok := tx.(Tx)
	if !ok {
		return nil, errors.New("bulk: the store's transaction keeps no bulk jobs")
	}
	return b, nil
}
