package main

import (
	"log/slog"
	"math"
	"testing"
)

func TestLimitMemory(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name       string
		env        map[string]string
		before     int64 // the limit in force at start
		want       int64 // while serving
		afterwards int64
	}{
		{"none given: the default", nil, math.MaxInt64, defaultMemoryLimit, math.MaxInt64},
		{"GOMEMLIMIT given: the operator's", map[string]string{"GOMEMLIMIT": "256MiB"}, 256 << 20, 256 << 20, 256 << 20},
		{"GOMEMLIMIT=off: no limit", map[string]string{"GOMEMLIMIT": "off"}, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{"set already in the process: kept", nil, 100 << 20, 100 << 20, 100 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.before
			set := func(v int64) int64 {
				old := limit
				if v >= 0 {
					limit = v
				}
				return old
			}
			restore := limitMemoryWith(testEnv(tc.env), quiet, set)
			if limit != tc.want {
				t.Errorf("limit while serving = %d, want %d", limit, tc.want)
			}
			restore()
			if limit != tc.afterwards {
				t.Errorf("limit afterwards = %d, want %d", limit, tc.afterwards)
			}
		})
	}
	// A second server in the process finds the first's limit and keeps it;
	// the first, ending, takes its own back, and the second's restore then
	// changes nothing.
	limit := int64(math.MaxInt64)
	set := func(v int64) int64 {
		old := limit
		if v >= 0 {
			limit = v
		}
		return old
	}
	first := limitMemoryWith(testEnv(nil), quiet, set)
	second := limitMemoryWith(testEnv(nil), quiet, set)
	first()
	second()
	if limit != math.MaxInt64 {
		t.Errorf("after two servers the limit is %d", limit)
	}
}
