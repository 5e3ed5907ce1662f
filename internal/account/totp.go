package account

import (
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/audit"
)

// The TOTP parameters (RFC 6238) every authenticator app assumes: six
// digits, a 30-second step, HMAC-SHA-1. A code is accepted one step
// either side of now (§5.2: a phone's clock drifts, and typing takes
// time), and never twice.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	TOTPSkew   = 1
	// totpSeedSize is RFC 4226 §4's recommended 160 bits.
	totpSeedSize = 20
)

// totpOpts are the code options of every seed.
var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

var seedEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPSetup is an authenticator app being set up, as its user is shown it.
type TOTPSetup struct {
	// URI is the otpauth:// URI an app reads from a QR code.
	URI string
	// Secret is the seed in base32, for an app it is typed into.
	Secret string
}

// BeginTOTP makes a new seed for u's authenticator app and stores it,
// sealed, waiting for its first code (ConfirmTOTP): until then it does not
// count at sign-in. A setup begun before and not confirmed is replaced;
// an enrolled app is ErrFactorExists. issuer names the service in the app.
func (m *MFA) BeginTOTP(ctx context.Context, u *User, issuer string) (*TOTPSetup, error) {
	if err := m.keys(); err != nil {
		return nil, err
	}
	seed := make([]byte, totpSeedSize)
	if _, err := io.ReadFull(m.random(), seed); err != nil {
		return nil, err
	}
	setup, err := totpSetup(seed, issuer, u.Email)
	if err != nil {
		return nil, err
	}
	now := m.now()
	err = m.Repo.InAccountTx(ctx, func(tx Tx) error {
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		switch f, err := tx.TOTP(ctx, u.ID); {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case f.Active():
			return ErrFactorExists
		}
		return tx.PutTOTP(ctx, &TOTPFactor{UserID: u.ID, TenantID: u.TenantID, SealedSeed: m.sealSeed(u.ID, seed), CreatedAt: now})
	})
	if err != nil {
		return nil, err
	}
	return setup, nil
}

// PendingTOTP returns the setup of u's authenticator app that waits for
// its first code, so the page can show it again; nil when there is none.
func (m *MFA) PendingTOTP(ctx context.Context, u *User, issuer string) (*TOTPSetup, error) {
	f, err := m.Repo.TOTP(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if f.Active() {
		return nil, nil
	}
	seed, err := m.openSeed(f)
	if err != nil {
		return nil, err
	}
	return totpSetup(seed, issuer, u.Email)
}

// ConfirmTOTP enrols u's authenticator app with its first code, and
// returns new recovery codes (to be shown once) when it is u's first
// second factor. A code that is not right is ErrBadCode, and the app
// stays waiting; with no setup begun, it is ErrNoFactor.
func (m *MFA) ConfirmTOTP(ctx context.Context, u *User, code, addr string) ([]string, error) {
	if err := m.keys(); err != nil {
		return nil, err
	}
	now := m.now()
	var codes []string
	err := m.Repo.InAccountTx(ctx, func(tx Tx) error {
		codes = nil
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		f, err := tx.TOTP(ctx, u.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			return ErrNoFactor
		case err != nil:
			return err
		case f.Active():
			return ErrFactorExists
		}
		seed, err := m.openSeed(f)
		if err != nil {
			return err
		}
		step, ok := acceptStep(seed, code, now, 0)
		if !ok {
			return ErrBadCode
		}
		passkeys, err := tx.Passkeys(ctx, u.ID)
		if err != nil {
			return err
		}
		f.ConfirmedAt, f.LastStep = now, step
		if err := tx.PutTOTP(ctx, f); err != nil {
			return err
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionMFAEnrolled, audit.TargetUser, u.ID)
		e.Details = map[string]string{detailMethod: methodTOTP}
		if codes, err = m.afterEnrolment(ctx, tx, u, len(passkeys) > 0, now, e); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// VerifyTOTP accepts a code of u's enrolled authenticator app as the
// second factor of a sign-in: one of the steps TOTPSkew either side of
// now, later than the last step accepted, which it becomes. A wrong code
// is ErrBadCode, a code of a step already used ErrCodeReplayed (someone
// who watched it being typed cannot use it again). Every check is
// audited.
func (m *MFA) VerifyTOTP(ctx context.Context, u *User, code, addr string) error {
	if err := m.keys(); err != nil {
		return err
	}
	now := m.now()
	var refused error
	err := m.Repo.InAccountTx(ctx, func(tx Tx) error {
		refused = nil
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		f, err := tx.TOTP(ctx, u.ID)
		switch {
		case errors.Is(err, ErrNotFound) || (err == nil && !f.Active()):
			refused = ErrBadCode
			return tx.AppendAudit(ctx, failureEvent(ctx, u, addr, now, methodTOTP, reasonWrongCode))
		case err != nil:
			return err
		}
		seed, err := m.openSeed(f)
		if err != nil {
			return err
		}
		step, ok := acceptStep(seed, code, now, f.LastStep)
		if !ok {
			reason := reasonWrongCode
			if refused = ErrBadCode; step != 0 {
				reason, refused = reasonReplayed, ErrCodeReplayed
			}
			return tx.AppendAudit(ctx, failureEvent(ctx, u, addr, now, methodTOTP, reason))
		}
		f.LastStep = step
		if err := tx.PutTOTP(ctx, f); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, verifiedEvent(ctx, u, addr, now, methodTOTP))
	})
	if err != nil {
		return err
	}
	return refused
}

// RemoveTOTP removes u's authenticator app, enrolled or waiting for its
// first code; with none it is ErrNoFactor. Removing an enrolled one is
// audited, and when it was u's last second factor their recovery codes
// go with it.
func (m *MFA) RemoveTOTP(ctx context.Context, u *User, addr string) error {
	now := m.now()
	return m.Repo.InAccountTx(ctx, func(tx Tx) error {
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		f, err := tx.TOTP(ctx, u.ID)
		if errors.Is(err, ErrNotFound) {
			return ErrNoFactor
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteTOTP(ctx, u.ID); err != nil {
			return err
		}
		if !f.Active() {
			return nil // a setup abandoned: nothing was enrolled
		}
		e := audit.New(userActor(ctx, u, addr), now, ActionMFARemoved, audit.TargetUser, u.ID)
		e.Details = map[string]string{detailMethod: methodTOTP}
		if err := afterRemoval(ctx, tx, u, now, e); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, e)
	})
}

// acceptStep returns the time step code is right for, within TOTPSkew of
// now's, and whether it is later than last. When the code is right only
// for steps at or before last, it returns the latest of them and false;
// when it is right for none, 0 and false. Every candidate step is
// compared, in constant time, whatever matched first.
func acceptStep(seed []byte, code string, now time.Time, last int64) (int64, bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != TOTPDigits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	secret := seedEncoding.EncodeToString(seed)
	current := now.Unix() / int64(TOTPPeriod/time.Second)
	var accepted, used int64
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		step := current + d
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), totpOpts)
		if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if step > last {
			accepted = step
		} else {
			used = step
		}
	}
	if accepted != 0 {
		return accepted, true
	}
	return used, false
}

// totpSetup is the setup of seed as an app of issuer's, for account.
func totpSetup(seed []byte, issuer, account string) (*TOTPSetup, error) {
	if issuer == "" {
		issuer = "Latchkey"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Secret: seed,
		Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("account: an authenticator app's URI: %w", err)
	}
	return &TOTPSetup{URI: key.URL(), Secret: key.Secret()}, nil
}

// sealSeed seals a user's seed, bound to their ID. keys must have
// succeeded.
func (m *MFA) sealSeed(userID string, seed []byte) []byte {
	return m.seeds.Seal(nil, nil, seed, []byte(userID))
}

// openSeed opens the seed of f. A seed that does not open (another key,
// another user's row) is an error of the server's, never the user's.
func (m *MFA) openSeed(f *TOTPFactor) ([]byte, error) {
	if err := m.keys(); err != nil {
		return nil, err
	}
	seed, err := m.seeds.Open(nil, nil, f.SealedSeed, []byte(f.UserID))
	if err != nil {
		return nil, fmt.Errorf("account: the authenticator app seed of %s does not open with the MFA key", f.UserID)
	}
	return seed, nil
}
