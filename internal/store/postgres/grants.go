package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/token"
)

var (
	_ token.GrantTx = (*tx)(nil)
	_ token.Revoker = (*tx)(nil)
)

// InGrantTx runs fn in one READ COMMITTED transaction, as InTx does for
// clients: the same transaction, seen through token.GrantTx.
func (db *DB) InGrantTx(ctx context.Context, fn func(token.GrantTx) error) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error { return fn(&tx{t}) })
}

const codeColumns = `hash, tenant_id, client_id, user_id, session_id, redirect_uri, scopes, nonce, code_challenge,
	auth_time, issued_at, expires_at, family_id, used_at, access_token_id, access_expires_at`

// CreateCode stores a new authorization code, or returns
// token.ErrConflict when its hash is taken.
func (t *tx) CreateCode(ctx context.Context, c *token.Code) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.Hash, c.TenantID, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, textArray(c.Scopes), c.Nonce,
		c.CodeChallenge, tsOrNull(c.AuthTime), ts(c.IssuedAt), ts(c.ExpiresAt), c.FamilyID,
		tsOrNull(c.UsedAt), c.AccessTokenID, tsOrNull(c.AccessExpiresAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create code: %w", token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create code: %w", err)
	}
	return nil
}

func scanCode(row scanner) (*token.Code, error) {
	var (
		c                             token.Code
		scopes                        []string
		authTime, used, accessExpires *time.Time
	)
	if err := row.Scan(&c.Hash, &c.TenantID, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &scopes,
		&c.Nonce, &c.CodeChallenge, &authTime, &c.IssuedAt, &c.ExpiresAt, &c.FamilyID, &used, &c.AccessTokenID,
		&accessExpires); err != nil {
		return nil, err
	}
	c.Scopes = fromArray[string](scopes)
	c.AuthTime, c.IssuedAt, c.ExpiresAt = nullTime(authTime), utc(c.IssuedAt), utc(c.ExpiresAt)
	c.UsedAt, c.AccessExpiresAt = nullTime(used), nullTime(accessExpires)
	return &c, nil
}

// UseCode returns the code with this hash, marking it used at now if it
// was not. The row is locked (FOR UPDATE) until the transaction ends, so
// two exchanges of one code serialize: the second waits, then reads the
// first's used_at.
func (t *tx) UseCode(ctx context.Context, hash string, now time.Time) (*token.Code, error) {
	c, err := scanCode(t.tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 FOR UPDATE`, hash))
	if isNoRows(err) {
		err = token.ErrNotFound
	}
	if err == nil && c.UsedAt.IsZero() {
		_, err = t.tx.Exec(ctx, `UPDATE auth_codes SET used_at = $1 WHERE hash = $2`, ts(now), hash)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: use code: %w", err)
	}
	return c, nil
}

// SetCodeAccess records on a code the access token its exchange issued,
// or returns token.ErrNotFound.
func (t *tx) SetCodeAccess(ctx context.Context, hash, accessTokenID string, accessExpiresAt time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE auth_codes SET access_token_id = $1, access_expires_at = $2 WHERE hash = $3`,
		accessTokenID, tsOrNull(accessExpiresAt), hash)
	if err == nil {
		err = affected(tag, token.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: set code access: %w", err)
	}
	return nil
}

const refreshColumns = `id, hash, family_id, tenant_id, client_id, user_id, scopes, auth_time, access_token_id,
	access_expires_at, issued_at, expires_at, used_at, revoked_at`

// CreateRefreshToken stores a new refresh token, or returns
// token.ErrConflict when its ID or hash is taken.
func (t *tx) CreateRefreshToken(ctx context.Context, r *token.RefreshToken) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, r.Hash, r.FamilyID, r.TenantID, r.ClientID, r.UserID, textArray(r.Scopes), tsOrNull(r.AuthTime),
		r.AccessTokenID, tsOrNull(r.AccessExpiresAt), ts(r.IssuedAt), ts(r.ExpiresAt),
		tsOrNull(r.UsedAt), tsOrNull(r.RevokedAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create refresh token: %w", token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create refresh token: %w", err)
	}
	return nil
}

func scanRefreshToken(row scanner) (*token.RefreshToken, error) {
	var (
		r                                      token.RefreshToken
		scopes                                 []string
		authTime, accessExpires, used, revoked *time.Time
	)
	if err := row.Scan(&r.ID, &r.Hash, &r.FamilyID, &r.TenantID, &r.ClientID, &r.UserID, &scopes, &authTime,
		&r.AccessTokenID, &accessExpires, &r.IssuedAt, &r.ExpiresAt, &used, &revoked); err != nil {
		return nil, err
	}
	r.Scopes = fromArray[string](scopes)
	r.AuthTime, r.AccessExpiresAt = nullTime(authTime), nullTime(accessExpires)
	r.IssuedAt, r.ExpiresAt = utc(r.IssuedAt), utc(r.ExpiresAt)
	r.UsedAt, r.RevokedAt = nullTime(used), nullTime(revoked)
	return &r, nil
}

// refreshTokenByHash reads one refresh token; lock is "" or a locking
// clause.
func refreshTokenByHash(ctx context.Context, q querier, hash, lock string) (*token.RefreshToken, error) {
	r, err := scanRefreshToken(q.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`+lock, hash))
	if isNoRows(err) {
		return nil, token.ErrNotFound
	}
	return r, err
}

// RefreshTokenByHash returns a refresh token, used, revoked or not, or
// token.ErrNotFound.
func (db *DB) RefreshTokenByHash(ctx context.Context, hash string) (*token.RefreshToken, error) {
	r, err := refreshTokenByHash(ctx, db.pool, hash, "")
	if err != nil {
		return nil, fmt.Errorf("postgres: refresh token by hash: %w", err)
	}
	return r, nil
}

// UseRefreshToken returns the refresh token with this hash as it was,
// marking it used at now if it was active. The row is locked (FOR UPDATE)
// until the transaction ends, so two uses of one token serialize and only
// the first finds it active.
func (t *tx) UseRefreshToken(ctx context.Context, hash string, now time.Time) (*token.RefreshToken, error) {
	r, err := refreshTokenByHash(ctx, t.tx, hash, " FOR UPDATE")
	if err == nil && r.Active(now) {
		_, err = t.tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE id = $2`, ts(now), r.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: use refresh token: %w", err)
	}
	return r, nil
}

// refreshFilter returns the condition f stands for, its parameters
// numbered from $2 ($1 is the time), or an error for an empty filter,
// which would select every token.
func refreshFilter(f token.RefreshFilter) (string, []any, error) {
	var (
		conds []string
		args  []any
	)
	for _, c := range []struct{ column, value string }{
		{"user_id", f.UserID}, {"client_id", f.ClientID}, {"family_id", f.FamilyID},
	} {
		if c.value != "" {
			args = append(args, c.value)
			conds = append(conds, c.column+" = $"+strconv.Itoa(len(args)+1))
		}
	}
	if len(conds) == 0 {
		return "", nil, errors.New("a refresh token filter needs a user, a client or a family")
	}
	return strings.Join(conds, " AND "), args, nil
}

// RevokeRefreshTokens marks the tokens f selects revoked at now (those
// revoked before keep their time) and returns a revocation for the access
// token recorded on each that is still live at now, oldest first.
//
// The update repeats until it finds nothing left to revoke: at READ
// COMMITTED a rotation that held one of the rows commits its successor
// token after this statement's snapshot, and the next statement sees it.
// Once a token is revoked here its row stays locked, so no later rotation
// of it succeeds.
func (t *tx) RevokeRefreshTokens(ctx context.Context, f token.RefreshFilter, now time.Time) ([]token.Revocation, error) {
	out, err := revokeRefreshTokens(ctx, t.tx, f, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke refresh tokens: %w", err)
	}
	return out, nil
}

func revokeRefreshTokens(ctx context.Context, q querier, f token.RefreshFilter, now time.Time) ([]token.Revocation, error) {
	where, args, err := refreshFilter(f)
	if err != nil {
		return nil, err
	}
	args = append([]any{ts(now)}, args...)
	for {
		tag, err := q.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND `+where, args...)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			break
		}
	}
	rows, err := q.Query(ctx, `SELECT access_token_id, client_id, access_expires_at FROM refresh_tokens
		WHERE access_token_id <> '' AND access_expires_at > $1 AND `+where+` ORDER BY issued_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []token.Revocation
	for rows.Next() {
		var r token.Revocation
		if err := rows.Scan(&r.TokenID, &r.ClientID, &r.ExpiresAt); err != nil {
			return nil, err
		}
		r.ExpiresAt = utc(r.ExpiresAt)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PruneGrants deletes codes and refresh tokens that expired before t.
func (db *DB) PruneGrants(ctx context.Context, t time.Time) error {
	return db.deleteExpired(ctx, "grants", t, "auth_codes", "refresh_tokens")
}
