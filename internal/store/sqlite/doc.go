// Package sqlite stores Latchkey's data in an SQLite database file, through
// the pure-Go modernc.org/sqlite driver: the embedded default, with no
// server to run.
//
// DB implements the storage interface of package store (the package does not
// import it, because store opens this package). Writes go through one
// connection and every write transaction starts with BEGIN IMMEDIATE, so
// writers serialize, also across processes sharing the file; reads use a
// separate pool of connections and, in WAL mode, never wait for a writer.
//
// The schema lives in migrations/, numbered files embedded in the binary and
// applied by Migrate. Times are stored as Unix microseconds in UTC; a zero
// time.Time is stored as NULL. Driver errors are wrapped, and missing and
// duplicate records become the sentinels of the domain package concerned
// (client, account or token).
package sqlite
