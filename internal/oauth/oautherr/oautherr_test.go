package oautherr

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"password", "'password'"},
		{"\x00", "'%00'"},
		{`"`, "'%22'"},
		{"\n", "'%0A'"},
		{"'", "'%27'"},
		{`\`, "'%5C'"},
		{"%00", "'%2500'"},
		{"é", "'%C3%A9'"},
		{strings.Repeat("a", 70), "'" + strings.Repeat("a", 64) + "'..."},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// A quoted value survives sanitize unchanged, and what is outside its
// quotes is the message's own: the value cannot seem to end early.
func TestQuotedValueSurvivesSanitize(t *testing.T) {
	for _, v := range []string{"\x00", `"`, "\n", `a"b\c'd`, "x' is fine; 'y"} {
		e := InvalidRequest("value %s is bad", Quote(v))
		want := "value " + Quote(v) + " is bad"
		if e.Description != want {
			t.Errorf("%q: description %s, want %s", v, e.Description, want)
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(e.Description, "value '"), "' is bad")
		if strings.ContainsAny(inner, `'"\`) {
			t.Errorf("%q: quoted as %s, which holds a quote or backslash", v, inner)
		}
	}
}
