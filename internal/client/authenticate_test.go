package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// countingRepo is the real SQLite store, counting client reads and
// advancing the clock by latency on each, as a database would take time.
type countingRepo struct {
	*sqlite.DB
	mu      sync.Mutex
	reads   map[string]int
	clock   *authClock
	latency time.Duration
}

func (r *countingRepo) Client(ctx context.Context, id string) (*client.Client, error) {
	r.mu.Lock()
	if r.reads == nil {
		r.reads = map[string]int{}
	}
	r.reads[id]++
	r.mu.Unlock()
	if r.clock != nil {
		r.clock.advance(r.latency)
	}
	return r.DB.Client(ctx, id)
}

func (r *countingRepo) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.reads {
		n += c
	}
	return n
}

// authClock is a settable clock; with step set, every reading also
// advances it by step.
type authClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *authClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func (c *authClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newAuth(t *testing.T) (*fixture, *client.Authenticator, *countingRepo, *authClock) {
	t.Helper()
	f := newFixture(t)
	clk := &authClock{t: t0}
	repo := &countingRepo{DB: f.db}
	return f, &client.Authenticator{Repo: repo, Now: clk.Now}, repo, clk
}

func TestUnknownIDsDoNotEvictClients(t *testing.T) {
	f, auth, repo, _ := newAuth(t)
	auth.MaxClients, auth.MaxUnknown = 2, 4
	ctx := context.Background()
	var ids, secrets []string
	for _, name := range []string{"a", "b"} {
		c, sec, err := f.svc.Create(ctx, f.sys, cc(name))
		if err != nil {
			t.Fatal(err)
		}
		ids, secrets = append(ids, c.ID), append(secrets, sec.Plaintext)
	}
	for i, id := range ids {
		if _, _, err := auth.Authenticate(ctx, id, secrets[i], true); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 { // a flood of made-up, well-formed IDs
		id := "lkc_madeup" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, _, err := auth.Authenticate(ctx, id, "x", false); !errors.As(err, new(*client.AuthFailure)) {
			t.Fatalf("unknown ID: %v", err)
		}
	}
	before := repo.total()
	for i, id := range ids {
		if _, _, err := auth.Authenticate(ctx, id, secrets[i], true); err != nil {
			t.Fatal(err)
		}
	}
	if n := repo.total() - before; n != 0 {
		t.Fatalf("a flood of unknown IDs evicted real clients: %d reads after it", n)
	}
	// The same made-up ID is read once per TTL, not once per attempt.
	for range 10 {
		auth.Authenticate(ctx, "lkc_sameagain", "x", false)
	}
	if n := repo.reads["lkc_sameagain"]; n != 1 {
		t.Fatalf("the same unknown ID was read %d times", n)
	}
	// A client created after it was looked up is seen at once: creation
	// invalidates the ID, in the unknown cache too.
	p := cc("late")
	p.ClientID = "lkc_latecomer"
	auth.Authenticate(ctx, p.ClientID, "x", false)
	svc := &client.Service{Repo: f.db, Now: f.svc.Now, OnChange: auth.Invalidate}
	c, sec, err := svc.Create(ctx, f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Authenticate(ctx, c.ID, sec.Plaintext, true); err != nil {
		t.Fatalf("a client created after its ID was looked up: %v", err)
	}
}

func TestClientCacheEvictsOneEntryAtATime(t *testing.T) {
	f, auth, repo, clk := newAuth(t)
	auth.MaxClients = 3
	auth.TTL = time.Hour
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"a", "b", "c", "d"} {
		c, _, err := f.svc.Create(ctx, f.sys, cc(name))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	for _, id := range ids { // d, loaded into a full cache, replaces a
		clk.advance(time.Second)
		if _, _, err := auth.Current(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	before := repo.total()
	for _, id := range ids[1:] {
		auth.Current(ctx, id)
	}
	if n := repo.total() - before; n != 0 {
		t.Fatalf("%d of the three newest clients were evicted, want none", n)
	}
	auth.Current(ctx, ids[0])
	if n := repo.total() - before; n != 1 {
		t.Fatalf("the stalest client: %d reads, want 1", n)
	}
}

func TestNegativeTTLCachesNothing(t *testing.T) {
	f, auth, repo, _ := newAuth(t)
	auth.TTL = -1
	ctx := context.Background()
	c, _, err := f.svc.Create(ctx, f.sys, cc("a"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		auth.Current(ctx, c.ID)
		auth.Current(ctx, "lkc_nobody")
	}
	if repo.reads[c.ID] != 3 || repo.reads["lkc_nobody"] != 3 {
		t.Fatalf("reads %v, want 3 of each", repo.reads)
	}
}

// sleeps records the pads an Authenticator asks for.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

func (s *sleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.d
	s.d = nil
	return d
}

func TestFailuresArePaddedToTheSlowCheck(t *testing.T) {
	f, auth, repo, clk := newAuth(t)
	rec := &sleeps{}
	auth.Sleep = rec.sleep
	repo.clock, repo.latency = clk, time.Millisecond // each client read takes 1 ms
	ctx := context.Background()
	for _, d := range []time.Duration{250 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond} {
		auth.ObserveSlowCheck(d)
	}
	if auth.Pad() != 300*time.Millisecond {
		t.Fatalf("Pad = %s, want the median 300ms", auth.Pad())
	}
	gen, sec, err := f.svc.Create(ctx, f.sys, cc("generated"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := f.svc.Create(ctx, f.sys, client.CreateParams{Name: "pub", Type: client.Public,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	inactive, inactiveSecret, err := f.svc.Create(ctx, f.sys, cc("inactive"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetStatus(ctx, f.sys, inactive.ID, client.StatusInactive, false); err != nil {
		t.Fatal(err)
	}
	auth.Authenticate(ctx, gen.ID, sec.Plaintext, true) // load it: later checks read no database

	padded := []time.Duration{299 * time.Millisecond}
	tests := []struct {
		name      string
		id        string
		secret    string
		allowSlow bool
		want      []time.Duration
	}{
		{"unknown ID, read from the database", "lkc_nobody", "guess", true, padded},
		{"unknown ID, remembered", "lkc_nobody", "guess", true, []time.Duration{300 * time.Millisecond}},
		{"wrong generated secret", gen.ID, "guess", true, []time.Duration{300 * time.Millisecond}},
		{"public client sent a secret", pub.ID, "guess", true, padded},
		{"right secret", gen.ID, sec.Plaintext, true, nil},
		{"right secret of an inactive client", inactive.ID, inactiveSecret.Plaintext, true, nil},
		{"over the failure limit", "lkc_other", "guess", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth.Authenticate(ctx, tt.id, tt.secret, tt.allowSlow)
			got := rec.take()
			if len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
				t.Fatalf("pads %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWrongAdminSecretIsTimedAndNotPaddedTwice(t *testing.T) {
	f, auth, repo, clk := newAuth(t)
	rec := &sleeps{}
	auth.Sleep = rec.sleep
	// The only time that passes during the call is the client's read:
	// the check appears to take 400 ms in all.
	repo.clock, repo.latency = clk, 400*time.Millisecond
	ctx := context.Background()
	p := cc("supplied")
	p.Secret = "an-admin-chosen-secret-of-enough-length"
	c, _, err := f.svc.Create(ctx, f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Authenticate(ctx, c.ID, "a-wrong-guess-that-costs-an-argon2id-run", true); !errors.As(err, new(*client.AuthFailure)) {
		t.Fatalf("wrong secret: %v", err)
	}
	if auth.Pad() != 400*time.Millisecond {
		t.Fatalf("Pad = %s after one check that took 400ms", auth.Pad())
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("a failure that took the whole check was padded again: %v", got)
	}
	// Over the failure limit no argon2id runs, so nothing is timed.
	auth.Authenticate(ctx, c.ID, "another-wrong-guess-of-enough-length-xx", false)
	auth.Authenticate(ctx, c.ID, "another-wrong-guess-of-enough-length-xx", false)
	if auth.Pad() != 400*time.Millisecond {
		t.Fatalf("Pad = %s after checks that ran no argon2id", auth.Pad())
	}
}

func TestCalibrate(t *testing.T) {
	clk := &authClock{t: t0, step: 250 * time.Millisecond}
	auth := &client.Authenticator{Now: clk.Now}
	if auth.Pad() != 0 {
		t.Fatalf("Pad before any check = %s", auth.Pad())
	}
	auth.Calibrate()
	if auth.Pad() != 250*time.Millisecond {
		t.Fatalf("Pad after calibration = %s, want 250ms", auth.Pad())
	}
}

func TestPadMedianOfRecentChecks(t *testing.T) {
	auth := &client.Authenticator{}
	for _, ms := range []int{5, 1, 4, 2, 3} {
		auth.ObserveSlowCheck(time.Duration(ms) * time.Millisecond)
	}
	if auth.Pad() != 3*time.Millisecond {
		t.Fatalf("median of 1..5 ms = %s", auth.Pad())
	}
	for range 4 { // four of nine samples: not yet the median
		auth.ObserveSlowCheck(time.Second)
	}
	if auth.Pad() != 5*time.Millisecond {
		t.Fatalf("median of 1..5 ms and four of 1s = %s, want 5ms", auth.Pad())
	}
	for range 15 { // the old samples age out
		auth.ObserveSlowCheck(time.Second)
	}
	if auth.Pad() != time.Second {
		t.Fatalf("median after 15 more checks of 1s = %s", auth.Pad())
	}
}

func TestPadEndsWithTheRequest(t *testing.T) {
	_, auth, _, _ := newAuth(t)
	auth.Now = nil
	auth.ObserveSlowCheck(time.Hour)
	auth.Current(context.Background(), "lkc_nobody") // remembered: no read below
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() {
		auth.Authenticate(ctx, "lkc_nobody", "guess", true)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the pad outlived its request")
	}
}

// A revoked client's secrets are revoked with it: any secret then fails as
// a wrong one does, padded and worded alike, but logs its own reason.
func TestRevokedClientFailsWithItsOwnReason(t *testing.T) {
	f, auth, _, _ := newAuth(t)
	rec := &sleeps{}
	auth.Sleep = rec.sleep
	auth.ObserveSlowCheck(300 * time.Millisecond)
	ctx := context.Background()
	active, activeSecret, err := f.svc.Create(ctx, f.sys, cc("active"))
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedSecret, err := f.svc.Create(ctx, f.sys, cc("revoked"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, f.sys, revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, _, wrongErr := auth.Authenticate(ctx, active.ID, activeSecret.Plaintext+"x", true)
	wrongPads := rec.take()
	for _, secret := range []string{revokedSecret.Plaintext, "guess"} {
		_, _, err := auth.Authenticate(ctx, revoked.ID, secret, true)
		var fail *client.AuthFailure
		if !errors.As(err, &fail) || fail.Reason != client.FailRevoked || fail.Proven {
			t.Fatalf("secret %q: %#v, want an unproven %s", secret, err, client.FailRevoked)
		}
		if err.Error() != wrongErr.Error() {
			t.Errorf("worded %q, a wrong secret %q", err, wrongErr)
		}
		if pads := rec.take(); len(pads) != 1 || len(wrongPads) != 1 || pads[0] != wrongPads[0] {
			t.Errorf("pads %v, a wrong secret's %v: want one each", pads, wrongPads)
		}
	}
}
