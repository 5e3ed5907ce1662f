package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/token"
)

// SigningKeys returns every stored key of the tenant, of every use, newest
// first.
func (db *DB) SigningKeys(ctx context.Context, tenantID string) ([]token.SigningKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, algorithm, use, public_key, sealed_private_key, state, created_at,
		activated_at, retired_at, publish_until FROM signing_keys WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: signing keys: %w", err)
	}
	defer rows.Close()
	var out []token.SigningKey
	for rows.Next() {
		var (
			k                                token.SigningKey
			activated, retired, publishUntil *time.Time
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Use, &k.PublicKey, &k.SealedPrivateKey, &k.State, &k.CreatedAt,
			&activated, &retired, &publishUntil); err != nil {
			return nil, fmt.Errorf("postgres: signing keys: %w", err)
		}
		k.CreatedAt, k.ActivatedAt = utc(k.CreatedAt), nullTime(activated)
		k.RetiredAt, k.PublishUntil = nullTime(retired), nullTime(publishUntil)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: signing keys: %w", err)
	}
	return out, nil
}

// keyUse is the use stored for k: an empty one is token.UseAccess.
func keyUse(k *token.SigningKey) string {
	if k.Use == "" {
		return string(token.UseAccess)
	}
	return string(k.Use)
}

// AddSigningKey stores k as the next key of its use in the tenant, or as
// the current key of a use that has none, or returns token.ErrConflict
// when another key of the tenant and use is in that state (a unique index
// allows one of each) or k.ID is taken. An empty k.Use is stored as
// token.UseAccess.
func (db *DB) AddSigningKey(ctx context.Context, tenantID string, k *token.SigningKey) error {
	if k.State != token.KeyNext && k.State != token.KeyCurrent {
		return fmt.Errorf("postgres: add signing key: state %q is neither next nor current", k.State)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO signing_keys (id, tenant_id, algorithm, use, public_key, sealed_private_key,
		state, created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, k.ID, tenantID, k.Algorithm,
		keyUse(k), k.PublicKey, k.SealedPrivateKey, string(k.State), ts(k.CreatedAt), tsOrNull(k.ActivatedAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: add signing key %q (%s %s): %w", k.ID, keyUse(k), k.State, token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: add signing key: %w", err)
	}
	return nil
}

// PromoteSigningKey makes next current and retires expectCurrent, if next
// is a next key of the tenant and expectCurrent the current key of its
// use; otherwise it changes nothing and returns token.ErrConflict. Both
// rows are locked, next first, so instances racing to promote make one
// current key: the losers find next no longer next.
func (db *DB) PromoteSigningKey(ctx context.Context, tenantID, next, expectCurrent string, at, publishUntil time.Time) error {
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var use string
		err := tx.QueryRow(ctx, `SELECT use FROM signing_keys WHERE id = $1 AND tenant_id = $2 AND state = 'next'
			FOR UPDATE`, next, tenantID).Scan(&use)
		if isNoRows(err) {
			return fmt.Errorf("key %q is not next: %w", next, token.ErrConflict)
		}
		if err != nil {
			return err
		}
		var current string
		err = tx.QueryRow(ctx, `SELECT id FROM signing_keys WHERE tenant_id = $1 AND use = $2 AND state = 'current'
			FOR UPDATE`, tenantID, use).Scan(&current)
		if err != nil && !isNoRows(err) {
			return err
		}
		if current != expectCurrent {
			return fmt.Errorf("current %s key is %q, not %q: %w", use, current, expectCurrent, token.ErrConflict)
		}
		// Retire first: the unique index allows one current key per use.
		if current != "" {
			if _, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'retired', retired_at = $1, publish_until = $2
				WHERE id = $3`, ts(at), tsOrNull(publishUntil), current); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE signing_keys SET state = 'current', activated_at = $1 WHERE id = $2`, ts(at), next)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: promote signing key: %w", err)
	}
	return nil
}

// ResealSigningKeys rewrites every key's sealed private key, in every
// tenant, with what reseal returns, in one transaction that locks the
// keys: all or nothing.
func (db *DB) ResealSigningKeys(ctx context.Context, reseal func(token.SigningKey) ([]byte, error)) (int, error) {
	n := 0
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `SELECT id, algorithm, use, sealed_private_key, state FROM signing_keys ORDER BY id FOR UPDATE`)
		if err != nil {
			return err
		}
		var ks []token.SigningKey
		for rows.Next() {
			var k token.SigningKey
			if err := rows.Scan(&k.ID, &k.Algorithm, &k.Use, &k.SealedPrivateKey, &k.State); err != nil {
				rows.Close()
				return err
			}
			ks = append(ks, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range ks {
			sealed, err := reseal(k)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE signing_keys SET sealed_private_key = $1 WHERE id = $2`, sealed, k.ID); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: reseal signing keys: %w", err)
	}
	return n, nil
}

// PruneSigningKeys deletes the tenant's retired keys whose PublishUntil
// is before t.
func (db *DB) PruneSigningKeys(ctx context.Context, tenantID string, t time.Time) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM signing_keys WHERE tenant_id = $1 AND state = 'retired' AND publish_until < $2`,
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

// Revoke adds the token ID to the revocation list and deletes the opaque
// token with that ID, in one transaction. A revocation already listed
// keeps the later expiry and the later cut-off.
func (db *DB) Revoke(ctx context.Context, r token.Revocation) error {
	if err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error { return revoke(ctx, tx, r) }); err != nil {
		return fmt.Errorf("postgres: revoke: %w", err)
	}
	return nil
}

// AddRevocation stores a revocation inside the transaction, as DB.Revoke
// does.
func (t *tx) AddRevocation(ctx context.Context, r token.Revocation) error {
	if err := revoke(ctx, t.tx, r); err != nil {
		return fmt.Errorf("postgres: add revocation: %w", err)
	}
	return nil
}

// revoke upserts r. A row whose expiry and cut-off would not move is left
// alone, so the change log records only revocations that changed.
// (GREATEST ignores NULLs: a cut-off, once set, is only moved later.)
func revoke(ctx context.Context, q querier, r token.Revocation) error {
	_, err := q.Exec(ctx, `INSERT INTO revocations (token_id, client_id, expires_at, issued_before) VALUES ($1, $2, $3, $4)
		ON CONFLICT (token_id) DO UPDATE SET expires_at = GREATEST(revocations.expires_at, excluded.expires_at),
			issued_before = GREATEST(revocations.issued_before, excluded.issued_before)
		WHERE excluded.expires_at > revocations.expires_at
			OR excluded.issued_before > COALESCE(revocations.issued_before, '-infinity')`,
		r.TokenID, r.ClientID, ts(r.ExpiresAt), tsOrNull(r.IssuedBefore))
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `DELETE FROM access_tokens WHERE id = $1`, r.TokenID)
	return err
}

// Revocations returns every revocation that expires after t, soonest
// first.
func (db *DB) Revocations(ctx context.Context, t time.Time) ([]token.Revocation, error) {
	out, err := db.revocations(ctx, `WHERE expires_at > $1 ORDER BY expires_at, token_id`, ts(t))
	if err != nil {
		return nil, fmt.Errorf("postgres: revocations: %w", err)
	}
	return out, nil
}

// RevocationsByID returns the stored revocations of the given token IDs.
func (db *DB) RevocationsByID(ctx context.Context, ids []string) ([]token.Revocation, error) {
	out, err := db.revocations(ctx, `WHERE token_id = ANY($1::text[])`, textArray(ids))
	if err != nil {
		return nil, fmt.Errorf("postgres: revocations by ID: %w", err)
	}
	return out, nil
}

// revocations reads the revocations that where (a fixed SQL clause)
// selects.
func (db *DB) revocations(ctx context.Context, where string, args ...any) ([]token.Revocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT token_id, client_id, expires_at, issued_before FROM revocations `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []token.Revocation
	for rows.Next() {
		var (
			r            token.Revocation
			issuedBefore *time.Time
		)
		if err := rows.Scan(&r.TokenID, &r.ClientID, &r.ExpiresAt, &issuedBefore); err != nil {
			return nil, err
		}
		r.ExpiresAt, r.IssuedBefore = utc(r.ExpiresAt), nullTime(issuedBefore)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PruneTokens deletes opaque tokens and revocations that expired before t,
// and daily token counts older than client.TokenHistoryDays.
func (db *DB) PruneTokens(ctx context.Context, t time.Time) error {
	return errors.Join(db.deleteExpired(ctx, "tokens", t, "access_tokens", "revocations"), db.pruneTokenDays(ctx, t))
}

// deleteExpired deletes, in one transaction, the rows of each table whose
// expires_at is before t. The table names are the callers' constants.
func (db *DB) deleteExpired(ctx context.Context, what string, t time.Time, tables ...string) error {
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for _, table := range tables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at < $1`, ts(t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: prune %s: %w", what, err)
	}
	return nil
}
