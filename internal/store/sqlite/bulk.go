package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/bulk"
)

var (
	_ bulk.Tx    = (*tx)(nil)
	_ bulk.Store = (*DB)(nil)
)

const bulkJobColumns = `id, tenant_id, op, filter, params, actor, state, total, done, failed, error,
	created_at, updated_at, finished_at, result_delivered`

func scanBulkJob(row scanner) (*bulk.Job, error) {
	var (
		j                     bulk.Job
		filter, params, actor string
		created, updated      int64
		finished              sql.NullInt64
	)
	err := row.Scan(&j.ID, &j.TenantID, &j.Op, &filter, &params, &actor, &j.State, &j.Total, &j.Done, &j.Failed,
		&j.Error, &created, &updated, &finished, &j.ResultDelivered)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bulk.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(filter), &j.Filter), json.Unmarshal([]byte(params), &j.Params),
		json.Unmarshal([]byte(actor), &j.Actor)); err != nil {
		return nil, err
	}
	j.CreatedAt, j.UpdatedAt, j.FinishedAt = fromMicros(created), fromMicros(updated), nullTime(finished)
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
	_, err = t.tx.ExecContext(ctx, `INSERT INTO bulk_jobs (id, tenant_id, op, filter, params, actor, state, total,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, j.ID, j.TenantID, string(j.Op), string(filter),
		string(params), string(actor), string(j.State), j.Total, j.CreatedAt.UnixMicro(), j.UpdatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlite: create bulk job: %w", err)
	}
	return nil
}

// AddBulkItems appends pending items after the job's last.
func (t *tx) AddBulkItems(ctx context.Context, jobID string, ids []string) error {
	var last int
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM bulk_job_items WHERE job_id = ?`, jobID).Scan(&last); err != nil {
		return fmt.Errorf("sqlite: add bulk items: %w", err)
	}
	stmt, err := t.tx.PrepareContext(ctx, `INSERT INTO bulk_job_items (job_id, seq, client_id) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: add bulk items: %w", err)
	}
	defer stmt.Close()
	for i, id := range ids {
		if _, err := stmt.ExecContext(ctx, jobID, last+i+1, id); err != nil {
			return fmt.Errorf("sqlite: add bulk items: %w", err)
		}
	}
	return nil
}

// SetBulkJob writes the job's state, total, error and times.
func (t *tx) SetBulkJob(ctx context.Context, j *bulk.Job) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, total = ?, error = ?, updated_at = ?, finished_at = ?
		WHERE id = ?`, string(j.State), j.Total, j.Error, j.UpdatedAt.UnixMicro(), timeOrNull(j.FinishedAt), j.ID)
	if err == nil {
		err = affected(res, bulk.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set bulk job: %w", err)
	}
	return nil
}

// FinishBulkItem moves a pending item to state and counts it.
func (t *tx) FinishBulkItem(ctx context.Context, jobID, clientID, state, detail string, sealed *bulk.Sealed) error {
	var blob, expires any
	if sealed != nil {
		blob, expires = sealed.Sealed, timeOrNull(sealed.ExpiresAt)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE bulk_job_items SET state = ?, detail = ?, sealed = ?, expires_at = ?
		WHERE job_id = ? AND client_id = ? AND state = 'pending'`, state, detail, blob, expires, jobID, clientID)
	if err == nil {
		err = affected(res, bulk.ErrItemTaken)
	}
	if err != nil {
		return fmt.Errorf("sqlite: finish bulk item: %w", err)
	}
	col := "done"
	if state == bulk.ItemFailed {
		col = "failed"
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE bulk_jobs SET `+col+` = `+col+` + 1 WHERE id = ?`, jobID); err != nil {
		return fmt.Errorf("sqlite: finish bulk item: %w", err)
	}
	return nil
}

// BulkJob returns a job.
func (db *DB) BulkJob(ctx context.Context, id string) (*bulk.Job, error) {
	j, err := scanBulkJob(db.read.QueryRowContext(ctx, `SELECT `+bulkJobColumns+` FROM bulk_jobs WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("sqlite: bulk job: %w", err)
	}
	return j, nil
}

// BulkJobs lists a tenant's jobs, newest first.
func (db *DB) BulkJobs(ctx context.Context, tenantID string, limit int) ([]bulk.Job, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+bulkJobColumns+` FROM bulk_jobs WHERE tenant_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: bulk jobs: %w", err)
	}
	defer rows.Close()
	var out []bulk.Job
	for rows.Next() {
		j, err := scanBulkJob(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: bulk jobs: %w", err)
		}
		out = append(out, *j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: bulk jobs: %w", err)
	}
	return out, nil
}

// BulkItems returns up to limit items after seq.
func (db *DB) BulkItems(ctx context.Context, jobID, state string, after, limit int) ([]bulk.Item, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, client_id, state, detail FROM bulk_job_items
		WHERE job_id = ?1 AND seq > ?2 AND (?3 = '' OR state = ?3) ORDER BY seq LIMIT ?4`, jobID, after, state, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: bulk items: %w", err)
	}
	defer rows.Close()
	var out []bulk.Item
	for rows.Next() {
		var it bulk.Item
		if err := rows.Scan(&it.Seq, &it.ClientID, &it.State, &it.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: bulk items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: bulk items: %w", err)
	}
	return out, nil
}

// ClaimBulkJob leases the oldest open job that is free.
func (db *DB) ClaimBulkJob(ctx context.Context, owner string, now, until time.Time) (*bulk.Job, error) {
	j, err := scanBulkJob(db.write.QueryRowContext(ctx, `UPDATE bulk_jobs
		SET lease_owner = ?1, lease_until = ?3, state = CASE state WHEN 'pending' THEN 'running' ELSE state END
		WHERE id = (SELECT id FROM bulk_jobs WHERE state IN ('pending', 'running', 'stopping')
			AND (lease_until < ?2 OR lease_owner = ?1) ORDER BY created_at LIMIT 1)
		RETURNING `+bulkJobColumns, owner, now.UnixMicro(), until.UnixMicro()))
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim bulk job: %w", err)
	}
	return j, nil
}

// RenewBulkLease extends owner's lease.
func (db *DB) RenewBulkLease(ctx context.Context, id, owner string, now, until time.Time) (*bulk.Job, error) {
	j, err := scanBulkJob(db.write.QueryRowContext(ctx, `UPDATE bulk_jobs SET lease_until = ?3
		WHERE id = ?1 AND lease_owner = ?2 RETURNING `+bulkJobColumns, id, owner, until.UnixMicro()))
	if errors.Is(err, bulk.ErrNotFound) {
		err = bulk.ErrLeaseLost
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: renew bulk lease: %w", err)
	}
	return j, nil
}

// CancelBulkJob moves an open job to stopping.
func (db *DB) CancelBulkJob(ctx context.Context, id string, now time.Time) (*bulk.Job, error) {
	if _, err := db.write.ExecContext(ctx, `UPDATE bulk_jobs SET state = 'stopping', updated_at = ?
		WHERE id = ? AND state IN ('pending', 'running')`, now.UnixMicro(), id); err != nil {
		return nil, fmt.Errorf("sqlite: cancel bulk job: %w", err)
	}
	return db.BulkJob(ctx, id)
}

// TakeBulkResult returns and deletes a job's sealed secrets.
func (db *DB) TakeBulkResult(ctx context.Context, id string) ([]bulk.Sealed, error) {
	var out []bulk.Sealed
	err := db.writeTx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `UPDATE bulk_jobs SET result_delivered = 1 WHERE id = ? AND result_delivered = 0`, id)
		if err == nil {
			err = affected(res, bulk.ErrDelivered)
		}
		if err != nil {
			return err
		}
		rows, err := t.QueryContext(ctx, `SELECT client_id, sealed, expires_at FROM bulk_job_items
			WHERE job_id = ? AND sealed IS NOT NULL ORDER BY seq`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s bulk.Sealed
			var exp sql.NullInt64
			if err := rows.Scan(&s.ClientID, &s.Sealed, &exp); err != nil {
				return err
			}
			s.ExpiresAt = nullTime(exp)
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, `UPDATE bulk_job_items SET sealed = NULL WHERE job_id = ? AND sealed IS NOT NULL`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: take bulk result: %w", err)
	}
	return out, nil
}
