package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/reqid"
	"github.com/latchkey/latchkey/internal/token"
)

// ErrBadCredentials is the one answer to a failed sign-in, whether the
// email is unknown, the password wrong, or the user disabled: the pages
// must not tell them apart.
var ErrBadCredentials = errors.New("account: the email or password is not right")

// Audit actions of signing in.
const (
	ActionLogin       = "user.login"
	ActionLoginFailed = "user.login_failed"
)

// LoginFailureReason says why a sign-in failed, for the audit trail only.
type LoginFailureReason string

const (
	// FailBadPassword: the password was wrong, too long, or the user has
	// no password login.
	FailBadPassword LoginFailureReason = "bad_password"
	// FailDisabled: the password was right but the user is disabled.
	FailDisabled LoginFailureReason = "disabled"
	// FailUnknownUser: the email names no user of the tenant.
	FailUnknownUser LoginFailureReason = "unknown_user"
	// FailRateLimited: the password was not checked, the attempt being
	// over a failure limit.
	FailRateLimited LoginFailureReason = "rate_limited"
)

// LoginFailure is the error of a failed sign-in: errors.Is matches it to
// ErrBadCredentials, and its Error is the same whatever failed, so only
// the audit trail tells the failures apart.
type LoginFailure struct {
	Reason LoginFailureReason
	// User is the user the email names, nil when it names none.
	User *User
}

func (f *LoginFailure) Error() string { return ErrBadCredentials.Error() }

func (f *LoginFailure) Unwrap() error { return ErrBadCredentials }

// DefaultSessionTTL is how long a session lasts when Sessions.TTL is zero.
const DefaultSessionTTL = 12 * time.Hour

// Sessions signs users in and out: it checks passwords, starts sessions
// whose cookie value is stored only as a hash, finds them again, ends
// them, and keeps what users approved for applications.
//
// Repo is required. Now defaults to time.Now, Random to crypto/rand, TTL
// to DefaultSessionTTL. OnRevoke is as for Users: it receives the
// revocations a revoked consent made, after commit.
type Sessions struct {
	Repo     Repository
	Now      func() time.Time
	Random   io.Reader
	TTL      time.Duration
	OnRevoke func([]token.Revocation)
	// Hash is the argon2id cost passwords are kept at (the zero value
	// means argon2id.Default, as for Users): a password verified against
	// a hash of other parameters is hashed anew and stored.
	Hash argon2id.Params

	dummyOnce sync.Once
	dummy     string
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Sessions) random() io.Reader {
	if s.Random != nil {
		return s.Random
	}
	return rand.Reader
}

func (s *Sessions) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultSessionTTL
}

// HashValue is the stored form of a session cookie value.
func HashValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckPassword returns the active user of the tenant with this email
// and password, or a *LoginFailure (which is ErrBadCredentials). An
// unknown email costs the same argon2id verification as a known one, so
// timing does not tell them apart. A disabled user fails as disabled only
// when the password was right.
func (s *Sessions) CheckPassword(ctx context.Context, tenantID, email, password string) (*User, error) {
	u, err := s.Repo.UserByEmail(ctx, tenantID, NormalizeEmail(email))
	if errors.Is(err, ErrNotFound) {
		s.verifyDummy(password)
		return nil, &LoginFailure{Reason: FailUnknownUser}
	}
	if err != nil {
		return nil, err
	}
	if u.PasswordHash == "" || len(password) > MaxPasswordLen {
		s.verifyDummy(password)
		return nil, &LoginFailure{Reason: FailBadPassword, User: u}
	}
	ok, err := argon2id.VerifyContext(ctx, u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("account: verifying the password of %s: %w", u.ID, err)
	}
	if ok {
		s.renewHash(ctx, u, password)
	}
	switch {
	case !ok:
		return nil, &LoginFailure{Reason: FailBadPassword, User: u}
	case !u.Active():
		return nil, &LoginFailure{Reason: FailDisabled, User: u}
	}
	return u, nil
}

// LoginFailed records a failed sign-in to the tenant from addr as an
// audit event, in a transaction of its own (nothing else changed). The
// event targets the user fail names; for an email that names none, it
// targets no user and keeps the email typed, normalized, when it is
// shaped like an address: a password typed into the email field must not
// reach the trail.
func (s *Sessions) LoginFailed(ctx context.Context, tenantID, email, addr string, fail *LoginFailure) error {
	actor := authz.Actor{Kind: authz.KindAnonymous, TenantID: tenantID, SourceAddr: addr, RequestID: reqid.From(ctx)}
	e := audit.New(actor, s.now(), ActionLoginFailed, "user", "")
	e.Result = audit.ResultFailure
	e.Details = map[string]string{"reason": string(fail.Reason)}
	if fail.User != nil {
		e.TargetID = fail.User.ID
		markAdmin(e, fail.User)
	} else if email = NormalizeEmail(email); looksLikeEmail(email) {
		e.Details["email"] = email
	}
	return AppendAudit(ctx, s.Repo, []*audit.Event{e})
}

// looksLikeEmail reports whether s is one address with nothing around it.
func looksLikeEmail(s string) bool {
	if len(s) > MaxEmailLen {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && strings.EqualFold(a.Address, s)
}

// markAdmin marks the event of a sign-in as an admin's when the user is
// one by MayUseConsole's rule, a role held in a single division included:
// the design audits admin sign-ins apart. Only the built-in roles are
// read here, as the event is made without the tenant's catalog.
func markAdmin(e *audit.Event, u *User) {
	if MayUseConsole(authz.Actor{Kind: authz.KindUser, ID: u.ID, TenantID: u.TenantID, Roles: u.Roles}) {
		e.Details["admin"] = "true"
	}
}

func (s *Sessions) params() argon2id.Params {
	if s.Hash == (argon2id.Params{}) {
		return argon2id.Default
	}
	return s.Hash
}

// renewHash stores a fresh hash of the password just verified when u's
// was made with other parameters: hashes made before the parameters
// changed (argon2id.Previous took 64 MiB a check) move to the current
// ones as their users sign in. Until a user does, a wrong password for
// them costs the old parameters' time, unlike an unknown email's: the
// renewal is what closes that difference. It is best effort: a failure
// leaves the old hash, which keeps working, to be renewed at the next
// sign-in.
func (s *Sessions) renewHash(ctx context.Context, u *User, password string) {
	p := s.params()
	if !argon2id.NeedsRehash(u.PasswordHash, p) {
		return
	}
	renewed, err := argon2id.HashContext(ctx, s.random(), password, p)
	if err != nil {
		return
	}
	if s.Repo.RenewPasswordHash(ctx, u.ID, u.PasswordHash, renewed) == nil {
		u.PasswordHash = renewed
	}
}

// verifyDummy spends one argon2id verification on nothing.
func (s *Sessions) verifyDummy(password string) {
	s.dummyOnce.Do(func() {
		s.dummy, _ = argon2id.Hash(s.random(), "latchkey-timing-equaliser", s.params())
	})
	if len(password) > MaxPasswordLen {
		password = password[:MaxPasswordLen]
	}
	argon2id.Verify(s.dummy, password)
}

// Start begins a session for u, signed in now from addr with a password:
// StartWith with the one method "pwd".
func (s *Sessions) Start(ctx context.Context, u *User, previous, addr string) (string, *Session, error) {
	return s.StartWith(ctx, u, previous, addr, []string{MethodPassword})
}

// Authentication method references (RFC 8176 §2) a session's Methods
// hold.
const (
	MethodPassword = "pwd"
	MethodOTP      = "otp"
	MethodHardKey  = "hwk"
	MethodSoftKey  = "swk"
	MethodMFA      = "mfa"
)

// TouchEvery is how stale a session's LastSeenAt may be before Touch
// writes it: a busy console does not write once per request.
const TouchEvery = time.Minute

// StartWith begins a session for u, authenticated now from addr by
// methods (RFC 8176 values, at least one), and returns the cookie value
// (shown to the browser only; the store keeps its hash). The session the
// browser held before, if any (its cookie value in previous), is ended in
// the same transaction: a session ID is never carried across a sign-in.
// The sign-in's audit event, naming the session and the methods, commits
// with the session.
func (s *Sessions) StartWith(ctx context.Context, u *User, previous, addr string, methods []string) (string, *Session, error) {
	methods, err := mergeMethods(nil, methods)
	if err != nil {
		return "", nil, err
	}
	if len(methods) == 0 {
		return "", nil, errors.New("account: a session needs at least one sign-in method")
	}
	var raw [32]byte
	if _, err := io.ReadFull(s.random(), raw[:]); err != nil {
		return "", nil, err
	}
	value := base64.RawURLEncoding.EncodeToString(raw[:])
	id, err := client.NewID(s.random(), "ses_")
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	sess := &Session{ID: id, Hash: HashValue(value), TenantID: u.TenantID, UserID: u.ID, AuthTime: now,
		CreatedAt: now, ExpiresAt: now.Add(s.ttl()), LastSeenAt: now, Methods: methods}
	err = s.Repo.InAccountTx(ctx, func(tx Tx) error {
		if previous != "" {
			if err := tx.DeleteSession(ctx, HashValue(previous)); err != nil {
				return err
			}
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionLogin, "user", u.ID)
		e.Details = map[string]string{"session_id": sess.ID, "methods": strings.Join(methods, " ")}
		markAdmin(e, u)
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return "", nil, err
	}
	return value, sess, nil
}

// mergeMethods returns have followed by the methods of add it does not
// hold yet. A method must be a short lower-case RFC 8176 token: it reaches
// the audit trail and ID tokens, so nothing else is let through.
func mergeMethods(have, add []string) ([]string, error) {
	out := slices.Clone(have)
	for _, m := range add {
		if !validMethod(m) {
			return nil, fmt.Errorf("account: %q is not an authentication method reference", m)
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// validMethod reports whether m is shaped like an RFC 8176 value: one to
// 16 lower-case letters or digits.
func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, r := range m {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Touch records that sess is in use now. It writes only when the
// LastSeenAt read is more than TouchEvery old, so the idle limit is kept
// to about a minute at the cost of one write a minute per busy session.
// sess.LastSeenAt is moved too. A session ended meanwhile is not an
// error: the next Find does not find it.
func (s *Sessions) Touch(ctx context.Context, sess *Session) error {
	now := s.now()
	if now.Sub(sess.LastSeenAt) <= TouchEvery {
		return nil
	}
	if err := s.Repo.TouchSession(ctx, sess.ID, now); err != nil {
		return err
	}
	sess.LastSeenAt = now
	return nil
}

// AddMethods records that the user of sess proved who they are again by
// methods, after signing in (a step-up, such as a one-time code entered
// on enrolling it). Methods sess already holds are not repeated; when none
// is new nothing is written. It records no audit event: the verification
// that proved the methods records its own. Two step-ups of one session at
// once keep the methods of the one written last.
func (s *Sessions) AddMethods(ctx context.Context, sess *Session, methods ...string) error {
	merged, err := mergeMethods(sess.Methods, methods)
	if err != nil {
		return err
	}
	if len(merged) == len(sess.Methods) {
		return nil
	}
	if err := s.Repo.InAccountTx(ctx, func(tx Tx) error { return tx.SetSessionMethods(ctx, sess.ID, merged) }); err != nil {
		return err
	}
	sess.Methods = merged
	return nil
}

// Idle reports whether sess has seen no activity for longer than limit,
// counted from the last activity recorded: Touch keeps that to within
// TouchEvery, so a session may end up to TouchEvery early, never late.
func (s *Sessions) Idle(sess *Session, limit time.Duration) bool {
	return s.now().Sub(sess.LastSeenAt) > limit
}

// Find returns the live session of a cookie value in the tenant and its
// user, or nil, nil, nil when there is none: unknown, expired, of another
// tenant, or of a user since disabled or deleted.
func (s *Sessions) Find(ctx context.Context, tenantID, value string) (*Session, *User, error) {
	if value == "" {
		return nil, nil, nil
	}
	sess, err := s.Repo.SessionByHash(ctx, HashValue(value))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if sess.TenantID != tenantID || !s.now().Before(sess.ExpiresAt) {
		return nil, nil, nil
	}
	u, err := s.Repo.User(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !u.Active() || u.TenantID != tenantID {
		return nil, nil, nil
	}
	return sess, u, nil
}

// End ends the session of a cookie value; an unknown one is not an error.
func (s *Sessions) End(ctx context.Context, value string) error {
	if value == "" {
		return nil
	}
	return s.Repo.InAccountTx(ctx, func(tx Tx) error { return tx.DeleteSession(ctx, HashValue(value)) })
}

// Covers reports whether consent c, if any, covers every scope asked.
func Covers(c *Consent, scopes []string) bool {
	if c == nil {
		return false
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false
		}
	}
	return true
}

// Approve records that u approved scopes for the client (merged with what
// they approved before) and that it was authorized now, with its audit
// event.
func (s *Sessions) Approve(ctx context.Context, u *User, clientID string, scopes []string, addr string) (*Consent, error) {
	return s.putConsent(ctx, u, clientID, scopes, addr, true)
}

// Authorized records that an application the user had approved was
// authorized again now (the "last authorization" of the Authorized
// applications page). It records no audit event: nothing was decided.
func (s *Sessions) Authorized(ctx context.Context, u *User, clientID string, scopes []string) (*Consent, error) {
	return s.putConsent(ctx, u, clientID, scopes, "", false)
}

func (s *Sessions) putConsent(ctx context.Context, u *User, clientID string, scopes []string, addr string, approved bool) (*Consent, error) {
	now := s.now()
	var out *Consent
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		// The user's row serializes approvals of one user, so two tabs
		// approving at once merge rather than overwrite.
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		c, err := tx.Consent(ctx, u.ID, clientID)
		switch {
		case errors.Is(err, ErrNotFound):
			c = &Consent{TenantID: u.TenantID, UserID: u.ID, ClientID: clientID, FirstAt: now}
		case err != nil:
			return err
		}
		merged := slices.Clone(c.Scopes)
		for _, sc := range scopes {
			if !slices.Contains(merged, sc) {
				merged = append(merged, sc)
			}
		}
		slices.Sort(merged)
		c.Scopes, c.LastAt = merged, now
		if err := tx.PutConsent(ctx, c); err != nil {
			return err
		}
		out = c
		if !approved {
			return nil
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionConsentApproved, "client", clientID)
		e.Details = map[string]string{"scopes": strings.Join(scopes, " ")}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Revoke forgets what u approved for the client and ends that
// application's access for them at once: its refresh tokens are revoked
// and its access tokens issued until now cut off, in one transaction with
// the audit event. Revoking what was never approved is not an error.
func (s *Sessions) Revoke(ctx context.Context, u *User, clientID, addr string) error {
	now := s.now()
	var revs []token.Revocation
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		if err := tx.DeleteConsent(ctx, u.ID, clientID); err != nil {
			return err
		}
		var err error
		if revs, err = endAccess(ctx, tx, u.ID, clientID, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit.New(userActor(ctx, u, addr), now, ActionConsentRevoked, "client", clientID))
	})
	if err != nil {
		return err
	}
	if s.OnRevoke != nil {
		s.OnRevoke(revs)
	}
	return nil
}

// userActor is a signed-in user acting on their own account, in the
// request ctx carries.
func userActor(ctx context.Context, u *User, addr string) authz.Actor {
	return authz.Actor{Kind: authz.KindUser, ID: u.ID, Name: u.Email, TenantID: u.TenantID, Roles: u.Roles,
		SourceAddr: addr, RequestID: reqid.From(ctx)}
}
