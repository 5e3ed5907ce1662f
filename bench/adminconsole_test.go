package main

import (
	"net/url"
	"testing"
	"time"
)

// The console is asked what the API was, under its own names: the span
// becomes the day it ends, "never" a checkbox, the order its direction.
func TestConsoleParams(t *testing.T) {
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	for in, want := range map[string]string{
		"":                               "",
		"q=shipping":                     "q=shipping",
		"grant_type=authorization_code":  "grant=authorization_code",
		"secret_expires_within=30d":      "expires_before=2031-06-05",
		"unused_since=never":             "never_used=on",
		"unused_since=2031-02-05":        "unused_since=2031-02-05",
		"sort=name&order=desc":           "dir=desc&sort=name",
		"page_size=1":                    "limit=1",
		"page_token=abc&status=inactive": "after=abc&status=inactive",
		"owner=usr_1&created_by=usr_2":   "created_by=usr_2&owner=usr_1",
		"type=public":                    "type=public",
		"secret_expires_within=12h&q=k":  "q=k", // not a span of days: left out, and the shapes use none
	} {
		v, err := url.ParseQuery(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := consoleParams(v, now).Encode(); got != want {
			t.Errorf("consoleParams(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		a, b time.Duration
		want string
	}{{3 * time.Millisecond, 2 * time.Millisecond, "1.50×"}, {time.Millisecond, 0, "-"}, {0, time.Millisecond, "-"}} {
		if got := ratio(tc.a, tc.b); got != tc.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
