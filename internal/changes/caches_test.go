package changes_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/token"
)

var _ changes.ClientCache = (*client.Authenticator)(nil)

// recordingCache is the real client cache, noting which clients it was
// told to forget.
type recordingCache struct {
	*client.Authenticator
	mu          sync.Mutex
	invalidated []string // "*" for InvalidateAll
}

func (r *recordingCache) Invalidate(id string) {
	r.mu.Lock()
	r.invalidated = append(r.invalidated, id)
	r.mu.Unlock()
	r.Authenticator.Invalidate(id)
}

func (r *recordingCache) InvalidateAll() {
	r.mu.Lock()
	r.invalidated = append(r.invalidated, "*")
	r.mu.Unlock()
	r.Authenticator.InvalidateAll()
}

// TestCachesFollowAnotherProcess shows changes made by another process
// reaching this one's caches at the next poll: the client cache forgets
// the changed client only, the revocation list learns the revocation, and
// the new signing key is used and published.
func TestCachesFollowAnotherProcess(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	now := time.Now()
	feed := &changes.Poller{Log: st}
	if err := feed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// "This" process: long-lived caches. "Another" process: a service
	// over the same database.
	auth := &recordingCache{Authenticator: &client.Authenticator{Repo: st, TTL: time.Hour, Now: func() time.Time { return now }}}
	revoked := &token.Revocations{}
	kek := make([]byte, 32)
	keys := &token.Keys{Tenant: "ten_test", Store: st, KEK: kek}
	if err := keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var reloads []string
	caches := &changes.Caches{Clients: auth, Revocations: revoked, Tokens: st, Now: func() time.Time { return now },
		ReloadKeys: func(ctx context.Context, tenant string) error {
			reloads = append(reloads, tenant)
			return keys.Load(ctx)
		}}
	if err := feed.Step(ctx, caches); err != nil { // the first key's creation
		t.Fatal(err)
	}
	auth.invalidated, reloads = nil, nil

	other := &client.Service{Repo: st}
	actor := client.SystemActor("ten_test")
	params := client.CreateParams{Name: "Watched", GrantTypes: []client.GrantType{client.GrantClientCredentials}}
	c, sec, err := other.Create(ctx, actor, params)
	if err != nil {
		t.Fatal(err)
	}
	params.Name = "Bystander"
	bystander, _, err := other.Create(ctx, actor, params)
	if err != nil {
		t.Fatal(err)
	}
	if err := feed.Step(ctx, caches); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
		t.Fatal(err)
	}
	auth.invalidated = nil

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
	if err := otherKeys.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	newKid, _ := otherKeys.Current()
	// Before the poll this process still trusts its caches.
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
		t.Fatalf("cached client: %v", err)
	}
	if revoked.IsRevoked("jti_1", now) {
		t.Fatal("revoked before the poll")
	}

	if err := feed.Step(ctx, caches); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err == nil {
		t.Fatal("the deactivation did not reach the cache")
	}
	if slices.Contains(auth.invalidated, "*") || slices.Contains(auth.invalidated, bystander.ID) || !slices.Contains(auth.invalidated, c.ID) {
		t.Fatalf("invalidated %v, want only %s", auth.invalidated, c.ID)
	}
	if !revoked.IsRevoked("jti_1", now) {
		t.Fatal("the revocation did not reach the revocation list")
	}
	if len(reloads) != 1 || reloads[0] != "ten_test" {
		t.Fatalf("key reloads %q, want one of the tenant's key set", reloads)
	}
	if kid, _ := keys.Current(); kid != newKid || !strings.Contains(string(keys.JWKS()), newKid) {
		t.Fatalf("the rotation did not reach this process: signing with %s, want %s", kid, newKid)
	}
}

func TestCachesResync(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	now := time.Now()
	if err := st.Revoke(ctx, token.Revocation{TokenID: "jti_1", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	auth := &recordingCache{Authenticator: &client.Authenticator{Repo: st}}
	revoked := &token.Revocations{}
	reloaded := 0
	caches := &changes.Caches{Clients: auth, Revocations: revoked, Tokens: st, Now: func() time.Time { return now },
		ReloadKeys: func(ctx context.Context, tenant string) error { reloaded++; return nil }}
	if err := caches.Apply(ctx, changes.Batch{Resync: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(auth.invalidated, []string{"*"}) || !revoked.IsRevoked("jti_1", now) || reloaded != 1 {
		t.Fatalf("Resync: invalidated %v, revoked %v, %d key reloads; want everything reloaded",
			auth.invalidated, revoked.IsRevoked("jti_1", now), reloaded)
	}
}

func TestCachesReloadOnlyNamedTenants(t *testing.T) {
	var reloads []string
	caches := &changes.Caches{Clients: &recordingCache{Authenticator: &client.Authenticator{}}, Revocations: &token.Revocations{},
		ReloadKeys: func(ctx context.Context, tenant string) error { reloads = append(reloads, tenant); return nil }}
	b := changes.Batch{Changes: []changes.Change{
		{Seq: 1, Kind: changes.SigningKey, Key: "ten_b"},
		{Seq: 2, Kind: changes.SigningKey, Key: "ten_a"},
		{Seq: 3, Kind: changes.SigningKey, Key: "ten_b"},
	}}
	if err := caches.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reloads, []string{"ten_a", "ten_b"}) {
		t.Fatalf("reloads %q, want each named tenant once", reloads)
	}
}

// A lockout one process reached is refused by another from its first
// attempt, before the other has seen the key fail, once it has read the
// change log.
func TestCachesLearnLockouts(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	now := time.Now().UTC()
	feed := &changes.Poller{Log: st}
	if err := feed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	another := ratelimit.New(2, time.Minute).Share(&ratelimit.Pool{Store: st}, "client_auth")
	here := &ratelimit.Pool{Store: st}
	this := ratelimit.New(2, time.Minute).Share(here, "client_auth")
	other := ratelimit.New(2, time.Minute).Share(here, "sign_in_addr") // same key, other scope
	for range 2 {
		another.Attempt(now, "client:lkc_x")
		another.Failed(ctx, now, "client:lkc_x")
	}
	caches := &changes.Caches{Clients: &recordingCache{Authenticator: &client.Authenticator{}}, Revocations: &token.Revocations{},
		Tokens: st, ReloadKeys: func(context.Context, string) error { return nil }, Lockouts: here, Now: func() time.Time { return now }}
	if err := feed.Step(ctx, caches); err != nil {
		t.Fatal(err)
	}
	if w := this.Attempt(now, "client:lkc_x"); w != 60 {
		t.Errorf("this process after the lockout was announced: wait %d, want 60", w)
	}
	if w := other.Attempt(now, "client:lkc_x"); w != 0 {
		t.Errorf("a limiter of another scope refuses the key: wait %d", w)
	}
	if w := this.Attempt(now, "client:lkc_y"); w != 0 {
		t.Errorf("another key is refused: wait %d", w)
	}
}
