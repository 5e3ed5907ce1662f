package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store"
)

var mfaTests = []test{
	{"TenantSettings", testTenantSettings},
	{"TOTP", testTOTPFactors},
	{"RecoveryCodes", testRecoveryCodes},
	{"Passkeys", testPasskeys},
	{"PasskeyCeremonies", testPasskeyCeremonies},
}

// testTenantSettings: a tenant's RequireAdminMFA is stored at creation,
// locked and updated in a transaction, and read back by every lookup.
func testTenantSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	strict := &account.Tenant{ID: "ten_strict", Name: "Strict", Slug: "strict", RequireAdminMFA: true, CreatedAt: at(0)}
	lax := &account.Tenant{ID: "ten_lax", Name: "Lax", Slug: "lax", CreatedAt: at(time.Hour)}
	for _, tn := range []*account.Tenant{strict, lax} {
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatalf("CreateTenant(%s): %v", tn.ID, err)
		}
	}
	if got, err := s.Tenant(ctx, "ten_strict"); err != nil || !got.RequireAdminMFA {
		t.Fatalf("Tenant(strict) = %+v, %v; want RequireAdminMFA", got, err)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		tn, err := tx.LockTenant(ctx, "ten_lax")
		if err != nil {
			return err
		}
		checkEqual(t, "LockTenant", tn, &account.Tenant{ID: "ten_lax", Name: "Lax", Slug: "lax", CreatedAt: stored(at(time.Hour))})
		tn.RequireAdminMFA, tn.Name = true, "ignored: only settings are written"
		return tx.UpdateTenant(ctx, tn)
	})
	got, err := s.TenantBySlug(ctx, "lax")
	if err != nil {
		t.Fatalf("TenantBySlug: %v", err)
	}
	checkEqual(t, "updated tenant", got, &account.Tenant{ID: "ten_lax", Name: "Lax", Slug: "lax", RequireAdminMFA: true,
		CreatedAt: stored(at(time.Hour))})
	list, err := s.Tenants(ctx)
	if err != nil || len(list) != 2 || !list[0].RequireAdminMFA || !list[1].RequireAdminMFA {
		t.Errorf("Tenants = %+v, %v; want both requiring MFA", list, err)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		tn, err := tx.LockTenant(ctx, "ten_strict")
		if err != nil {
			return err
		}
		tn.RequireAdminMFA = false
		return tx.UpdateTenant(ctx, tn)
	})
	if got, err := s.Tenant(ctx, "ten_strict"); err != nil || got.RequireAdminMFA {
		t.Errorf("Tenant(strict) after turning it off = %+v, %v", got, err)
	}
	err = s.InAccountTx(ctx, func(tx account.Tx) error {
		if _, err := tx.LockTenant(ctx, "ten_missing"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("LockTenant(missing): got %v, want account.ErrNotFound", err)
		}
		if err := tx.UpdateTenant(ctx, &account.Tenant{ID: "ten_missing"}); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("UpdateTenant(missing): got %v, want account.ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func storedTOTP(f account.TOTPFactor) *account.TOTPFactor {
	f.CreatedAt, f.ConfirmedAt = stored(f.CreatedAt), stored(f.ConfirmedAt)
	return &f
}

// testTOTPFactors: an authenticator app round-trips, waiting or enrolled,
// is replaced whole by PutTOTP, is one user's only, and is deleted.
func testTOTPFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.TOTP(ctx, "usr_1"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("TOTP of a user without one: got %v, want account.ErrNotFound", err)
	}
	pending := account.TOTPFactor{UserID: "usr_1", TenantID: "ten_a", SealedSeed: []byte{0, 1, 2, 0xff, 'x'}, CreatedAt: base}
	other := account.TOTPFactor{UserID: "usr_2", TenantID: "ten_a", SealedSeed: []byte("another seed"), LastStep: 7,
		CreatedAt: at(time.Minute), ConfirmedAt: at(2 * time.Minute)}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.PutTOTP(ctx, &pending); err != nil {
			return err
		}
		if err := tx.PutTOTP(ctx, &other); err != nil {
			return err
		}
		got, err := tx.TOTP(ctx, "usr_1")
		if err != nil {
			return err
		}
		checkEqual(t, "TOTP in the transaction", got, storedTOTP(pending))
		return nil
	})
	got, err := s.TOTP(ctx, "usr_1")
	if err != nil {
		t.Fatalf("TOTP: %v", err)
	}
	checkEqual(t, "waiting TOTP", got, storedTOTP(pending))
	if got.Active() {
		t.Error("a TOTP without ConfirmedAt reads as active")
	}

	enrolled := pending
	enrolled.SealedSeed, enrolled.LastStep, enrolled.ConfirmedAt = []byte("resealed"), 68_000_000_123, at(time.Hour)
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error { return tx.PutTOTP(ctx, &enrolled) })
	got, err = s.TOTP(ctx, "usr_1")
	if err != nil {
		t.Fatalf("TOTP: %v", err)
	}
	checkEqual(t, "replaced TOTP", got, storedTOTP(enrolled))
	if got2, err := s.TOTP(ctx, "usr_2"); err != nil {
		t.Fatalf("TOTP(usr_2): %v", err)
	} else {
		checkEqual(t, "the other user's TOTP", got2, storedTOTP(other))
	}

	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.DeleteTOTP(ctx, "usr_1"); err != nil {
			return err
		}
		return tx.DeleteTOTP(ctx, "usr_missing") // none is not an error
	})
	if _, err := s.TOTP(ctx, "usr_1"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("TOTP after DeleteTOTP: got %v, want account.ErrNotFound", err)
	}
	if _, err := s.TOTP(ctx, "usr_2"); err != nil {
		t.Errorf("DeleteTOTP of one user took another's: %v", err)
	}
}

func codesLeft(t *testing.T, s store.Store, userID string) int {
	t.Helper()
	n, err := s.RecoveryCodesLeft(t.Context(), userID)
	if err != nil {
		t.Fatalf("RecoveryCodesLeft(%s): %v", userID, err)
	}
	return n
}

// testRecoveryCodes: codes are replaced whole, each used once, only by
// their user, and counted while unused.
func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	if n := codesLeft(t, s, "usr_1"); n != 0 {
		t.Fatalf("RecoveryCodesLeft of a user without codes = %d", n)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.ReplaceRecoveryCodes(ctx, "usr_1", []string{"h1", "h2", "h3"}, base); err != nil {
			return err
		}
		return tx.ReplaceRecoveryCodes(ctx, "usr_2", []string{"h1", "other"}, base)
	})
	if a, b := codesLeft(t, s, "usr_1"), codesLeft(t, s, "usr_2"); a != 3 || b != 2 {
		t.Fatalf("codes left = %d and %d, want 3 and 2", a, b)
	}
	use := func(user, hash string) error {
		return s.InAccountTx(ctx, func(tx account.Tx) error { return tx.UseRecoveryCode(ctx, user, hash, at(time.Hour)) })
	}
	if err := use("usr_1", "h2"); err != nil {
		t.Fatalf("UseRecoveryCode: %v", err)
	}
	if err := use("usr_1", "h2"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a code used twice: got %v, want account.ErrNotFound", err)
	}
	if err := use("usr_1", "other"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("another user's code: got %v, want account.ErrNotFound", err)
	}
	if err := use("usr_1", "h-missing"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("an unknown code: got %v, want account.ErrNotFound", err)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		n, err := tx.RecoveryCodesLeft(ctx, "usr_1")
		if err == nil && n != 2 {
			t.Errorf("RecoveryCodesLeft in the transaction = %d, want 2", n)
		}
		return err
	})
	if a, b := codesLeft(t, s, "usr_1"), codesLeft(t, s, "usr_2"); a != 2 || b != 2 {
		t.Errorf("codes left after one use = %d and %d, want 2 and 2", a, b)
	}

	// New codes replace all the old ones, used or not.
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		return tx.ReplaceRecoveryCodes(ctx, "usr_1", []string{"n1", "h2"}, at(2*time.Hour))
	})
	if n := codesLeft(t, s, "usr_1"); n != 2 {
		t.Errorf("codes left after a replacement = %d, want 2", n)
	}
	if err := use("usr_1", "h1"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a replaced code: got %v, want account.ErrNotFound", err)
	}
	if err := use("usr_1", "h2"); err != nil {
		t.Errorf("a code issued again is new: %v", err)
	}
	err := s.InAccountTx(ctx, func(tx account.Tx) error {
		return tx.ReplaceRecoveryCodes(ctx, "usr_1", []string{"dup", "dup"}, base)
	})
	if !errors.Is(err, account.ErrConflict) {
		t.Errorf("a code listed twice: got %v, want account.ErrConflict", err)
	}
	if n := codesLeft(t, s, "usr_1"); n != 1 {
		t.Errorf("a failed replacement changed the codes: %d left, want 1", n)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		return tx.ReplaceRecoveryCodes(ctx, "usr_1", nil, base)
	})
	if a, b := codesLeft(t, s, "usr_1"), codesLeft(t, s, "usr_2"); a != 0 || b != 2 {
		t.Errorf("codes left after removing usr_1's = %d and %d, want 0 and 2", a, b)
	}
}

func newPasskey(id, user string, created time.Time) account.Passkey {
	return account.Passkey{ID: id, UserID: user, TenantID: "ten_a", Name: "Key " + id, PublicKey: []byte{0xa5, 1, 2, 3, 0},
		SignCount: 4_000_000_000, AAGUID: []byte{0xad, 0xce, 0, 2, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03},
		Transports: []string{"usb", "internal"}, AttestationType: "none", UserVerified: true, BackupEligible: true,
		CreatedAt: created, LastUsedAt: created.Add(time.Hour)}
}

func storedPasskey(p account.Passkey) account.Passkey {
	p.CreatedAt, p.LastUsedAt = stored(p.CreatedAt), stored(p.LastUsedAt)
	p.Transports = nilIfEmpty(p.Transports)
	if len(p.AAGUID) == 0 {
		p.AAGUID = nil // an empty one reads as none
	}
	return p
}

func createPasskeys(t *testing.T, s store.Store, ps ...account.Passkey) {
	t.Helper()
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		for i := range ps {
			if err := tx.CreatePasskey(ctx, &ps[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// testPasskeys: passkeys round-trip in creation order, per user; IDs are
// unique; an update writes the counter, flags and last use alone; and a
// delete takes only the user's own.
func testPasskeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ps, err := s.Passkeys(ctx, "usr_1"); err != nil || len(ps) != 0 {
		t.Fatalf("Passkeys of a user without any: %v, %v", ps, err)
	}
	newer := newPasskey("Y3JlZC1i", "usr_1", at(time.Hour))
	older := newPasskey("Y3JlZC1h", "usr_1", at(0))
	bare := account.Passkey{ID: "Y3JlZC1j", UserID: "usr_1", TenantID: "ten_a", Name: "Bare", PublicKey: []byte{1},
		CreatedAt: at(2 * time.Hour)} // no AAGUID, transports or use
	theirs := newPasskey("Y3JlZC16", "usr_2", at(0))
	createPasskeys(t, s, newer, older, bare, theirs)
	ps, err := s.Passkeys(ctx, "usr_1")
	if err != nil {
		t.Fatalf("Passkeys: %v", err)
	}
	checkEqual(t, "Passkeys oldest first", ps, []account.Passkey{storedPasskey(older), storedPasskey(newer), storedPasskey(bare)})

	dup := newPasskey(older.ID, "usr_2", at(0))
	err = s.InAccountTx(ctx, func(tx account.Tx) error { return tx.CreatePasskey(ctx, &dup) })
	if !errors.Is(err, account.ErrConflict) {
		t.Errorf("CreatePasskey with a taken credential ID: got %v, want account.ErrConflict", err)
	}

	used := older
	used.SignCount, used.UserVerified, used.BackupEligible, used.BackupState = 4_000_000_001, false, false, true
	used.LastUsedAt, used.Name, used.PublicKey = at(3*time.Hour), "not written", []byte("not written")
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.UpdatePasskey(ctx, &used); err != nil {
			return err
		}
		held, err := tx.Passkeys(ctx, "usr_1")
		if err != nil {
			return err
		}
		want := storedPasskey(older)
		want.SignCount, want.UserVerified, want.BackupEligible, want.BackupState = 4_000_000_001, false, false, true
		want.LastUsedAt = stored(at(3 * time.Hour))
		checkEqual(t, "the passkey after UpdatePasskey", held[0], want)
		return nil
	})
	err = s.InAccountTx(ctx, func(tx account.Tx) error {
		if err := tx.UpdatePasskey(ctx, &account.Passkey{ID: "bWlzc2luZw"}); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("UpdatePasskey(missing): got %v, want account.ErrNotFound", err)
		}
		if err := tx.DeletePasskey(ctx, "usr_1", theirs.ID); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("DeletePasskey of another user's: got %v, want account.ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error { return tx.DeletePasskey(ctx, "usr_1", newer.ID) })
	ps, err = s.Passkeys(ctx, "usr_1")
	if err != nil || len(ps) != 2 || ps[0].ID != older.ID || ps[1].ID != bare.ID {
		t.Errorf("Passkeys after a delete: %+v, %v", ps, err)
	}
	if ps, err := s.Passkeys(ctx, "usr_2"); err != nil || len(ps) != 1 {
		t.Errorf("the other user's passkeys: %+v, %v", ps, err)
	}
}

// testPasskeyCeremonies: a ceremony is taken once; a new one replaces the
// user's unfinished one of the same purpose only; expired ones are
// deleted when another is put.
func testPasskeyCeremonies(t *testing.T, s store.Store) {
	ctx := t.Context()
	cer := func(hash, user, purpose string, expires time.Time) *account.PasskeyCeremony {
		return &account.PasskeyCeremony{Hash: hash, UserID: user, TenantID: "ten_a", Purpose: purpose,
			Data: []byte(`{"s":{"challenge":"` + hash + `"}}`), ExpiresAt: expires}
	}
	put := func(c *account.PasskeyCeremony, now time.Time) {
		t.Helper()
		inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error { return tx.PutPasskeyCeremony(ctx, c, now) })
	}
	take := func(hash string) (*account.PasskeyCeremony, error) {
		var c *account.PasskeyCeremony
		err := s.InAccountTx(ctx, func(tx account.Tx) error {
			var err error
			c, err = tx.TakePasskeyCeremony(ctx, hash)
			return err
		})
		return c, err
	}
	stale := cer("stale", "usr_9", "register", at(time.Minute))
	put(stale, base)
	first := cer("first", "usr_1", "register", at(time.Hour))
	put(first, base)
	signIn := cer("sign", "usr_1", "sign_in", at(time.Hour))
	put(signIn, base)
	again := cer("again", "usr_1", "register", at(time.Hour))
	put(again, at(2*time.Minute)) // stale has expired by then

	if _, err := take("first"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a replaced ceremony: got %v, want account.ErrNotFound", err)
	}
	if _, err := take("stale"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("an expired ceremony was kept: got %v, want account.ErrNotFound", err)
	}
	got, err := take("again")
	if err != nil {
		t.Fatalf("TakePasskeyCeremony: %v", err)
	}
	want := *again
	want.ExpiresAt = stored(want.ExpiresAt)
	checkEqual(t, "TakePasskeyCeremony", got, &want)
	if _, err := take("again"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a ceremony taken twice: got %v, want account.ErrNotFound", err)
	}
	if got, err := take("sign"); err != nil || got.Purpose != "sign_in" {
		t.Errorf("the ceremony of another purpose: %+v, %v", got, err)
	}
}
