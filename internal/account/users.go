package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"sync"
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
	ActionUserCreated  = "user.created"
	ActionUserUpdated  = "user.updated"
	ActionUserPassword = "user.password_set"
	// ActionPasswordChanged is a user changing their own password.
	ActionPasswordChanged = "user.password_changed"
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
// once; other processes learn of them from the change log. A Users must
// not be copied after first use.
type Users struct {
	Repo     Repository
	Now      func() time.Time
	Random   io.Reader
	Hash     argon2id.Params
	OnRevoke func([]token.Revocation)
	// SlowHashes bounds how many passwords are hashed at once (argon2id
	// takes Hash.Memory each, 64 MiB by default); 0 means 2. A hash waits
	// for its turn as long as its context allows.
	SlowHashes int

	slowOnce sync.Once
	slow     chan struct{}
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

// hash returns the argon2id hash of password, run at most SlowHashes at
// once: it waits for a turn, or returns ctx's error when ctx ends first.
func (s *Users) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return argon2id.Hash(s.random(), password, s.params())
}

// verify checks password against an argon2id hash in one of the same
// SlowHashes turns: a verification costs what a hash does.
func (s *Users) verify(ctx context.Context, hash, password string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	return argon2id.Verify(hash, password)
}

// acquire waits for a turn to hash, or returns ctx's error when ctx ends
// first.
func (s *Users) acquire(ctx context.Context) error {
	s.slowOnce.Do(func() {
		n := s.SlowHashes
		if n <= 0 {
			n = 2
		}
		s.slow = make(chan struct{}, n)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.slow <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Users) release() { <-s.slow }

// NewUser describes a user to create. Password may be empty: the user
// then cannot sign in until one is set.
type NewUser struct {
	Email    string
	Name     string
	Locale   string // "en" when empty
	Password string
	Roles    []string
	// DivisionID is the division the user belongs to; the home division
	// when empty.
	DivisionID string
	// PasswordChangeRequired asks the user to choose their own password
	// at their next console sign-in: for a Password the caller generated.
	// Without a Password it is ignored.
	PasswordChangeRequired bool
}

// Create adds a user to the actor's tenant; the actor needs users:manage
// in the user's division and may grant only roles they hold themselves
// (tenant-wide, or in the division a grant is limited to). An email
// already taken in the tenant is a field error on "email".
func (s *Users) Create(ctx context.Context, actor authz.Actor, p NewUser) (*User, error) {
	if err := resolveActor(ctx, s.Repo, &actor, p.Roles); err != nil {
		return nil, err
	}
	division := p.DivisionID
	if division == "" {
		division = authz.HomeDivision
	}
	if err := actor.RequireSome(authz.UsersManage); err != nil {
		return nil, err
	}
	if authz.ValidDivisionID(division) {
		if err := actor.RequireIn(authz.UsersManage, division); err != nil {
			return nil, err
		}
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
	if !authz.ValidDivisionID(division) {
		add("division", "must be a division ID")
	}
	if fs := grantShapes(actor, p.Roles); len(fs) > 0 {
		fields = append(fields, fs...)
	} else {
		for _, r := range p.Roles {
			if !actor.CanAssign(r) {
				add("roles", fmt.Sprintf("you cannot grant %q: it carries permissions you do not hold there", r))
			}
		}
	}
	if len(fields) > 0 {
		return nil, &errs.ValidationError{Fields: fields}
	}
	hash := ""
	if p.Password != "" {
		// One read spares a hash for an email already taken; the
		// transaction still settles a race with another Create.
		switch _, err := s.Repo.UserByEmail(ctx, actor.TenantID, email); {
		case err == nil:
			return nil, errEmailTaken()
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
		var err error
		if hash, err = s.hash(ctx, p.Password); err != nil {
			return nil, err
		}
	}
	id, err := client.NewID(s.random(), "usr_")
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &User{ID: id, TenantID: actor.TenantID, Status: UserActive, Email: email, Name: name, PasswordHash: hash,
		Roles: slices.Clone(p.Roles), DivisionID: division, Locale: locale, CreatedAt: now, UpdatedAt: now,
		PasswordChangeRequired: p.PasswordChangeRequired && hash != ""}
	err = s.Repo.InAccountTx(ctx, func(tx Tx) error {
		if err := checkRefs(ctx, tx, u.TenantID, u.DivisionID, u.Roles); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		e := audit.New(actor, now, ActionUserCreated, "user", u.ID)
		e.Changes = []string{"division_id", "email", "locale", "name", "roles"}
		if hash != "" {
			e.Changes = append(e.Changes, "password")
		}
		slices.Sort(e.Changes)
		return tx.AppendAudit(ctx, e)
	})
	if errors.Is(err, ErrConflict) {
		return nil, errEmailTaken()
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

func errEmailTaken() error {
	return &errs.ValidationError{Fields: []errs.FieldError{{Field: "email", Message: "is taken by another user of this tenant"}}}
}

// Get returns a user of the actor's tenant; the actor needs users:manage
// in the user's division. A user of another tenant, or of a division the
// actor does not manage, is ErrNotFound.
func (s *Users) Get(ctx context.Context, actor authz.Actor, id string) (*User, error) {
	if err := resolveActor(ctx, s.Repo, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.UsersManage); err != nil {
		return nil, err
	}
	u, err := s.Repo.User(ctx, id)
	if err != nil {
		return nil, err
	}
	return manageable(actor, u)
}

// manageable returns u when it is a user the actor manages: of its tenant
// and of a division where it holds users:manage. Any other is ErrNotFound.
func manageable(actor authz.Actor, u *User) (*User, error) {
	if u.TenantID != actor.TenantID || !actor.CanIn(authz.UsersManage, u.Division()) {
		return nil, fmt.Errorf("user %s: %w", u.ID, ErrNotFound)
	}
	return u, nil
}

// Find returns a user of the actor's tenant by ID or, when ref holds an
// '@', by email; the actor needs users:manage in the user's division.
func (s *Users) Find(ctx context.Context, actor authz.Actor, ref string) (*User, error) {
	if !strings.Contains(ref, "@") {
		return s.Get(ctx, actor, ref)
	}
	if err := resolveActor(ctx, s.Repo, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.UsersManage); err != nil {
		return nil, err
	}
	u, err := s.Repo.UserByEmail(ctx, actor.TenantID, NormalizeEmail(ref))
	if err != nil {
		return nil, err
	}
	return manageable(actor, u)
}

// List returns the users of the actor's tenant, by email; the actor needs
// users:manage, and sees the users of the divisions where it holds it.
func (s *Users) List(ctx context.Context, actor authz.Actor) ([]User, error) {
	if err := resolveActor(ctx, s.Repo, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.UsersManage); err != nil {
		return nil, err
	}
	users, err := s.Repo.Users(ctx, actor.TenantID)
	if err != nil {
		return nil, err
	}
	if all, _ := actor.Divisions(authz.UsersManage); !all {
		users = slices.DeleteFunc(users, func(u User) bool { return !actor.CanIn(authz.UsersManage, u.Division()) })
	}
	return users, nil
}

// grantShapes returns the field errors of grants: each must be well
// formed, name a role of the actor's catalog (resolveActor loads it when a
// grant names a custom role) and be listed once. That the roles and
// divisions still exist is checkRefs's, in the writing transaction.
func grantShapes(actor authz.Actor, grants []string) []errs.FieldError {
	var out []errs.FieldError
	add := func(msg string) { out = append(out, errs.FieldError{Field: "roles", Message: msg}) }
	for i, r := range grants {
		g, err := authz.ParseGrant(r)
		switch {
		case err != nil:
			add(err.Error())
		case !actor.Catalog.ValidRole(g.Role):
			add(fmt.Sprintf("unknown role %q", g.Role))
		case slices.Contains(grants[:i], r):
			add(fmt.Sprintf("%q is listed twice", r))
		}
	}
	return out
}

// checkRefs checks, in tx, what a user names in its tenant: its division
// ("" when unchanged) and the roles and divisions of the grants given.
func checkRefs(ctx context.Context, tx Tx, tenantID, division string, grants []string) error {
	if division != "" && division != authz.HomeDivision {
		ok, err := tx.DivisionInTenant(ctx, tenantID, division)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Invalid("division", fmt.Sprintf("no division %q in this tenant", division))
		}
	}
	return authz.CheckGrants(ctx, tx, tenantID, "roles", grants)
}

// resolveActor gives the actor its tenant's role catalog when it carries
// none and its roles, or the grants it is about to give, name a role that
// is not built in.
func resolveActor(ctx context.Context, src authz.RoleSource, actor *authz.Actor, grants []string) error {
	return authz.Resolve(ctx, src, actor, grants)
}

// SetPassword replaces a user's password; the actor needs users:manage in
// the user's division and may change the user (see outranks). The user's
// sessions end, so a stolen session does not outlive the change. A
// password set by anyone but the user is one they did not choose, so
// they are asked to change it at their next console sign-in
// (PasswordChangeRequired); one they set themselves clears that.
func (s *Users) SetPassword(ctx context.Context, actor authz.Actor, id, password string) error {
	if err := resolveActor(ctx, s.Repo, &actor, nil); err != nil {
		return err
	}
	if err := actor.RequireSome(authz.UsersManage); err != nil {
		return err
	}
	if msg := CheckPassword(password); msg != "" {
		return &errs.ValidationError{Fields: []errs.FieldError{{Field: "password", Message: msg}}}
	}
	// A read first, so a refusal costs no hash; the transaction checks
	// again on the user it holds.
	u, err := s.Repo.User(ctx, id)
	if err != nil {
		return err
	}
	if _, err := changeable(ctx, s.Repo, actor, u); err != nil {
		return err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now()
	return s.Repo.InAccountTx(ctx, func(tx Tx) error {
		u, err := s.lock(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		required := !isSelf(actor, u.ID)
		e := audit.New(actor, now, ActionUserPassword, "user", u.ID)
		e.Changes = []string{"password"}
		if required {
			// The trail says the user must choose their own.
			e.Details = map[string]string{"password_change_required": "true"}
		}
		u.PasswordHash, u.PasswordChangeRequired, u.UpdatedAt = hash, required, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, e)
	})
}

// isSelf reports whether the actor is the signed-in user id.
func isSelf(actor authz.Actor, id string) bool { return actor.Kind == authz.KindUser && actor.ID == id }

// ErrPasswordChanged means the user's password changed between checking
// the current one and storing the new one: nothing was changed.
var ErrPasswordChanged = fmt.Errorf("%w: the password was changed meanwhile; try again", ErrConflict)

// ChangeOwnPassword is u changing their own password, from addr, in the
// session keep (nil for none): current must be their password now and
// next a new one (CheckPassword's rules, not the same as current). The
// new hash is stored, PasswordChangeRequired cleared, and every other
// session of the user ended, so a stolen session does not outlive the
// change while the browser that made it stays signed in; the
// user.password_changed event commits with it. Refusals are field errors
// on "current_password" and "new_password"; a disabled or missing user is
// ErrNotFound.
func (s *Users) ChangeOwnPassword(ctx context.Context, u *User, keep *Session, addr, current, next string) error {
	var fields []errs.FieldError
	add := func(field, msg string) { fields = append(fields, errs.FieldError{Field: field, Message: msg}) }
	if current == "" {
		add("current_password", "is required")
	}
	if next == "" {
		add("new_password", "is required")
	} else if msg := CheckPassword(next); msg != "" {
		add("new_password", msg)
	}
	if len(fields) > 0 {
		return &errs.ValidationError{Fields: fields}
	}
	// A fresh read: the hash checked is the one stored now, not the one
	// the caller read when the request began.
	fresh, err := s.Repo.User(ctx, u.ID)
	if err != nil {
		return err
	}
	if !fresh.Active() || fresh.TenantID != u.TenantID {
		return fmt.Errorf("user %s: %w", u.ID, ErrNotFound)
	}
	ok := false
	if fresh.PasswordHash != "" && len(current) <= MaxPasswordLen {
		if ok, err = s.verify(ctx, fresh.PasswordHash, current); err != nil {
			return fmt.Errorf("account: verifying the password of %s: %w", u.ID, err)
		}
	}
	if !ok {
		return errs.Invalid("current_password", "is not your current password")
	}
	if subtle.ConstantTimeCompare([]byte(current), []byte(next)) == 1 {
		return errs.Invalid("new_password", "must differ from your current password")
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return err
	}
	now := s.now()
	var changed *User
	err = s.Repo.InAccountTx(ctx, func(tx Tx) error {
		locked, err := tx.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if locked.PasswordHash != fresh.PasswordHash {
			return ErrPasswordChanged
		}
		e := audit.New(userActor(ctx, locked, addr), now, ActionPasswordChanged, "user", locked.ID)
		e.Changes = []string{"password"}
		if locked.PasswordChangeRequired {
			// The change the user was asked for is done.
			e.Details = map[string]string{"password_change_required": "cleared"}
		}
		locked.PasswordHash, locked.PasswordChangeRequired, locked.UpdatedAt = hash, false, now
		if err := tx.UpdateUser(ctx, locked); err != nil {
			return err
		}
		if keep != nil {
			err = tx.DeleteOtherSessions(ctx, locked.ID, keep.ID)
		} else {
			err = tx.DeleteUserSessions(ctx, locked.ID)
		}
		if err != nil {
			return err
		}
		changed = locked
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return err
	}
	*u = *changed
	return nil
}

// SetStatus disables or enables a user; the actor needs users:manage in
// the user's division, may change the user (see outranks) and cannot
// disable themselves. Disabling ends the user's sessions at once,
// revokes their refresh tokens, and cuts off every access token issued to
// them until now, in the same transaction. Setting the status a user
// already has changes nothing and records nothing.
func (s *Users) SetStatus(ctx context.Context, actor authz.Actor, id string, st UserStatus) (*User, error) {
	if err := resolveActor(ctx, s.Repo, &actor, nil); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.UsersManage); err != nil {
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
		was := UserActive
		if !u.Active() {
			was = UserDisabled
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
		var d audit.Diff
		d.String("status", string(was), string(st))
		d.Apply(e)
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

// UserChanges change a user; nil fields stay as they are. An empty Locale
// is the default, "en"; an empty Roles list takes every role away.
type UserChanges struct {
	Email  *string
	Name   *string
	Locale *string
	Roles  *[]string
	// DivisionID moves the user to another division of the tenant; the
	// actor needs users:manage in both.
	DivisionID *string
}

// Update applies p to a user of the actor's tenant and returns the result;
// the actor needs users:manage in the user's division (and in the one it
// moves the user to) and may change the user (see outranks). Roles given
// or taken away must be roles the actor could grant there, and no one
// changes their own roles. A change that changes nothing records nothing.
// The event names each changed field with its values before and after.
func (s *Users) Update(ctx context.Context, actor authz.Actor, id string, p UserChanges) (*User, error) {
	var grants []string
	if p.Roles != nil {
		grants = *p.Roles
	}
	if err := resolveActor(ctx, s.Repo, &actor, grants); err != nil {
		return nil, err
	}
	if err := actor.RequireSome(authz.UsersManage); err != nil {
		return nil, err
	}
	var fields []errs.FieldError
	add := func(field, msg string) { fields = append(fields, errs.FieldError{Field: field, Message: msg}) }
	var email, name, locale string
	if p.Email != nil {
		if email = NormalizeEmail(*p.Email); checkEmail(email) != "" {
			add("email", checkEmail(email))
		}
	}
	if p.Name != nil {
		if name = strings.TrimSpace(*p.Name); checkName(name) != "" {
			add("name", checkName(name))
		}
	}
	if p.Locale != nil {
		if locale = *p.Locale; locale == "" {
			locale = "en"
		}
		if !slices.Contains(Locales, locale) {
			add("locale", "must be one of "+strings.Join(Locales, ", "))
		}
	}
	if p.Roles != nil {
		fields = append(fields, grantShapes(actor, *p.Roles)...)
	}
	if p.DivisionID != nil && !authz.ValidDivisionID(*p.DivisionID) {
		add("division", "must be a division ID")
	}
	if len(fields) > 0 {
		return nil, &errs.ValidationError{Fields: fields}
	}
	now := s.now()
	var out *User
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		old, err := s.lock(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		u := *old
		set(&u.Email, p.Email, email)
		set(&u.Name, p.Name, name)
		set(&u.Locale, p.Locale, locale)
		if p.Roles != nil {
			u.Roles = slices.Clone(*p.Roles)
			if err := checkRoleChange(actor, old, &u); err != nil {
				return err
			}
		}
		moved := ""
		if p.DivisionID != nil && *p.DivisionID != old.Division() {
			if err := actor.RequireIn(authz.UsersManage, *p.DivisionID); err != nil {
				return err
			}
			moved, u.DivisionID = *p.DivisionID, *p.DivisionID
		}
		var added []string
		for _, r := range u.Roles {
			if !slices.Contains(old.Roles, r) {
				added = append(added, r)
			}
		}
		if err := checkRefs(ctx, tx, u.TenantID, moved, added); err != nil {
			return err
		}
		var d audit.Diff
		d.String("division_id", old.Division(), u.Division())
		d.String("email", old.Email, u.Email)
		d.String("locale", old.Locale, u.Locale)
		d.String("name", old.Name, u.Name)
		d.List("roles", old.Roles, u.Roles)
		out = old
		if d.Empty() {
			return nil
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		out = &u
		e := audit.New(actor, now, ActionUserUpdated, "user", u.ID)
		d.Apply(e)
		return tx.AppendAudit(ctx, e)
	})
	if errors.Is(err, ErrConflict) {
		return nil, errEmailTaken()
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// set stores the checked value v in dst when the change p was given.
func set(dst *string, p *string, v string) {
	if p != nil {
		*dst = v
	}
}

// checkRoleChange refuses roles the actor could not grant, whether given
// or taken away, and any change of the actor's own roles (a super admin
// who drops their own role could leave no one to manage the tenant).
func checkRoleChange(actor authz.Actor, old, u *User) error {
	if slices.Equal(old.Roles, u.Roles) {
		return nil
	}
	if actor.Kind == authz.KindUser && actor.ID == u.ID {
		return &errs.ValidationError{Fields: []errs.FieldError{{Field: "roles", Message: "you cannot change your own roles"}}}
	}
	var fields []errs.FieldError
	for _, r := range slices.Concat(old.Roles, u.Roles) {
		if slices.Contains(old.Roles, r) == slices.Contains(u.Roles, r) || actor.CanAssign(r) {
			continue
		}
		fields = append(fields, errs.FieldError{Field: "roles",
			Message: fmt.Sprintf("you cannot grant or take away %q: it carries permissions you do not hold", r)})
	}
	if len(fields) > 0 {
		return &errs.ValidationError{Fields: fields}
	}
	return nil
}

// lock returns the user, held for the transaction, when the actor may
// change it (see changeable).
func (s *Users) lock(ctx context.Context, tx Tx, actor authz.Actor, id string) (*User, error) {
	u, err := tx.LockUser(ctx, id)
	if err != nil {
		return nil, err
	}
	return changeable(ctx, tx, actor, u)
}

// changeable returns u when the actor manages it (see manageable) and
// outranks it, reading the tenant's roles from src when u holds a custom
// one the actor has no catalog for.
func changeable(ctx context.Context, src authz.RoleSource, actor authz.Actor, u *User) (*User, error) {
	u, err := manageable(actor, u)
	if err != nil {
		return nil, err
	}
	if err := resolveActor(ctx, src, &actor, u.Roles); err != nil {
		return nil, err
	}
	if err := outranks(actor, u); err != nil {
		return nil, err
	}
	return u, nil
}

// outranks refuses a change to u unless the actor could grant every grant
// u holds, or is a super admin: users:manage in a division must not let
// anyone disable, re-email, move or take over the account of someone
// who holds more than they do. Users acting on themselves are bound by
// the rules of each change instead (no one disables themselves or changes
// their own roles).
func outranks(actor authz.Actor, u *User) error {
	if (actor.Kind == authz.KindUser && actor.ID == u.ID) || actor.IsSuperAdmin() {
		return nil
	}
	for _, g := range u.Roles {
		if !actor.CanAssign(g) {
			return fmt.Errorf("%w: user %s holds %q, which you could not grant, so you cannot change them", errs.ErrForbidden, u.ID, g)
		}
	}
	return nil
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
