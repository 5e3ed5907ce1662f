package account

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateSlug(t *testing.T) {
	for _, s := range []string{"a", "acme", "acme-eu-2", "0", strings.Repeat("a", 63), "a-b"} {
		if err := ValidateSlug(s); err != nil {
			t.Errorf("ValidateSlug(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", strings.Repeat("a", 64), "-acme", "acme-", "Acme", "ac_me", "ac me", "acmé", "a/b", "a.b", "t/x"} {
		if err := ValidateSlug(s); !errors.Is(err, ErrInvalidSlug) {
			t.Errorf("ValidateSlug(%q) = %v, want ErrInvalidSlug", s, err)
		}
	}
}

func TestSlugFromName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Default", "default"},
		{"Acme Corp.", "acme-corp"},
		{"  ACME -- EU / 2  ", "acme-eu-2"},
		{"日本", ""},
		{"R&D_Team", "r-d-team"},
		{strings.Repeat("ab-", 40), strings.TrimRight(strings.Repeat("ab-", 21), "-")},
	}
	for _, tt := range tests {
		got := SlugFromName(tt.name)
		if got != tt.want {
			t.Errorf("SlugFromName(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if got != "" && ValidateSlug(got) != nil {
			t.Errorf("SlugFromName(%q) = %q is not a valid slug", tt.name, got)
		}
	}
}
