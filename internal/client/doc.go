// Package client is Latchkey's domain: OAuth clients, their secrets, and the
// rules of their lifecycle.
//
// A Client is created active, may move between StatusActive and
// StatusInactive, and may be revoked from either (StatusRevoked is terminal
// and stays listed). Deleting removes it, except for protected clients.
//
// Secrets are managed objects: generated with 256 bits of entropy, a
// recognisable prefix and a checksum, shown once, stored only as a hash, and
// retired by rotation either at once or after a grace period.
//
// The package imports no HTTP and no SQL. Service runs the use cases over a
// Repository, which the storage adapters implement; every time value comes
// from the Service's injected clock, read once per transaction.
package client
