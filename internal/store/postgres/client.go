package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

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

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanClient reads the clientColumns of one row, then any extra columns
// into extra.
func scanClient(row scanner, extra ...any) (*client.Client, error) {
	var (
		c                                client.Client
		grants, redirects, scopes, roles []string
		accessTTL, refreshTTL            int64
		lastUsed, secretExpires          *time.Time
		postLogout                       []string
		lastAuthorized, lastToken        *time.Time
	)
	dest := []any{&c.ID, &c.TenantID, &c.Name, &c.Description, &c.Type, &grants, &redirects, &scopes, &roles,
		&c.OwnerUserID, &accessTTL, &refreshTTL, &c.TokenFormat, &c.RequireConsent, &c.Status, &c.Protected,
		&c.CreatedAt, &c.CreatedBy, &c.UpdatedAt, &lastUsed, &secretExpires,
		&c.TokenEndpointAuthMethod, &c.IDTokenAlg, &postLogout,
		&lastAuthorized, &c.LastAuthorization.UserID, &c.LastAuthorization.RedirectURI, &lastToken, &c.LastToken.Grant,
		&c.DivisionID, &c.RequirePKCE}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	c.GrantTypes = fromArray[client.GrantType](grants)
	c.RedirectURIs, c.Scopes, c.Roles = fromArray[string](redirects), fromArray[string](scopes), fromArray[string](roles)
	c.PostLogoutRedirectURIs = fromArray[string](postLogout)
	c.AccessTokenTTL = time.Duration(accessTTL) * time.Second
	c.RefreshTokenTTL = time.Duration(refreshTTL) * time.Second
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	c.LastUsedAt, c.SecretExpiresAt = nullTime(lastUsed), nullTime(secretExpires)
	c.LastAuthorization.At, c.LastToken.At = nullTime(lastAuthorized), nullTime(lastToken)
	return &c, nil
}

// Client returns the client with the given ID in any tenant, or
// client.ErrNotFound.
func (db *DB) Client(ctx context.Context, id string) (*client.Client, error) {
	c, err := getClient(ctx, db.pool, id, "")
	if err != nil {
		return nil, fmt.Errorf("postgres: client: %w", err)
	}
	return c, nil
}

// getClient reads one client; lock is "" or a locking clause.
func getClient(ctx context.Context, q querier, id, lock string) (*client.Client, error) {
	c, err := scanClient(q.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`+lock, id))
	if isNoRows(err) {
		return nil, client.ErrNotFound
	}
	return c, err
}

// Secrets returns the client's secrets, newest first; none for an unknown
// client.
func (db *DB) Secrets(ctx context.Context, clientID string) ([]client.Secret, error) {
	s, err := secrets(ctx, db.pool, clientID)
	if err != nil {
		return nil, fmt.Errorf("postgres: secrets: %w", err)
	}
	return s, nil
}

// SecretByHash returns the secret stored with this hash, found through
// its index.
func (db *DB) SecretByHash(ctx context.Context, hash string) (*client.Secret, error) {
	var clientID string
	err := db.pool.QueryRow(ctx, `SELECT client_id FROM client_secrets WHERE hash = $1 LIMIT 1`, hash).Scan(&clientID)
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: secret by hash: %w", client.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: secret by hash: %w", err)
	}
	all, err := secrets(ctx, db.pool, clientID)
	if err != nil {
		return nil, fmt.Errorf("postgres: secret by hash: %w", err)
	}
	for i := range all {
		if all[i].Hash == hash {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("postgres: secret by hash: %w", client.ErrNotFound)
}

func secrets(ctx context.Context, q querier, clientID string) ([]client.Secret, error) {
	rows, err := q.Query(ctx, `SELECT id, client_id, hash, hint, status, created_at, created_by,
		expires_at, last_used_at, last_used_addr, revoked_at, leaked_at
		FROM client_secrets WHERE client_id = $1 ORDER BY created_at DESC, seq DESC`, clientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []client.Secret
	for rows.Next() {
		var (
			s                          client.Secret
			expires, lastUsed, revoked *time.Time
			leaked                     *time.Time
		)
		if err := rows.Scan(&s.ID, &s.ClientID, &s.Hash, &s.Hint, &s.Status, &s.CreatedAt, &s.CreatedBy,
			&expires, &lastUsed, &s.LastUsedAddr, &revoked, &leaked); err != nil {
			return nil, err
		}
		s.CreatedAt = utc(s.CreatedAt)
		s.ExpiresAt, s.LastUsedAt, s.RevokedAt = nullTime(expires), nullTime(lastUsed), nullTime(revoked)
		s.LeakedAt = nullTime(leaked)
		out = append(out, s)
	}
	return out, rows.Err()
}

// InTx runs fn in one READ COMMITTED transaction. Transactions that lock
// the same client with LockClient serialize on its row lock.
func (db *DB) InTx(ctx context.Context, fn func(client.Tx) error) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error { return fn(&tx{t}) })
}

// RecordUse stores last-used times, keeping the later of the stored and
// given times (a secret's address with its time), in one transaction.
// Uses of unknown clients or secrets are ignored. The batch is coalesced and applied in ID order, so instances
// recording at once take row locks in one order and never deadlock.
func (db *DB) RecordUse(ctx context.Context, uses []client.Use) error {
	if len(uses) == 0 {
		return nil
	}
	type key struct{ client, secret string }
	latest := map[key]client.Use{}
	keep := func(k key, u client.Use) {
		if cur, ok := latest[k]; !ok || u.At.After(cur.At) {
			latest[k] = u
		}
	}
	for _, u := range uses {
		keep(key{u.ClientID, ""}, u)
		if u.SecretID != "" {
			keep(key{u.ClientID, u.SecretID}, u)
		}
	}
	keys := make([]key, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.client, b.client), cmp.Compare(a.secret, b.secret)) })

	b := &pgx.Batch{}
	for _, k := range keys {
		if k.secret == "" {
			b.Queue(`UPDATE clients SET last_used_at = $1
				WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, ts(latest[k].At), k.client)
		} else {
			b.Queue(`UPDATE client_secrets SET last_used_at = $1, last_used_addr = $4
				WHERE id = $2 AND client_id = $3 AND (last_used_at IS NULL OR last_used_at < $1)`,
				ts(latest[k].At), k.secret, k.client, latest[k].Addr)
		}
	}
	err := db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error { return t.SendBatch(ctx, b).Close() })
	if err != nil {
		return fmt.Errorf("postgres: record use: %w", err)
	}
	return nil
}

// RecordActivity stores clients' latest authorizations and tokens, each
// part only when later than the stored one, in one transaction. Activity
// of unknown clients is ignored. The batch is coalesced and applied in
// client ID order, as RecordUse's is, so instances never deadlock.
func (db *DB) RecordActivity(ctx context.Context, acts []client.Activity) error {
	type latest struct {
		auth  *client.Authorization
		token *client.Issue
	}
	byClient := map[string]*latest{}
	for _, a := range acts {
		l := byClient[a.ClientID]
		if l == nil {
			l = &latest{}
			byClient[a.ClientID] = l
		}
		if au := a.Authorization; au != nil && !au.At.IsZero() && (l.auth == nil || au.At.After(l.auth.At)) {
			l.auth = au
		}
		if tk := a.Token; tk != nil && !tk.At.IsZero() && (l.token == nil || tk.At.After(l.token.At)) {
			l.token = tk
		}
	}
	b := &pgx.Batch{}
	for _, id := range slices.Sorted(maps.Keys(byClient)) {
		if au := byClient[id].auth; au != nil {
			b.Queue(`UPDATE clients SET last_authorized_at = $1, last_authorized_user = $2, last_authorized_redirect_uri = $3
				WHERE id = $4 AND (last_authorized_at IS NULL OR last_authorized_at < $1)`,
				ts(au.At), au.UserID, au.RedirectURI, id)
		}
		if tk := byClient[id].token; tk != nil {
			b.Queue(`UPDATE clients SET last_token_at = $1, last_token_grant = $2
				WHERE id = $3 AND (last_token_at IS NULL OR last_token_at < $1)`, ts(tk.At), string(tk.Grant), id)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	err := db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error { return t.SendBatch(ctx, b).Close() })
	if err != nil {
		return fmt.Errorf("postgres: record activity: %w", err)
	}
	return nil
}

// tx is the store's one transaction, seen by each domain through its own
// Tx interface: client.Tx inside InTx, account.Tx inside InAccountTx,
// token.GrantTx inside InGrantTx.
type tx struct{ tx pgx.Tx }

var _ client.Tx = (*tx)(nil)

// LockClient returns the client and holds its row lock (FOR UPDATE) until
// the transaction ends.
func (t *tx) LockClient(ctx context.Context, id string) (*client.Client, error) {
	c, err := getClient(ctx, t.tx, id, " FOR UPDATE")
	if err != nil {
		return nil, fmt.Errorf("postgres: lock client: %w", err)
	}
	return c, nil
}

func (t *tx) Secrets(ctx context.Context, clientID string) ([]client.Secret, error) {
	s, err := secrets(ctx, t.tx, clientID)
	if err != nil {
		return nil, fmt.Errorf("postgres: secrets: %w", err)
	}
	return s, nil
}

func (t *tx) UserInTenant(ctx context.Context, tenantID, userID string) (bool, error) {
	var ok bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND tenant_id = $2)`,
		userID, tenantID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: user in tenant: %w", err)
	}
	return ok, nil
}

// CreateClient stores a new client, or returns client.ErrConflict when its
// ID is taken.
func (t *tx) CreateClient(ctx context.Context, c *client.Client) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
			$22, $23, $24, $25, $26, $27, $28, $29, $30, $31)`,
		c.ID, c.TenantID, c.Name, c.Description, c.Type, textArray(c.GrantTypes), textArray(c.RedirectURIs),
		textArray(c.Scopes), textArray(c.Roles), c.OwnerUserID, int64(c.AccessTokenTTL/time.Second),
		int64(c.RefreshTokenTTL/time.Second), c.TokenFormat, c.RequireConsent, c.Status, c.Protected,
		ts(c.CreatedAt), c.CreatedBy, ts(c.UpdatedAt), tsOrNull(c.LastUsedAt), tsOrNull(c.SecretExpiresAt),
		c.TokenEndpointAuthMethod, c.IDTokenAlg, textArray(c.PostLogoutRedirectURIs),
		tsOrNull(c.LastAuthorization.At), c.LastAuthorization.UserID, c.LastAuthorization.RedirectURI,
		tsOrNull(c.LastToken.At), c.LastToken.Grant, divisionOrHome(c.DivisionID), c.RequirePKCE)
	if isUnique(err) {
		return fmt.Errorf("postgres: create client %q: %w", c.ID, client.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create client: %w", err)
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
	tag, err := t.tx.Exec(ctx, `UPDATE clients SET name = $1, description = $2, type = $3,
		grant_types = $4, redirect_uris = $5, scopes = $6, roles = $7, owner_user_id = $8, access_token_ttl = $9,
		refresh_token_ttl = $10, token_format = $11, require_consent = $12, status = $13, protected = $14,
		updated_at = $15, secret_expires_at = $16, token_endpoint_auth_method = $17, id_token_alg = $18,
		post_logout_redirect_uris = $19, division_id = $20, require_pkce = $21
		WHERE id = $22`,
		c.Name, c.Description, c.Type, textArray(c.GrantTypes), textArray(c.RedirectURIs), textArray(c.Scopes),
		textArray(c.Roles), c.OwnerUserID, int64(c.AccessTokenTTL/time.Second), int64(c.RefreshTokenTTL/time.Second),
		c.TokenFormat, c.RequireConsent, c.Status, c.Protected, ts(c.UpdatedAt), tsOrNull(c.SecretExpiresAt),
		c.TokenEndpointAuthMethod, c.IDTokenAlg, textArray(c.PostLogoutRedirectURIs), divisionOrHome(c.DivisionID), c.RequirePKCE, c.ID)
	if err == nil {
		err = affected(tag, client.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update client: %w", err)
	}
	return nil
}

// DeleteClient removes the client with its secrets (ON DELETE CASCADE),
// and the consents, codes and refresh tokens issued to it.
func (t *tx) DeleteClient(ctx context.Context, id string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err == nil {
		err = affected(tag, client.ErrNotFound)
	}
	if err == nil {
		err = deleteIssuedTo(ctx, t.tx, id)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete client: %w", err)
	}
	return nil
}

// deleteIssuedTo deletes the consents, codes and refresh tokens of a
// client. They name it without a foreign key: a grant outlives nothing, and
// deleting them here is all a cascade would do.
func deleteIssuedTo(ctx context.Context, q querier, clientID string) error {
	for _, table := range []string{"consents", "auth_codes", "refresh_tokens"} {
		if _, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE client_id = $1`, clientID); err != nil {
			return err
		}
	}
	return nil
}

// CreateSecret stores a new secret: client.ErrConflict when its ID is
// taken, client.ErrNotFound when its client does not exist.
func (t *tx) CreateSecret(ctx context.Context, s *client.Secret) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO client_secrets (id, client_id, hash, hint, status,
		created_at, created_by, expires_at, last_used_at, last_used_addr, revoked_at, warn_at, leaked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		s.ID, s.ClientID, s.Hash, s.Hint, s.Status, ts(s.CreatedAt), s.CreatedBy,
		tsOrNull(s.ExpiresAt), tsOrNull(s.LastUsedAt), s.LastUsedAddr, tsOrNull(s.RevokedAt), warnAt(s), tsOrNull(s.LeakedAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("postgres: create secret %q: %w", s.ID, client.ErrConflict)
	case isForeignKey(err):
		return fmt.Errorf("postgres: create secret for client %q: %w", s.ClientID, client.ErrNotFound)
	case err != nil:
		return fmt.Errorf("postgres: create secret: %w", err)
	}
	return nil
}

// UpdateSecret writes a secret's hash, hint, status, expiry and revocation
// time. Its LastUsedAt is RecordUse's, as for clients.
func (t *tx) UpdateSecret(ctx context.Context, s *client.Secret) error {
	// A secret no longer active is warned of no more; an active one
	// keeps its place in its schedule.
	tag, err := t.tx.Exec(ctx, `UPDATE client_secrets SET hash = $1, hint = $2, status = $3,
		expires_at = $4, revoked_at = $5, warn_at = CASE WHEN $3 = 'active' THEN warn_at END, leaked_at = $8
		WHERE id = $6 AND client_id = $7`,
		s.Hash, s.Hint, s.Status, tsOrNull(s.ExpiresAt), tsOrNull(s.RevokedAt), s.ID, s.ClientID, tsOrNull(s.LeakedAt))
	if err == nil {
		err = affected(tag, client.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update secret: %w", err)
	}
	return nil
}

// MarkRetiringWarned sets the secret's retiring_warned_at unless set: of
// concurrent calls, the row lock lets one UPDATE win, and it is the one
// warning.
func (t *tx) MarkRetiringWarned(ctx context.Context, clientID, secretID string, at time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE client_secrets SET retiring_warned_at = $1
		WHERE id = $2 AND client_id = $3 AND retiring_warned_at IS NULL`, ts(at), secretID, clientID)
	if err != nil {
		return false, fmt.Errorf("postgres: mark retiring secret warned: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
