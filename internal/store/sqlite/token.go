package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/token"
)

// SigningKeys returns every stored key of the tenant, of every use, newest
// first.
func (db *DB) SigningKeys(ctx context.Context, tenantID string) ([]token.SigningKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, algorithm, use, public_key, sealed_private_key, state, created_at,
		activated_at, retired_at, publish_until FROM signing_keys WHERE tenant_id = ?
		ORDER BY created_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	defer rows.Close()
	var out []token.SigningKey
	for rows.Next() {
		var (
			k                                token.SigningKey
			created                          int64
			activated, retired, publishUntil sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Use, &k.PublicKey, &k.SealedPrivateKey, &k.State, &created,
			&activated, &retired, &publishUntil); err != nil {
			return nil, fmt.Errorf("sqlite: signing keys: %w", err)
		}
		k.CreatedAt, k.ActivatedAt = fromMicros(created), nullTime(activated)
		k.RetiredAt, k.PublishUntil = nullTime(retired), nullTime(publishUntil)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	return out, nil
}

// keyUse is the use stored for k: an empty one is token.UseAccess.
func keyUse(k *token.SigningKey) token.KeyUse {
	if k.Use == "" {
		return token.UseAccess
	}
	return k.Use
}

// AddSigningKey stores k as the next key of its use in the tenant, or as
// the current key of a use that has none, or returns token.ErrConflict
// when another key of the tenant and use is in that state (a unique index
// allows one of each) or k.ID is taken. An empty k.Use is stored as
// token.UseAccess.
func (db *DB) AddSigningKey(ctx context.Context, tenantID string, k *token.SigningKey) error {
	if k.State != token.KeyNext && k.State != token.KeyCurrent {
		return fmt.Errorf("sqlite: add signing key: state %q is neither next nor current", k.State)
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO signing_keys (id, tenant_id, algorithm, use, public_key,
		sealed_private_key, state, created_at, activated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, tenantID, k.Algorithm, keyUse(k), k.PublicKey, k.SealedPrivateKey, k.State, k.CreatedAt.UnixMicro(),
		timeOrNull(k.ActivatedAt))
	if isUnique(err) {
		return fmt.Errorf("sqlite: add signing key %q (%s %s): %w", k.ID, keyUse(k), k.State, token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: add signing key: %w", err)
	}
	return nil
}

// PromoteSigningKey makes next current and retires expectCurrent, if next
// is a next key of the tenant and expectCurrent the current key of its
// use; otherwise it changes nothing and returns token.ErrConflict.
func (db *DB) PromoteSigningKey(ctx context.Context, tenantID, next, expectCurrent string, at, publishUntil time.Time) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var use string
		err := tx.QueryRowContext(ctx, `SELECT use FROM signing_keys WHERE id = ? AND tenant_id = ? AND state = 'next'`,
			next, tenantID).Scan(&use)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("key %q is not next: %w", next, token.ErrConflict)
		}
		if err != nil {
			return err
		}
		var current string
		err = tx.QueryRowContext(ctx, `SELECT id FROM signing_keys WHERE tenant_id = ? AND use = ? AND state = 'current'`,
			tenantID, use).Scan(&current)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if current != expectCurrent {
			return fmt.Errorf("current %s key is %q, not %q: %w", use, current, expectCurrent, token.ErrConflict)
		}
		// Retire first: the unique index allows one current key per use.
		if current != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET state = 'retired', retired_at = ?, publish_until = ?
				WHERE id = ?`, at.UnixMicro(), timeOrNull(publishUntil), current); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE signing_keys SET state = 'current', activated_at = ? WHERE id = ?`,
			at.UnixMicro(), next)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: promote signing key: %w", err)
	}
	return nil
}

// ResealSigningKeys rewrites every key's sealed private key, in every
// tenant, with what reseal returns, in one transaction: all or nothing.
func (db *DB) ResealSigningKeys(ctx context.Context, reseal func(token.SigningKey) ([]byte, error)) (int, error) {
	n := 0
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		n = 0
		ks, err := signingKeysIn(ctx, tx)
		if err != nil {
			return err
		}
		for _, k := range ks {
			sealed, err := reseal(k)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET sealed_private_key = ? WHERE id = ?`, sealed, k.ID); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: reseal signing keys: %w", err)
	}
	return n, nil
}

// signingKeysIn reads the keys' IDs and sealed private keys in tx.
func signingKeysIn(ctx context.Context, tx *sql.Tx) ([]token.SigningKey, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, algorithm, use, sealed_private_key, state FROM signing_keys ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []token.SigningKey
	for rows.Next() {
		var k token.SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Use, &k.SealedPrivateKey, &k.State); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// PruneSigningKeys deletes the tenant's retired keys whose PublishUntil
// is before t.
func (db *DB) PruneSigningKeys(ctx context.Context, tenantID string, t time.Time) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM signing_keys
		WHERE tenant_id = ? AND state = 'retired' AND publish_until < ?`, tenantID, t.UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlite: prune signing keys: %w", err)
	}
	return nil
}

// CreateToken stores an opaque access token, or returns token.ErrConflict
// when its ID or hash is taken.
func (db *DB) CreateToken(ctx context.Context, r *token.Record) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO access_tokens (id, hash, client_id, secret_id, subject,
		audience, scopes, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Hash, r.ClientID, r.SecretID, r.Subject, jsonList(r.Audience), jsonList(r.Scopes),
		r.IssuedAt.UnixMicro(), r.ExpiresAt.UnixMicro())
	if isUnique(err) {
		return fmt.Errorf("sqlite: create token: %w", token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	return nil
}

// TokenByHash finds an opaque token by the hash of its value, or returns
// token.ErrNotFound. Expired tokens are returned until pruned; the caller
// checks ExpiresAt.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*token.Record, error) {
	var (
		r                token.Record
		audience, scopes string
		issued, expires  int64
	)
	err := db.read.QueryRowContext(ctx, `SELECT id, hash, client_id, secret_id, subject, audience, scopes,
		issued_at, expires_at FROM access_tokens WHERE hash = ?`, hash).
		Scan(&r.ID, &r.Hash, &r.ClientID, &r.SecretID, &r.Subject, &audience, &scopes, &issued, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		err = token.ErrNotFound
	}
	if err == nil {
		r.Audience, err = parseList[string](audience)
	}
	if err == nil {
		r.Scopes, err = parseList[string](scopes)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: token by hash: %w", err)
	}
	r.IssuedAt, r.ExpiresAt = fromMicros(issued), fromMicros(expires)
	return &r, nil
}

// Revoke adds the token ID to the revocation list and deletes the opaque
// token with that ID, in one transaction. A revocation already listed
// keeps the later expiry and the later cut-off.
func (db *DB) Revoke(ctx context.Context, r token.Revocation) error {
	if err := db.writeTx(ctx, func(tx *sql.Tx) error { return revoke(ctx, tx, r) }); err != nil {
		return fmt.Errorf("sqlite: revoke: %w", err)
	}
	return nil
}

// AddRevocation stores a revocation inside the transaction, as DB.Revoke
// does.
func (t *tx) AddRevocation(ctx context.Context, r token.Revocation) error {
	if err := revoke(ctx, t.tx, r); err != nil {
		return fmt.Errorf("sqlite: add revocation: %w", err)
	}
	return nil
}

// revoke upserts r. A row whose expiry and cut-off would not move is left
// alone, so the change log records only revocations that changed.
// (SQLite's two-argument max is NULL when either is; COALESCE then takes
// the one that is set.)
func revoke(ctx context.Context, q querier, r token.Revocation) error {
	_, err := q.ExecContext(ctx, `INSERT INTO revocations (token_id, client_id, expires_at, issued_before)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (token_id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at),
			issued_before = COALESCE(max(issued_before, excluded.issued_before), issued_before, excluded.issued_before)
		WHERE excluded.expires_at > expires_at
			OR COALESCE(excluded.issued_before, 0) > COALESCE(issued_before, 0)`,
		r.TokenID, r.ClientID, r.ExpiresAt.UnixMicro(), timeOrNull(r.IssuedBefore))
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `DELETE FROM access_tokens WHERE id = ?`, r.TokenID)
	return err
}

// Revocations returns every revocation that expires after t, soonest
// first.
func (db *DB) Revocations(ctx context.Context, t time.Time) ([]token.Revocation, error) {
	out, err := db.revocations(ctx, `WHERE expires_at > ? ORDER BY expires_at, token_id`, t.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlite: revocations: %w", err)
	}
	return out, nil
}

// RevocationsByID returns the stored revocations of the given token IDs.
func (db *DB) RevocationsByID(ctx context.Context, ids []string) ([]token.Revocation, error) {
	out, err := db.revocations(ctx, `WHERE token_id IN (SELECT value FROM json_each(?))`, jsonList(ids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: revocations by ID: %w", err)
	}
	return out, nil
}

// revocations reads the revocations that where (a fixed SQL clause)
// selects.
func (db *DB) revocations(ctx context.Context, where string, args ...any) ([]token.Revocation, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT token_id, client_id, expires_at, issued_before FROM revocations `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []token.Revocation
	for rows.Next() {
		var (
			r            token.Revocation
			expires      int64
			issuedBefore sql.NullInt64
		)
		if err := rows.Scan(&r.TokenID, &r.ClientID, &expires, &issuedBefore); err != nil {
			return nil, err
		}
		r.ExpiresAt, r.IssuedBefore = fromMicros(expires), nullTime(issuedBefore)
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
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, table := range tables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at < ?`, t.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: prune %s: %w", what, err)
	}
	return nil
}
