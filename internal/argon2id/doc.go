// Package argon2id hashes low-entropy secrets (passwords, admin-chosen client
// secrets) with argon2id and encodes them as PHC strings.
//
// Every hash and verification in the process shares one bound on argon2id's
// working memory (MaxMemory): argon2id is memory-hard on purpose, so a burst
// of sign-ins running side by side would otherwise take one working set
// each. Computations past the bound wait their turn, in order, for as long
// as their context allows.
package argon2id
