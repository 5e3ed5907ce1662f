package client

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// ValidateRedirectURI returns why uri cannot be registered for a client
// of type t, or nil.
//
// A redirect URI is absolute, has no fragment, no userinfo and no wildcard
// (matching is exact), and uses https, except for loopback addresses
// (127.0.0.1, [::1], localhost), which may use http on any port (RFC 8252
// §7.3). A public client, a native app, may also register a private-use
// URI scheme (RFC 8252 §7.1) such as com.example.app:/cb or
// myapp://oauth/callback; schemes a browser would run or read locally
// (javascript:, data:, file: and the like) are refused for everyone.
func ValidateRedirectURI(uri string, t Type) error {
	if len(uri) > MaxRedirectURILen {
		return fmt.Errorf("must be at most %d characters", MaxRedirectURILen)
	}
	if strings.ContainsFunc(uri, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("must not contain spaces or control characters")
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("is not a valid absolute URI")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case slices.Contains(refusedSchemes, scheme):
		return fmt.Errorf("the %s: scheme is not allowed: a redirect must leave the browser for an application", scheme)
	case strings.Contains(u.Host, "*") || strings.Contains(u.User.Username(), "*"):
		return fmt.Errorf("wildcards are not supported: redirect URIs match exactly")
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return fmt.Errorf("must not contain a fragment (#…)")
	case u.User != nil:
		return fmt.Errorf("must not contain user information (user@…)")
	case scheme != "http" && scheme != "https":
		return validatePrivateUse(u, t)
	case u.Host == "":
		return fmt.Errorf("must be an absolute URI with a host")
	case scheme == "https":
		return nil
	case isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("must use https; http is allowed only for loopback (127.0.0.1, [::1], localhost)")
}

// refusedSchemes run code, read local data or go nowhere when a browser
// follows them: never a place to send an authorization code.
var refusedSchemes = []string{"javascript", "data", "file", "vbscript", "about", "blob", "filesystem",
	"view-source", "mailto", "tel", "sms", "ftp", "ws", "wss", "chrome", "chrome-extension", "resource", "intent"}

// validatePrivateUse checks a native app's private-use URI scheme
// redirect (RFC 8252 §7.1).
func validatePrivateUse(u *url.URL, t Type) error {
	if t != Public {
		return fmt.Errorf("must use https (or http on a loopback address); private-use schemes such as com.example.app:/cb are for public (native) clients")
	}
	if u.Opaque != "" || (u.Host == "" && u.Path == "") {
		return fmt.Errorf("a private-use URI needs a path, as in com.example.app:/callback or myapp://oauth/callback")
	}
	return nil
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
		if err := ValidateRedirectURI(u, c.Type); err != nil {
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
func (c *Client) MatchRedirectURI(uri string) (string, bool) { return matchURI(c.RedirectURIs, uri) }

func matchURI(registered []string, uri string) (string, bool) {
	if strings.ContainsRune(uri, '#') {
		return "", false // even an empty fragment: parameters would land after it
	}
	for _, r := range registered {
		if r == uri {
			return r, true
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) || u.Fragment != "" || u.User != nil {
		return "", false
	}
	for _, r := range registered {
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

// validatePostLogoutURIs checks where RP-initiated logout may return to:
// the same rules as redirect URIs, for clients that sign users in.
func validatePostLogoutURIs(fe *fieldErrors, c, old *Client) {
	uris := c.PostLogoutRedirectURIs
	if old != nil && slices.Equal(old.PostLogoutRedirectURIs, uris) && old.Type == c.Type {
		return
	}
	switch {
	case len(uris) == 0:
		return
	case !c.HasGrant(GrantAuthorizationCode):
		fe.add("post_logout_redirect_uris", "post-logout redirect URIs are for clients that sign users in: add authorization_code to grant_types, or clear them")
		return
	case len(uris) > MaxRedirectURIs:
		fe.add("post_logout_redirect_uris", fmt.Sprintf("at most %d post-logout redirect URIs", MaxRedirectURIs))
		return
	}
	for i, u := range uris {
		if err := ValidateRedirectURI(u, c.Type); err != nil {
			fe.add(fmt.Sprintf("post_logout_redirect_uris[%d]", i), fmt.Sprintf("%q %v", truncate(u, 80), err))
			continue
		}
		if slices.Contains(uris[:i], u) {
			fe.add(fmt.Sprintf("post_logout_redirect_uris[%d]", i), fmt.Sprintf("%q is listed twice", truncate(u, 80)))
		}
	}
}

// MatchPostLogoutURI returns the registered post-logout redirect URI that
// uri matches, if any: exactly, or a loopback one on another port.
func (c *Client) MatchPostLogoutURI(uri string) (string, bool) {
	return matchURI(c.PostLogoutRedirectURIs, uri)
}
