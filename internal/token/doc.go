// Package token issues and verifies access tokens: RFC 9068 JWTs signed by
// rotating keys that are published in a JWKS, and opaque tokens stored only
// as hashes.
package token
