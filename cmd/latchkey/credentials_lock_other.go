//go:build !unix

package main

// lockFile does not lock where flock(2) is missing: two latchkey
// processes renewing one sign-in at the same moment may end it, and the
// next command then asks to sign in again.
func lockFile(string) (func(), error) { return func() {}, nil }
