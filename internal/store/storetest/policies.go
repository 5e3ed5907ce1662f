package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

var policyTests = []test{
	{"RoundTrip", testPolicyRoundTrip},
	{"LockSerializes", testPolicyLockSerializes},
}

// testPolicyRoundTrip: a tenant without a saved policy reads as the zero
// policy; a saved one reads back whole, outside and inside a transaction;
// saving again replaces it; RequireAdminMFA is the tenant's own setting;
// an unknown tenant is ErrNotFound on read and write.
func testPolicyRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_pol", Name: "Policies", Slug: "pol", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Policy(ctx, "ten_pol")
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "unsaved policy", got, &client.Policy{TenantID: "ten_pol"})

	want := &client.Policy{
		TenantID: "ten_pol", MaxSecretLifetime: 30 * 24 * time.Hour, RequireSecretExpiry: true,
		AllowedGrantTypes: []client.GrantType{client.GrantClientCredentials}, RequirePKCE: true,
		ForbidWildcardScope: true, RedirectHosts: []string{"app.example", "*.corp.example"}, RequireOwner: true,
		MaxAccessTokenTTL: 900 * time.Second, RequireAdminMFA: true,
		Stale:        client.StalePolicy{After: 90 * 24 * time.Hour, Warn: 14 * 24 * time.Hour},
		Leak:         client.LeakFlag,
		Registration: client.RegistrationPolicy{Mode: client.RegistrationToken, RequireApproval: true, Template: "mcp", ExpireUnused: 24 * time.Hour},
		UpdatedAt:    at(time.Hour), UpdatedBy: "usr_admin",
	}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		if err := tx.SavePolicy(ctx, want); err != nil {
			return err
		}
		in, err := tx.Policy(ctx, "ten_pol")
		if err != nil {
			return err
		}
		checkEqual(t, "policy in the transaction", in, storedPolicy(want))
		return nil
	})
	got, err = s.Policy(ctx, "ten_pol")
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "saved policy", got, storedPolicy(want))
	if tn, err := s.Tenant(ctx, "ten_pol"); err != nil || !tn.RequireAdminMFA {
		t.Fatalf("Tenant = %+v, %v; want RequireAdminMFA from the policy", tn, err)
	}

	looser := &client.Policy{TenantID: "ten_pol", Leak: client.LeakRevoke, UpdatedAt: at(2 * time.Hour), UpdatedBy: "usr_other"}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.SavePolicy(ctx, looser) })
	got, err = s.Policy(ctx, "ten_pol")
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, "replaced policy", got, storedPolicy(looser))

	if _, err := s.Policy(ctx, "ten_none"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Policy(unknown tenant) = %v; want ErrNotFound", err)
	}
	err = s.InTx(ctx, func(tx client.Tx) error {
		return tx.SavePolicy(ctx, &client.Policy{TenantID: "ten_none", UpdatedAt: at(0)})
	})
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("SavePolicy(unknown tenant) = %v; want ErrNotFound", err)
	}
}

// storedPolicy is p as a store returns it: its time as stored.
func storedPolicy(p *client.Policy) *client.Policy {
	q := *p
	q.UpdatedAt = stored(p.UpdatedAt)
	return &q
}

// testPolicyLockSerializes: read-modify-write cycles of one tenant's
// policy under LockPolicy, run at once, lose none of their changes.
func testPolicyLockSerializes(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.CreateTenant(ctx, &account.Tenant{ID: "ten_lock", Name: "Lock", Slug: "lock", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	errc := make(chan error, writers)
	for range writers {
		go func() {
			errc <- s.InTx(ctx, func(tx client.Tx) error {
				p, err := tx.LockPolicy(ctx, "ten_lock")
				if err != nil {
					return err
				}
				p.MaxAccessTokenTTL += time.Second
				p.UpdatedAt = at(time.Hour)
				return tx.SavePolicy(ctx, p)
			})
		}()
	}
	for range writers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Policy(ctx, "ten_lock")
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxAccessTokenTTL != writers*time.Second {
		t.Fatalf("after %d locked increments the policy holds %v; a change was lost", writers, got.MaxAccessTokenTTL)
	}
	if _, err := func() (*client.Policy, error) {
		var p *client.Policy
		err := s.InTx(ctx, func(tx client.Tx) error {
			var err error
			p, err = tx.LockPolicy(ctx, "ten_none")
			return err
		})
		return p, err
	}(); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("LockPolicy(unknown tenant) = %v; want ErrNotFound", err)
	}
}
