package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// clientColumns are read by scanClient, in its order.
const clientColumns = `id, tenant_id, name, description, type, grant_types, redirect_uris, scopes, roles,
	owner_user_id, access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
	created_at, created_by, updated_at, last_used_at, secret_expires_at,
	token_endpoint_auth_method, id_token_alg, post_logout_redirect_uris,
	last_authorized_at, last_authorized_user, last_authorized_redirect_uri, last_token_at, last_token_grant,
	division_id, require_pkce`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanClient reads the clientColumns of one row, then any extra columns
// into extra.
func scanClient(row scanner, extra ...any) (*client.Client, error) {
	var (
		c                                client.Client
		grants, redirects, scopes, roles string
		accessTTL, refreshTTL            int64
		created, updated                 int64
		lastUsed, secretExpires          sql.NullInt64
		postLogout                       string
		lastAuthorized, lastToken        sql.NullInt64
	)
	dest := []any{&c.ID, &c.TenantID, &c.Name, &c.Description, &c.Type, &grants, &redirects, &scopes, &roles,
		&c.OwnerUserID, &accessTTL, &refreshTTL, &c.TokenFormat, &c.RequireConsent, &c.Status, &c.Protected,
		&created, &c.CreatedBy, &updated, &lastUsed, &secretExpires,
		&c.TokenEndpointAuthMethod, &c.IDTokenAlg, &postLogout,
		&lastAuthorized, &c.LastAuthorization.UserID, &c.LastAuthorization.RedirectURI, &lastToken, &c.LastToken.Grant,
		&c.DivisionID, &c.RequirePKCE}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	var err error
	if c.GrantTypes, err = parseList[client.GrantType](grants); err != nil {
		return nil, err
	}
	if c.RedirectURIs, err = parseList[string](redirects); err != nil {
		return nil, err
	}
	if c.Scopes, err = parseList[string](scopes); err != nil {
		return nil, err
	}
	if c.Roles, err = parseList[string](roles); err != nil {
		return nil, err
	}
	if c.PostLogoutRedirectURIs, err = parseList[string](postLogout); err != nil {
		return nil, err
	}
	c.AccessTokenTTL = time.Duration(accessTTL) * time.Second
	c.RefreshTokenTTL = time.Duration(refreshTTL) * time.Second
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	c.LastUsedAt, c.SecretExpiresAt = nullTime(lastUsed), nullTime(secretExpires)
	c.LastAuthorization.At, c.LastToken.At = nullTime(lastAuthorized), nullTime(lastToken)
	return &c, nil
}

// Client returns the client with the given ID in any tenant, or
// client.ErrNotFound.
func (db *DB) Client(ctx context.Context, id string) (*client.Client, error) {
	c, err := getClient(ctx, db.read, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: client: %w", err)
	}
	return c, nil
}

func getClient(ctx context.Context, q querier, id string) (*client.Client, error) {
	c, err := scanClient(q.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, client.ErrNotFound
	}
	return c, err
}

// Secrets returns the client's secrets, newest first; none for an unknown
// client.
func (db *DB) Secrets(ctx context.Context, clientID string) ([]client.Secret, error) {
	s, err := secrets(ctx, db.read, clientID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: secrets: %w", err)
	}
	return s, nil
}

// SecretByHash returns the secret stored with this hash, found through
// its index.
func (db *DB) SecretByHash(ctx context.Context, hash string) (*client.Secret, error) {
	var clientID string
	err := db.read.QueryRowContext(ctx, `SELECT client_id FROM client_secrets WHERE hash = ? LIMIT 1`, hash).Scan(&clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: secret by hash: %w", client.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: secret by hash: %w", err)
	}
	all, err := secrets(ctx, db.read, clientID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: secret by hash: %w", err)
	}
	for i := range all {
		if all[i].Hash == hash {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("sqlite: secret by hash: %w", client.ErrNotFound)
}

func secrets(ctx context.Context, q querier, clientID string) ([]client.Secret, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, client_id, hash, hint, status, created_at, created_by,
		expires_at, last_used_at, last_used_addr, revoked_at, leaked_at
		FROM client_secrets WHERE client_id = ? ORDER BY created_at DESC, seq DESC`, clientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []client.Secret
	for rows.Next() {
		var (
			s                          client.Secret
			created                    int64
			expires, lastUsed, revoked sql.NullInt64
			leaked                     sql.NullInt64
		)
		if err := rows.Scan(&s.ID, &s.ClientID, &s.Hash, &s.Hint, &s.Status, &created, &s.CreatedBy,
			&expires, &lastUsed, &s.LastUsedAddr, &revoked, &leaked); err != nil {
			return nil, err
		}
		s.CreatedAt = fromMicros(created)
		s.ExpiresAt, s.LastUsedAt, s.RevokedAt = nullTime(expires), nullTime(lastUsed), nullTime(revoked)
		s.LeakedAt = nullTime(leaked)
		out = append(out, s)
	}
	return out, rows.Err()
}

// InTx runs fn in one write transaction. SQLite has one writer at a time,
// so transactions serialize whether or not they lock the same client.
//
// fn must use only its Tx: the transaction holds the one write connection,
// so a write through the DB itself (or, for an in-memory database, any
// call) from inside fn would wait for it forever.
func (db *DB) InTx(ctx context.Context, fn func(client.Tx) error) error {
	return db.writeTx(ctx, func(t *sql.Tx) error { return fn(&tx{t}) })
}

// RecordUse stores last-used times, keeping the later of the stored and
// given times (a secret's address with its time), in one transaction.
// Uses of unknown clients or secrets are ignored.
func (db *DB) RecordUse(ctx context.Context, uses []client.Use) error {
	if len(uses) == 0 {
		return nil
	}
	err := db.writeTx(ctx, func(t *sql.Tx) error {
		for _, u := range uses {
			at := u.At.UnixMicro()
			if _, err := t.ExecContext(ctx, `UPDATE clients SET last_used_at = ?1
				WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`, at, u.ClientID); err != nil {
				return err
			}
			if u.SecretID == "" {
				continue
			}
			if _, err := t.ExecContext(ctx, `UPDATE client_secrets SET last_used_at = ?1, last_used_addr = ?4
				WHERE id = ?2 AND client_id = ?3 AND (last_used_at IS NULL OR last_used_at < ?1)`,
				at, u.SecretID, u.ClientID, u.Addr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: record use: %w", err)
	}
	return nil
}

// RecordActivity stores clients' latest authorizations and tokens, each
// part only when later than the stored one, in one transaction. Activity
// of unknown clients is ignored.
func (db *DB) RecordActivity(ctx context.Context, acts []client.Activity) error {
	if len(acts) == 0 {
		return nil
	}
	err := db.writeTx(ctx, func(t *sql.Tx) error {
		for _, a := range acts {
			if au := a.Authorization; au != nil && !au.At.IsZero() {
				if _, err := t.ExecContext(ctx, `UPDATE clients SET last_authorized_at = ?1, last_authorized_user = ?2,
					last_authorized_redirect_uri = ?3
					WHERE id = ?4 AND (last_authorized_at IS NULL OR last_authorized_at < ?1)`,
					au.At.UnixMicro(), au.UserID, au.RedirectURI, a.ClientID); err != nil {
					return err
				}
			}
			if tk := a.Token; tk != nil && !tk.At.IsZero() {
				if _, err := t.ExecContext(ctx, `UPDATE clients SET last_token_at = ?1, last_token_grant = ?2
					WHERE id = ?3 AND (last_token_at IS NULL OR last_token_at < ?1)`,
					tk.At.UnixMicro(), tk.Grant, a.ClientID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: record activity: %w", err)
	}
	return nil
}

// tx is the store's one transaction, seen by each domain through its own
// Tx interface: client.Tx inside InTx, account.Tx inside InAccountTx,
// token.GrantTx inside InGrantTx.
type tx struct{ tx *sql.Tx }

var _ client.Tx = (*tx)(nil)

// LockClient returns the client. The transaction already holds the
// database's write lock, so nothing else can change it until it ends.
func (t *tx) LockClient(ctx context.Context, id string) (*client.Client, error) {
	c, err := getClient(ctx, t.tx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock client: %w", err)
	}
	return c, nil
}

func (t *tx) Secrets(ctx context.Context, clientID string) ([]client.Secret, error) {
	s, err := secrets(ctx, t.tx, clientID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: secrets: %w", err)
	}
	return s, nil
}

func (t *tx) UserInTenant(ctx context.Context, tenantID, userID string) (bool, error) {
	var ok bool
	err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND tenant_id = ?)`,
		userID, tenantID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("sqlite: user in tenant: %w", err)
	}
	return ok, nil
}

// CreateClient stores a new client, or returns client.ErrConflict when its
// ID is taken.
func (t *tx) CreateClient(ctx context.Context, c *client.Client) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.TenantID, c.Name, c.Description, c.Type, jsonList(c.GrantTypes), jsonList(c.RedirectURIs),
		jsonList(c.Scopes), jsonList(c.Roles), c.OwnerUserID, int64(c.AccessTokenTTL/time.Second),
		int64(c.RefreshTokenTTL/time.Second), c.TokenFormat, boolInt(c.RequireConsent), c.Status,
		boolInt(c.Protected), c.CreatedAt.UnixMicro(), c.CreatedBy, c.UpdatedAt.UnixMicro(),
		timeOrNull(c.LastUsedAt), timeOrNull(c.SecretExpiresAt),
		c.TokenEndpointAuthMethod, c.IDTokenAlg, jsonList(c.PostLogoutRedirectURIs),
		timeOrNull(c.LastAuthorization.At), c.LastAuthorization.UserID, c.LastAuthorization.RedirectURI,
		timeOrNull(c.LastToken.At), c.LastToken.Grant, divisionOrHome(c.DivisionID), boolInt(c.RequirePKCE))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create client %q: %w", c.ID, client.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create client: %w", err)
	}
	return nil
}

// divisionOrHome is the division stored for a client or user: an empty one
// is the home division.
func divisionOrHome(id string) string {
	if id == "" {
		return authz.HomeDivision
	}
	return id
}

// UpdateClient writes every field of c except those that never change
// (ID, TenantID, CreatedAt, CreatedBy) and LastUsedAt, LastAuthorization
// and LastToken, which RecordUse and RecordActivity own so that an update
// made from an older copy cannot move them back.
func (t *tx) UpdateClient(ctx context.Context, c *client.Client) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE clients SET name = ?, description = ?, type = ?,
		grant_types = ?, redirect_uris = ?, scopes = ?, roles = ?, owner_user_id = ?, access_token_ttl = ?,
		refresh_token_ttl = ?, token_format = ?, require_consent = ?, status = ?, protected = ?,
		updated_at = ?, secret_expires_at = ?, token_endpoint_auth_method = ?, id_token_alg = ?,
		post_logout_redirect_uris = ?, division_id = ?, require_pkce = ?
		WHERE id = ?`,
		c.Name, c.Description, c.Type, jsonList(c.GrantTypes), jsonList(c.RedirectURIs), jsonList(c.Scopes),
		jsonList(c.Roles), c.OwnerUserID, int64(c.AccessTokenTTL/time.Second), int64(c.RefreshTokenTTL/time.Second),
		c.TokenFormat, boolInt(c.RequireConsent), c.Status, boolInt(c.Protected), c.UpdatedAt.UnixMicro(),
		timeOrNull(c.SecretExpiresAt), c.TokenEndpointAuthMethod, c.IDTokenAlg, jsonList(c.PostLogoutRedirectURIs),
		divisionOrHome(c.DivisionID), boolInt(c.RequirePKCE), c.ID)
	if err == nil {
		err = affected(res, client.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update client: %w", err)
	}
	return nil
}

// DeleteClient removes the client with its secrets (ON DELETE CASCADE),
// and the consents, codes and refresh tokens issued to it.
func (t *tx) DeleteClient(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
	if err == nil {
		err = affected(res, client.ErrNotFound)
	}
	if err == nil {
		err = deleteIssuedTo(ctx, t.tx, id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete client: %w", err)
	}
	return nil
}

// deleteIssuedTo deletes the consents, codes and refresh tokens of a
// client. They name it without a foreign key: a grant outlives nothing, and
// deleting them here is all a cascade would do.
func deleteIssuedTo(ctx context.Context, q querier, clientID string) error {
	for _, table := range []string{"consents", "auth_codes", "refresh_tokens"} {
		if _, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE client_id = ?`, clientID); err != nil {
			return err
		}
	}
	return nil
}

// CreateSecret stores a new secret: client.ErrConflict when its ID is
// taken, client.ErrNotFound when its client does not exist.
func (t *tx) CreateSecret(ctx context.Context, s *client.Secret) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO client_secrets (id, client_id, hash, hint, status,
		created_at, created_by, expires_at, last_used_at, last_used_addr, revoked_at, warn_at, leaked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.ClientID, s.Hash, s.Hint, s.Status, s.CreatedAt.UnixMicro(), s.CreatedBy,
		timeOrNull(s.ExpiresAt), timeOrNull(s.LastUsedAt), s.LastUsedAddr, timeOrNull(s.RevokedAt), warnAt(s), timeOrNull(s.LeakedAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("sqlite: create secret %q: %w", s.ID, client.ErrConflict)
	case isForeignKey(err):
		return fmt.Errorf("sqlite: create secret for client %q: %w", s.ClientID, client.ErrNotFound)
	case err != nil:
		return fmt.Errorf("sqlite: create secret: %w", err)
	}
	return nil
}

// UpdateSecret writes a secret's hash, hint, status, expiry and revocation
// time. Its LastUsedAt is RecordUse's, as for clients.
func (t *tx) UpdateSecret(ctx context.Context, s *client.Secret) error {
	// A secret no longer active is warned of no more; an active one
	// keeps its place in its schedule.
	res, err := t.tx.ExecContext(ctx, `UPDATE client_secrets SET hash = ?1, hint = ?2, status = ?3,
		expires_at = ?4, revoked_at = ?5, warn_at = CASE WHEN ?3 = 'active' THEN warn_at END, leaked_at = ?8
		WHERE id = ?6 AND client_id = ?7`,
		s.Hash, s.Hint, s.Status, timeOrNull(s.ExpiresAt), timeOrNull(s.RevokedAt), s.ID, s.ClientID, timeOrNull(s.LeakedAt))
	if err == nil {
		err = affected(res, client.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update secret: %w", err)
	}
	return nil
}

// MarkRetiringWarned sets the secret's retiring_warned_at unless set: the
// one UPDATE that wins is the one warning.
func (t *tx) MarkRetiringWarned(ctx context.Context, clientID, secretID string, at time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE client_secrets SET retiring_warned_at = ?
		WHERE id = ? AND client_id = ? AND retiring_warned_at IS NULL`, at.UnixMicro(), secretID, clientID)
	if err != nil {
		return false, fmt.Errorf("sqlite: mark retiring secret warned: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: mark retiring secret warned: %w", err)
	}
	return n == 1, nil
}
