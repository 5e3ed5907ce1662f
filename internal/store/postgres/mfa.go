package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/account"
)

// This file keeps users' second factors and tenants' settings: the
// authenticator apps, recovery codes, passkeys and passkey ceremonies of
// migration 0013.

var _ account.MFATx = (*tx)(nil)
var _ account.MFAReader = (*DB)(nil)

// LockTenant returns the tenant and holds its row lock (FOR UPDATE) until
// the transaction ends, or returns account.ErrNotFound.
func (t *tx) LockTenant(ctx context.Context, id string) (*account.Tenant, error) {
	tn, err := scanTenant(t.tx.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1 FOR UPDATE`, id))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: lock tenant: %w", err)
	}
	return tn, nil
}

// UpdateTenant writes a tenant's settings, or returns
// account.ErrNotFound.
func (t *tx) UpdateTenant(ctx context.Context, tn *account.Tenant) error {
	tag, err := t.tx.Exec(ctx, `UPDATE tenants SET require_admin_mfa = $2 WHERE id = $1`, tn.ID, tn.RequireAdminMFA)
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update tenant: %w", err)
	}
	return nil
}

func getTOTP(ctx context.Context, q querier, userID string) (*account.TOTPFactor, error) {
	var (
		f         account.TOTPFactor
		confirmed *time.Time
	)
	err := q.QueryRow(ctx, `SELECT user_id, tenant_id, sealed_seed, last_step, created_at, confirmed_at
		FROM totp_factors WHERE user_id = $1`, userID).
		Scan(&f.UserID, &f.TenantID, &f.SealedSeed, &f.LastStep, &f.CreatedAt, &confirmed)
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: totp: %w", err)
	}
	f.CreatedAt, f.ConfirmedAt = utc(f.CreatedAt), nullTime(confirmed)
	return &f, nil
}

// TOTP returns the user's authenticator app, or account.ErrNotFound.
func (db *DB) TOTP(ctx context.Context, userID string) (*account.TOTPFactor, error) {
	return getTOTP(ctx, db.pool, userID)
}

// TOTP reads the user's authenticator app inside the transaction.
func (t *tx) TOTP(ctx context.Context, userID string) (*account.TOTPFactor, error) {
	return getTOTP(ctx, t.tx, userID)
}

// PutTOTP stores the user's authenticator app, replacing any.
func (t *tx) PutTOTP(ctx context.Context, f *account.TOTPFactor) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO totp_factors (user_id, tenant_id, sealed_seed, last_step, created_at, confirmed_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id) DO UPDATE SET tenant_id = excluded.tenant_id, sealed_seed = excluded.sealed_seed,
			last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = excluded.confirmed_at`,
		f.UserID, f.TenantID, f.SealedSeed, f.LastStep, ts(f.CreatedAt), tsOrNull(f.ConfirmedAt))
	if err != nil {
		return fmt.Errorf("postgres: put totp: %w", err)
	}
	return nil
}

// DeleteTOTP removes the user's authenticator app, if any.
func (t *tx) DeleteTOTP(ctx context.Context, userID string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM totp_factors WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("postgres: delete totp: %w", err)
	}
	return nil
}

func recoveryCodesLeft(ctx context.Context, q querier, userID string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: recovery codes left: %w", err)
	}
	return n, nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return recoveryCodesLeft(ctx, db.pool, userID)
}

// RecoveryCodesLeft counts them inside the transaction.
func (t *tx) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return recoveryCodesLeft(ctx, t.tx, userID)
}

// ReplaceRecoveryCodes replaces every recovery code of the user with
// these hashes.
func (t *tx) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, at time.Time) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("postgres: replace recovery codes: %w", err)
	}
	if len(hashes) == 0 {
		return nil
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at)
		SELECT $1, h, $3 FROM unnest($2::text[]) AS h`, userID, hashes, ts(at))
	if isUnique(err) {
		return fmt.Errorf("postgres: replace recovery codes: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: replace recovery codes: %w", err)
	}
	return nil
}

// UseRecoveryCode marks the user's unused code with this hash used, or
// returns account.ErrNotFound.
func (t *tx) UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`,
		userID, hash, ts(at))
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: use recovery code: %w", err)
	}
	return nil
}

const passkeyColumns = `id, user_id, tenant_id, name, public_key, sign_count, aaguid, transports, attestation_type,
	user_verified, backup_eligible, backup_state, created_at, last_used_at`

func scanPasskey(row scanner) (*account.Passkey, error) {
	var (
		p          account.Passkey
		signCount  int64
		transports []string
		lastUsed   *time.Time
	)
	if err := row.Scan(&p.ID, &p.UserID, &p.TenantID, &p.Name, &p.PublicKey, &signCount, &p.AAGUID, &transports,
		&p.AttestationType, &p.UserVerified, &p.BackupEligible, &p.BackupState, &p.CreatedAt, &lastUsed); err != nil {
		return nil, err
	}
	if signCount < 0 || signCount > 1<<32-1 {
		return nil, fmt.Errorf("passkey %s: corrupt sign count %d", p.ID, signCount)
	}
	p.SignCount, p.Transports = uint32(signCount), fromArray[string](transports)
	if len(p.AAGUID) == 0 {
		p.AAGUID = nil
	}
	p.CreatedAt, p.LastUsedAt = utc(p.CreatedAt), nullTime(lastUsed)
	return &p, nil
}

func passkeys(ctx context.Context, q querier, userID string) ([]account.Passkey, error) {
	rows, err := q.Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: passkeys: %w", err)
	}
	defer rows.Close()
	var out []account.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: passkeys: %w", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: passkeys: %w", err)
	}
	return out, nil
}

// Passkeys returns the user's passkeys, oldest first.
func (db *DB) Passkeys(ctx context.Context, userID string) ([]account.Passkey, error) {
	return passkeys(ctx, db.pool, userID)
}

// Passkeys reads the user's passkeys inside the transaction.
func (t *tx) Passkeys(ctx context.Context, userID string) ([]account.Passkey, error) {
	return passkeys(ctx, t.tx, userID)
}

// bytesOrEmpty stores nil as an empty bytea, the column being NOT NULL.
func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CreatePasskey stores a new passkey, or returns account.ErrConflict when
// its credential ID is taken.
func (t *tx) CreatePasskey(ctx context.Context, p *account.Passkey) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.ID, p.UserID, p.TenantID, p.Name, bytesOrEmpty(p.PublicKey), int64(p.SignCount), bytesOrEmpty(p.AAGUID),
		textArray(p.Transports), p.AttestationType, p.UserVerified, p.BackupEligible, p.BackupState, ts(p.CreatedAt),
		tsOrNull(p.LastUsedAt))
	if isUnique(err) {
		return fmt.Errorf("postgres: create passkey: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create passkey: %w", err)
	}
	return nil
}

// UpdatePasskey writes a passkey's counter, flags and last use.
func (t *tx) UpdatePasskey(ctx context.Context, p *account.Passkey) error {
	tag, err := t.tx.Exec(ctx, `UPDATE passkeys SET sign_count = $2, user_verified = $3, backup_eligible = $4,
		backup_state = $5, last_used_at = $6 WHERE id = $1`,
		p.ID, int64(p.SignCount), p.UserVerified, p.BackupEligible, p.BackupState, tsOrNull(p.LastUsedAt))
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update passkey: %w", err)
	}
	return nil
}

// DeletePasskey removes the user's passkey, or returns
// account.ErrNotFound.
func (t *tx) DeletePasskey(ctx context.Context, userID, id string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM passkeys WHERE user_id = $1 AND id = $2`, userID, id)
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete passkey: %w", err)
	}
	return nil
}

// PutPasskeyCeremony stores c in place of the user's unfinished ceremony
// of the same purpose, and deletes the ceremonies expired before now.
func (t *tx) PutPasskeyCeremony(ctx context.Context, c *account.PasskeyCeremony, now time.Time) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM passkey_ceremonies WHERE (user_id = $1 AND purpose = $2) OR expires_at < $3`,
		c.UserID, c.Purpose, ts(now))
	if err == nil {
		_, err = t.tx.Exec(ctx, `INSERT INTO passkey_ceremonies (hash, user_id, tenant_id, purpose, data, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, c.Hash, c.UserID, c.TenantID, c.Purpose, bytesOrEmpty(c.Data), ts(c.ExpiresAt))
	}
	if isUnique(err) {
		return fmt.Errorf("postgres: put passkey ceremony: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: put passkey ceremony: %w", err)
	}
	return nil
}

// TakePasskeyCeremony deletes and returns the ceremony with this hash, or
// returns account.ErrNotFound. Of two transactions taking one ceremony,
// only one gets it.
func (t *tx) TakePasskeyCeremony(ctx context.Context, hash string) (*account.PasskeyCeremony, error) {
	var c account.PasskeyCeremony
	err := t.tx.QueryRow(ctx, `DELETE FROM passkey_ceremonies WHERE hash = $1
		RETURNING hash, user_id, tenant_id, purpose, data, expires_at`, hash).
		Scan(&c.Hash, &c.UserID, &c.TenantID, &c.Purpose, &c.Data, &c.ExpiresAt)
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: take passkey ceremony: %w", err)
	}
	c.ExpiresAt = utc(c.ExpiresAt)
	return &c, nil
}
