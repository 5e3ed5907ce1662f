package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// TestChangeWatcher shows changes made by another process reaching this
// one's caches at the next poll: the client cache forgets the client, the
// revocation list learns the revocation, and the new signing key is used
// and published.
func TestChangeWatcher(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// "This" process: a long-lived cache. "Another" process: a service
	// over the same database.
	now := time.Now()
	auth := &client.Authenticator{Repo: st, TTL: time.Hour, Now: func() time.Time { return now }}
	revoked := &token.Revocations{}
	kek := make([]byte, 32)
	keys := &token.TenantKeys{New: func(tenant string) *token.Keys { return &token.Keys{Tenant: tenant, Store: st, KEK: kek} }}
	ours, err := keys.Get(ctx, "ten_test")
	if err != nil {
		t.Fatal(err)
	}
	w, err := newChangeWatcher(ctx, st, auth, revoked, keys, now)
	if err != nil {
		t.Fatal(err)
	}
	other := &client.Service{Repo: st}
	actor := client.SystemActor("ten_test")
	c, sec, err := other.Create(ctx, actor, client.CreateParams{Name: "Watched", GrantTypes: []client.GrantType{client.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
		t.Fatal(err)
	}
	if _, err := other.SetStatus(ctx, actor, c.ID, client.StatusInactive, false); err != nil {
		t.Fatal(err)
	}
	if err := st.Revoke(ctx, token.Revocation{TokenID: "jti_1", ClientID: c.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	otherKeys := &token.Keys{Tenant: "ten_test", Store: st, KEK: kek}
	if err := otherKeys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := otherKeys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	newKid, _ := otherKeys.Current()
	// Before the poll this process still trusts its cache.
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
		t.Fatalf("cached client: %v", err)
	}
	if err := w.check(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err == nil {
		t.Fatal("the deactivation did not reach the cache")
	}
	if !revoked.IsRevoked("jti_1", now) {
		t.Fatal("the revocation did not reach the revocation list")
	}
	if kid, _ := ours.Current(); kid != newKid || !strings.Contains(string(ours.JWKS()), newKid) {
		t.Fatalf("the rotation did not reach this process: signing with %s, want %s", kid, newKid)
	}
}
