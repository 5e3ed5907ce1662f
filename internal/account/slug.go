package account

import (
	"errors"
	"strings"
)

// MaxSlugLen is the longest slug: a DNS label's length, so a slug can
// also name a subdomain.
const MaxSlugLen = 63

// ErrInvalidSlug is wrapped by ValidateSlug's errors.
var ErrInvalidSlug = errors.New("invalid tenant slug")

// ValidateSlug checks that s can name a tenant in a URL path: 1 to 63
// characters from a-z, 0-9 and '-', neither starting nor ending with
// '-'.
func ValidateSlug(s string) error {
	if s == "" || len(s) > MaxSlugLen {
		return slugError("must be 1 to 63 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return slugError("may contain only lowercase letters a-z, digits and '-'")
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return slugError("must not start or end with '-'")
	}
	return nil
}

type slugError string

func (e slugError) Error() string { return "tenant slug " + string(e) }
func (e slugError) Unwrap() error { return ErrInvalidSlug }

// SlugFromName derives a slug from a tenant's name: ASCII letters
// lower-cased, digits kept, every run of anything else one '-', cut to 63
// characters. It returns "" when nothing usable is left (a name in
// another script, say); the caller must then ask for a slug.
func SlugFromName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		switch {
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		default:
			dash = b.Len() > 0
			continue
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) > MaxSlugLen {
		s = strings.TrimRight(s[:MaxSlugLen], "-")
	}
	return s
}
