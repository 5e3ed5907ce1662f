package client

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// ValidateRedirectURI returns why uri cannot be registered, or nil.
//
// A redirect URI is absolute, has no fragment, no userinfo and no wildcard
// in its host (matching is exact), and uses https, except for loopback
// addresses (127.0.0.1, [::1], localhost), which may use http on any port
// (RFC 8252 §7.3).
func ValidateRedirectURI(uri string) error {
	if len(uri) > MaxRedirectURILen {
		return fmt.Errorf("must be at most %d characters", MaxRedirectURILen)
	}
	if strings.ContainsFunc(uri, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("must not contain spaces or control characters")
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("is not a valid URI")
	}
	switch {
	case !u.IsAbs() || u.Host == "":
		return fmt.Errorf("must be an absolute URI with a host")
	case strings.Contains(u.Host, "*") || strings.Contains(u.User.Username(), "*"):
		return fmt.Errorf("wildcards are not supported: redirect URIs match exactly")
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return fmt.Errorf("must not contain a fragment (#…)")
	case u.User != nil:
		return fmt.Errorf("must not contain user information (user@…)")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("must use https; http is allowed only for loopback (127.0.0.1, [::1], localhost)")
	}
	return fmt.Errorf("must use https (or http on a loopback address)")
}

// validateRedirectURIs checks c's redirect URIs, which only the
// authorization_code grant uses. old is the client before an edit, or nil.
func validateRedirectURIs(fe *fieldErrors, c, old *Client) {
	uris, code := c.RedirectURIs, c.HasGrant(GrantAuthorizationCode)
	if old != nil && old.HasGrant(GrantAuthorizationCode) == code && slices.Equal(old.RedirectURIs, uris) {
		// As stored, perhaps under older rules: an edit that touches
		// neither the grant nor the URIs (a status change, a revocation)
		// is not refused for them.
		return
	}
	switch {
	case code && len(uris) == 0:
		fe.add("redirect_uris", "at least one redirect URI is required for authorization_code")
		return
	case !code && len(uris) > 0 && old != nil && old.HasGrant(GrantAuthorizationCode):
		fe.add("redirect_uris", "redirect URIs are used only by the authorization_code grant: when removing it, clear the redirect URIs too")
		return
	case !code && len(uris) > 0:
		fe.add("redirect_uris", "redirect URIs are used only by the authorization_code grant: add it to grant_types, or clear the redirect URIs")
		return
	}
	if len(uris) > MaxRedirectURIs {
		fe.add("redirect_uris", fmt.Sprintf("at most %d redirect URIs", MaxRedirectURIs))
		return
	}
	for i, u := range uris {
		if err := ValidateRedirectURI(u); err != nil {
			fe.add(fmt.Sprintf("redirect_uris[%d]", i), fmt.Sprintf("%q %v", truncate(u, 80), err))
			continue
		}
		if slices.Contains(uris[:i], u) {
			fe.add(fmt.Sprintf("redirect_uris[%d]", i), fmt.Sprintf("%q is listed twice", truncate(u, 80)))
		}
	}
}

// isLoopback reports whether host names the local machine. The IP forms are
// preferred (RFC 8252 §8.3), but "localhost" is accepted as well.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MatchRedirectURI returns the registered URI that uri matches, if any.
// Matching is exact and case-sensitive; for http loopback URIs the port is
// ignored, since native apps get an ephemeral port from the OS (RFC 8252 §7.3).
func (c *Client) MatchRedirectURI(uri string) (string, bool) {
	for _, r := range c.RedirectURIs {
		if r == uri {
			return r, true
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) || u.Fragment != "" || u.User != nil {
		return "", false
	}
	for _, r := range c.RedirectURIs {
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "http" || !isLoopback(ru.Hostname()) {
			continue
		}
		if ru.Hostname() == u.Hostname() && ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery {
			return r, true
		}
	}
	return "", false
}
