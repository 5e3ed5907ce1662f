// Package oauth serves the OAuth 2.0 protocol endpoints: token, introspection
// (RFC 7662), revocation (RFC 7009), discovery (RFC 8414), JWKS and
// Latchkey's own protected resource, /api/v1/me.
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
// POST, never its URL query. A repeated parameter is refused. Every error is
// an RFC 6749 §5.2 response from package oautherr.
package oauth
