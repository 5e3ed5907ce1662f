package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/registration"
	"github.com/latchkey/latchkey/internal/store"
)

var registrationTests = []test{
	{"RoundTrip", testRegistrationRoundTrip},
	{"InitialTokens", testInitialTokens},
	{"TokenUsesSerialize", testInitialTokenUsesSerialize},
	{"Unused", testUnusedRegistrations},
}

func regTx(t *testing.T, s store.Store, fn func(ctx context.Context, tx registration.Tx) error) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		rtx, ok := tx.(registration.Tx)
		if !ok {
			t.Fatalf("the store's transaction %T does not implement registration.Tx", tx)
		}
		return fn(ctx, rtx)
	})
}

// testRegistrationRoundTrip: a registration reads back whole by its
// token's hash and by client; its extra metadata is replaced; it is gone
// with its client; unknown hashes are ErrNotFound.
func testRegistrationRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newClient("ten_reg", "lkc_registered", "Registered")
	c.Protected = false
	createClients(t, s, c)
	want := &registration.Registration{ClientID: c.ID, TenantID: "ten_reg", TokenHash: "sha256:aa", Template: "mcp",
		RegisteredBy: "iat_1", RegisteredAddr: "192.0.2.7", CreatedAt: at(time.Minute),
		Extra: registration.Extra{ClientURI: "https://app.example", Contacts: []string{"a@example.com", "b@example.com"}, SoftwareID: "sw"}}
	regTx(t, s, func(ctx context.Context, tx registration.Tx) error { return tx.CreateRegistration(ctx, want) })
	stored := *want
	stored.CreatedAt = at(time.Minute).Truncate(time.Microsecond).UTC()
	for what, get := range map[string]func() (*registration.Registration, error){
		"by token":  func() (*registration.Registration, error) { return s.RegistrationByToken(ctx, "sha256:aa") },
		"by client": func() (*registration.Registration, error) { return s.Registration(ctx, c.ID) },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkEqual(t, "registration "+what, got, &stored)
	}
	if _, err := s.RegistrationByToken(ctx, "sha256:bb"); !errors.Is(err, registration.ErrNotFound) {
		t.Fatalf("unknown hash: err = %v; want ErrNotFound", err)
	}
	extra := registration.Extra{LogoURI: "https://app.example/logo.png", ApplicationType: "native"}
	regTx(t, s, func(ctx context.Context, tx registration.Tx) error { return tx.SetRegistrationExtra(ctx, c.ID, extra) })
	if got, err := s.Registration(ctx, c.ID); err != nil || got.Extra.LogoURI != extra.LogoURI || got.Extra.ClientURI != "" {
		t.Fatalf("after SetRegistrationExtra: %+v, %v", got, err)
	}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		err := tx.(registration.Tx).SetRegistrationExtra(ctx, "lkc_nobody", extra)
		if !errors.Is(err, registration.ErrNotFound) {
			t.Errorf("SetRegistrationExtra of no registration: err = %v; want ErrNotFound", err)
		}
		return nil
	})
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, c.ID) })
	if _, err := s.RegistrationByToken(ctx, "sha256:aa"); !errors.Is(err, registration.ErrNotFound) {
		t.Fatalf("after the client's deletion: err = %v; want ErrNotFound", err)
	}
}

// testInitialTokens: tokens read back by hash in their tenant only, list
// newest first, count uses while usable, and stop at revocation, expiry
// and their last use.
func testInitialTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := func(id string, created time.Duration, maxUses int) *registration.InitialToken {
		return &registration.InitialToken{ID: id, TenantID: "ten_iat", Hash: "sha256:" + id, Name: "Token " + id,
			CreatedBy: "usr_admin", CreatedAt: at(created), ExpiresAt: at(created + 24*time.Hour), MaxUses: maxUses}
	}
	a, b, c := tok("iat_a", 0, 2), tok("iat_b", time.Minute, 0), tok("iat_c", 2*time.Minute, 0)
	regTx(t, s, func(ctx context.Context, tx registration.Tx) error {
		return errors.Join(tx.CreateInitialToken(ctx, a), tx.CreateInitialToken(ctx, b), tx.CreateInitialToken(ctx, c))
	})
	got, err := s.InitialTokenByHash(ctx, "ten_iat", "sha256:iat_a")
	if err != nil {
		t.Fatal(err)
	}
	want := *a
	want.CreatedAt, want.ExpiresAt = stored(a.CreatedAt), stored(a.ExpiresAt)
	checkEqual(t, "initial token", got, &want)
	if _, err := s.InitialTokenByHash(ctx, "ten_other", "sha256:iat_a"); !errors.Is(err, registration.ErrNotFound) {
		t.Fatalf("another tenant's token: err = %v; want ErrNotFound", err)
	}
	list, err := s.InitialTokens(ctx, "ten_iat")
	if err != nil || len(list) != 3 || list[0].ID != "iat_c" || list[2].ID != "iat_a" {
		t.Fatalf("InitialTokens = %+v, %v; want c, b, a", list, err)
	}

	use := func(hash string, now time.Time) error {
		var err error
		inTx(t, s, func(ctx context.Context, tx client.Tx) error {
			_, err = tx.(registration.Tx).UseInitialToken(ctx, "ten_iat", hash, now)
			return nil
		})
		return err
	}
	for i := range 2 {
		if err := use("sha256:iat_a", at(time.Hour)); err != nil {
			t.Fatalf("use %d of 2: %v", i+1, err)
		}
	}
	if err := use("sha256:iat_a", at(time.Hour)); !errors.Is(err, registration.ErrNotFound) {
		t.Fatalf("a third use of a two-use token: err = %v; want ErrNotFound", err)
	}
	if got, _ := s.InitialTokenByHash(ctx, "ten_iat", "sha256:iat_a"); got.Uses != 2 || !got.LastUsedAt.Equal(stored(at(time.Hour))) {
		t.Fatalf("after two uses: %+v", got)
	}
	if err := use("sha256:iat_b", at(25*time.Hour)); !errors.Is(err, registration.ErrNotFound) {
		t.Fatalf("an expired token's use: err = %v; want ErrNotFound", err)
	}
	regTx(t, s, func(ctx context.Context, tx registration.Tx) error {
		return errors.Join(tx.RevokeInitialToken(ctx, "ten_iat", "iat_c", at(time.Hour)),
			tx.RevokeInitialToken(ctx, "ten_iat", "iat_c", at(2*time.Hour)))
	})
	if got, _ := s.InitialTokenByHash(ctx, "ten_iat", "sha256:iat_c"); !got.RevokedAt.Equal(stored(at(time.Hour))) {
		t.Fatalf("revoked twice: revoked_at = %v; want the first", got.RevokedAt)
	}
	if err := use("sha256:iat_c", at(90*time.Minute)); !errors.Is(err, registration.ErrNotFound) {
		t.Fatalf("a revoked token's use: err = %v; want ErrNotFound", err)
	}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		if err := tx.(registration.Tx).RevokeInitialToken(ctx, "ten_other", "iat_b", at(time.Hour)); !errors.Is(err, registration.ErrNotFound) {
			t.Errorf("revoking another tenant's token: err = %v; want ErrNotFound", err)
		}
		return nil
	})
}

// testInitialTokenUsesSerialize: eight registrations race for a token of
// three uses; exactly three have it.
func testInitialTokenUsesSerialize(t *testing.T, s store.Store) {
	regTx(t, s, func(ctx context.Context, tx registration.Tx) error {
		return tx.CreateInitialToken(ctx, &registration.InitialToken{ID: "iat_race", TenantID: "ten_race", Hash: "sha256:race",
			Name: "Race", CreatedBy: "usr_admin", CreatedAt: at(0), ExpiresAt: at(time.Hour), MaxUses: 3})
	})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  int
		errs []error
	)
	for range 8 {
		wg.Go(func() {
			err := s.InTx(t.Context(), func(tx client.Tx) error {
				_, err := tx.(registration.Tx).UseInitialToken(t.Context(), "ten_race", "sha256:race", at(time.Minute))
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case !errors.Is(err, registration.ErrNotFound):
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 || won != 3 {
		t.Fatalf("%d of 8 used a three-use token (errors %v); want 3", won, errs)
	}
}

// testUnusedRegistrations: registered clients unused since the cut-off
// (never used: since registration) are listed oldest first; used,
// protected, unregistered and other tenants' clients are not.
func testUnusedRegistrations(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id string, lastUsed time.Duration, protected bool) *client.Client {
		c := newClient("ten_unused", id, id)
		c.Protected, c.LastUsedAt = protected, time.Time{}
		if lastUsed != 0 {
			c.LastUsedAt = at(lastUsed)
		}
		return c
	}
	never, old, recent, guarded := mk("lkc_never", 0, false), mk("lkc_old", time.Hour, false), mk("lkc_recent", 48*time.Hour, false), mk("lkc_guarded", 0, true)
	plain := mk("lkc_plain", 0, false)
	foreign := newClient("ten_foreign", "lkc_foreign", "foreign")
	foreign.LastUsedAt, foreign.Protected = time.Time{}, false
	createClients(t, s, never, old, recent, guarded, plain, foreign)
	regTx(t, s, func(ctx context.Context, tx registration.Tx) error {
		var all []error
		for i, c := range []*client.Client{never, old, recent, guarded, foreign} {
			all = append(all, tx.CreateRegistration(ctx, &registration.Registration{ClientID: c.ID, TenantID: c.TenantID,
				TokenHash: "sha256:" + c.ID, Template: "web", RegisteredBy: registration.OpenRegistrar, CreatedAt: at(time.Duration(i) * time.Minute)}))
		}
		return errors.Join(all...)
	})
	got, err := s.UnusedRegistrations(ctx, "ten_unused", at(24*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "unused registrations", got, []string{"lkc_never", "lkc_old"})
	if got, err := s.UnusedRegistrations(ctx, "ten_unused", at(24*time.Hour), 1); err != nil || len(got) != 1 || got[0] != "lkc_never" {
		t.Fatalf("limit 1: %v, %v", got, err)
	}
}
