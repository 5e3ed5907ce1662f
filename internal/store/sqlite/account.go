package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
)

var _ account.Tx = (*tx)(nil)

// CreateTenant stores a new tenant with its home division, in one
// transaction. It returns account.ErrConflict when its ID or slug is
// taken, or when it is the default and another tenant already is.
func (db *DB) CreateTenant(ctx context.Context, t *account.Tenant) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error { return createTenant(ctx, tx, t) })
}

// CreateTenant stores a new tenant with its home division inside the
// transaction.
func (t *tx) CreateTenant(ctx context.Context, tn *account.Tenant) error {
	return createTenant(ctx, t.tx, tn)
}

// InAccountTx runs fn in one write transaction, as InTx does for clients:
// the same transaction, seen through account.Tx.
func (db *DB) InAccountTx(ctx context.Context, fn func(account.Tx) error) error {
	return db.writeTx(ctx, func(t *sql.Tx) error { return fn(&tx{t}) })
}

func createTenant(ctx context.Context, q querier, t *account.Tenant) error {
	_, err := q.ExecContext(ctx, `INSERT INTO tenants (id, name, slug, is_default, created_at, require_admin_mfa)
		VALUES (?, ?, ?, ?, ?, ?)`, t.ID, t.Name, slugOrNull(t.Slug), t.Default, t.CreatedAt.UnixMicro(), t.RequireAdminMFA)
	if err == nil {
		err = createDivision(ctx, q, &account.Division{TenantID: t.ID, ID: authz.HomeDivision, Name: authz.HomeDivisionName,
			CreatedAt: t.CreatedAt})
	}
	if isUnique(err) {
		return fmt.Errorf("sqlite: create tenant %q: %w", t.ID, account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create tenant: %w", err)
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
	var (
		t       account.Tenant
		created int64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Default, &created, &t.RequireAdminMFA); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// tenantWhere returns the one tenant the condition selects, or
// account.ErrNotFound.
func (db *DB) tenantWhere(ctx context.Context, what, cond string, args ...any) (*account.Tenant, error) {
	t, err := scanTenant(db.read.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE `+cond, args...))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return t, nil
}

// Tenant returns a tenant, or account.ErrNotFound.
func (db *DB) Tenant(ctx context.Context, id string) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "tenant", `id = ?`, id)
}

// TenantBySlug returns the tenant with this slug, or account.ErrNotFound.
func (db *DB) TenantBySlug(ctx context.Context, slug string) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "tenant by slug", `slug = ?`, slug)
}

// DefaultTenant returns the default tenant, or account.ErrNotFound.
func (db *DB) DefaultTenant(ctx context.Context) (*account.Tenant, error) {
	return db.tenantWhere(ctx, "default tenant", `is_default = 1`)
}

// Tenants returns every tenant, oldest first.
func (db *DB) Tenants(ctx context.Context) ([]account.Tenant, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	defer rows.Close()
	var out []account.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: tenants: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	return out, nil
}

const userColumns = `id, tenant_id, status, email, name, password_hash, roles, locale, created_at, updated_at,
	division_id, password_change_required`

func scanUser(row scanner) (*account.User, error) {
	var (
		u                account.User
		roles            string
		created, updated int64
	)
	if err := row.Scan(&u.ID, &u.TenantID, &u.Status, &u.Email, &u.Name, &u.PasswordHash, &roles, &u.Locale,
		&created, &updated, &u.DivisionID, &u.PasswordChangeRequired); err != nil {
		return nil, err
	}
	var err error
	if u.Roles, err = parseList[string](roles); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// userStatus is the status stored for u: an empty one is active.
func userStatus(u *account.User) account.UserStatus {
	if u.Status == "" {
		return account.UserActive
	}
	return u.Status
}

// CreateUser stores a new user with its email lower-cased (and an empty
// status as active). It returns account.ErrConflict when the ID, or the
// email within the tenant, is taken.
func (db *DB) CreateUser(ctx context.Context, u *account.User) error {
	return createUser(ctx, db.write, u)
}

// CreateUser stores a new user inside the transaction, as DB.CreateUser
// does.
func (t *tx) CreateUser(ctx context.Context, u *account.User) error {
	return createUser(ctx, t.tx, u)
}

func createUser(ctx context.Context, q querier, u *account.User) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.TenantID, userStatus(u), strings.ToLower(u.Email), u.Name, u.PasswordHash, jsonList(u.Roles), u.Locale,
		u.CreatedAt.UnixMicro(), u.UpdatedAt.UnixMicro(), divisionOrHome(u.DivisionID), u.PasswordChangeRequired)
	if isUnique(err) {
		return fmt.Errorf("sqlite: create user: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	return nil
}

// User returns a user in any tenant, or account.ErrNotFound.
func (db *DB) User(ctx context.Context, id string) (*account.User, error) {
	u, err := getUser(ctx, db.read, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user: %w", err)
	}
	return u, nil
}

// LockUser returns the user. The transaction already holds the database's
// write lock, so nothing else can change it until it ends.
func (t *tx) LockUser(ctx context.Context, id string) (*account.User, error) {
	u, err := getUser(ctx, t.tx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock user: %w", err)
	}
	return u, nil
}

func getUser(ctx context.Context, q querier, id string) (*account.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	return u, err
}

// UserByEmail returns the tenant's user with this email, compared
// case-insensitively, or account.ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, tenantID, email string) (*account.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE tenant_id = ? AND email = ?`, tenantID, strings.ToLower(email)))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user by email: %w", err)
	}
	return u, nil
}

// UpdateUser writes a user's status (empty as active), email
// (lower-cased), name, password hash, roles, locale, division (empty as
// the home division), PasswordChangeRequired and UpdatedAt. It
// returns account.ErrNotFound for an unknown user and account.ErrConflict
// when the new email is taken.
func (db *DB) UpdateUser(ctx context.Context, u *account.User) error {
	return updateUser(ctx, db.write, u)
}

// UpdateUser writes a user inside the transaction, as DB.UpdateUser does.
func (t *tx) UpdateUser(ctx context.Context, u *account.User) error {
	return updateUser(ctx, t.tx, u)
}

func updateUser(ctx context.Context, q querier, u *account.User) error {
	res, err := q.ExecContext(ctx, `UPDATE users SET status = ?, email = ?, name = ?, password_hash = ?, roles = ?,
		locale = ?, updated_at = ?, division_id = ?, password_change_required = ? WHERE id = ?`,
		userStatus(u), strings.ToLower(u.Email), u.Name, u.PasswordHash, jsonList(u.Roles), u.Locale,
		u.UpdatedAt.UnixMicro(), divisionOrHome(u.DivisionID), u.PasswordChangeRequired, u.ID)
	if isUnique(err) {
		return fmt.Errorf("sqlite: update user: %w", account.ErrConflict)
	}
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update user: %w", err)
	}
	return nil
}

// RenewPasswordHash replaces a password hash that is still old.
func (db *DB) RenewPasswordHash(ctx context.Context, userID, old, renewed string) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`,
		renewed, userID, old); err != nil {
		return fmt.Errorf("sqlite: renew password hash: %w", err)
	}
	return nil
}

// Users returns a tenant's users ordered by email.
func (db *DB) Users(ctx context.Context, tenantID string) ([]account.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? ORDER BY email, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: users: %w", err)
	}
	defer rows.Close()
	var out []account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: users: %w", err)
	}
	return out, nil
}

// CreateSession stores a new session, or returns account.ErrConflict when
// its ID or hash is taken.
func (t *tx) CreateSession(ctx context.Context, s *account.Session) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sessions (id, hash, tenant_id, user_id, auth_time, created_at, expires_at,
		last_seen_at, methods) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, s.Hash, s.TenantID, s.UserID, s.AuthTime.UnixMicro(),
		s.CreatedAt.UnixMicro(), s.ExpiresAt.UnixMicro(), s.LastSeenAt.UnixMicro(), jsonList(s.Methods))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create session: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return nil
}

// SessionByHash returns the session whose cookie value has this hash,
// expired or not, or account.ErrNotFound.
func (db *DB) SessionByHash(ctx context.Context, hash string) (*account.Session, error) {
	var (
		s                                   account.Session
		authTime, created, expiry, lastSeen int64
		methods                             string
	)
	err := db.read.QueryRowContext(ctx, `SELECT id, hash, tenant_id, user_id, auth_time, created_at, expires_at,
		last_seen_at, methods FROM sessions WHERE hash = ?`, hash).Scan(&s.ID, &s.Hash, &s.TenantID, &s.UserID,
		&authTime, &created, &expiry, &lastSeen, &methods)
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err == nil {
		s.Methods, err = parseList[string](methods)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session by hash: %w", err)
	}
	s.AuthTime, s.CreatedAt, s.ExpiresAt = fromMicros(authTime), fromMicros(created), fromMicros(expiry)
	s.LastSeenAt = fromMicros(lastSeen)
	return &s, nil
}

// TouchSession moves the session's last activity forward to at; a
// missing session, or one seen at or after at, is left as it is.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?`,
		at.UnixMicro(), id, at.UnixMicro()); err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	}
	return nil
}

// SetSessionMethods replaces the session's sign-in methods, or returns
// account.ErrNotFound when there is no session with this ID.
func (t *tx) SetSessionMethods(ctx context.Context, id string, methods []string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE sessions SET methods = ? WHERE id = ?`, jsonList(methods), id)
	if err == nil {
		err = affected(res, account.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set session methods: %w", err)
	}
	return nil
}

// DeleteSession deletes the session with this hash, if there is one.
func (t *tx) DeleteSession(ctx context.Context, hash string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of the user.
func (t *tx) DeleteUserSessions(ctx context.Context, userID string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: delete user sessions: %w", err)
	}
	return nil
}

// DeleteOtherSessions deletes every session of the user but keepID.
func (t *tx) DeleteOtherSessions(ctx context.Context, userID, keepID string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepID); err != nil {
		return fmt.Errorf("sqlite: delete other sessions: %w", err)
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
	_, err := t.tx.ExecContext(ctx, `INSERT INTO consents (user_id, client_id, tenant_id, scopes, first_at, last_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET tenant_id = excluded.tenant_id, scopes = excluded.scopes,
			first_at = excluded.first_at, last_at = excluded.last_at`,
		c.UserID, c.ClientID, c.TenantID, jsonList(c.Scopes), c.FirstAt.UnixMicro(), c.LastAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlite: put consent: %w", err)
	}
	return nil
}

// DeleteConsent forgets the user's consent for the client, if any.
func (t *tx) DeleteConsent(ctx context.Context, userID, clientID string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID); err != nil {
		return fmt.Errorf("sqlite: delete consent: %w", err)
	}
	return nil
}

const consentColumns = `tenant_id, user_id, client_id, scopes, first_at, last_at`

func scanConsent(row scanner) (*account.Consent, error) {
	var (
		c           account.Consent
		scopes      string
		first, last int64
	)
	if err := row.Scan(&c.TenantID, &c.UserID, &c.ClientID, &scopes, &first, &last); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = parseList[string](scopes); err != nil {
		return nil, err
	}
	c.FirstAt, c.LastAt = fromMicros(first), fromMicros(last)
	return &c, nil
}

// Consent returns what the user approved for the client, or
// account.ErrNotFound.
func (db *DB) Consent(ctx context.Context, userID, clientID string) (*account.Consent, error) {
	return consent(ctx, db.read, userID, clientID)
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
	c, err := scanConsent(q.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consents
		WHERE user_id = ? AND client_id = ?`, userID, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		err = account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: consent: %w", err)
	}
	return c, nil
}

// Consents returns a user's consents, latest authorization first (ties by
// client ID).
func (db *DB) Consents(ctx context.Context, userID string) ([]account.Consent, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = ?
		ORDER BY last_at DESC, client_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: consents: %w", err)
	}
	defer rows.Close()
	var out []account.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: consents: %w", err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: consents: %w", err)
	}
	return out, nil
}

// UserActive reports, inside the transaction, whether the user exists in
// the tenant and is active.
func (t *tx) UserActive(ctx context.Context, userID, tenantID string) (bool, error) {
	var status string
	err := t.tx.QueryRowContext(ctx, `SELECT status FROM users WHERE id = ? AND tenant_id = ?`, userID, tenantID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: user status: %w", err)
	}
	return status != string(account.UserDisabled), nil
}
