package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/token"
)

// SigningKeys returns every stored key of the tenant, newest first.
func (db *DB) SigningKeys(ctx context.Context, tenantID string) ([]token.SigningKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, algorithm, public_key, sealed_private_key, created_at,
		retired_at, publish_until FROM signing_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: signing keys: %w", err)
	}
	defer rows.Close()
	var out []token.SigningKey
	for rows.Next() {
		var (
			k                     token.SigningKey
			retired, publishUntil *time.Time
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PublicKey, &k.SealedPrivateKey, &k.CreatedAt, &retired, &publishUntil); err != nil {
			return nil, fmt.Errorf("postgres: signing keys: %w", err)
		}
		k.CreatedAt, k.RetiredAt, k.PublishUntil = utc(k.CreatedAt), nullTime(retired), nullTime(publishUntil)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: signing keys: %w", err)
	}
	return out, nil
}

// RotateSigningKey stores k as the tenant's current key and retires its
// previous one, if the previous one is expectCurrent; otherwise it stores
// nothing and returns token.ErrConflict. The current key's row is locked,
// and a unique index allows one current key per tenant, so instances
// racing to rotate make one new key.
func (db *DB) RotateSigningKey(ctx context.Context, tenantID string, k *token.SigningKey, expectCurrent string, publishUntil time.Time) error {
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var current string
		err := tx.QueryRow(ctx, `SELECT id FROM signing_keys WHERE tenant_id = $1 AND retired_at IS NULL FOR UPDATE`,
			tenantID).Scan(&current)
		if err != nil && !isNoRows(err) {
			return err
		}
		if current != expectCurrent {
			return fmt.Errorf("current key is %q, not %q: %w", current, expectCurrent, token.ErrConflict)
		}
		if current != "" {
			if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1, publish_until = $2 WHERE id = $3`,
				ts(k.CreatedAt), tsOrNull(publishUntil), current); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO signing_keys (id, tenant_id, algorithm, public_key, sealed_private_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, k.ID, tenantID, k.Algorithm, k.PublicKey, k.SealedPrivateKey, ts(k.CreatedAt))
		if isUnique(err) {
			return fmt.Errorf("key %q: %w", k.ID, token.ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: rotate signing key: %w", err)
	}
	return nil
}

// PruneSigningKeys deletes the tenant's retired keys whose PublishUntil
// is before t.
func (db *DB) PruneSigningKeys(ctx context.Context, tenantID string, t time.Time) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM signing_keys WHERE tenant_id = $1 AND retired_at IS NOT NULL AND publish_until < $2`,
		tenantID, ts(t))
	if err != nil {
		return fmt.Errorf("postgres: prune signing keys: %w", err)
	}
	return nil
}

// CreateToken stores an opaque access token, or returns token.ErrConflict
// when its ID or hash is taken.
func (db *DB) CreateToken(ctx context.Context, r *token.Record) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO access_tokens (id, hash, client_id, secret_id, subject,
		audience, scopes, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.ID, r.Hash, r.ClientID, r.SecretID, r.Subject, textArray(r.Audience), textArray(r.Scopes),
		ts(r.IssuedAt), ts(r.ExpiresAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create token: %w", token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create token: %w", err)
	}
	return nil
}

// TokenByHash finds an opaque token by the hash of its value, or returns
// token.ErrNotFound. Expired tokens are returned until pruned; the caller
// checks ExpiresAt.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*token.Record, error) {
	var (
		r                token.Record
		audience, scopes []string
	)
	err := db.pool.QueryRow(ctx, `SELECT id, hash, client_id, secret_id, subject, audience, scopes,
		issued_at, expires_at FROM access_tokens WHERE hash = $1`, hash).
		Scan(&r.ID, &r.Hash, &r.ClientID, &r.SecretID, &r.Subject, &audience, &scopes, &r.IssuedAt, &r.ExpiresAt)
	if isNoRows(err) {
		err = token.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: token by hash: %w", err)
	}
	r.Audience, r.Scopes = fromArray[string](audience), fromArray[string](scopes)
	r.IssuedAt, r.ExpiresAt = utc(r.IssuedAt), utc(r.ExpiresAt)
	return &r, nil
}

// Revoke adds the token ID to the revocation list (keeping the later
// expiry if it is already there) and deletes the opaque token with that
// ID, in one transaction.
func (db *DB) Revoke(ctx context.Context, r token.Revocation) error {
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO revocations (token_id, client_id, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (token_id) DO UPDATE SET expires_at = GREATEST(revocations.expires_at, excluded.expires_at)`,
			r.TokenID, r.ClientID, ts(r.ExpiresAt))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM access_tokens WHERE id = $1`, r.TokenID)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: revoke: %w", err)
	}
	return nil
}

// Revocations returns every revocation that expires after t, soonest
// first.
func (db *DB) Revocations(ctx context.Context, t time.Time) ([]token.Revocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT token_id, client_id, expires_at FROM revocations
		WHERE expires_at > $1 ORDER BY expires_at, token_id`, ts(t))
	if err != nil {
		return nil, fmt.Errorf("postgres: revocations: %w", err)
	}
	defer rows.Close()
	var out []token.Revocation
	for rows.Next() {
		var r token.Revocation
		if err := rows.Scan(&r.TokenID, &r.ClientID, &r.ExpiresAt); err != nil {
			return nil, fmt.Errorf("postgres: revocations: %w", err)
		}
		r.ExpiresAt = utc(r.ExpiresAt)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: revocations: %w", err)
	}
	return out, nil
}

// PruneTokens deletes opaque tokens and revocations that expired before t.
func (db *DB) PruneTokens(ctx context.Context, t time.Time) error {
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE expires_at < $1`, ts(t)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM revocations WHERE expires_at < $1`, ts(t))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: prune tokens: %w", err)
	}
	return nil
}
