package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
)

var _ account.Tx = (*tx)(nil)

// CreateTenant stores a new tenant with its home division, in one
// transaction. It returns account.ErrConflict when its ID or slug is
// taken, or when it is the default and another tenant already is.
func (db *DB) CreateTenant(ctx context.Context, t *account.Tenant) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error { return createTenant(ctx, tx, t) })
}

// CreateTenant stores a new tenant with its home division inside the
// transaction.
func (t *tx) CreateTenant(ctx context.Context, tn *account.Tenant) error {
	return createTenant(ctx, t.tx, tn)
}

// InAccountTx runs fn in one READ COMMITTED transaction, as InTx does for
// clients: the same transaction, seen through account.Tx.
func (db *DB) InAccountTx(ctx context.Context, fn func(account.Tx) error) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error { return fn(&tx{t}) })
}

func createTenant(ctx context.Context, q querier, t *account.Tenant) error {
	_, err := q.Exec(ctx, `INSERT INTO tenants (id, name, slug, is_default, created_at, require_admin_mfa)
		VALUES ($1, $2, $3, $4, $5, $6)`, t.ID, t.Name, slugOrNull(t.Slug), t.Default, ts(t.CreatedAt), t.RequireAdminMFA)
	if err == nil {
		err = createDivision(ctx, q, &account.Division{TenantID: t.ID, ID: authz.HomeDivision, Name: authz.HomeDivisionName,
			CreatedAt: t.CreatedAt})
	}
	if isUnique(err) {
		return fmt.Errorf("postgres: create tenant %q: %w", t.ID, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create tenant: %w", err)
	}
	return nil
}

// slugOrNull stores an empty slug as NULL, which the unique index allows
// many of.
func slugOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const tenantColumns = `id, name, COALESCE(slug, ''), is_default, created_at, require_admin_mfa`

func scanTenant(row scanner) (*account.Tenant, error) {
	var t account.Tenant
	if err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Default, &t.CreatedAt, &t.RequireAdminMFA); err != nil {
		return nil, err
	}
	t.CreatedAt = utc(t.CreatedAt)
	return &t, nil
}

// tenantWhere returns the one tenant the condition selects, or
// account.ErrNotFound.
func (db *DB) tenantWhere(ctx context.Context, what, cond string, args ...any) (*account.Tenant, error) {
	t, err := scanTenant(db.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE `+cond, args...))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return t, nil
}

// Tenant returns a tenant, or account.ErrNotFound.
func (db *DB) Tenant(ctx context.Context, id string) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "tenant", `id = $1`, id)
}

// TenantBySlug returns the tenant with this slug, or account.ErrNotFound.
func (db *DB) TenantBySlug(ctx context.Context, slug string) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "tenant by slug", `slug = $1`, slug)
}

// DefaultTenant returns the default tenant, or account.ErrNotFound.
func (db *DB) DefaultTenant(ctx context.Context) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "default tenant", `is_default`)
}

// Tenants returns every tenant, oldest first.
func (db *DB) Tenants(ctx context.Context) ([]account.Tenant, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	defer rows.Close()
	var out []account.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: tenants: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	return out, nil
}

const userColumns = `id, tenant_id, status, email, name, password_hash, roles, locale, created_at, updated_at,
	division_id, password_change_required`

func scanUser(row scanner) (*account.User, error) {
	var (
		u     account.User
		roles []string
	)
	if err := row.Scan(&u.ID, &u.TenantID, &u.Status, &u.Email, &u.Name, &u.PasswordHash, &roles, &u.Locale,
		&u.CreatedAt, &u.UpdatedAt, &u.DivisionID, &u.PasswordChangeRequired); err != nil {
		return nil, err
	}
	u.Roles = fromArray[string](roles)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return &u, nil
}

// userStatus is the status stored for u: an empty one is active.
func userStatus(u *account.User) string {
	if u.Status == "" {
		return string(account.UserActive)
	}
	return string(u.Status)
}

// CreateUser stores a new user with its email lower-cased (and an empty
// status as active). It returns account.ErrConflict when the ID, or the
// email within the tenant, is taken.
func (db *DB) CreateUser(ctx context.Context, u *account.User) error {
	return createUser(ctx, db.pool, u)
}

// CreateUser stores a new user inside the transaction, as DB.CreateUser
// does.
func (t *tx) CreateUser(ctx context.Context, u *account.User) error {
	return createUser(ctx, t.tx, u)
}

func createUser(ctx context.Context, q querier, u *account.User) error {
	_, err := q.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		u.ID, u.TenantID, userStatus(u), strings.ToLower(u.Email), u.Name, u.PasswordHash, textArray(u.Roles), u.Locale,
		ts(u.CreatedAt), ts(u.UpdatedAt), divisionOrHome(u.DivisionID), u.PasswordChangeRequired)
	if isUnique(err) {
		return fmt.Errorf("postgres: create user: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create user: %w", err)
	}
	return nil
}

// User returns a user in any tenant, or account.ErrNotFound.
func (db *DB) User(ctx context.Context, id string) (*account.User, error) {
	u, err := getUser(ctx, db.pool, id, "")
	if err != nil {
		return nil, fmt.Errorf("postgres: user: %w", err)
	}
	return u, nil
}

// LockUser returns the user and holds its row lock (FOR UPDATE) until the
// transaction ends, or returns account.ErrNotFound.
func (t *tx) LockUser(ctx context.Context, id string) (*account.User, error) {
	u, err := getUser(ctx, t.tx, id, " FOR UPDATE")
	if err != nil {
		return nil, fmt.Errorf("postgres: lock user: %w", err)
	}
	return u, nil
}

// getUser reads one user; lock is "" or a locking clause.
func getUser(ctx context.Context, q querier, id, lock string) (*account.User, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`+lock, id))
	if isNoRows(err) {
		return nil, account.ErrNotFound
	}
	return u, err
}

// UserByEmail returns the tenant's user with this email, compared
// case-insensitively, or account.ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, tenantID, email string) (*account.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE tenant_id = $1 AND email = $2`, tenantID, strings.ToLower(email)))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user by email: %w", err)
	}
	return u, nil
}

// UpdateUser writes a user's status (empty as active), email
// (lower-cased), name, password hash, roles, locale, division (empty as
// the home division), PasswordChangeRequired and UpdatedAt. It
// returns account.ErrNotFound for an unknown user and account.ErrConflict
// when the new email is taken.
func (db *DB) UpdateUser(ctx context.Context, u *account.User) error {
	return updateUser(ctx, db.pool, u)
}

// UpdateUser writes a user inside the transaction, as DB.UpdateUser does.
func (t *tx) UpdateUser(ctx context.Context, u *account.User) error {
	return updateUser(ctx, t.tx, u)
}

func updateUser(ctx context.Context, q querier, u *account.User) error {
	tag, err := q.Exec(ctx, `UPDATE users SET status = $1, email = $2, name = $3, password_hash = $4, roles = $5,
		locale = $6, updated_at = $7, division_id = $8, password_change_required = $9 WHERE id = $10`,
		userStatus(u), strings.ToLower(u.Email), u.Name, u.PasswordHash, textArray(u.Roles), u.Locale,
		ts(u.UpdatedAt), divisionOrHome(u.DivisionID), u.PasswordChangeRequired, u.ID)
	if isUnique(err) {
		return fmt.Errorf("postgres: update user: %w", account.ErrConflict)
	}
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: update user: %w", err)
	}
	return nil
}

// RenewPasswordHash replaces a password hash that is still old.
func (db *DB) RenewPasswordHash(ctx context.Context, userID, old, renewed string) error {
	if _, err := db.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`,
		renewed, userID, old); err != nil {
		return fmt.Errorf("postgres: renew password hash: %w", err)
	}
	return nil
}

// Users returns a tenant's users ordered by email.
func (db *DB) Users(ctx context.Context, tenantID string) ([]account.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 ORDER BY email, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	defer rows.Close()
	var out []account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	return out, nil
}

// CreateSession stores a new session, or returns account.ErrConflict when
// its ID or hash is taken.
func (t *tx) CreateSession(ctx context.Context, s *account.Session) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO sessions (id, hash, tenant_id, user_id, auth_time, created_at, expires_at,
		last_seen_at, methods) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, s.ID, s.Hash, s.TenantID, s.UserID,
		ts(s.AuthTime), ts(s.CreatedAt), ts(s.ExpiresAt), ts(s.LastSeenAt), textArray(s.Methods))
	if isUnique(err) {
		return fmt.Errorf("postgres: create session: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	return nil
}

// SessionByHash returns the session whose cookie value has this hash,
// expired or not, or account.ErrNotFound.
func (db *DB) SessionByHash(ctx context.Context, hash string) (*account.Session, error) {
	var (
		s       account.Session
		methods []string
	)
	err := db.pool.QueryRow(ctx, `SELECT id, hash, tenant_id, user_id, auth_time, created_at, expires_at,
		last_seen_at, methods FROM sessions WHERE hash = $1`, hash).Scan(&s.ID, &s.Hash, &s.TenantID, &s.UserID,
		&s.AuthTime, &s.CreatedAt, &s.ExpiresAt, &s.LastSeenAt, &methods)
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: session by hash: %w", err)
	}
	s.AuthTime, s.CreatedAt, s.ExpiresAt, s.LastSeenAt = utc(s.AuthTime), utc(s.CreatedAt), utc(s.ExpiresAt), utc(s.LastSeenAt)
	s.Methods = fromArray[string](methods)
	return &s, nil
}

// TouchSession moves the session's last activity forward to at; a
// missing session, or one seen at or after at, is left as it is.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	if _, err := db.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`,
		id, ts(at)); err != nil {
		return fmt.Errorf("postgres: touch session: %w", err)
	}
	return nil
}

// SetSessionMethods replaces the session's sign-in methods, or returns
// account.ErrNotFound when there is no session with this ID.
func (t *tx) SetSessionMethods(ctx context.Context, id string, methods []string) error {
	tag, err := t.tx.Exec(ctx, `UPDATE sessions SET methods = $2 WHERE id = $1`, id, textArray(methods))
	if err == nil {
		err = affected(tag, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: set session methods: %w", err)
	}
	return nil
}

// DeleteSession deletes the session with this hash, if there is one.
func (t *tx) DeleteSession(ctx context.Context, hash string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of the user.
func (t *tx) DeleteUserSessions(ctx context.Context, userID string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("postgres: delete user sessions: %w", err)
	}
	return nil
}

// DeleteOtherSessions deletes every session of the user but keepID.
func (t *tx) DeleteOtherSessions(ctx context.Context, userID, keepID string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, keepID); err != nil {
		return fmt.Errorf("postgres: delete other sessions: %w", err)
	}
	return nil
}

// PruneSessions deletes sessions that expired before t.
func (db *DB) PruneSessions(ctx context.Context, t time.Time) error {
	return db.deleteExpired(ctx, "sessions", t, "sessions")
}

// PutConsent stores c, replacing the user's consent for the client
// whole.
func (t *tx) PutConsent(ctx context.Context, c *account.Consent) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO consents (user_id, client_id, tenant_id, scopes, first_at, last_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, client_id) DO UPDATE SET tenant_id = excluded.tenant_id, scopes = excluded.scopes,
			first_at = excluded.first_at, last_at = excluded.last_at`,
		c.UserID, c.ClientID, c.TenantID, textArray(c.Scopes), ts(c.FirstAt), ts(c.LastAt))
	if err != nil {
		return fmt.Errorf("postgres: put consent: %w", err)
	}
	return nil
}

// DeleteConsent forgets the user's consent for the client, if any.
func (t *tx) DeleteConsent(ctx context.Context, userID, clientID string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID); err != nil {
		return fmt.Errorf("postgres: delete consent: %w", err)
	}
	return nil
}

const consentColumns = `tenant_id, user_id, client_id, scopes, first_at, last_at`

func scanConsent(row scanner) (*account.Consent, error) {
	var (
		c      account.Consent
		scopes []string
	)
	if err := row.Scan(&c.TenantID, &c.UserID, &c.ClientID, &scopes, &c.FirstAt, &c.LastAt); err != nil {
		return nil, err
	}
	c.Scopes = fromArray[string](scopes)
	c.FirstAt, c.LastAt = utc(c.FirstAt), utc(c.LastAt)
	return &c, nil
}

// Consent returns what the user approved for the client, or
// account.ErrNotFound.
func (db *DB) Consent(ctx context.Context, userID, clientID string) (*account.Consent, error) {
	return consent(ctx, db.pool, userID, clientID)
}

// Consent reads the user's consent for the client inside the transaction.
func (t *tx) Consent(ctx context.Context, userID, clientID string) (*account.Consent, error) {
	return consent(ctx, t.tx, userID, clientID)
}

// ConsentScopes returns the scopes the user approved for the client,
// read inside the transaction, or token.ErrNotFound.
func (t *tx) ConsentScopes(ctx context.Context, userID, clientID string) ([]string, error) {
	c, err := consent(ctx, t.tx, userID, clientID)
	if err != nil {
		return nil, err
	}
	return c.Scopes, nil
}

func consent(ctx context.Context, q querier, userID, clientID string) (*account.Consent, error) {
	c, err := scanConsent(q.QueryRow(ctx, `SELECT `+consentColumns+` FROM consents
		WHERE user_id = $1 AND client_id = $2`, userID, clientID))
	if isNoRows(err) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: consent: %w", err)
	}
	return c, nil
}

// Consents returns a user's consents, latest authorization first (ties by
// client ID).
func (db *DB) Consents(ctx context.Context, userID string) ([]account.Consent, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1
		ORDER BY last_at DESC, client_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: consents: %w", err)
	}
	defer rows.Close()
	var out []account.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: consents: %w", err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: consents: %w", err)
	}
	return out, nil
}

// UserActive reports, inside the transaction, whether the user exists in
// the tenant and is active.
func (t *tx) UserActive(ctx context.Context, userID, tenantID string) (bool, error) {
	var status string
	err := t.tx.QueryRow(ctx, `SELECT status FROM users WHERE id = $1 AND tenant_id = $2`, userID, tenantID).Scan(&status)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: user status: %w", err)
	}
	return status != string(account.UserDisabled), nil
}
