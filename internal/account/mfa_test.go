package account_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

var mfaKey = bytes.Repeat([]byte{0x42}, 32)

// mfaFixture is the account fixture with second factors, a tenant row
// and a user of it.
type mfaFixture struct {
	*fixture
	path string
	mfa  *account.MFA
	ana  *account.User
}

func newMFAFixture(t *testing.T) *mfaFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "l.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	base := newFixture(t)
	base.db = db
	clock := func() time.Time { return base.now }
	base.users = &account.Users{Repo: db, Now: clock, Hash: cheap}
	base.sessions = &account.Sessions{Repo: db, Now: clock}
	if err := db.CreateTenant(ctx, &account.Tenant{ID: "ten_home", Name: "Home", Default: true, CreatedAt: base.now}); err != nil {
		t.Fatal(err)
	}
	f := &mfaFixture{fixture: base, path: path, mfa: &account.MFA{Repo: db, Key: mfaKey, Now: clock}}
	if f.ana, err = f.users.Create(ctx, f.op, account.NewUser{Email: "ana@example.com", Name: "Ana"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// code is the authenticator app's code for secret at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP sets up and confirms ana's app; it returns the secret and
// the recovery codes.
func (f *mfaFixture) enrolTOTP(t *testing.T) (string, []string) {
	t.Helper()
	ctx := context.Background()
	setup, err := f.mfa.BeginTOTP(ctx, f.ana, "Latchkey")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.mfa.ConfirmTOTP(ctx, f.ana, code(t, setup.Secret, f.now), "192.0.2.1")
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return setup.Secret, codes
}

// events returns the tenant's events with these actions.
func (f *mfaFixture) events(t *testing.T, actions ...string) []audit.Event {
	t.Helper()
	es, err := f.db.AuditEvents(context.Background(), "ten_home", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(es, func(e audit.Event) bool { return !slices.Contains(actions, e.Action) })
}

func TestTOTPEnrolment(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	setup, err := f.mfa.BeginTOTP(ctx, f.ana, "Acme Corp")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(setup.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != setup.Secret ||
		u.Query().Get("issuer") != "Acme Corp" || u.Query().Get("digits") != "6" || u.Query().Get("period") != "30" ||
		!strings.HasSuffix(u.Path, ":ana@example.com") {
		t.Fatalf("URI %q (%v)", setup.URI, err)
	}
	if len(setup.Secret) != 32 { // 160 bits of base32
		t.Errorf("secret %q: want 32 base32 characters", setup.Secret)
	}
	again, err := f.mfa.PendingTOTP(ctx, f.ana, "Acme Corp")
	if err != nil || again == nil || again.Secret != setup.Secret {
		t.Fatalf("PendingTOTP = %+v, %v; want the same setup", again, err)
	}
	// Waiting for its first code, the app does not count.
	if has, err := f.mfa.HasFactor(ctx, f.ana.ID); err != nil || has {
		t.Fatalf("HasFactor before confirming = %v, %v", has, err)
	}
	if err := f.mfa.VerifyTOTP(ctx, f.ana, code(t, setup.Secret, f.now), "192.0.2.1"); !errors.Is(err, account.ErrBadCode) {
		t.Errorf("VerifyTOTP of an unconfirmed app: got %v, want ErrBadCode", err)
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", wrongCode(t, setup.Secret, f.now)} {
		if _, err := f.mfa.ConfirmTOTP(ctx, f.ana, bad, "192.0.2.1"); !errors.Is(err, account.ErrBadCode) {
			t.Errorf("ConfirmTOTP(%q): got %v, want ErrBadCode", bad, err)
		}
	}
	// A new setup replaces one not confirmed: the old seed is gone.
	setup2, err := f.mfa.BeginTOTP(ctx, f.ana, "Acme Corp")
	if err != nil || setup2.Secret == setup.Secret {
		t.Fatalf("a second BeginTOTP: %+v, %v", setup2, err)
	}
	if _, err := f.mfa.ConfirmTOTP(ctx, f.ana, code(t, setup.Secret, f.now), "192.0.2.1"); !errors.Is(err, account.ErrBadCode) {
		t.Errorf("the replaced seed's code: got %v, want ErrBadCode", err)
	}
	codes, err := f.mfa.ConfirmTOTP(ctx, f.ana, " "+code(t, setup2.Secret, f.now)[:3]+" "+code(t, setup2.Secret, f.now)[3:], "192.0.2.1")
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	if len(codes) != account.RecoveryCodeCount {
		t.Errorf("%d recovery codes, want %d", len(codes), account.RecoveryCodeCount)
	}
	if has, err := f.mfa.HasFactor(ctx, f.ana.ID); err != nil || !has {
		t.Errorf("HasFactor after confirming = %v, %v", has, err)
	}
	if p, err := f.mfa.PendingTOTP(ctx, f.ana, "x"); err != nil || p != nil {
		t.Errorf("PendingTOTP of an enrolled app = %+v, %v; want none", p, err)
	}
	if _, err := f.mfa.BeginTOTP(ctx, f.ana, "x"); !errors.Is(err, account.ErrFactorExists) {
		t.Errorf("BeginTOTP over an enrolled app: got %v, want ErrFactorExists", err)
	}
	if _, err := f.mfa.ConfirmTOTP(ctx, f.ana, code(t, setup2.Secret, f.now), "192.0.2.1"); !errors.Is(err, account.ErrFactorExists) {
		t.Errorf("ConfirmTOTP of an enrolled app: got %v, want ErrFactorExists", err)
	}
	// The code that confirmed it was of this step: it cannot sign in.
	if err := f.mfa.VerifyTOTP(ctx, f.ana, code(t, setup2.Secret, f.now), "192.0.2.1"); !errors.Is(err, account.ErrCodeReplayed) {
		t.Errorf("the enrolment's code at sign-in: got %v, want ErrCodeReplayed", err)
	}

	es := f.events(t, account.ActionMFAEnrolled)
	if len(es) != 1 || es[0].Details["method"] != "totp" || es[0].Details["recovery_codes_issued"] != "10" ||
		es[0].ActorID != f.ana.ID || es[0].TargetID != f.ana.ID || es[0].SourceAddr != "192.0.2.1" {
		t.Fatalf("enrolment events %+v", es)
	}
	all := f.events(t, account.ActionMFAEnrolled, account.ActionMFAFailed, account.ActionMFAVerified)
	noSecret(t, all, setup2.Secret)
	for _, c := range codes {
		noSecret(t, all, c)
	}

	if _, err := f.mfa.ConfirmTOTP(ctx, &account.User{ID: "usr_missing"}, "123456", ""); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("ConfirmTOTP of an unknown user: got %v, want ErrNotFound", err)
	}
	if err := f.mfa.RemoveTOTP(ctx, f.ana, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := f.mfa.RemoveTOTP(ctx, f.ana, "192.0.2.1"); !errors.Is(err, account.ErrNoFactor) {
		t.Errorf("RemoveTOTP of nothing: got %v, want ErrNoFactor", err)
	}
	if _, err := f.mfa.ConfirmTOTP(ctx, f.ana, "123456", ""); !errors.Is(err, account.ErrNoFactor) {
		t.Errorf("ConfirmTOTP without a setup: got %v, want ErrNoFactor", err)
	}
}

// wrongCode is a six-digit code that is right for none of the steps
// around at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	right := map[string]bool{}
	for d := -3; d <= 3; d++ {
		right[code(t, secret, at.Add(time.Duration(d)*30*time.Second))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !right[c] {
			return c
		}
	}
	t.Fatal("every candidate is a right code")
	return ""
}

// TestTOTPSkew: a code of the step before or after now is accepted; two
// steps away it is not.
func TestTOTPSkew(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	secret, _ := f.enrolTOTP(t)
	for _, tc := range []struct {
		steps int
		ok    bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		// Ten minutes on for each case: every step used before is past.
		f.now = f.now.Add(10 * time.Minute)
		c := code(t, secret, f.now.Add(time.Duration(tc.steps)*account.TOTPPeriod))
		if c == code(t, secret, f.now) && tc.steps != 0 {
			continue // a one-in-a-million collision with now's code
		}
		err := f.mfa.VerifyTOTP(ctx, f.ana, c, "192.0.2.1")
		if tc.ok && err != nil {
			t.Errorf("a code %d steps away: %v, want it accepted", tc.steps, err)
		}
		if !tc.ok && !errors.Is(err, account.ErrBadCode) {
			t.Errorf("a code %d steps away: got %v, want ErrBadCode", tc.steps, err)
		}
	}
	if v, fl := len(f.events(t, account.ActionMFAVerified)), len(f.events(t, account.ActionMFAFailed)); v != 3 || fl != 2 {
		t.Errorf("%d verified and %d failed events, want 3 and 2", v, fl)
	}
}

// TestTOTPReplay: a step once accepted, or any before it, is refused.
func TestTOTPReplay(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	secret, _ := f.enrolTOTP(t)
	f.now = f.now.Add(5 * time.Minute)
	now := code(t, secret, f.now)
	if err := f.mfa.VerifyTOTP(ctx, f.ana, now, "192.0.2.1"); err != nil {
		t.Fatalf("VerifyTOTP: %v", err)
	}
	if err := f.mfa.VerifyTOTP(ctx, f.ana, now, "192.0.2.9"); !errors.Is(err, account.ErrCodeReplayed) {
		t.Errorf("the same code again: got %v, want ErrCodeReplayed", err)
	}
	if prev := code(t, secret, f.now.Add(-account.TOTPPeriod)); prev != now {
		if err := f.mfa.VerifyTOTP(ctx, f.ana, prev, "192.0.2.9"); !errors.Is(err, account.ErrCodeReplayed) {
			t.Errorf("the step before an accepted one: got %v, want ErrCodeReplayed", err)
		}
	}
	// The next step's code is good, even typed early (skew), and then
	// this step's is not.
	next := code(t, secret, f.now.Add(account.TOTPPeriod))
	if err := f.mfa.VerifyTOTP(ctx, f.ana, next, "192.0.2.1"); err != nil {
		t.Errorf("the next step's code: %v", err)
	}
	es := f.events(t, account.ActionMFAFailed)
	if len(es) == 0 || es[0].Details["reason"] != "replayed" || es[0].Result != audit.ResultFailure ||
		es[0].ActorKind != authz.KindAnonymous || es[0].TargetID != f.ana.ID || es[0].SourceAddr != "192.0.2.9" {
		t.Fatalf("failure events %+v", es)
	}
	noSecret(t, f.events(t, account.ActionMFAFailed, account.ActionMFAVerified), now)
}

// TestTOTPSeedSealed: the seed is stored sealed: not as its base32, not
// as its bytes, and a sealed seed moved to another user's row does not
// open.
func TestTOTPSeedSealed(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	secret, _ := f.enrolTOTP(t)
	raw, err := sql.Open("sqlite", "file:"+f.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var row []byte
	var userID, tenantID string
	if err := raw.QueryRowContext(ctx, `SELECT user_id, tenant_id, sealed_seed FROM totp_factors`).Scan(&userID, &tenantID, &row); err != nil {
		t.Fatal(err)
	}
	seed, err := seedBytes(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range [][]byte{[]byte(secret), []byte(strings.ToLower(secret)), seed} {
		if bytes.Contains(row, leak) {
			t.Fatalf("the stored seed holds %q in the clear", leak)
		}
	}
	if userID != f.ana.ID || tenantID != "ten_home" || len(row) < len(seed)+12+16 {
		t.Fatalf("row %s %s %d bytes", userID, tenantID, len(row))
	}
	f.db.Close()
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(f.path), "*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, seed) {
			t.Errorf("%s holds the seed", filepath.Base(name))
		}
	}
}

// TestTOTPSeedBoundToUser: a sealed seed copied to another user's row
// does not open, and that is the server's error, not a wrong code.
func TestTOTPSeedBoundToUser(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	f.enrolTOTP(t)
	bob, err := f.users.Create(ctx, f.op, account.NewUser{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	stolen, err := f.db.TOTP(ctx, f.ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	moved := *stolen
	moved.UserID = bob.ID
	if err := f.db.InAccountTx(ctx, func(tx account.Tx) error { return tx.PutTOTP(ctx, &moved) }); err != nil {
		t.Fatal(err)
	}
	err = f.mfa.VerifyTOTP(ctx, bob, "123456", "")
	if err == nil || errors.Is(err, account.ErrBadCode) || !strings.Contains(err.Error(), "does not open") {
		t.Errorf("a moved seed: got %v, want a server error", err)
	}
	other := &account.MFA{Repo: f.db, Key: bytes.Repeat([]byte{1}, 32), Now: f.mfa.Now}
	if err := other.VerifyTOTP(ctx, f.ana, "123456", ""); err == nil || errors.Is(err, account.ErrBadCode) {
		t.Errorf("another key: got %v, want a server error", err)
	}
	short := &account.MFA{Repo: f.db, Key: []byte("short"), Now: f.mfa.Now}
	if _, err := short.BeginTOTP(ctx, f.ana, "x"); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("a short key: got %v", err)
	}
}

func seedBytes(secret string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
}

var recoveryShape = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)

// TestRecoveryCodes: codes are shown once, stored hashed, each used once,
// replaced whole, and go with the last factor.
func TestRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	if _, err := f.mfa.RegenerateRecoveryCodes(ctx, f.ana, ""); !errors.Is(err, account.ErrNoFactor) {
		t.Errorf("codes without a factor: got %v, want ErrNoFactor", err)
	}
	_, codes := f.enrolTOTP(t)
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryShape.MatchString(c) || seen[c] {
			t.Fatalf("code %q: not xxxx-xxxx-xxxx or repeated", c)
		}
		seen[c] = true
	}
	raw, err := sql.Open("sqlite", "file:"+f.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.QueryContext(ctx, `SELECT hash FROM recovery_codes`)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if len(hashes) != 10 {
		t.Fatalf("%d stored codes, want 10", len(hashes))
	}
	for _, h := range hashes {
		for _, c := range codes {
			if strings.Contains(h, c) || strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
				t.Fatalf("a stored hash holds the code %q", c)
			}
		}
		if len(h) != 43 {
			t.Errorf("hash %q is not a base64url SHA-256", h)
		}
	}

	left, err := f.mfa.UseRecoveryCode(ctx, f.ana, codes[0], "192.0.2.1")
	if err != nil || left != 9 {
		t.Fatalf("UseRecoveryCode = %d, %v; want 9 left", left, err)
	}
	if _, err := f.mfa.UseRecoveryCode(ctx, f.ana, codes[0], "192.0.2.1"); !errors.Is(err, account.ErrBadCode) {
		t.Errorf("a code used twice: got %v, want ErrBadCode", err)
	}
	// Typed loosely: upper case, no dashes, spaces, o for 0 and l for 1.
	loose := strings.ToUpper(strings.ReplaceAll(codes[1], "-", " "))
	loose = strings.NewReplacer("0", "O", "1", "l").Replace(loose)
	if left, err := f.mfa.UseRecoveryCode(ctx, f.ana, loose, "192.0.2.1"); err != nil || left != 8 {
		t.Errorf("a code typed as %q: %d, %v", loose, left, err)
	}
	for _, bad := range []string{"", "not-a-code", codes[2] + "x", strings.Repeat("a", 1000), "uuuu-uuuu-uuuu"} {
		if _, err := f.mfa.UseRecoveryCode(ctx, f.ana, bad, "192.0.2.1"); !errors.Is(err, account.ErrBadCode) {
			t.Errorf("UseRecoveryCode(%q): got %v, want ErrBadCode", bad, err)
		}
	}
	bob, err := f.users.Create(ctx, f.op, account.NewUser{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.mfa.UseRecoveryCode(ctx, bob, codes[3], ""); !errors.Is(err, account.ErrBadCode) {
		t.Errorf("another user's code: got %v, want ErrBadCode", err)
	}

	fresh, err := f.mfa.RegenerateRecoveryCodes(ctx, f.ana, "192.0.2.1")
	if err != nil || len(fresh) != 10 {
		t.Fatalf("RegenerateRecoveryCodes: %d, %v", len(fresh), err)
	}
	if _, err := f.mfa.UseRecoveryCode(ctx, f.ana, codes[3], ""); !errors.Is(err, account.ErrBadCode) {
		t.Errorf("an old code after new ones: got %v, want ErrBadCode", err)
	}
	if factors, err := f.mfa.Factors(ctx, f.ana.ID); err != nil || factors.RecoveryCodesLeft != 10 {
		t.Errorf("Factors after regenerating: %+v, %v", factors, err)
	}
	used := f.events(t, account.ActionRecoveryCodeUsed)
	if len(used) != 2 || used[1].Details["recovery_codes_left"] != "8" || used[1].Details["method"] != "recovery_code" {
		t.Errorf("recovery-code events %+v", used)
	}
	if ev := f.events(t, account.ActionRecoveryCodesRenewed); len(ev) != 1 || ev[0].Details["recovery_codes_issued"] != "10" {
		t.Errorf("regeneration events %+v", ev)
	}
	failed := f.events(t, account.ActionMFAFailed)
	if len(failed) != 8 || failed[0].Details["method"] != "recovery_code" || failed[0].Details["reason"] != "wrong_code" {
		t.Errorf("%d failure events: %+v", len(failed), failed)
	}
	all := f.events(t, account.ActionRecoveryCodeUsed, account.ActionMFAFailed, account.ActionRecoveryCodesRenewed)
	for _, c := range append(codes, fresh...) {
		noSecret(t, all, c)
	}

	// The last factor takes the codes with it.
	if err := f.mfa.RemoveTOTP(ctx, f.ana, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if factors, err := f.mfa.Factors(ctx, f.ana.ID); err != nil || factors.RecoveryCodesLeft != 0 || factors.Any() {
		t.Errorf("Factors after removing the last: %+v, %v", factors, err)
	}
	if _, err := f.mfa.UseRecoveryCode(ctx, f.ana, fresh[0], ""); !errors.Is(err, account.ErrBadCode) {
		t.Errorf("a code after the last factor went: got %v, want ErrBadCode", err)
	}
	if ev := f.events(t, account.ActionMFARemoved); len(ev) != 1 || ev[0].Details["recovery_codes_removed"] != "true" ||
		ev[0].Details["method"] != "totp" {
		t.Errorf("removal events %+v", ev)
	}
}

// TestRecoveryCodesFailWithTheStore: a store that fails fails the use
// case, and nothing is half done.
func TestRecoveryCodesFailWithTheStore(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	_, codes := f.enrolTOTP(t)
	broken := &account.MFA{Repo: failingAudit{f.db}, Key: mfaKey, Now: f.mfa.Now}
	if _, err := broken.UseRecoveryCode(ctx, f.ana, codes[0], ""); err == nil {
		t.Fatal("UseRecoveryCode succeeded without its audit event")
	}
	if left, err := f.mfa.UseRecoveryCode(ctx, f.ana, codes[0], ""); err != nil || left != 9 {
		t.Errorf("the code after a failed use: %d, %v; want it still usable", left, err)
	}
	if _, err := broken.RegenerateRecoveryCodes(ctx, f.ana, ""); err == nil {
		t.Error("RegenerateRecoveryCodes succeeded without its audit event")
	}
	if err := broken.VerifyTOTP(ctx, f.ana, "000000", ""); err == nil || errors.Is(err, account.ErrBadCode) {
		t.Errorf("a failure that cannot be audited: got %v, want the store's error", err)
	}
}

func TestPendingSignIn(t *testing.T) {
	f := newMFAFixture(t)
	v, p, err := f.mfa.SealPending(f.ana, []string{account.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, f.ana.ID) || strings.Contains(v, "pwd") {
		t.Fatalf("the sealed form shows its content: %s", v)
	}
	if !p.ExpiresAt.Equal(f.now.Add(account.PendingLifetime)) {
		t.Errorf("expires %v", p.ExpiresAt)
	}
	got, err := f.mfa.OpenPending("ten_home", v)
	if err != nil || got.UserID != f.ana.ID || !slices.Equal(got.Methods, []string{"pwd"}) || !got.AuthTime.Equal(f.now) {
		t.Fatalf("OpenPending = %+v, %v", got, err)
	}
	other := &account.MFA{Repo: f.db, Key: bytes.Repeat([]byte{7}, 32), Now: f.mfa.Now}
	flipped := []byte(v)
	flipped[len(flipped)/2] ^= 1
	for name, open := range map[string]func() (*account.PendingSignIn, error){
		"another tenant": func() (*account.PendingSignIn, error) { return f.mfa.OpenPending("ten_other", v) },
		"another key":    func() (*account.PendingSignIn, error) { return other.OpenPending("ten_home", v) },
		"altered":        func() (*account.PendingSignIn, error) { return f.mfa.OpenPending("ten_home", string(flipped)) },
		"empty":          func() (*account.PendingSignIn, error) { return f.mfa.OpenPending("ten_home", "") },
		"not base64":     func() (*account.PendingSignIn, error) { return f.mfa.OpenPending("ten_home", "***") },
		"too long": func() (*account.PendingSignIn, error) {
			return f.mfa.OpenPending("ten_home", strings.Repeat("A", 2000))
		},
	} {
		if _, err := open(); !errors.Is(err, account.ErrPendingInvalid) {
			t.Errorf("%s: got %v, want ErrPendingInvalid", name, err)
		}
	}
	f.now = f.now.Add(account.PendingLifetime - time.Second)
	if _, err := f.mfa.OpenPending("ten_home", v); err != nil {
		t.Errorf("a second before it expires: %v", err)
	}
	f.now = f.now.Add(time.Second)
	if _, err := f.mfa.OpenPending("ten_home", v); !errors.Is(err, account.ErrPendingInvalid) {
		t.Errorf("expired: got %v, want ErrPendingInvalid", err)
	}
	short := &account.MFA{Repo: f.db, Key: []byte("short")}
	if _, _, err := short.SealPending(f.ana, nil); err == nil {
		t.Error("SealPending with a short key succeeded")
	}
	if _, err := short.OpenPending("ten_home", v); err == nil || errors.Is(err, account.ErrPendingInvalid) {
		t.Errorf("OpenPending with a short key: got %v, want a server error", err)
	}
}

// TestConsoleStep: with the tenant's requirement on, an admin's session
// without a second factor must enrol (no factor) or verify (a factor this
// session did not prove); anyone else, and any session that proved one,
// goes on.
func TestConsoleStep(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	roles := &account.Roles{Repo: f.db, Now: f.mfa.Now}
	if _, err := roles.Create(ctx, f.op, account.NewRole{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}}); err != nil {
		t.Fatal(err)
	}
	admin, err := f.users.Create(ctx, f.op, account.NewUser{Email: "root@example.com", Roles: []string{authz.SuperAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	auditor, err := f.users.Create(ctx, f.op, account.NewUser{Email: "aud@example.com", Roles: []string{"auditor"}})
	if err != nil {
		t.Fatal(err)
	}
	pwd := &account.Session{Methods: []string{"pwd"}}
	strong := &account.Session{Methods: []string{"pwd", "otp", "mfa"}}
	step := func(u *account.User, s *account.Session) account.Step {
		t.Helper()
		st, err := f.mfa.ConsoleStep(ctx, u, s)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := step(admin, pwd); st != account.StepNone {
		t.Errorf("a tenant that does not require it: %v", st)
	}
	tenants := &account.Tenants{Repo: f.db, Now: f.mfa.Now}
	if _, err := tenants.SetRequireAdminMFA(ctx, f.op, "ten_home", true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who  *account.User
		sess *account.Session
		want account.Step
	}{
		{admin, pwd, account.StepEnrol},
		{auditor, pwd, account.StepEnrol}, // a custom role's permission makes an admin
		{f.ana, pwd, account.StepNone},    // no permission: not an admin
		{admin, strong, account.StepNone},
	} {
		if got := step(tc.who, tc.sess); got != tc.want {
			t.Errorf("%s with %v: %v, want %v", tc.who.Email, tc.sess.Methods, got, tc.want)
		}
	}
	setup, err := f.mfa.BeginTOTP(ctx, admin, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.mfa.ConfirmTOTP(ctx, admin, code(t, setup.Secret, f.now), ""); err != nil {
		t.Fatal(err)
	}
	if st := step(admin, pwd); st != account.StepVerify {
		t.Errorf("an admin with a factor this session did not prove: %v, want StepVerify", st)
	}
	if _, err := f.mfa.ConsoleStep(ctx, &account.User{ID: "usr_x", TenantID: "ten_missing"}, pwd); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a user of no tenant: got %v, want ErrNotFound", err)
	}
}

// TestSetRequireAdminMFA: only tenants:manage sets it; a change is
// audited in the tenant's chain with its values; no change, no event.
func TestSetRequireAdminMFA(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	tenants := &account.Tenants{Repo: f.db, Now: f.mfa.Now}
	viewer := authz.Actor{Kind: authz.KindUser, ID: "usr_v", TenantID: "ten_home", Roles: []string{authz.OAuthAdmin, authz.Viewer}}
	if _, err := tenants.SetRequireAdminMFA(ctx, viewer, "ten_home", true); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("an OAuth admin: got %v, want ErrForbidden", err)
	}
	got, err := tenants.SetRequireAdminMFA(ctx, f.op, "ten_home", true)
	if err != nil || !got.RequireAdminMFA {
		t.Fatalf("SetRequireAdminMFA = %+v, %v", got, err)
	}
	if tn, _ := f.db.Tenant(ctx, "ten_home"); !tn.RequireAdminMFA {
		t.Error("the setting was not stored")
	}
	if _, err := tenants.SetRequireAdminMFA(ctx, f.op, "ten_home", true); err != nil {
		t.Fatal(err)
	}
	es := f.events(t, account.ActionTenantUpdated)
	if len(es) != 1 || es[0].Before["require_admin_mfa"] != "false" || es[0].After["require_admin_mfa"] != "true" ||
		es[0].TargetID != "ten_home" || es[0].ActorKind != authz.KindCLI {
		t.Fatalf("events %+v", es)
	}
	if _, err := tenants.SetRequireAdminMFA(ctx, f.op, "ten_missing", true); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a missing tenant: got %v, want ErrNotFound", err)
	}
	if _, err := (&account.Tenants{Repo: failingAudit{f.db}}).SetRequireAdminMFA(ctx, f.op, "ten_home", false); err == nil {
		t.Error("a change without its audit event succeeded")
	}
	if tn, _ := f.db.Tenant(ctx, "ten_home"); !tn.RequireAdminMFA {
		t.Error("a failed change was stored")
	}
	b, _ := json.Marshal(es)
	if !strings.Contains(string(b), "require_admin_mfa") {
		t.Error("the event does not name the setting")
	}
}
