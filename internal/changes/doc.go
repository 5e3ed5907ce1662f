// Package changes tells one process what other processes (another
// instance, the CLI) changed in the database it shares with them, so that
// the process's caches follow within a poll.
//
// The database keeps a change log: every committed change to something a
// process caches (a client or its secrets, a revocation, a signing key)
// appends a row (seq, kind, key) in the same transaction. A Source reads
// the log and hands Batches to an Applier; Caches is the Applier that
// forgets a changed client, merges new revocations and reloads signing
// keys. Consumers see only Source, Batch and Applier, so a source that is
// woken by PostgreSQL's LISTEN/NOTIFY can replace polling without changing
// them.
//
// Poller is the Source for both backends today. It keeps a low watermark
// and the seqs it has not seen below the highest one it has: on
// PostgreSQL a sequence value is taken at insert, not at commit, so a
// transaction that commits late makes its row appear below rows already
// read. Such a gap is asked for again at every poll until it appears or a
// grace period passes (then it is given up: the transaction most likely
// rolled back). Applying a change twice is harmless, so the rules favour
// seeing a change again over missing it; when changes may have been missed
// (the process fell behind the log's pruning, or too many gaps), the
// Batch says Resync and the caches reload everything.
//
// The bound that leaves: a transaction that commits more than the grace
// period (a minute) after it wrote its change is not seen through the log.
// Latchkey's own transactions last milliseconds, so only a stalled
// database makes one; what such a change would have told is still bounded
// by the client cache's lifetime (--client-cache-ttl), the signing keys'
// one-minute refresh, and the hourly full reload of the revocation list.
package changes
