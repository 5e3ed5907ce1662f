package account_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/account/passkeytest"
	"github.com/latchkey/latchkey/internal/errs"
)

var rp = account.RelyingParty{ID: "id.example", Origin: "https://id.example", Name: "Example"}

// registerPasskey registers a's credential for ana and returns the
// passkey and the recovery codes.
func (f *mfaFixture) registerPasskey(t *testing.T, a *passkeytest.Authenticator, name string) (*account.Passkey, []string) {
	t.Helper()
	ctx := context.Background()
	c, err := f.mfa.BeginPasskey(ctx, rp, f.ana, name)
	if err != nil {
		t.Fatalf("BeginPasskey: %v", err)
	}
	answer, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, codes, err := f.mfa.FinishPasskey(ctx, rp, f.ana, c.Handle, answer, "192.0.2.1")
	if err != nil {
		t.Fatalf("FinishPasskey: %v", err)
	}
	return p, codes
}

func TestPasskeyRegisterAndSignIn(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	a := passkeytest.New(rp.Origin)
	c, err := f.mfa.BeginPasskey(ctx, rp, f.ana, "  Work laptop ")
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		RP        struct{ ID, Name string }
		User      struct{ ID, Name, DisplayName string }
		Challenge string
		Timeout   int
	}
	if err := json.Unmarshal(c.Options, &opts); err != nil || opts.RP.ID != "id.example" || opts.RP.Name != "Example" ||
		opts.User.Name != "ana@example.com" || opts.User.DisplayName != "Ana" || len(opts.Challenge) < 22 ||
		opts.Timeout != int(account.CeremonyLifetime/time.Millisecond) {
		t.Fatalf("options %s (%v)", c.Options, err)
	}
	if !c.ExpiresAt.Equal(f.now.Add(account.CeremonyLifetime)) || len(c.Handle) != 43 {
		t.Errorf("ceremony %+v", c)
	}
	answer, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, codes, err := f.mfa.FinishPasskey(ctx, rp, f.ana, c.Handle, answer, "192.0.2.1")
	if err != nil {
		t.Fatalf("FinishPasskey: %v", err)
	}
	if p.Name != "Work laptop" || p.SignCount != 1 || len(p.PublicKey) == 0 || !p.UserVerified || len(codes) != 10 ||
		len(p.Transports) != 1 || p.Transports[0] != "internal" || !p.CreatedAt.Equal(f.now) || !p.LastUsedAt.IsZero() {
		t.Fatalf("passkey %+v, %d codes", p, len(codes))
	}
	// The ceremony is used.
	if _, _, err := f.mfa.FinishPasskey(ctx, rp, f.ana, c.Handle, answer, ""); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Errorf("a registration finished twice: got %v, want ErrPasskeyRefused", err)
	}
	// A second passkey is no first factor: no new codes; and the same
	// authenticator twice is refused by its exclusion (here: its ID).
	f.now = f.now.Add(time.Second) // listed after the first
	second := passkeytest.New(rp.Origin)
	if _, codes := f.registerPasskey(t, second, ""); codes != nil {
		t.Errorf("a second passkey issued %d recovery codes", len(codes))
	}
	again, err := f.mfa.BeginPasskey(ctx, rp, f.ana, "again")
	if err != nil {
		t.Fatal(err)
	}
	var excl struct {
		Exclude []struct{ ID string } `json:"excludeCredentials"`
	}
	if json.Unmarshal(again.Options, &excl); len(excl.Exclude) != 2 {
		t.Errorf("the options exclude %d credentials, want the 2 registered", len(excl.Exclude))
	}

	f.now = f.now.Add(time.Minute)
	sign, err := f.mfa.BeginPasskeySignIn(ctx, rp, f.ana)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := a.Get(sign.Options)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.mfa.FinishPasskeySignIn(ctx, rp, f.ana, sign.Handle, assertion, "192.0.2.1"); err != nil {
		t.Fatalf("FinishPasskeySignIn: %v", err)
	}
	ps, err := f.db.Passkeys(ctx, f.ana.ID)
	if err != nil || len(ps) != 2 || ps[0].SignCount != 2 || !ps[0].LastUsedAt.Equal(f.now) || !ps[1].LastUsedAt.IsZero() {
		t.Fatalf("passkeys after a sign-in: %+v %v", ps, err)
	}
	if err := f.mfa.FinishPasskeySignIn(ctx, rp, f.ana, sign.Handle, assertion, "192.0.2.1"); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Errorf("a replayed sign-in: got %v, want ErrPasskeyRefused", err)
	}
	if es := f.events(t, account.ActionMFAVerified); len(es) != 1 || es[0].Details["method"] != "passkey" ||
		es[0].Details["passkey_id"] != ps[0].ID {
		t.Errorf("verified events %+v", es)
	}
	if es := f.events(t, account.ActionMFAEnrolled); len(es) != 2 || es[0].Details["name"] != "Work laptop" ||
		es[0].Details["recovery_codes_issued"] != "10" || es[1].Details["recovery_codes_issued"] != "" {
		t.Errorf("enrolment events %+v", es)
	}

	// Removing one keeps the codes; removing the last takes them.
	if err := f.mfa.RemovePasskey(ctx, f.ana, ps[1].ID, ""); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.db.RecoveryCodesLeft(ctx, f.ana.ID); n != 10 {
		t.Errorf("%d codes left after removing one of two passkeys", n)
	}
	if err := f.mfa.RemovePasskey(ctx, f.ana, ps[1].ID, ""); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("removing a passkey twice: got %v, want ErrNotFound", err)
	}
	if err := f.mfa.RemovePasskey(ctx, f.ana, ps[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.db.RecoveryCodesLeft(ctx, f.ana.ID); n != 0 {
		t.Errorf("%d codes left after the last passkey went", n)
	}
	if _, err := f.mfa.BeginPasskeySignIn(ctx, rp, f.ana); !errors.Is(err, account.ErrNoFactor) {
		t.Errorf("a sign-in without passkeys: got %v, want ErrNoFactor", err)
	}
	if es := f.events(t, account.ActionMFARemoved); len(es) != 2 || es[1].Details["recovery_codes_removed"] != "true" {
		t.Errorf("removal events %+v", es)
	}
}

// TestPasskeyRefusals: every way a ceremony can be wrong is refused,
// audited at sign-in, and uses up its challenge.
func TestPasskeyRefusals(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	a := passkeytest.New(rp.Origin)
	f.registerPasskey(t, a, "Key")
	bob, err := f.users.Create(ctx, f.op, account.NewUser{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}

	try := func(name string, tweak func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string)) {
		t.Helper()
		c, err := f.mfa.BeginPasskeySignIn(ctx, rp, f.ana)
		if err != nil {
			t.Fatal(err)
		}
		good := *a
		u, handle := tweak(&good, c)
		answer, err := good.Get(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.mfa.FinishPasskeySignIn(ctx, rp, u, handle, answer, "192.0.2.7"); !errors.Is(err, account.ErrPasskeyRefused) {
			t.Errorf("%s: got %v, want ErrPasskeyRefused", name, err)
		}
		// Whatever was wrong, the challenge cannot be tried again.
		if a.Count = good.Count; handle == c.Handle {
			right := *a
			answer, _ := right.Get(c.Options)
			if err := f.mfa.FinishPasskeySignIn(ctx, rp, f.ana, c.Handle, answer, ""); !errors.Is(err, account.ErrPasskeyRefused) {
				t.Errorf("%s, then right: got %v, want the used challenge refused", name, err)
			}
		}
	}
	try("wrong challenge", func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string) {
		a.Challenge = "dGhpcyBpcyBub3QgdGhlIGNoYWxsZW5nZQ"
		return f.ana, c.Handle
	})
	try("wrong origin", func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string) {
		a.Origin = "https://evil.example"
		return f.ana, c.Handle
	})
	try("unknown handle", func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string) {
		return f.ana, "bm90IGEgaGFuZGxl"
	})
	try("no handle", func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string) {
		return f.ana, ""
	})
	try("another user's ceremony", func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string) {
		return bob, c.Handle
	})
	try("counter gone back", func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string) {
		a.Count = 0 // the next answer says 1, as the registration did
		return f.ana, c.Handle
	})
	try("expired", func(a *passkeytest.Authenticator, c *account.Ceremony) (*account.User, string) {
		f.now = f.now.Add(account.CeremonyLifetime)
		return f.ana, c.Handle
	})
	for name, answer := range map[string][]byte{"not JSON": []byte("{"), "too large": make([]byte, 20000)} {
		c, err := f.mfa.BeginPasskeySignIn(ctx, rp, f.ana)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.mfa.FinishPasskeySignIn(ctx, rp, f.ana, c.Handle, answer, ""); !errors.Is(err, account.ErrPasskeyRefused) {
			t.Errorf("%s: got %v, want ErrPasskeyRefused", name, err)
		}
	}
	// A registration's ceremony does not sign in, nor the other way.
	reg, err := f.mfa.BeginPasskey(ctx, rp, f.ana, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.mfa.FinishPasskeySignIn(ctx, rp, f.ana, reg.Handle, []byte("{}"), ""); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Errorf("a registration's handle at sign-in: got %v", err)
	}
	sign, _ := f.mfa.BeginPasskeySignIn(ctx, rp, f.ana)
	if _, _, err := f.mfa.FinishPasskey(ctx, rp, f.ana, sign.Handle, []byte("{}"), ""); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Errorf("a sign-in's handle at registration: got %v", err)
	}
	// A registration answered for another origin is refused too.
	evil := passkeytest.New("https://evil.example")
	reg, _ = f.mfa.BeginPasskey(ctx, rp, f.ana, "evil")
	answer, err := evil.Create(reg.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.mfa.FinishPasskey(ctx, rp, f.ana, reg.Handle, answer, ""); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Errorf("a registration from another origin: got %v", err)
	}
	if ps, _ := f.db.Passkeys(ctx, f.ana.ID); len(ps) != 1 {
		t.Errorf("%d passkeys after the refusals, want 1", len(ps))
	}

	es := f.events(t, account.ActionMFAFailed)
	reasons := map[string]int{}
	for _, e := range es {
		if e.Details["method"] != "passkey" {
			t.Errorf("failure event of method %q", e.Details["method"])
		}
		reasons[e.Details["reason"]]++
	}
	if reasons["assertion"] < 3 || reasons["ceremony"] < 4 || reasons["counter_regressed"] != 1 {
		t.Errorf("failure reasons %v", reasons)
	}
	if ev := f.events(t, account.ActionMFAVerified); len(ev) != 0 {
		t.Errorf("%d sign-ins verified, want none", len(ev))
	}
}

func TestPasskeyLimits(t *testing.T) {
	ctx := context.Background()
	f := newMFAFixture(t)
	for _, bad := range []string{string(make([]byte, account.MaxPasskeyName+1)), "tab\there", "\xff"} {
		if _, err := f.mfa.BeginPasskey(ctx, rp, f.ana, bad+"x"); errs.Fields(err) == nil {
			t.Errorf("name %q: got %v, want a field error", bad, err)
		}
	}
	for _, party := range []account.RelyingParty{
		{ID: "127.0.0.1", Origin: "http://127.0.0.1:8080"}, // WebAuthn needs a domain
		{ID: "", Origin: "https://id.example"},
		{ID: "id.example"},
	} {
		if f.mfa.PasskeysAvailable(party) {
			t.Errorf("%+v: passkeys available", party)
		}
		if _, err := f.mfa.BeginPasskey(ctx, party, f.ana, "x"); !errors.Is(err, account.ErrPasskeysUnavailable) {
			t.Errorf("%+v: got %v, want ErrPasskeysUnavailable", party, err)
		}
	}
	if !f.mfa.PasskeysAvailable(account.RelyingParty{ID: "localhost", Origin: "http://localhost:8080"}) {
		t.Error("localhost: passkeys unavailable")
	}
	for range account.MaxPasskeys {
		f.registerPasskey(t, passkeytest.New(rp.Origin), "k")
	}
	if _, err := f.mfa.BeginPasskey(ctx, rp, f.ana, "one too many"); errs.Fields(err) == nil {
		t.Errorf("passkey %d: got %v, want a field error", account.MaxPasskeys+1, err)
	}
}
