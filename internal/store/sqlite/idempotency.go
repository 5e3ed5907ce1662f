package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/admin/idempotency"
)

// ReserveIdempotency stores rec unless an unexpired record holds its key;
// the write lock makes the check and the insert one step.
func (db *DB) ReserveIdempotency(ctx context.Context, rec *idempotency.Record) (*idempotency.Record, error) {
	var existing *idempotency.Record
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var r idempotency.Record
		var created, expires int64
		err := tx.QueryRowContext(ctx, `SELECT tenant_id, actor_id, key, request_hash, status, body, created_at, expires_at
			FROM idempotency_keys WHERE tenant_id = ? AND actor_id = ? AND key = ?`, rec.TenantID, rec.ActorID, rec.Key).
			Scan(&r.TenantID, &r.ActorID, &r.Key, &r.RequestHash, &r.Status, &r.Body, &created, &expires)
		switch {
		case err == nil && fromMicros(expires).After(rec.CreatedAt):
			r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
			existing = &r
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (tenant_id, actor_id, key, request_hash, status, body,
			created_at, expires_at) VALUES (?, ?, ?, ?, 0, x'', ?, ?)
			ON CONFLICT (tenant_id, actor_id, key) DO UPDATE SET request_hash = excluded.request_hash, status = 0,
			body = x'', created_at = excluded.created_at, expires_at = excluded.expires_at`,
			rec.TenantID, rec.ActorID, rec.Key, rec.RequestHash, rec.CreatedAt.UnixMicro(), rec.ExpiresAt.UnixMicro())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: reserve idempotency key: %w", err)
	}
	return existing, nil
}

// CompleteIdempotency stores a reserved record's response.
func (db *DB) CompleteIdempotency(ctx context.Context, rec *idempotency.Record) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET status = ?, body = ?, expires_at = ?
			WHERE tenant_id = ? AND actor_id = ? AND key = ? AND request_hash = ?`,
			rec.Status, rec.Body, rec.ExpiresAt.UnixMicro(), rec.TenantID, rec.ActorID, rec.Key, rec.RequestHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotency removes a reservation still running.
func (db *DB) ReleaseIdempotency(ctx context.Context, tenantID, actorID, key string) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = ? AND actor_id = ? AND key = ? AND status = 0`,
			tenantID, actorID, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: release idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotency removes the records expired before t.
func (db *DB) PruneIdempotency(ctx context.Context, t time.Time) error {
	return db.deleteExpired(ctx, "idempotency keys", t, "idempotency_keys")
}
