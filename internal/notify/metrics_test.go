package notify_test

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/notify"
)

// TestMetrics: a sweep's report and each delivery's outcome are counted;
// a sweep that fails counts as failed. (Every other test runs with no
// Metrics: a nil one counts nothing.)
func TestMetrics(t *testing.T) {
	db := openSQLite(t)
	w := newWorld(t, db)
	m := metrics.New()
	w.sweep.Metrics, w.disp.Metrics = m, m
	w.inbox.refuse["claire@example.com"] = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	w.create("Counted", "usr_owner", 3*day)
	w.now = t0.Add(2 * day)

	crashed := &notify.Sweeper{Store: &crashStore{Store: db, crash: true}, Metrics: m}
	if _, err := crashed.Run(t.Context(), w.now); !errors.Is(err, errCrash) {
		t.Fatalf("sweep = %v, want the crash", err)
	}
	rep := w.tick()
	if rep.Warned != 1 || rep.Mails != 2 {
		t.Fatalf("sweep report %+v: want one stage sent, two mails", rep)
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	got := string(b)
	for _, line := range []string{
		`latchkey_notify_sweeps_total{result="ok"} 1`,
		`latchkey_notify_sweeps_total{result="failed"} 1`,
		fmt.Sprintf(`latchkey_notify_sweep_secrets_total %d`, rep.Secrets),
		`latchkey_notify_sweep_stages_total{outcome="sent"} 1`,
		fmt.Sprintf(`latchkey_notify_sweep_stages_total{outcome="skipped"} %d`, rep.Skipped),
		`latchkey_notify_sweep_queued_total{channel="email"} 2`,
		fmt.Sprintf(`latchkey_notify_sweep_queued_total{channel="webhook"} %d`, rep.Events),
		fmt.Sprintf(`latchkey_notify_sweep_unreachable_recipients_total %d`, rep.NoAddress),
		`latchkey_notify_deliveries_total{channel="email",status="sent"} 1`,
		`latchkey_notify_deliveries_total{channel="email",status="pending"} 1`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("no %s in\n%s", line, got)
		}
	}
}
