package client

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzRedirectURI holds redirect-URI validation and matching to their
// rules whatever the input: neither panics; a URI a confidential client
// may register is https, or http on a loopback address; no accepted URI
// has a fragment, user information or a refused scheme; and a match is
// always a registered URI, the same string or, for http loopback, the
// same URI on another port.
func FuzzRedirectURI(f *testing.F) {
	f.Fuzz(func(t *testing.T, uri, registered string) {
		for _, typ := range []Type{Confidential, Public} {
			if ValidateRedirectURI(uri, typ) != nil {
				continue
			}
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatalf("%s accepted %q, which does not parse: %v", typ, uri, err)
			}
			scheme := strings.ToLower(u.Scheme)
			switch {
			case strings.Contains(uri, "#") || u.User != nil:
				t.Fatalf("%s accepted %q with a fragment or user information", typ, uri)
			case slices.Contains(refusedSchemes, scheme):
				t.Fatalf("%s accepted the refused scheme of %q", typ, uri)
			case typ == Confidential && scheme != "https" && !(scheme == "http" && isLoopback(u.Hostname())):
				t.Fatalf("a confidential client may register %q: neither https nor loopback http", uri)
			case (scheme == "http" || scheme == "https") && u.Host == "":
				t.Fatalf("%s accepted %q without a host", typ, uri)
			}
		}

		c := &Client{RedirectURIs: []string{registered}, PostLogoutRedirectURIs: []string{registered}}
		for _, match := range []func(string) (string, bool){c.MatchRedirectURI, c.MatchPostLogoutURI} {
			got, ok := match(uri)
			if !ok {
				if got != "" {
					t.Fatalf("no match, yet %q returned", got)
				}
				continue
			}
			if got != registered {
				t.Fatalf("%q matched %q, which is not registered", uri, got)
			}
			if got == uri {
				continue
			}
			// Only a loopback http URI may differ, and only in its port.
			u, err1 := url.Parse(uri)
			r, err2 := url.Parse(registered)
			if err1 != nil || err2 != nil {
				t.Fatalf("%q matched %q without both parsing", uri, registered)
			}
			if u.Scheme != "http" || r.Scheme != "http" || !isLoopback(u.Hostname()) || u.Hostname() != r.Hostname() ||
				u.EscapedPath() != r.EscapedPath() || u.RawQuery != r.RawQuery || u.Fragment != "" || u.User != nil {
				t.Fatalf("%q matched %q, though they differ beyond a loopback port", uri, registered)
			}
		}
	})
}
