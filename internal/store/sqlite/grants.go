package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/token"
)

var (
	_ token.GrantTx = (*tx)(nil)
	_ token.Revoker = (*tx)(nil)
)

// InGrantTx runs fn in one write transaction, as InTx does for clients:
// the same transaction, seen through token.GrantTx. SQLite has one writer,
// so every UseCode and UseRefreshToken of one row serialize. As in InTx,
// fn must use only its Tx.
func (db *DB) InGrantTx(ctx context.Context, fn func(token.GrantTx) error) error {
	return db.writeTx(ctx, func(t *sql.Tx) error { return fn(&tx{t}) })
}

const codeColumns = `hash, tenant_id, client_id, user_id, session_id, redirect_uri, scopes, nonce, code_challenge,
	auth_time, issued_at, expires_at, family_id, used_at, access_token_id, access_expires_at`

// CreateCode stores a new authorization code, or returns
// token.ErrConflict when its hash is taken.
func (t *tx) CreateCode(ctx context.Context, c *token.Code) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.TenantID, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, jsonList(c.Scopes), c.Nonce,
		c.CodeChallenge, timeOrNull(c.AuthTime), c.IssuedAt.UnixMicro(), c.ExpiresAt.UnixMicro(), c.FamilyID,
		timeOrNull(c.UsedAt), c.AccessTokenID, timeOrNull(c.AccessExpiresAt))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create code: %w", token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create code: %w", err)
	}
	return nil
}

func scanCode(row scanner) (*token.Code, error) {
	var (
		c                             token.Code
		scopes                        string
		authTime, used, accessExpires sql.NullInt64
		issued, expires               int64
	)
	if err := row.Scan(&c.Hash, &c.TenantID, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &scopes,
		&c.Nonce, &c.CodeChallenge, &authTime, &issued, &expires, &c.FamilyID, &used, &c.AccessTokenID,
		&accessExpires); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = parseList[string](scopes); err != nil {
		return nil, err
	}
	c.AuthTime, c.IssuedAt, c.ExpiresAt = nullTime(authTime), fromMicros(issued), fromMicros(expires)
	c.UsedAt, c.AccessExpiresAt = nullTime(used), nullTime(accessExpires)
	return &c, nil
}

// UseCode returns the code with this hash, marking it used at now if it
// was not. The transaction holds the database's one write lock, so two
// exchanges of one code serialize and only the first sees it unused.
func (t *tx) UseCode(ctx context.Context, hash string, now time.Time) (*token.Code, error) {
	c, err := scanCode(t.tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		err = token.ErrNotFound
	}
	if err == nil && c.UsedAt.IsZero() {
		_, err = t.tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = ? WHERE hash = ?`, now.UnixMicro(), hash)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: use code: %w", err)
	}
	return c, nil
}

// SetCodeAccess records on a code the access token its exchange issued,
// or returns token.ErrNotFound.
func (t *tx) SetCodeAccess(ctx context.Context, hash, accessTokenID string, accessExpiresAt time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE auth_codes SET access_token_id = ?, access_expires_at = ? WHERE hash = ?`,
		accessTokenID, timeOrNull(accessExpiresAt), hash)
	if err == nil {
		err = affected(res, token.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set code access: %w", err)
	}
	return nil
}

const refreshColumns = `id, hash, family_id, tenant_id, client_id, user_id, scopes, auth_time, access_token_id,
	access_expires_at, issued_at, expires_at, used_at, revoked_at`

// CreateRefreshToken stores a new refresh token, or returns
// token.ErrConflict when its ID or hash is taken.
func (t *tx) CreateRefreshToken(ctx context.Context, r *token.RefreshToken) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Hash, r.FamilyID, r.TenantID, r.ClientID, r.UserID, jsonList(r.Scopes), timeOrNull(r.AuthTime),
		r.AccessTokenID, timeOrNull(r.AccessExpiresAt), r.IssuedAt.UnixMicro(), r.ExpiresAt.UnixMicro(),
		timeOrNull(r.UsedAt), timeOrNull(r.RevokedAt))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create refresh token: %w", token.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create refresh token: %w", err)
	}
	return nil
}

func scanRefreshToken(row scanner) (*token.RefreshToken, error) {
	var (
		r                                      token.RefreshToken
		scopes                                 string
		authTime, accessExpires, used, revoked sql.NullInt64
		issued, expires                        int64
	)
	if err := row.Scan(&r.ID, &r.Hash, &r.FamilyID, &r.TenantID, &r.ClientID, &r.UserID, &scopes, &authTime,
		&r.AccessTokenID, &accessExpires, &issued, &expires, &used, &revoked); err != nil {
		return nil, err
	}
	var err error
	if r.Scopes, err = parseList[string](scopes); err != nil {
		return nil, err
	}
	r.AuthTime, r.AccessExpiresAt = nullTime(authTime), nullTime(accessExpires)
	r.IssuedAt, r.ExpiresAt = fromMicros(issued), fromMicros(expires)
	r.UsedAt, r.RevokedAt = nullTime(used), nullTime(revoked)
	return &r, nil
}

func refreshTokenByHash(ctx context.Context, q querier, hash string) (*token.RefreshToken, error) {
	r, err := scanRefreshToken(q.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, token.ErrNotFound
	}
	return r, err
}

// RefreshTokenByHash returns a refresh token, used, revoked or not, or
// token.ErrNotFound.
func (db *DB) RefreshTokenByHash(ctx context.Context, hash string) (*token.RefreshToken, error) {
	r, err := refreshTokenByHash(ctx, db.read, hash)
	if err != nil {
		return nil, fmt.Errorf("sqlite: refresh token by hash: %w", err)
	}
	return r, nil
}

// UseRefreshToken returns the refresh token with this hash as it was,
// marking it used at now if it was active. The transaction holds the one
// write lock, so two uses of one token serialize.
func (t *tx) UseRefreshToken(ctx context.Context, hash string, now time.Time) (*token.RefreshToken, error) {
	r, err := refreshTokenByHash(ctx, t.tx, hash)
	if err == nil && r.Active(now) {
		_, err = t.tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE id = ?`, now.UnixMicro(), r.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: use refresh token: %w", err)
	}
	return r, nil
}

// refreshFilter returns the condition f stands for, or an error for an
// empty filter, which would select every token.
func refreshFilter(f token.RefreshFilter) (string, []any, error) {
	var (
		conds []string
		args  []any
	)
	for _, c := range []struct{ column, value string }{
		{"user_id", f.UserID}, {"client_id", f.ClientID}, {"family_id", f.FamilyID},
	} {
		if c.value != "" {
			conds, args = append(conds, c.column+" = ?"), append(args, c.value)
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
func (t *tx) RevokeRefreshTokens(ctx context.Context, f token.RefreshFilter, now time.Time) ([]token.Revocation, error) {
	out, err := revokeRefreshTokens(ctx, t.tx, f, now)
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoke refresh tokens: %w", err)
	}
	return out, nil
}

func revokeRefreshTokens(ctx context.Context, q querier, f token.RefreshFilter, now time.Time) ([]token.Revocation, error) {
	where, args, err := refreshFilter(f)
	if err != nil {
		return nil, err
	}
	if _, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND `+where,
		append([]any{now.UnixMicro()}, args...)...); err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT access_token_id, client_id, access_expires_at FROM refresh_tokens
		WHERE access_token_id <> '' AND access_expires_at > ? AND `+where+` ORDER BY issued_at, id`,
		append([]any{now.UnixMicro()}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []token.Revocation
	for rows.Next() {
		var (
			r       token.Revocation
			expires int64
		)
		if err := rows.Scan(&r.TokenID, &r.ClientID, &expires); err != nil {
			return nil, err
		}
		r.ExpiresAt = fromMicros(expires)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PruneGrants deletes codes and refresh tokens that expired before t.
func (db *DB) PruneGrants(ctx context.Context, t time.Time) error {
	return db.deleteExpired(ctx, "grants", t, "auth_codes", "refresh_tokens")
}
