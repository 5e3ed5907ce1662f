package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	r := &result{}
	for i := 1; i <= 100; i++ {
		r.latencies = append(r.latencies, time.Duration(i))
	}
	if p := r.percentile(0.5); p != 50 {
		t.Errorf("p50 = %d, want 50", p)
	}
	if p := r.percentile(0.99); p != 99 {
		t.Errorf("p99 = %d, want 99", p)
	}
	if p := (&result{}).percentile(0.5); p != 0 {
		t.Errorf("empty p50 = %d, want 0", p)
	}
}
