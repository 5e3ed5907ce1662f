package oauth_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/metrics"
)

// TestMetrics: tokens are counted by grant and client, failed client
// authentications by reason, and no secret reaches a label. (Every other
// test runs with no Metrics: a nil one counts nothing.)
func TestMetrics(t *testing.T) {
	h := newHarness(t, 0)
	m := metrics.New()
	h.srv.Metrics = m
	id, secret := h.create(client.CreateParams{})
	for range 2 {
		if r := h.token(id, secret, nil); r.status != 200 {
			t.Fatalf("token: %d %s", r.status, r.raw)
		}
	}
	if r := h.token(id, secret+"x", nil); r.status != 401 {
		t.Fatalf("wrong secret: %d %s", r.status, r.raw)
	}
	if r := h.token("lkc_nosuchclient", secret, nil); r.status != 401 {
		t.Fatalf("unknown client: %d %s", r.status, r.raw)
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Body)
	got := string(b)
	for _, line := range []string{
		`latchkey_tokens_issued_total{client_id="` + id + `",grant_type="client_credentials"} 2`,
		`latchkey_client_auth_failures_total{reason="wrong_secret"} 1`,
		`latchkey_client_auth_failures_total{reason="unknown_client"} 1`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("no %s in\n%s", line, got)
		}
	}
	if strings.Contains(got, secret) || strings.Contains(got, "nosuchclient") {
		t.Error("a secret or a presented client ID reached a label")
	}
}
