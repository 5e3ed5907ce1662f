// Package postgres stores Latchkey's data in PostgreSQL through pgx, so
// that many Latchkey instances can share one database.
//
// DB implements the storage interface of package store (the package does not
// import it, because store opens this package). Transactions run at READ
// COMMITTED; LockClient, LockUser, UseCode and UseRefreshToken take their
// row with SELECT ... FOR UPDATE, which is what makes concurrent changes to
// one client or user, and exchanges of one code or refresh token,
// serialize across instances.
//
// The schema lives in migrations/, numbered files embedded in the binary and
// applied by Migrate under an advisory lock, so instances starting together
// migrate once. Substring search uses pg_trgm indexes. Times are timestamptz,
// truncated to microseconds before they are written; a zero time.Time is
// stored as NULL. Driver errors are wrapped, and missing and duplicate
// records become the sentinels of the domain package concerned (client,
// account or token).
package postgres
