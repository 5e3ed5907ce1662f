// Package console serves Latchkey's server-rendered end-user pages under
// /account/: sign-in and sign-out, the consent page of an authorization
// request, and "Authorized applications", where a user sees and revokes
// what they approved.
//
// The pages own the browser session: its cookie is theirs alone, and the
// protocol endpoints see it only through oauth.Sessions, which Pages
// implements. An authorization request reaches the pages sealed (package
// authreq) and goes back to the protocol's resume endpoint sealed; the
// pages never build a protocol redirect themselves.
//
// Every tenant has its own pages, at the root for the default tenant and
// under /t/{slug} for the others, and its own session cookie, so signing
// in to one tenant signs in to no other.
//
// Sign-in may take a second factor (mfa.go): an authenticator app's
// code, a recovery code or a passkey, set up at /account/security
// (security.go). The pages need no JavaScript but to use a passkey
// (static/passkey.js, the one script). Templates, the stylesheet and the
// script are embedded and parsed once, by New. Every form carries a CSRF token
// (a cookie and a hidden field that must match) and a POST from another
// origin is refused; every response forbids framing, sniffing, referrers
// and caching.
package console
