package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/registration"
)

var (
	_ registration.Tx    = (*tx)(nil)
	_ registration.Store = (*DB)(nil)
)

const registrationColumns = `client_id, tenant_id, token_hash, template, registered_by, registered_addr, metadata, created_at`

func scanRegistration(row pgx.Row) (*registration.Registration, error) {
	var (
		r     registration.Registration
		extra string
	)
	err := row.Scan(&r.ClientID, &r.TenantID, &r.TokenHash, &r.Template, &r.RegisteredBy, &r.RegisteredAddr, &extra, &r.CreatedAt)
	if isNoRows(err) {
		return nil, registration.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(extra), &r.Extra); err != nil {
		return nil, err
	}
	r.CreatedAt = utc(r.CreatedAt)
	return &r, nil
}

// CreateRegistration records how a client was registered.
func (t *tx) CreateRegistration(ctx context.Context, r *registration.Registration) error {
	extra, err := json.Marshal(r.Extra)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO client_registrations (`+registrationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.ClientID, r.TenantID, r.TokenHash, r.Template, r.RegisteredBy,
		r.RegisteredAddr, string(extra), r.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create registration: %w", err)
	}
	return nil
}

// SetRegistrationExtra replaces a registration's extra metadata.
func (t *tx) SetRegistrationExtra(ctx context.Context, clientID string, e registration.Extra) error {
	extra, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tag, err := t.tx.Exec(ctx, `UPDATE client_registrations SET metadata = $1 WHERE client_id = $2`, string(extra), clientID)
	if err == nil {
		err = affected(tag, registration.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: set registration metadata: %w", err)
	}
	return nil
}

const initialTokenColumns = `id, tenant_id, hash, name, created_by, created_at, expires_at, max_uses, uses, last_used_at, revoked_at`

func scanInitialToken(row pgx.Row) (*registration.InitialToken, error) {
	var (
		t             registration.InitialToken
		used, revoked *time.Time
	)
	err := row.Scan(&t.ID, &t.TenantID, &t.Hash, &t.Name, &t.CreatedBy, &t.CreatedAt, &t.ExpiresAt, &t.MaxUses, &t.Uses, &used, &revoked)
	if isNoRows(err) {
		return nil, registration.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = utc(t.CreatedAt), utc(t.ExpiresAt), nullTime(used), nullTime(revoked)
	return &t, nil
}

// UseInitialToken counts a use of a usable token. The UPDATE's own
// condition decides, so two registrations racing for a token's last use
// cannot both have it.
func (t *tx) UseInitialToken(ctx context.Context, tenantID, hash string, now time.Time) (*registration.InitialToken, error) {
	tok, err := scanInitialToken(t.tx.QueryRow(ctx, `UPDATE initial_access_tokens SET uses = uses + 1, last_used_at = $1
		WHERE tenant_id = $2 AND hash = $3 AND revoked_at IS NULL AND expires_at > $1 AND (max_uses = 0 OR uses < max_uses)
		RETURNING `+initialTokenColumns, now, tenantID, hash))
	if err != nil {
		return nil, fmt.Errorf("postgres: use initial access token: %w", err)
	}
	return tok, nil
}

// CreateInitialToken stores a new initial access token.
func (t *tx) CreateInitialToken(ctx context.Context, it *registration.InitialToken) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO initial_access_tokens (id, tenant_id, hash, name, created_by, created_at,
		expires_at, max_uses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, it.ID, it.TenantID, it.Hash, it.Name, it.CreatedBy,
		it.CreatedAt, it.ExpiresAt, it.MaxUses)
	if err != nil {
		return fmt.Errorf("postgres: create initial access token: %w", err)
	}
	return nil
}

// RevokeInitialToken marks a token revoked, keeping the first revocation's time.
func (t *tx) RevokeInitialToken(ctx context.Context, tenantID, id string, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE initial_access_tokens SET revoked_at = COALESCE(revoked_at, $1)
		WHERE tenant_id = $2 AND id = $3`, at, tenantID, id)
	if err == nil {
		err = affected(tag, registration.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: revoke initial access token: %w", err)
	}
	return nil
}

// RegistrationByToken finds a registration by its access token's hash.
func (db *DB) RegistrationByToken(ctx context.Context, hash string) (*registration.Registration, error) {
	r, err := scanRegistration(db.pool.QueryRow(ctx, `SELECT `+registrationColumns+` FROM client_registrations
		WHERE token_hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("postgres: registration: %w", err)
	}
	return r, nil
}

// Registration returns a client's registration.
func (db *DB) Registration(ctx context.Context, clientID string) (*registration.Registration, error) {
	r, err := scanRegistration(db.pool.QueryRow(ctx, `SELECT `+registrationColumns+` FROM client_registrations
		WHERE client_id = $1`, clientID))
	if err != nil {
		return nil, fmt.Errorf("postgres: registration: %w", err)
	}
	return r, nil
}

// InitialTokenByHash finds a tenant's initial access token by its hash.
func (db *DB) InitialTokenByHash(ctx context.Context, tenantID, hash string) (*registration.InitialToken, error) {
	t, err := scanInitialToken(db.pool.QueryRow(ctx, `SELECT `+initialTokenColumns+` FROM initial_access_tokens
		WHERE tenant_id = $1 AND hash = $2`, tenantID, hash))
	if err != nil {
		return nil, fmt.Errorf("postgres: initial access token: %w", err)
	}
	return t, nil
}

// InitialTokens lists a tenant's initial access tokens, newest first.
func (db *DB) InitialTokens(ctx context.Context, tenantID string) ([]registration.InitialToken, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+initialTokenColumns+` FROM initial_access_tokens
		WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: initial access tokens: %w", err)
	}
	defer rows.Close()
	var out []registration.InitialToken
	for rows.Next() {
		t, err := scanInitialToken(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: initial access tokens: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: initial access tokens: %w", err)
	}
	return out, nil
}

// UnusedRegistrations lists registered clients unused since before.
func (db *DB) UnusedRegistrations(ctx context.Context, tenantID string, before time.Time, limit int) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT r.client_id FROM client_registrations r JOIN clients c ON c.id = r.client_id
		WHERE r.tenant_id = $1 AND NOT c.protected AND COALESCE(c.last_used_at, r.created_at) < $2
		ORDER BY COALESCE(c.last_used_at, r.created_at), r.client_id LIMIT $3`, tenantID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: unused registrations: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("postgres: unused registrations: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: unused registrations: %w", err)
	}
	return ids, nil
}
