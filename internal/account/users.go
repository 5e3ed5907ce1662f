package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/token"
)

// Audit actions of the user use cases.
const (
	ActionUserCreated     = "user.created"
	ActionUserPassword    = "user.password_set"
	ActionUserDisabled    = "user.disabled"
	ActionUserEnabled     = "user.enabled"
	ActionConsentRevoked  = "consent.revoked"
	ActionConsentApproved = "consent.approved"
)

// Limits of the user model.
const (
	MaxEmailLen = 254
	MaxUserName = 200
	// MinPasswordLen follows NIST SP 800-63B's floor for chosen passwords;
	// MaxPasswordLen bounds the work one hash costs.
	MinPasswordLen = 12
	MaxPasswordLen = 1024
	// MaxAccessTokenLife is the longest an access token lives (the
	// client model's maximum): how long a cut-off must be remembered.
	MaxAccessTokenLife = client.MaxAccessTokenTTL
)

// Locales users may choose: the languages Latchkey's pages and mail are
// written in.
var Locales = []string{"en", "nb", "sv", "fr", "fi", "da"}

// Users runs the user use cases over a Repository, each change with its
// audit event in one transaction.
//
// Repo is required. Now defaults to time.Now, Random to crypto/rand. Hash
// is argon2id's cost (the zero value means argon2id.Default). OnRevoke,
// when set, receives the revocations a committed change made (a disabled
// user's access tokens), so this process's revocation list takes them at
// once; other processes learn of them from the change log.
type Users struct {
	Repo     Repository
	Now      func() time.Time
	Random   io.Reader
	Hash     argon2id.Params
	OnRevoke func([]token.Revocation)
}

func (s *Users) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Users) random() io.Reader {
	if s.Random != nil {
		return s.Random
	}
	return rand.Reader
}

func (s *Users) params() argon2id.Params {
	if s.Hash == (argon2id.Params{}) {
		return argon2id.Default
	}
	return s.Hash
}

// NewUser describes a user to create. Password may be empty: the user
// then cannot sign in until one is set.
type NewUser struct {
	Email    string
	Name     string
	Locale   string // "en" when empty
	Password string
	Roles    []string
}

// Create adds a user to the actor's tenant; the actor needs users:manage
// and may grant only roles they hold themselves. An email already taken
// in the tenant is a field error on "email".
func (s *Users) Create(ctx context.Context, actor authz.Actor, p NewUser) (*User, error) {
	if err := actor.Require(authz.UsersManage); err != nil {
		return nil, err
	}
	email := NormalizeEmail(p.Email)
	var fields []errs.FieldError
	add := func(field, msg string) { fields = append(fields, errs.FieldError{Field: field, Message: msg}) }
	if msg := checkEmail(email); msg != "" {
		add("email", msg)
	}
	name := strings.TrimSpace(p.Name)
	if msg := checkName(name); msg != "" {
		add("name", msg)
	}
	locale := p.Locale
	if locale == "" {
		locale = "en"
	}
	if !slices.Contains(Locales, locale) {
		add("locale", "must be one of "+strings.Join(Locales, ", "))
	}
	if p.Password != "" {
		if msg := CheckPassword(p.Password); msg != "" {
			add("password", msg)
		}
	}
	for _, r := range p.Roles {
		switch {
		case !authz.ValidRole(r):
			add("roles", fmt.Sprintf("unknown role %q", r))
		case !authz.CanAssign(actor.Roles, r):
			add("roles", fmt.Sprintf("you cannot grant %q: it carries permissions you do not hold", r))
		}
	}
	if len(fields) > 0 {
		return nil, &errs.ValidationError{Fields: fields}
	}
	hash := ""
	if p.Password != "" {
		var err error
		if hash, err = argon2id.Hash(s.random(), p.Password, s.params()); err != nil {
			return nil, err
		}
	}
	id, err := client.NewID(s.random(), "usr_")
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &User{ID: id, TenantID: actor.TenantID, Status: UserActive, Email: email, Name: name, PasswordHash: hash,
		Roles: slices.Clone(p.Roles), Locale: locale, CreatedAt: now, UpdatedAt: now}
	err = s.Repo.InAccountTx(ctx, func(tx Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionUserCreated, "user", u.ID)
		e.Changes = []string{"email", "locale", "name", "roles"}
		if hash != "" {
			e.Changes = append(e.Changes, "password")
		}
		slices.Sort(e.Changes)
		return tx.AppendAudit(ctx, e)
	})
	if errors.Is(err, ErrConflict) {
		return nil, &errs.ValidationError{Fields: []errs.FieldError{{Field: "email", Message: "is taken by another user of this tenant"}}}
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Get returns a user of the actor's tenant; the actor needs users:manage.
// A user of another tenant is ErrNotFound.
func (s *Users) Get(ctx context.Context, actor authz.Actor, id string) (*User, error) {
	if err := actor.Require(authz.UsersManage); err != nil {
		return nil, err
	}
	u, err := s.Repo.User(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.TenantID != actor.TenantID {
		return nil, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return u, nil
}

// Find returns a user of the actor's tenant by ID or, when ref holds an
// '@', by email; the actor needs users:manage.
func (s *Users) Find(ctx context.Context, actor authz.Actor, ref string) (*User, error) {
	if !strings.Contains(ref, "@") {
		return s.Get(ctx, actor, ref)
	}
	if err := actor.Require(authz.UsersManage); err != nil {
		return nil, err
	}
	return s.Repo.UserByEmail(ctx, actor.TenantID, NormalizeEmail(ref))
}

// List returns the users of the actor's tenant, by email; the actor needs
// users:manage.
func (s *Users) List(ctx context.Context, actor authz.Actor) ([]User, error) {
	if err := actor.Require(authz.UsersManage); err != nil {
		return nil, err
	}
	return s.Repo.Users(ctx, actor.TenantID)
}

// SetPassword replaces a user's password; the actor needs users:manage.
// The user's sessions end, so a stolen session does not outlive the
// change.
func (s *Users) SetPassword(ctx context.Context, actor authz.Actor, id, password string) error {
	if err := actor.Require(authz.UsersManage); err != nil {
		return err
	}
	if msg := CheckPassword(password); msg != "" {
		return &errs.ValidationError{Fields: []errs.FieldError{{Field: "password", Message: msg}}}
	}
	hash, err := argon2id.Hash(s.random(), password, s.params())
	if err != nil {
		return err
	}
	now := s.now()
	return s.Repo.InAccountTx(ctx, func(tx Tx) error {
		u, err := s.lock(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		u.PasswordHash, u.UpdatedAt = hash, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionUserPassword, "user", u.ID)
		e.Changes = []string{"password"}
		return tx.AppendAudit(ctx, e)
	})
}

// SetStatus disables or enables a user; the actor needs users:manage and
// cannot disable themselves. Disabling ends the user's sessions at once,
// revokes their refresh tokens, and cuts off every access token issued to
// them until now, in the same transaction. Setting the status a user
// already has changes nothing and records nothing.
func (s *Users) SetStatus(ctx context.Context, actor authz.Actor, id string, st UserStatus) (*User, error) {
	if err := actor.Require(authz.UsersManage); err != nil {
		return nil, err
	}
	if st != UserActive && st != UserDisabled {
		return nil, &errs.ValidationError{Fields: []errs.FieldError{{Field: "status", Message: `must be "active" or "disabled"`}}}
	}
	if st == UserDisabled && actor.Kind == authz.KindUser && actor.ID == id {
		return nil, fmt.Errorf("%w: you cannot disable yourself", errs.ErrForbidden)
	}
	now := s.now()
	var (
		out  *User
		revs []token.Revocation
	)
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		revs = nil
		u, err := s.lock(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		out = u
		if u.Status == st || (st == UserActive && u.Active()) {
			return nil
		}
		u.Status, u.UpdatedAt = st, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		action := ActionUserEnabled
		if st == UserDisabled {
			action = ActionUserDisabled
			if revs, err = endAccess(ctx, tx, u.ID, "", now); err != nil {
				return err
			}
			if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
				return err
			}
		}
		e := audit.New(actor, now, action, "user", u.ID)
		e.Changes = []string{"status"}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	if len(revs) > 0 && s.OnRevoke != nil {
		s.OnRevoke(revs)
	}
	return out, nil
}

// lock returns the user, held for the transaction, when it belongs to the
// actor's tenant.
func (s *Users) lock(ctx context.Context, tx Tx, actor authz.Actor, id string) (*User, error) {
	u, err := tx.LockUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.TenantID != actor.TenantID {
		return nil, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return u, nil
}

// endAccess revokes, in tx, the refresh tokens of a user (for one client
// when clientID is set) and cuts off their access tokens issued until
// now. It returns every revocation it stored.
func endAccess(ctx context.Context, tx Tx, userID, clientID string, now time.Time) ([]token.Revocation, error) {
	revs, err := tx.RevokeRefreshTokens(ctx, token.RefreshFilter{UserID: userID, ClientID: clientID}, now)
	if err != nil {
		return nil, err
	}
	cut := token.Revocation{TokenID: token.CutOffKey(userID, clientID), ClientID: clientID,
		ExpiresAt: now.Add(MaxAccessTokenLife), IssuedBefore: now}
	revs = append(revs, cut)
	for _, rv := range revs {
		if err := tx.AddRevocation(ctx, rv); err != nil {
			return nil, err
		}
	}
	return revs, nil
}

// NormalizeEmail is the stored form of an email address: trimmed and
// lower-cased, as emails are compared case-insensitively.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmail(email string) string {
	switch {
	case email == "":
		return "is required"
	case len(email) > MaxEmailLen:
		return fmt.Sprintf("must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return "must be an email address such as ana@example.com"
	}
	return ""
}

func checkName(name string) string {
	switch {
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "must be valid UTF-8 without control characters"
	case utf8.RuneCountInString(name) > MaxUserName:
		return fmt.Sprintf("must be at most %d characters", MaxUserName)
	}
	return ""
}

// CheckPassword returns why a chosen password is refused, or "".
func CheckPassword(p string) string {
	switch {
	case !utf8.ValidString(p):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(p) < MinPasswordLen:
		return fmt.Sprintf("must be at least %d characters", MinPasswordLen)
	case len(p) > MaxPasswordLen:
		return fmt.Sprintf("must be at most %d bytes", MaxPasswordLen)
	}
	return ""
}
