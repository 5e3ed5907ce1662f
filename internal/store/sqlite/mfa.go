package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/account"
)

// This file keeps users' second factors and tenants' settings: the
// authenticator apps, recovery codes, passkeys and passkey ceremonies of
// migration 0013.

var _ account.MFATx = (*tx)(nil)
var _ account.MFAReader = (*DB)(nil)

// LockTenant returns the tenant. The transaction already holds the
// database's write lock, so nothing else can change it until it ends.
func (t *tx) LockTenant(ctx context.Context, id string) (*account.Tenant, error) {
	tn, err := scanTenant(t.tx.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock tenant: %w", err)
	}
	return tn, nil
}

// UpdateTenant writes a tenant's settings, or returns
// account.ErrNotFound.
func (t *tx) UpdateTenant(ctx context.Context, tn *account.Tenant) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE tenants SET require_admin_mfa = ? WHERE id = ?`, tn.RequireAdminMFA, tn.ID)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update tenant: %w", err)
	}
	return nil
}

func scanTOTP(row scanner) (*account.TOTPFactor, error) {
	var (
		f         account.TOTPFactor
		created   int64
		confirmed sql.NullInt64
	)
	if err := row.Scan(&f.UserID, &f.TenantID, &f.SealedSeed, &f.LastStep, &created, &confirmed); err != nil {
		return nil, err
	}
	f.CreatedAt, f.ConfirmedAt = fromMicros(created), nullTime(confirmed)
	return &f, nil
}

func getTOTP(ctx context.Context, q querier, userID string) (*account.TOTPFactor, error) {
	f, err := scanTOTP(q.QueryRowContext(ctx, `SELECT user_id, tenant_id, sealed_seed, last_step, created_at, confirmed_at
		FROM totp_factors WHERE user_id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: totp: %w", err)
	}
	return f, nil
}

// TOTP returns the user's authenticator app, or account.ErrNotFound.
func (db *DB) TOTP(ctx context.Context, userID string) (*account.TOTPFactor, error) {
	return getTOTP(ctx, db.read, userID)
}

// TOTP reads the user's authenticator app inside the transaction.
func (t *tx) TOTP(ctx context.Context, userID string) (*account.TOTPFactor, error) {
	return getTOTP(ctx, t.tx, userID)
}

// PutTOTP stores the user's authenticator app, replacing any.
func (t *tx) PutTOTP(ctx context.Context, f *account.TOTPFactor) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO totp_factors (user_id, tenant_id, sealed_seed, last_step, created_at, confirmed_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET tenant_id = excluded.tenant_id, sealed_seed = excluded.sealed_seed,
			last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = excluded.confirmed_at`,
		f.UserID, f.TenantID, f.SealedSeed, f.LastStep, f.CreatedAt.UnixMicro(), timeOrNull(f.ConfirmedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put totp: %w", err)
	}
	return nil
}

// DeleteTOTP removes the user's authenticator app, if any.
func (t *tx) DeleteTOTP(ctx context.Context, userID string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: delete totp: %w", err)
	}
	return nil
}

func recoveryCodesLeft(ctx context.Context, q querier, userID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: recovery codes left: %w", err)
	}
	return n, nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return recoveryCodesLeft(ctx, db.read, userID)
}

// RecoveryCodesLeft counts them inside the transaction.
func (t *tx) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return recoveryCodesLeft(ctx, t.tx, userID)
}

// ReplaceRecoveryCodes replaces every recovery code of the user with
// these hashes.
func (t *tx) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, at time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: replace recovery codes: %w", err)
	}
	for _, h := range hashes {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES (?, ?, ?)`,
			userID, h, at.UnixMicro())
		if isUnique(err) {
			return fmt.Errorf("sqlite: replace recovery codes: %w", account.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("sqlite: replace recovery codes: %w", err)
		}
	}
	return nil
}

// UseRecoveryCode marks the user's unused code with this hash used, or
// returns account.ErrNotFound.
func (t *tx) UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`,
		at.UnixMicro(), userID, hash)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: use recovery code: %w", err)
	}
	return nil
}

const passkeyColumns = `id, user_id, tenant_id, name, public_key, sign_count, aaguid, transports, attestation_type,
	user_verified, backup_eligible, backup_state, created_at, last_used_at`

func scanPasskey(row scanner) (*account.Passkey, error) {
	var (
		p          account.Passkey
		transports string
		created    int64
		lastUsed   sql.NullInt64
	)
	if err := row.Scan(&p.ID, &p.UserID, &p.TenantID, &p.Name, &p.PublicKey, &p.SignCount, &p.AAGUID, &transports,
		&p.AttestationType, &p.UserVerified, &p.BackupEligible, &p.BackupState, &created, &lastUsed); err != nil {
		return nil, err
	}
	var err error
	if p.Transports, err = parseList[string](transports); err != nil {
		return nil, err
	}
	if len(p.AAGUID) == 0 {
		p.AAGUID = nil
	}
	p.CreatedAt, p.LastUsedAt = fromMicros(created), nullTime(lastUsed)
	return &p, nil
}

func passkeys(ctx context.Context, q querier, userID string) ([]account.Passkey, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: passkeys: %w", err)
	}
	defer rows.Close()
	var out []account.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: passkeys: %w", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: passkeys: %w", err)
	}
	return out, nil
}

// Passkeys returns the user's passkeys, oldest first.
func (db *DB) Passkeys(ctx context.Context, userID string) ([]account.Passkey, error) {
	return passkeys(ctx, db.read, userID)
}

// Passkeys reads the user's passkeys inside the transaction.
func (t *tx) Passkeys(ctx context.Context, userID string) ([]account.Passkey, error) {
	return passkeys(ctx, t.tx, userID)
}

// CreatePasskey stores a new passkey, or returns account.ErrConflict when
// its credential ID is taken.
func (t *tx) CreatePasskey(ctx context.Context, p *account.Passkey) error {
	aaguid := p.AAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.TenantID, p.Name, p.PublicKey, p.SignCount, aaguid, jsonList(p.Transports), p.AttestationType,
		p.UserVerified, p.BackupEligible, p.BackupState, p.CreatedAt.UnixMicro(), timeOrNull(p.LastUsedAt))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create passkey: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create passkey: %w", err)
	}
	return nil
}

// UpdatePasskey writes a passkey's counter, flags and last use.
func (t *tx) UpdatePasskey(ctx context.Context, p *account.Passkey) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, user_verified = ?, backup_eligible = ?,
		backup_state = ?, last_used_at = ? WHERE id = ?`,
		p.SignCount, p.UserVerified, p.BackupEligible, p.BackupState, timeOrNull(p.LastUsedAt), p.ID)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update passkey: %w", err)
	}
	return nil
}

// DeletePasskey removes the user's passkey, or returns
// account.ErrNotFound.
func (t *tx) DeletePasskey(ctx context.Context, userID, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = ? AND id = ?`, userID, id)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete passkey: %w", err)
	}
	return nil
}

// PutPasskeyCeremony stores c in place of the user's unfinished ceremony
// of the same purpose, and deletes the ceremonies expired before now.
func (t *tx) PutPasskeyCeremony(ctx context.Context, c *account.PasskeyCeremony, now time.Time) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE (user_id = ? AND purpose = ?) OR expires_at < ?`,
		c.UserID, c.Purpose, now.UnixMicro())
	if err == nil {
		_, err = t.tx.ExecContext(ctx, `INSERT INTO passkey_ceremonies (hash, user_id, tenant_id, purpose, data, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, c.Hash, c.UserID, c.TenantID, c.Purpose, c.Data, c.ExpiresAt.UnixMicro())
	}
	if isUnique(err) {
		return fmt.Errorf("sqlite: put passkey ceremony: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: put passkey ceremony: %w", err)
	}
	return nil
}

// TakePasskeyCeremony deletes and returns the ceremony with this hash, or
// returns account.ErrNotFound.
func (t *tx) TakePasskeyCeremony(ctx context.Context, hash string) (*account.PasskeyCeremony, error) {
	var (
		c       account.PasskeyCeremony
		expires int64
	)
	err := t.tx.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE hash = ?
		RETURNING hash, user_id, tenant_id, purpose, data, expires_at`, hash).
		Scan(&c.Hash, &c.UserID, &c.TenantID, &c.Purpose, &c.Data, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: take passkey ceremony: %w", err)
	}
	c.ExpiresAt = fromMicros(expires)
	return &c, nil
}
