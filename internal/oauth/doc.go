// Package oauth serves the OAuth 2.0 protocol endpoints: token, introspection
// (RFC 7662), revocation (RFC 7009), discovery (RFC 8414) and Latchkey's own
// protected resource, /api/v1/me.
//
// Parameters are read only from where the RFCs put them: the body of a
// POST, never its URL query. A repeated parameter is refused. Every error is
// an RFC 6749 §5.2 response from package oautherr.
package oauth
