package reqid

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID = "00f067aa0ba902b7"
)

func TestParseTraceparent(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		ok       bool
		sampled  bool
	}{
		{"sampled", "00-" + traceID + "-" + parentID + "-01", true, true},
		{"not sampled", "00-" + traceID + "-" + parentID + "-00", true, false},
		{"other flags", "00-" + traceID + "-" + parentID + "-fe", true, false},
		{"empty", "", false, false},
		{"version ff", "ff-" + traceID + "-" + parentID + "-01", false, false},
		{"version 01", "01-" + traceID + "-" + parentID + "-01", false, false},
		{"version not hex", "0x-" + traceID + "-" + parentID + "-01", false, false},
		{"zero trace id", "00-" + strings.Repeat("0", 32) + "-" + parentID + "-01", false, false},
		{"zero parent id", "00-" + traceID + "-" + strings.Repeat("0", 16) + "-01", false, false},
		{"uppercase trace id", "00-" + strings.ToUpper(traceID) + "-" + parentID + "-01", false, false},
		{"uppercase flags", "00-" + traceID + "-" + parentID + "-0A", false, false},
		{"short trace id", "00-" + traceID[1:] + "-" + parentID + "-01", false, false},
		{"long trace id", "00-" + traceID + "a-" + parentID + "-01", false, false},
		{"short parent id", "00-" + traceID + "-" + parentID[1:] + "-01", false, false},
		{"short flags", "00-" + traceID + "-" + parentID + "-1", false, false},
		{"extra field", "00-" + traceID + "-" + parentID + "-01-extra", false, false},
		{"trailing dash", "00-" + traceID + "-" + parentID + "-01-", false, false},
		{"two joined", "00-" + traceID + "-" + parentID + "-01,00-" + traceID + "-" + parentID + "-01", false, false},
		{"wrong separators", "00_" + traceID + "_" + parentID + "_01", false, false},
		{"non-hex trace id", "00-" + strings.Repeat("g", 32) + "-" + parentID + "-01", false, false},
		{"spaces", " 00-" + traceID + "-" + parentID + "-0", false, false},
		{"newline", "00-" + traceID[:31] + "\n-" + parentID + "-01", false, false},
		{"multibyte", "00-" + traceID[:30] + "é-" + parentID + "-01", false, false},
		{"huge", strings.Repeat("0", 1<<16), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, sampled, ok := parseTraceparent(tt.in)
			if ok != tt.ok || sampled != tt.sampled || ok && id != traceID || !ok && id != "" {
				t.Errorf("parseTraceparent(%q) = %q, %v, %v; want ok %v, sampled %v", tt.in, id, sampled, ok, tt.ok, tt.sampled)
			}
		})
	}
}

// TestMiddlewareTrace checks the response's traceparent and the log line
// of a request, for a caller's trace, none, and ones to be ignored.
func TestMiddlewareTrace(t *testing.T) {
	valid := "00-" + traceID + "-" + parentID + "-01"
	for _, tt := range []struct {
		name    string
		headers []string
		kept    bool
		flags   string
	}{
		{"caller's trace", []string{valid}, true, "01"},
		{"caller's unsampled trace", []string{"00-" + traceID + "-" + parentID + "-00"}, true, "00"},
		{"none", nil, false, "00"},
		{"invalid", []string{"00-" + strings.Repeat("0", 32) + "-" + parentID + "-01"}, false, "00"},
		{"duplicated", []string{valid, valid}, false, "00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(LogHandler(slog.NewJSONHandler(&logs, nil)))
			var seen Trace
			h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = TraceFrom(r.Context())
				log.InfoContext(r.Context(), "handled")
			}))
			r := httptest.NewRequest("GET", "/", nil)
			for _, v := range tt.headers {
				r.Header.Add(TraceHeader, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			got := w.Header().Get(TraceHeader)
			if got != seen.String() {
				t.Errorf("response traceparent %q, context %q", got, seen)
			}
			id, sampled, ok := parseTraceparent(got)
			if !ok {
				t.Fatalf("response traceparent %q is not valid", got)
			}
			if (id == traceID) != tt.kept {
				t.Errorf("trace ID %q, kept should be %v", id, tt.kept)
			}
			if seen.Span == parentID {
				t.Error("the caller's span was reused as the server's")
			}
			if flags := got[len(got)-2:]; flags != tt.flags || sampled != (flags == "01") {
				t.Errorf("flags %q, want %q", flags, tt.flags)
			}

			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if line[LogTraceID] != id || line[LogSpanID] != seen.Span || line[LogRequestID] != w.Header().Get(Header) {
				t.Errorf("log line %v, want trace %s span %s request %s", line, id, seen.Span, w.Header().Get(Header))
			}
		})
	}
}

// TestLogHandler checks that a record logged outside a request gains
// nothing, and one that names its request ID is not given a second.
func TestLogHandler(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&logs, nil))).With("component", "test")
	log.InfoContext(t.Context(), "outside")
	if s := logs.String(); strings.Contains(s, LogRequestID) || strings.Contains(s, LogTraceID) {
		t.Errorf("a line outside a request: %s", s)
	}
	logs.Reset()
	ctx := WithTrace(With(t.Context(), "req-1"), Trace{ID: traceID, Span: parentID})
	log.InfoContext(ctx, "inside", LogRequestID, "req-1")
	if s := logs.String(); strings.Count(s, LogRequestID) != 1 || !strings.Contains(s, `"trace_id":"`+traceID+`"`) ||
		!strings.Contains(s, `"component":"test"`) {
		t.Errorf("a line naming its request ID: %s", s)
	}
}
