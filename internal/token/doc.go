// Package token issues and verifies access tokens: RFC 9068 JWTs signed by
// rotating keys that are published in a JWKS, and opaque tokens stored only
// as hashes.
//
// The parts, one file each:
//
//   - [Keys] (keys.go) loads signing keys from a [KeyStore], rotates them
//     (several instances sharing one store make one key, not several),
//     and serves the JWKS. A key is next (published, not signing), then
//     current, then retired (published until its tokens expire): a new
//     key is in the JWKS for PublishAhead, longer than JWKSMaxAge, before
//     any instance signs with it. Private keys are sealed at rest by a
//     [Sealer] (seal.go) under a key-encryption key from the environment;
//     [Rewrap] (rewrap.go) re-seals them under a new one.
//   - [Keys.SignJWT] and [Keys.VerifyJWT] (jwt.go, claims.go) are a
//     hand-written compact JWS for ES256 and EdDSA on the standard
//     library, behind the [Signer] interface (signer.go). They take no
//     lock and read no database.
//   - [NewOpaque] and [HashOpaque] (opaque.go) make opaque tokens for
//     clients that want them; the [Store] keeps only their hashes.
//   - [Revocations] (revocations.go) is the in-memory revocation list that
//     lets introspection refuse a revoked JWT without a database read. It
//     is loaded whole at start, then by token ID as package changes
//     reports other instances' revocations.
//
// Nothing here reads the environment: configuration comes in plain
// structs. Time comes from the Keys.Now clock (time.Now when unset) or as
// an explicit argument, so tests control it.
package token
