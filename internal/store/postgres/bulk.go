package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/bulk"
)

var (
	_ bulk.Tx    = (*tx)(nil)
	_ bulk.Store = (*DB)(nil)
)

const bulkJobColumns = `id, tenant_id, op, filter, params, actor, state, total, done, failed, error,
	created_at, updated_at, finished_at, result_delivered`

func scanBulkJob(row pgx.Row) (*bulk.Job, error) {
	var (
		j                     bulk.Job
		filter, params, actor string
		finished              *time.Time
	)
	err := row.Scan(&j.ID, &j.TenantID, &j.Op, &filter, &params, &actor, &j.State, &j.Total, &j.Done, &j.Failed,
		&j.Error, &j.CreatedAt, &j.UpdatedAt, &finished, &j.ResultDelivered)
	if isNoRows(err) {
		return nil, bulk.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(filter), &j.Filter), json.Unmarshal([]byte(params), &j.Params),
		json.Unmarshal([]byte(actor), &j.Actor)); err != nil {
		return nil, err
	}
	j.CreatedAt, j.UpdatedAt, j.FinishedAt = utc(j.CreatedAt), utc(j.UpdatedAt), nullTime(finished)
	return &j, nil
}

// CreateBulkJob inserts j.
func (t *tx) CreateBulkJob(ctx context.Context, j *bulk.Job) error {
	filter, err := json.Marshal(j.Filter)
	if err != nil {
		return err
	}
	params, err := json.Marshal(j.Params)
	if err != nil {
		return err
	}
	actor, err := json.Marshal(j.Actor)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO bulk_jobs (id, tenant_id, op, filter, params, actor, state, total,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, j.ID, j.TenantID, string(j.Op), string(filter),
		string(params), string(actor), string(j.State), j.Total, ts(j.CreatedAt), ts(j.UpdatedAt))
	if err != nil {
		return fmt.Errorf("postgres: create bulk job: %w", err)
	}
	return nil
}

// AddBulkItems appends pending items after the job's last, in one
// statement.
func (t *tx) AddBulkItems(ctx context.Context, jobID string, ids []string) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO bulk_job_items (job_id, seq, client_id)
		SELECT $1, (SELECT COALESCE(MAX(seq), 0) FROM bulk_job_items WHERE job_id = $1) + u.n, u.id
		FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n)`, jobID, ids)
	if err != nil {
		return fmt.Errorf("postgres: add bulk items: %w", err)
	}
	return nil
}

// SetBulkJob writes the job's state, total, error and times.
func (t *tx) SetBulkJob(ctx context.Context, j *bulk.Job) error {
	tag, err := t.tx.Exec(ctx, `UPDATE bulk_jobs SET state = $1, total = $2, error = $3, updated_at = $4, finished_at = $5
		WHERE id = $6`, string(j.State), j.Total, j.Error, ts(j.UpdatedAt), tsOrNull(j.FinishedAt), j.ID)
	if err == nil {
		err = affected(tag, bulk.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: set bulk job: %w", err)
	}
	return nil
}

// FinishBulkItem moves a pending item to state and counts it.
func (t *tx) FinishBulkItem(ctx context.Context, jobID, clientID, state, detail string, sealed *bulk.Sealed) error {
	var blob []byte
	var expires any
	if sealed != nil {
		blob, expires = sealed.Sealed, tsOrNull(sealed.ExpiresAt)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE bulk_job_items SET state = $1, detail = $2, sealed = $3, expires_at = $4
		WHERE job_id = $5 AND client_id = $6 AND state = 'pending'`, state, detail, blob, expires, jobID, clientID)
	if err == nil {
		err = affected(tag, bulk.ErrItemTaken)
	}
	if err != nil {
		return fmt.Errorf("postgres: finish bulk item: %w", err)
	}
	col := "done"
	if state == bulk.ItemFailed {
		col = "failed"
	}
	if _, err := t.tx.Exec(ctx, `UPDATE bulk_jobs SET `+col+` = `+col+` + 1 WHERE id = $1`, jobID); err != nil {
		return fmt.Errorf("postgres: finish bulk item: %w", err)
	}
	return nil
}

// BulkJob returns a job.
func (db *DB) BulkJob(ctx context.Context, id string) (*bulk.Job, error) {
	j, err := scanBulkJob(db.pool.QueryRow(ctx, `SELECT `+bulkJobColumns+` FROM bulk_jobs WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: bulk job: %w", err)
	}
	return j, nil
}

// BulkJobs lists a tenant's jobs, newest first.
func (db *DB) BulkJobs(ctx context.Context, tenantID string, limit int) ([]bulk.Job, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+bulkJobColumns+` FROM bulk_jobs WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: bulk jobs: %w", err)
	}
	defer rows.Close()
	var out []bulk.Job
	for rows.Next() {
		j, err := scanBulkJob(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: bulk jobs: %w", err)
		}
		out = append(out, *j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: bulk jobs: %w", err)
	}
	return out, nil
}

// BulkItems returns up to limit items after seq.
func (db *DB) BulkItems(ctx context.Context, jobID, state string, after, limit int) ([]bulk.Item, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, client_id, state, detail FROM bulk_job_items
		WHERE job_id = $1 AND seq > $2 AND ($3 = '' OR state = $3) ORDER BY seq LIMIT $4`, jobID, after, state, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: bulk items: %w", err)
	}
	defer rows.Close()
	var out []bulk.Item
	for rows.Next() {
		var it bulk.Item
		if err := rows.Scan(&it.Seq, &it.ClientID, &it.State, &it.Detail); err != nil {
			return nil, fmt.Errorf("postgres: bulk items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: bulk items: %w", err)
	}
	return out, nil
}

// ClaimBulkJob leases the oldest open job that is free; SKIP LOCKED lets
// instances claiming at once pass each other.
func (db *DB) ClaimBulkJob(ctx context.Context, owner string, now, until time.Time) (*bulk.Job, error) {
	j, err := scanBulkJob(db.pool.QueryRow(ctx, `UPDATE bulk_jobs
		SET lease_owner = $1, lease_until = $3, state = CASE state WHEN 'pending' THEN 'running' ELSE state END
		WHERE id = (SELECT id FROM bulk_jobs WHERE state IN ('pending', 'running', 'stopping')
			AND (lease_until < $2 OR lease_owner = $1) ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+bulkJobColumns, owner, ts(now), ts(until)))
	if err != nil {
		return nil, fmt.Errorf("postgres: claim bulk job: %w", err)
	}
	return j, nil
}

// RenewBulkLease extends owner's lease.
func (db *DB) RenewBulkLease(ctx context.Context, id, owner string, now, until time.Time) (*bulk.Job, error) {
	j, err := scanBulkJob(db.pool.QueryRow(ctx, `UPDATE bulk_jobs SET lease_until = $3
		WHERE id = $1 AND lease_owner = $2 RETURNING `+bulkJobColumns, id, owner, ts(until)))
	if errors.Is(err, bulk.ErrNotFound) {
		err = bulk.ErrLeaseLost
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: renew bulk lease: %w", err)
	}
	return j, nil
}

// CancelBulkJob moves an open job to stopping.
func (db *DB) CancelBulkJob(ctx context.Context, id string, now time.Time) (*bulk.Job, error) {
	if _, err := db.pool.Exec(ctx, `UPDATE bulk_jobs SET state = 'stopping', updated_at = $1
		WHERE id = $2 AND state IN ('pending', 'running')`, ts(now), id); err != nil {
		return nil, fmt.Errorf("postgres: cancel bulk job: %w", err)
	}
	return db.BulkJob(ctx, id)
}

// TakeBulkResult returns and deletes a job's sealed secrets.
func (db *DB) TakeBulkResult(ctx context.Context, id string) ([]bulk.Sealed, error) {
	var out []bulk.Sealed
	err := db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error {
		tag, err := t.Exec(ctx, `UPDATE bulk_jobs SET result_delivered = true WHERE id = $1 AND NOT result_delivered`, id)
		if err == nil {
			err = affected(tag, bulk.ErrDelivered)
		}
		if err != nil {
			return err
		}
		rows, err := t.Query(ctx, `SELECT client_id, sealed, expires_at FROM bulk_job_items
			WHERE job_id = $1 AND sealed IS NOT NULL ORDER BY seq`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s bulk.Sealed
			var exp *time.Time
			if err := rows.Scan(&s.ClientID, &s.Sealed, &exp); err != nil {
				rows.Close()
				return err
			}
			s.ExpiresAt = nullTime(exp)
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = t.Exec(ctx, `UPDATE bulk_job_items SET sealed = NULL WHERE job_id = $1 AND sealed IS NOT NULL`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: take bulk result: %w", err)
	}
	return out, nil
}
