package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPrintOracle(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	o := oracleOptions{samples: 5, maxDiff: 5 * time.Millisecond}
	near := []*probeKind{
		{name: "wrong argon2id secret", times: ms(90, 100, 95, 300, 92)},
		{name: "unknown client ID", times: ms(95, 95, 95, 95, 96)},
	}
	var out bytes.Buffer
	if err := printOracle(&out, o, near); err != nil {
		t.Fatalf("medians 95 and 95 ms: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "largest difference of medians: 0.00ms") {
		t.Fatalf("report:\n%s", out.String())
	}
	apart := []*probeKind{
		{name: "wrong argon2id secret", times: ms(90, 100, 95, 300, 92)},
		{name: "unknown client ID", times: ms(1, 1, 1, 1, 1)},
	}
	if err := printOracle(&out, o, apart); err == nil {
		t.Fatal("medians 95 and 1 ms passed")
	}
	if _, err := parseOracleOptions([]string{"-samples", "1"}, &out); err == nil {
		t.Fatal("-samples 1 accepted")
	}
}
