package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey/internal/admin/idempotency"
)

// ReserveIdempotency stores rec unless an unexpired record holds its key.
// One statement: the insert takes the key, or the conflict's update
// replaces an expired record; a live record is left alone and read back.
func (db *DB) ReserveIdempotency(ctx context.Context, rec *idempotency.Record) (*idempotency.Record, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO idempotency_keys (tenant_id, actor_id, key, request_hash, status, body,
		created_at, expires_at) VALUES ($1, $2, $3, $4, 0, '', $5, $6)
		ON CONFLICT (tenant_id, actor_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = 0,
		body = '', created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
		WHERE idempotency_keys.expires_at <= EXCLUDED.created_at`,
		rec.TenantID, rec.ActorID, rec.Key, rec.RequestHash, ts(rec.CreatedAt), ts(rec.ExpiresAt))
	if err != nil {
		return nil, fmt.Errorf("postgres: reserve idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	var r idempotency.Record
	err = db.pool.QueryRow(ctx, `SELECT tenant_id, actor_id, key, request_hash, status, body, created_at, expires_at
		FROM idempotency_keys WHERE tenant_id = $1 AND actor_id = $2 AND key = $3`, rec.TenantID, rec.ActorID, rec.Key).
		Scan(&r.TenantID, &r.ActorID, &r.Key, &r.RequestHash, &r.Status, &r.Body, &r.CreatedAt, &r.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// Pruned between the two statements: the key is free again.
		return db.ReserveIdempotency(ctx, rec)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read idempotency key: %w", err)
	}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return &r, nil
}

// CompleteIdempotency stores a reserved record's response.
func (db *DB) CompleteIdempotency(ctx context.Context, rec *idempotency.Record) error {
	if _, err := db.pool.Exec(ctx, `UPDATE idempotency_keys SET status = $1, body = $2, expires_at = $3
		WHERE tenant_id = $4 AND actor_id = $5 AND key = $6 AND request_hash = $7`,
		rec.Status, rec.Body, ts(rec.ExpiresAt), rec.TenantID, rec.ActorID, rec.Key, rec.RequestHash); err != nil {
		return fmt.Errorf("postgres: complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotency removes a reservation still running.
func (db *DB) ReleaseIdempotency(ctx context.Context, tenantID, actorID, key string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND actor_id = $2 AND key = $3 AND status = 0`,
		tenantID, actorID, key); err != nil {
		return fmt.Errorf("postgres: release idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotency removes the records expired before t.
func (db *DB) PruneIdempotency(ctx context.Context, t time.Time) error {
	return db.deleteExpired(ctx, "idempotency keys", t, "idempotency_keys")
}
