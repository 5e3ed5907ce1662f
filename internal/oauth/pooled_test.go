package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

// instance returns another server on h's database, as another instance
// behind the same load balancer would be, pooling its failures in the
// database. It reads no change log: what it learns of the others comes
// from the pooled count alone.
func (h *harness) instance(threshold int) *harness {
	h.t.Helper()
	other := *h
	mux := http.NewServeMux()
	other.ts = httptest.NewServer(mux)
	h.t.Cleanup(other.ts.Close)
	other.srv = oauth.New(oauth.Config{
		Issuer: h.issuer, Auth: &client.Authenticator{Repo: h.db, Now: h.clock.Now}, Usage: h.usage, Keys: h.keys,
		Tokens: h.db, Revoked: h.revoked, Accounts: h.db, Now: h.clock.Now, FailureThreshold: threshold,
		SharedFailures: &ratelimit.Pool{Store: h.db},
	})
	other.srv.Mount(mux)
	return &other
}

// Wrong secrets sent to two instances in turn meet the threshold in
// total: the one past it is answered 429, with the pooled window's
// Retry-After, by the instance that had seen only one failure.
// Refusals are not failures, and the rules for the right secret while
// limited stay those of one instance.
func TestFailureLimitPooled(t *testing.T) {
	h := newHarness(t, 0)
	a, b := h.instance(3), h.instance(3)
	id, secret := h.create(client.CreateParams{})
	for i, in := range []*harness{a, b, a} {
		if r := in.token(id, "wrong", nil); r.status != 401 {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.raw)
		}
		h.clock.Advance(time.Second)
	}
	r := b.token(id, "wrong", nil)
	if r.status != 429 || r.header.Get("Retry-After") != "57" || r.body["error"] != "temporarily_unavailable" {
		t.Fatalf("the fourth failure, through b: %d %v %s", r.status, r.header, r.raw)
	}
	for name, in := range map[string]*harness{"a": a, "b": b} {
		if r := in.token(id, "wrong", nil); r.status != 429 {
			t.Errorf("%s after the limit: %d", name, r.status)
		}
		// A generated secret cannot be guessed: its owner is let through.
		if r := in.token(id, secret, nil); r.status != 200 {
			t.Errorf("%s, the right generated secret while limited: %d %s", name, r.status, r.raw)
		}
	}
	// An admin-chosen one could be: past the limit it is not checked
	// (this address is over the limit on both).
	supplied := "an-admin-chosen-secret-of-enough-length"
	sid, _ := h.create(client.CreateParams{Secret: supplied})
	for name, in := range map[string]*harness{"a": a, "b": b} {
		if r := in.token(sid, supplied, nil); r.status != 429 {
			t.Errorf("%s, an unverified chosen secret while limited: %d", name, r.status)
		}
	}
	h.clock.Advance(57 * time.Second)
	for name, in := range map[string]*harness{"a": a, "b": b} {
		if r := in.token(sid, supplied, nil); r.status != 200 {
			t.Errorf("%s after the pooled window: %d %s", name, r.status, r.raw)
		}
	}
}
