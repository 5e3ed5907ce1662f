package reqid

import (
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
