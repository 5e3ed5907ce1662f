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
// The pages need no JavaScript. Templates and the stylesheet are
// embedded and parsed once, by New. Every form carries a CSRF token
// (a cookie and a hidden field that must match) and a POST from another
// origin is refused; every response forbids framing, sniffing, referrers
// and caching.
package console
