// Package token issues and verifies the server's tokens: JWTs of several
// kinds, signed by rotating per-tenant keys that are published in a JWKS,
// and opaque access tokens stored only as hashes.
//
// The parts, one file each:
//
//   - [Keys] (keys.go) loads one tenant's signing keys from a [KeyStore],
//     rotates them (several instances sharing one store make one key, not
//     several), and serves the tenant's JWKS. A key is next (published,
//     not signing), then current, then retired (published until its
//     tokens expire): a new key is in the JWKS for PublishAhead, longer
//     than JWKSMaxAge, before any instance signs with it. Private keys are
//     sealed at rest by a [Sealer] (seal.go) under a key-encryption key
//     from the environment; [Rewrap] (rewrap.go) re-seals them under a new
//     one. A Keys is one lineage, the keys of one [KeyUse]. [TenantKeys]
//     (tenantkeys.go) holds per tenant two lineages rotating on their own,
//     made on the tenant's first use and kept: the access keys (ES256 by
//     default) and the ID-token keys (RS256 by default, what every OpenID
//     Connect relying party supports), published in one JWKS. Tenants
//     never share a key, so one tenant's JWKS cannot verify another's
//     tokens.
//   - Kinds (jwt.go). Every JWT has a kind with its own typ header and
//     its own Sign and Verify methods, and each verifier refuses every
//     other kind, so a token of one kind never passes for another:
//     access tokens ([Keys.SignAccess], [Keys.VerifyAccess], access.go,
//     typ "at+jwt", RFC 9068) and ID tokens ([Keys.SignID], [Keys.VerifyID],
//     idtoken.go, typ "JWT", OpenID Connect). A logout token would be one
//     more row in the kind table and one more pair of methods. Verifiers
//     take an [Expect]: the issuer and the audiences the caller answers
//     for, both required.
//   - Signing (signer.go) is a hand-written compact JWS for ES256 (the
//     default), EdDSA and RS256 on the standard library, behind the
//     [Signer] interface. Sign and Verify take no lock and read no
//     database.
//   - The access-token claims codec (claims.go) is hand-written too.
//     BenchmarkVerifyAccessCodec measures what it saves against decoding
//     the claims with encoding/json, as go-jose does, and against go-jose's
//     whole path; FuzzParseClaims holds it to encoding/json's answers in
//     both directions. ID tokens, made once per sign-in, use encoding/json.
//   - [NewOpaque] and [HashOpaque] (opaque.go) make opaque tokens for
//     clients that want them; the [Store] keeps only their hashes.
//   - [Revocations] (revocations.go) is the in-memory revocation list that
//     lets introspection refuse a revoked JWT without a database read, by
//     its jti or by a cut-off of its subject (every token of a user, or of
//     a user and one client, issued before a moment). It is loaded whole
//     at start, then by ID as package changes reports other instances'
//     revocations.
//
// Nothing here reads the environment: configuration comes in plain
// structs. Time comes from the Keys.Now clock (time.Now when unset) or as
// an explicit argument, so tests control it.
package token
