// Package oauth serves the OAuth 2.0 and OpenID Connect protocol endpoints:
// authorize (RFC 6749 §4.1 with PKCE, RFC 7636; authorize.go, decide.go),
// token (token.go, the grants in package grant), introspection (RFC 7662),
// revocation (RFC 7009), discovery (RFC 8414 and OpenID Connect Discovery),
// JWKS, userinfo, RP-initiated logout (logout.go) and Latchkey's own
// protected resource, /api/v1/me.
//
// Every tenant has an issuer of its own (tenant.go): the default tenant is
// served at the root issuer, every other one at {issuer}/t/{slug}, with
// the same endpoints under that path and its discovery document also at
// RFC 8414's /.well-known/oauth-authorization-server/t/{slug}. A request
// is resolved to its tenant before anything else, and nothing crosses: a
// client authenticates only at its own tenant (elsewhere it is unknown),
// tokens are signed with the tenant's keys and carry its issuer as iss and
// aud, and another tenant's token is inactive. An unknown slug is 404 and
// creates nothing.
//
// Parameters are read only from where the RFCs put them: the body of a
// POST, never its URL query, at the token, introspection and revocation
// endpoints; the query of a GET or the form body of a POST, never both,
// at the authorize and logout endpoints; a bearer token from the
// Authorization header alone. A repeated parameter is refused. Every
// error of a JSON endpoint is an RFC 6749 §5.2 response from package
// oautherr. The endpoints a browser visits answer a request they cannot
// trust to say where to send the browser back with an HTML error page,
// never a redirect.
//
// The browser's session belongs to the account pages, which implement
// Sessions; the authorization request travels through their login and
// consent pages sealed (package authreq), so the protocol side keeps no
// state between the steps.
package oauth
