package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/errs"
)

// TestServerErrorAnswersAnOutage503: a database that cannot be reached is
// no server error: the answer is 503 with Retry-After, and the log line
// is at debug (the store logs the outage once); anything else stays a
// logged 500 whose cause is never shown.
func TestServerErrorAnswersAnOutage503(t *testing.T) {
	for _, c := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
		logsError  bool
	}{
		{"outage", fmt.Errorf("postgres: get client: %w: dial tcp: refused", errs.ErrUnavailable),
			http.StatusServiceUnavailable, "temporarily_unavailable", strconv.Itoa(errs.RetryAfter), false},
		{"bug", errors.New("postgres: scan: column count"), http.StatusInternalServerError, "server_error", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			w := httptest.NewRecorder()
			r := httptest.NewRequestWithContext(context.Background(), "POST", "/oauth2/token", nil)
			serverError(w, log, r, c.err)
			if w.Code != c.status || !strings.Contains(w.Body.String(), `"error":"`+c.code+`"`) {
				t.Errorf("answered %d %s, want %d %s", w.Code, w.Body, c.status, c.code)
			}
			if got := w.Header().Get("Retry-After"); got != c.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, c.retryAfter)
			}
			if strings.Contains(w.Body.String(), "dial tcp") || strings.Contains(w.Body.String(), "scan") {
				t.Errorf("the cause reached the client: %s", w.Body)
			}
			if got := strings.Contains(logs.String(), "level=ERROR"); got != c.logsError {
				t.Errorf("logged an ERROR line: %v, want %v (%s)", got, c.logsError, logs.String())
			}
		})
	}
}
