package account

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/reqid"
)

// Audit actions of second factors. Their events name the method
// ("totp", "passkey", "recovery_code") and never a code, a seed or a key.
const (
	ActionMFAEnrolled          = "user.mfa_enrolled"
	ActionMFARemoved           = "user.mfa_removed"
	ActionMFAVerified          = "user.mfa_verified"
	ActionMFAFailed            = "user.mfa_failed"
	ActionRecoveryCodesRenewed = "user.recovery_codes_generated"
	ActionRecoveryCodeUsed     = "user.recovery_code_used"
)

// What the events of second factors say, in their details.
const (
	methodTOTP         = "totp"
	methodPasskey      = "passkey"
	methodRecoveryCode = "recovery_code"

	detailMethod       = "method"
	detailReason       = "reason"
	detailCodesIssued  = "recovery_codes_issued"
	detailCodesRemoved = "recovery_codes_removed"
	detailCodesLeft    = "recovery_codes_left"

	reasonWrongCode = "wrong_code"
	reasonReplayed  = "replayed"
	reasonCeremony  = "ceremony"
	reasonCounter   = "counter_regressed"
	reasonAssertion = "assertion"
	reasonTooMany   = "too_many_failures"
)

// pendingAD is the additional data of every sealed pending sign-in.
const pendingAD = "latchkey pending sign-in v1"

// Errors of the second-factor use cases. Each failed check at sign-in is
// audited (ActionMFAFailed) before it is returned.
var (
	// ErrBadCode: the one-time or recovery code is not one the user can
	// use now.
	ErrBadCode = errors.New("account: the code is not right")
	// ErrCodeReplayed: the one-time code is right but its time step was
	// already used by this user (RFC 6238 §5.2).
	ErrCodeReplayed = errors.New("account: the code was already used")
	// ErrPasskeyRefused: a passkey ceremony failed, whatever failed: its
	// challenge unknown, expired or used, the origin or signature wrong,
	// or the authenticator's counter gone backwards.
	ErrPasskeyRefused = errors.New("account: the passkey was not accepted")
	// ErrPasskeysUnavailable: the relying party cannot use passkeys (its
	// ID is an IP address, say: WebAuthn needs a domain).
	ErrPasskeysUnavailable = errors.New("account: passkeys cannot be used at this address")
	// ErrFactorExists: the user already has an authenticator app; it is
	// removed before another is set up.
	ErrFactorExists = errors.New("account: an authenticator app is already set up")
	// ErrNoFactor: the action needs a second factor the user does not
	// have (new recovery codes without any factor, a removal of nothing).
	ErrNoFactor = errors.New("account: no second factor is set up")
	// ErrPendingInvalid: a pending sign-in was not sealed by this server
	// for this tenant, was altered, or has expired.
	ErrPendingInvalid = errors.New("account: the sign-in has expired or is not valid")
)

// PendingLifetime is how long a password sign-in waits for its second
// factor before the password must be entered again.
const PendingLifetime = 5 * time.Minute

// RecoveryCodeCount is how many recovery codes a user is given at once.
const RecoveryCodeCount = 10

// TOTPFactor is a user's authenticator app: the RFC 6238 seed, sealed,
// and the last time step a code was accepted for.
type TOTPFactor struct {
	UserID   string
	TenantID string
	// SealedSeed is the seed under AES-256-GCM with the user ID as
	// additional data: it moves to no other user's row, and the database
	// never holds it in the clear.
	SealedSeed []byte
	// LastStep is the latest time step (Unix time / 30 s) a code was
	// accepted for; a code of that step or an earlier one is refused.
	LastStep  int64
	CreatedAt time.Time
	// ConfirmedAt is when the first code was entered; zero while the
	// enrolment waits for it, when the factor does not count.
	ConfirmedAt time.Time
}

// Active reports whether the factor is enrolled and counts at sign-in.
func (f *TOTPFactor) Active() bool { return f != nil && !f.ConfirmedAt.IsZero() }

// Passkey is a WebAuthn credential a user registered as a second factor.
type Passkey struct {
	// ID is the credential ID, base64url without padding.
	ID       string
	UserID   string
	TenantID string
	// Name is the user's label for it ("Work laptop").
	Name string
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte
	// SignCount is the authenticator's signature counter as last seen;
	// one that goes backwards means a cloned authenticator.
	SignCount uint32
	// AAGUID names the authenticator's model (16 bytes; zeros when it
	// does not say).
	AAGUID     []byte
	Transports []string
	// AttestationType is what the registration's attestation proved
	// ("none" for most passkeys).
	AttestationType string
	// The authenticator data flags as last seen.
	UserVerified, BackupEligible, BackupState bool
	CreatedAt                                 time.Time
	// LastUsedAt is the last sign-in with it; zero for never.
	LastUsedAt time.Time
}

// PasskeyCeremony is a WebAuthn ceremony begun and not yet finished: the
// challenge the browser was sent, kept server-side so that it is used at
// most once. Hash is the SHA-256 of the handle the browser holds.
type PasskeyCeremony struct {
	Hash     string
	UserID   string
	TenantID string
	// Purpose is "register" or "sign_in".
	Purpose   string
	Data      []byte
	ExpiresAt time.Time
}

// MFAReader reads users' second factors outside a transaction.
type MFAReader interface {
	// TOTP returns the user's authenticator app, enrolled or waiting for
	// its first code, or ErrNotFound.
	TOTP(ctx context.Context, userID string) (*TOTPFactor, error)
	// Passkeys returns the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID string) ([]Passkey, error)
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
}

// MFATx writes second factors inside InAccountTx. The use cases lock the
// user first (LockUser), which serializes every change to one user's
// factors.
type MFATx interface {
	MFAReader
	// PutTOTP stores the user's authenticator app, replacing any.
	PutTOTP(ctx context.Context, f *TOTPFactor) error
	// DeleteTOTP removes the user's authenticator app; none is not an
	// error.
	DeleteTOTP(ctx context.Context, userID string) error
	// ReplaceRecoveryCodes replaces every recovery code of the user with
	// these hashes (none deletes them all), created at at.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, at time.Time) error
	// UseRecoveryCode marks the user's unused code with this hash used at
	// at, or returns ErrNotFound when there is no such unused code.
	UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time) error
	// CreatePasskey stores a new passkey, or returns ErrConflict when its
	// credential ID is taken.
	CreatePasskey(ctx context.Context, p *Passkey) error
	// UpdatePasskey writes a passkey's SignCount, flags and LastUsedAt,
	// or returns ErrNotFound.
	UpdatePasskey(ctx context.Context, p *Passkey) error
	// DeletePasskey removes the user's passkey with this credential ID,
	// or returns ErrNotFound when the user has none such.
	DeletePasskey(ctx context.Context, userID, id string) error
	// PutPasskeyCeremony stores c, replacing the user's unfinished
	// ceremony of the same purpose, and deletes every ceremony that
	// expired before now.
	PutPasskeyCeremony(ctx context.Context, c *PasskeyCeremony, now time.Time) error
	// TakePasskeyCeremony deletes and returns the ceremony with this
	// hash, or returns ErrNotFound: a ceremony is taken once.
	TakePasskeyCeremony(ctx context.Context, hash string) (*PasskeyCeremony, error)
}

// MFA keeps users' second factors: an authenticator app (TOTP, RFC 6238),
// passkeys (WebAuthn), and recovery codes for when neither is at hand. It
// also seals the pending sign-in that waits, between a correct password
// and a correct second factor, for the latter.
//
// Repo is required, and Key (32 bytes, kept secret: it seals the TOTP
// seeds and the pending sign-ins; derive it from the key-encryption key).
// Now defaults to time.Now, Random to crypto/rand. Safe for concurrent
// use; must not be copied after first use.
type MFA struct {
	Repo   Repository
	Key    []byte
	Now    func() time.Time
	Random io.Reader

	keysOnce sync.Once
	keysErr  error
	seeds    cipher.AEAD
	pending  cipher.AEAD
	// parties caches a WebAuthn relying party per RelyingParty.
	parties sync.Map
}

// Subkeys of Key, one per use, so that a sealed seed never opens as a
// pending sign-in or the other way round.
const (
	seedKeyLabel    = "latchkey totp seed v1"
	pendingKeyLabel = "latchkey pending sign-in v1"
)

func (m *MFA) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (m *MFA) random() io.Reader {
	if m.Random != nil {
		return m.Random
	}
	return rand.Reader
}

// keys derives the AEADs from Key once.
func (m *MFA) keys() error {
	m.keysOnce.Do(func() {
		if len(m.Key) != 32 {
			m.keysErr = fmt.Errorf("account: the MFA key must be 32 bytes, got %d", len(m.Key))
			return
		}
		if m.seeds, m.keysErr = newAEAD(m.Key, seedKeyLabel); m.keysErr != nil {
			return
		}
		m.pending, m.keysErr = newAEAD(m.Key, pendingKeyLabel)
	})
	return m.keysErr
}

// newAEAD returns AES-256-GCM, with random nonces, under the subkey of
// key for label.
func newAEAD(key []byte, label string) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, key, nil, label, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// Factors is what second factors a user has.
type Factors struct {
	// TOTP is the authenticator app, enrolled or waiting for its first
	// code; nil when there is none.
	TOTP     *TOTPFactor
	Passkeys []Passkey
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
}

// Any reports whether the user has a second factor that counts at
// sign-in: an enrolled authenticator app or a passkey.
func (f *Factors) Any() bool { return f.TOTP.Active() || len(f.Passkeys) > 0 }

// Factors returns the second factors of the user.
func (m *MFA) Factors(ctx context.Context, userID string) (*Factors, error) {
	return readFactors(ctx, m.Repo, userID)
}

func readFactors(ctx context.Context, r MFAReader, userID string) (*Factors, error) {
	var out Factors
	f, err := r.TOTP(ctx, userID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	default:
		out.TOTP = f
	}
	if out.Passkeys, err = r.Passkeys(ctx, userID); err != nil {
		return nil, err
	}
	if out.RecoveryCodesLeft, err = r.RecoveryCodesLeft(ctx, userID); err != nil {
		return nil, err
	}
	return &out, nil
}

// HasFactor reports whether a password sign-in of the user must be
// followed by a second factor.
func (m *MFA) HasFactor(ctx context.Context, userID string) (bool, error) {
	f, err := m.Factors(ctx, userID)
	if err != nil {
		return false, err
	}
	return f.Any(), nil
}

// Step says what a session must do before the admin console lets it in.
type Step int

const (
	// StepNone: nothing; the tenant does not ask for more, or the session
	// proved a second factor.
	StepNone Step = iota
	// StepEnrol: the user has no second factor and must set one up.
	StepEnrol
	// StepVerify: the user has a second factor, but this session did not
	// prove it (it began before the factor or the requirement did).
	StepVerify
)

// ConsoleStep says what sess, of u, must do first when u's tenant
// requires a second factor of its admins: the tenant is read afresh, so a
// change of the setting applies at the next request. Who is an admin is
// IsAdmin's rule, custom roles resolved with the tenant's catalog.
func (m *MFA) ConsoleStep(ctx context.Context, u *User, sess *Session) (Step, error) {
	if slices.Contains(sess.Methods, MethodMFA) {
		return StepNone, nil
	}
	t, err := m.Repo.Tenant(ctx, u.TenantID)
	if err != nil {
		return StepNone, err
	}
	if !t.RequireAdminMFA {
		return StepNone, nil
	}
	admin, err := IsAdmin(ctx, m.Repo, u)
	if err != nil || !admin {
		return StepNone, err
	}
	has, err := m.HasFactor(ctx, u.ID)
	if err != nil {
		return StepNone, err
	}
	if has {
		return StepVerify, nil
	}
	return StepEnrol, nil
}

// consolePermissions are the permissions that open the admin console:
// holding one of them, even in a single division, makes an admin.
var consolePermissions = [...]authz.Permission{authz.ClientView, authz.UsersManage, authz.AuditView}

// MayUseConsole reports whether the actor holds a permission that opens
// the admin console, tenant-wide or in at least one division. It is the
// one rule of who is an admin: the console lets in whom it accepts, and
// a tenant that requires a second factor of its admins requires it of
// exactly them.
func MayUseConsole(a authz.Actor) bool {
	for _, p := range consolePermissions {
		if a.RequireSome(p) == nil {
			return true
		}
	}
	return false
}

// IsAdmin reports whether u is an admin (MayUseConsole), reading the
// tenant's custom roles from src when u holds one.
func IsAdmin(ctx context.Context, src authz.RoleSource, u *User) (bool, error) {
	actor := authz.Actor{Kind: authz.KindUser, ID: u.ID, TenantID: u.TenantID, Roles: u.Roles}
	if err := authz.Resolve(ctx, src, &actor, nil); err != nil {
		return false, fmt.Errorf("account: reading the roles of user %s: %w", u.ID, err)
	}
	return MayUseConsole(actor), nil
}

// PendingSignIn is a sign-in whose password was right, waiting for its
// second factor. It lives only sealed in the browser: it is no session
// and opens nothing but the second-factor page.
type PendingSignIn struct {
	TenantID string `json:"t"`
	UserID   string `json:"u"`
	// Methods are those proved so far ("pwd").
	Methods   []string  `json:"m"`
	AuthTime  time.Time `json:"at"`
	ExpiresAt time.Time `json:"exp"`
}

// SealPending returns the sealed form (URL-safe) of a pending sign-in of
// u, who proved methods just now; it expires after PendingLifetime.
func (m *MFA) SealPending(u *User, methods []string) (string, *PendingSignIn, error) {
	if err := m.keys(); err != nil {
		return "", nil, err
	}
	now := m.now()
	p := &PendingSignIn{TenantID: u.TenantID, UserID: u.ID, Methods: slices.Clone(methods), AuthTime: now,
		ExpiresAt: now.Add(PendingLifetime)}
	b, err := json.Marshal(p)
	if err != nil {
		return "", nil, err
	}
	sealed := m.pending.Seal(nil, nil, b, []byte(pendingAD))
	return base64.RawURLEncoding.EncodeToString(sealed), p, nil
}

// maxPendingLen bounds a sealed pending sign-in worth opening.
const maxPendingLen = 1024

// OpenPending returns the pending sign-in sealed in v for the tenant, or
// ErrPendingInvalid when v was not sealed by this server, was altered, is
// of another tenant, or has expired.
func (m *MFA) OpenPending(tenantID, v string) (*PendingSignIn, error) {
	if err := m.keys(); err != nil {
		return nil, err
	}
	if v == "" || len(v) > maxPendingLen {
		return nil, ErrPendingInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, ErrPendingInvalid
	}
	b, err := m.pending.Open(nil, nil, raw, []byte(pendingAD))
	if err != nil {
		return nil, ErrPendingInvalid
	}
	var p PendingSignIn
	if json.Unmarshal(b, &p) != nil || p.TenantID != tenantID || p.UserID == "" {
		return nil, ErrPendingInvalid
	}
	if now := m.now(); !now.Before(p.ExpiresAt) || now.Before(p.AuthTime.Add(-time.Minute)) {
		return nil, ErrPendingInvalid
	}
	return &p, nil
}

// Recovery codes: 12 characters of a 32-letter alphabet, 60 bits, shown
// in three groups of four. The alphabet leaves out i, l, o and u, so a
// code read aloud or copied by hand is not mistyped.
const (
	recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryLen      = 12
	recoveryGroup    = 4
	recoveryHashTag  = "latchkey recovery code v1"
)

// newRecoveryCodes returns RecoveryCodeCount new codes, as shown, and
// their hashes, as stored.
func (m *MFA) newRecoveryCodes(userID string) (codes, hashes []string, err error) {
	raw := make([]byte, recoveryLen*RecoveryCodeCount)
	if _, err := io.ReadFull(m.random(), raw); err != nil {
		return nil, nil, err
	}
	for i := range RecoveryCodeCount {
		var b strings.Builder
		for j, c := range raw[i*recoveryLen : (i+1)*recoveryLen] {
			if j > 0 && j%recoveryGroup == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[c&31]) // 256 is a multiple of 32: uniform
		}
		codes = append(codes, b.String())
		hashes = append(hashes, recoveryHash(userID, b.String()))
	}
	return codes, hashes, nil
}

// normalizeRecoveryCode is a code as typed, in its canonical form:
// lower-case, without spaces or dashes, with the letters a reader may
// take for digits read as those digits. "" when it cannot be a code.
func normalizeRecoveryCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r == 'o':
			r = '0'
		case r == 'i' || r == 'l':
			r = '1'
		}
		if !strings.ContainsRune(recoveryAlphabet, r) || b.Len() >= recoveryLen {
			return ""
		}
		b.WriteRune(r)
	}
	if b.Len() != recoveryLen {
		return ""
	}
	return b.String()
}

// recoveryHash is the stored form of a user's recovery code: the SHA-256
// of the user ID and the normalized code, so that one table of guesses
// cannot serve every user.
func recoveryHash(userID, code string) string {
	sum := sha256.Sum256([]byte(recoveryHashTag + "\x00" + userID + "\x00" + normalizeRecoveryCode(code)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// RegenerateRecoveryCodes replaces all of u's recovery codes with new ones
// and returns them, to be shown once. The user must have a second factor.
func (m *MFA) RegenerateRecoveryCodes(ctx context.Context, u *User, addr string) ([]string, error) {
	codes, hashes, err := m.newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	err = m.Repo.InAccountTx(ctx, func(tx Tx) error {
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		f, err := readFactors(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if !f.Any() {
			return ErrNoFactor
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, hashes, now); err != nil {
			return err
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionRecoveryCodesRenewed, audit.TargetUser, u.ID)
		e.Details = map[string]string{detailCodesIssued: fmt.Sprint(len(hashes))}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// UseRecoveryCode accepts one of u's unused recovery codes as the second
// factor of a sign-in, marks it used, and returns how many are left. A
// code that is not one is ErrBadCode. Either way the check is audited.
func (m *MFA) UseRecoveryCode(ctx context.Context, u *User, code, addr string) (left int, err error) {
	now := m.now()
	failed := false
	err = m.Repo.InAccountTx(ctx, func(tx Tx) error {
		failed = false
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		norm := normalizeRecoveryCode(code)
		err := ErrNotFound
		if norm != "" {
			err = tx.UseRecoveryCode(ctx, u.ID, recoveryHash(u.ID, norm), now)
		}
		if errors.Is(err, ErrNotFound) {
			failed = true
			return tx.AppendAudit(ctx, failureEvent(ctx, u, addr, now, methodRecoveryCode, reasonWrongCode))
		}
		if err != nil {
			return err
		}
		if left, err = tx.RecoveryCodesLeft(ctx, u.ID); err != nil {
			return err
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionRecoveryCodeUsed, audit.TargetUser, u.ID)
		e.Details = map[string]string{detailMethod: methodRecoveryCode, detailCodesLeft: fmt.Sprint(left)}
		markAdmin(e, u)
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return 0, err
	}
	if failed {
		return 0, ErrBadCode
	}
	return left, nil
}

// CodeKind is a kind of code a user types as their second factor.
type CodeKind string

// The codes a user can type: those an attacker who knows the password
// could guess.
const (
	CodeTOTP     CodeKind = methodTOTP
	CodeRecovery CodeKind = methodRecoveryCode
)

// CodeRefused records, as a failed second-factor check, that a code of
// kind entered for u from addr was refused without being checked: too
// many wrong codes came before it.
func (m *MFA) CodeRefused(ctx context.Context, u *User, kind CodeKind, addr string) error {
	e := failureEvent(ctx, u, addr, m.now(), string(kind), reasonTooMany)
	if err := AppendAudit(ctx, m.Repo, []*audit.Event{e}); err != nil {
		return fmt.Errorf("account: recording a refused code of user %s: %w", u.ID, err)
	}
	return nil
}

// failureEvent is the audit event of a failed second-factor check of u:
// the password was right, so the event targets u, but u has not signed
// in, so the actor is anonymous, as for a failed password.
func failureEvent(ctx context.Context, u *User, addr string, now time.Time, method, reason string) *audit.Event {
	actor := authz.Actor{Kind: authz.KindAnonymous, TenantID: u.TenantID, SourceAddr: addr, RequestID: reqid.From(ctx)}
	e := audit.New(actor, now, ActionMFAFailed, audit.TargetUser, u.ID)
	e.Result = audit.ResultFailure
	e.Details = map[string]string{detailMethod: method, detailReason: reason}
	markAdmin(e, u)
	return e
}

// verifiedEvent is the audit event of a second factor u proved.
func verifiedEvent(ctx context.Context, u *User, addr string, now time.Time, method string) *audit.Event {
	e := audit.New(userActor(ctx, u, addr), now, ActionMFAVerified, audit.TargetUser, u.ID)
	e.Details = map[string]string{detailMethod: method}
	markAdmin(e, u)
	return e
}

// afterEnrolment issues recovery codes, in tx, when the factor just
// stored is the user's first (had reports whether they had one before):
// recovery codes come with a first factor and go with the last. It
// returns the codes to show, none when the user keeps theirs.
func (m *MFA) afterEnrolment(ctx context.Context, tx Tx, u *User, had bool, now time.Time, e *audit.Event) ([]string, error) {
	if had {
		return nil, nil
	}
	codes, hashes, err := m.newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	if err := tx.ReplaceRecoveryCodes(ctx, u.ID, hashes, now); err != nil {
		return nil, err
	}
	e.Details[detailCodesIssued] = fmt.Sprint(len(hashes))
	return codes, nil
}

// afterRemoval removes the user's recovery codes, in tx, when the factor
// just removed was their last.
func afterRemoval(ctx context.Context, tx Tx, u *User, now time.Time, e *audit.Event) error {
	f, err := readFactors(ctx, tx, u.ID)
	if err != nil {
		return err
	}
	if f.Any() {
		return nil
	}
	if f.RecoveryCodesLeft > 0 {
		e.Details[detailCodesRemoved] = "true"
	}
	return tx.ReplaceRecoveryCodes(ctx, u.ID, nil, now)
}

// ActionTenantUpdated is the audit action of a change to a tenant's
// settings.
const ActionTenantUpdated = "tenant.updated"

// SetRequireAdminMFA sets whether the tenant's admins must prove a second
// factor before the console lets them in; the actor needs tenants:manage.
// The event joins the tenant's own chain, where its auditors look.
// Setting what is already set changes nothing and records nothing.
func (s *Tenants) SetRequireAdminMFA(ctx context.Context, actor authz.Actor, tenantID string, on bool) (*Tenant, error) {
	if err := actor.Require(authz.TenantsManage); err != nil {
		return nil, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC().Truncate(time.Microsecond)
	var out *Tenant
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error {
		t, err := tx.LockTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		out = t
		if t.RequireAdminMFA == on {
			return nil
		}
		var d audit.Diff
		d.Bool("require_admin_mfa", t.RequireAdminMFA, on)
		t.RequireAdminMFA = on
		if err := tx.UpdateTenant(ctx, t); err != nil {
			return err
		}
		in := actor
		in.TenantID = t.ID
		e := audit.New(in, at, ActionTenantUpdated, audit.TargetTenant, t.ID)
		d.Apply(e)
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
