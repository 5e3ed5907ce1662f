// Package registration is governed dynamic client registration: RFC 7591
// (a client registers itself) and RFC 7592 (it reads, replaces and deletes
// its registration with the registration access token it was given).
//
// Registration is off unless a tenant's policy turns it on
// (client.RegistrationPolicy): open to anyone, or only with an initial
// access token an admin issued. A registered client is an ordinary client
// of the tenant, made by client.Service like any other: it starts from the
// policy's template (client.RegistrationTemplate), never exceeds it, is
// held to every rule of the tenant's policy, asks its users for consent,
// starts pending approval when the policy says so, records who registered
// it and from where, and is deleted once unused for the policy's
// ExpireUnused. Every change is audited by the client domain with the
// registration as its actor.
//
// Initial and registration access tokens look like client secrets (a
// prefix, 256 random bits and a checksum) and are stored as SHA-256
// hashes only.
package registration
