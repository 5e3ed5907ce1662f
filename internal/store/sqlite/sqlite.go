package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a Latchkey store in one SQLite database. It is safe for concurrent
// use. Open it with Open and release it with Close.
type DB struct {
	// write has a single connection whose transactions begin IMMEDIATE:
	// every write, and every InTx, runs on it, one at a time.
	write *sql.DB
	// read serves queries outside transactions. For an in-memory
	// database it is the write pool, since a second connection would open
	// a second, empty database.
	read *sql.DB
	// listCountCap is where a list page stops counting; zero for
	// keyset.CountCap (see SetListCountCap).
	listCountCap int
}

// pragmas are set on every connection. WAL lets readers run beside the
// writer; busy_timeout makes a writer from another process wait instead of
// failing; foreign_keys enables ON DELETE CASCADE from clients to secrets.
// synchronous FULL syncs the WAL at every commit: an acknowledged
// revocation or rotation survives a power failure. (NORMAL may lose the
// last commits.) Admin writes are rare and the token path writes nothing,
// so durability costs next to nothing where it matters.
var pragmas = []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(FULL)"}

// Open opens (creating if needed) the SQLite database at path: a file path,
// a "file:" URI, or ":memory:" for a private in-memory database. It does
// not create the schema; call Migrate.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	memory := path == ":memory:" || strings.HasPrefix(path, "file::memory:") || strings.Contains(path, "mode=memory")
	if path == ":memory:" {
		path = "file::memory:"
	}
	if !strings.HasPrefix(path, "file:") && strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open %q: a path with '?' must be written as a file: URI", path)
	}

	if !memory {
		// The file holds secret hashes and sealed signing keys: create it
		// readable by its owner only. SQLite gives -wal and -shm the same
		// mode.
		file, _, _ := strings.Cut(strings.TrimPrefix(path, "file:"), "?")
		f, err := os.OpenFile(file, os.O_RDONLY|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		f.Close()
	}
	write, err := openPool(path, "immediate", false)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0) // an in-memory database lives as long as its connection
	db := &DB{write: write, read: write}
	if !memory {
		if db.read, err = openPool(path, "deferred", true); err != nil {
			write.Close()
			return nil, err
		}
		n := max(4, runtime.GOMAXPROCS(0))
		db.read.SetMaxOpenConns(n)
		db.read.SetMaxIdleConns(n)
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openPool returns a connection pool for path whose transactions begin
// with txlock.
func openPool(path, txlock string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	q.Set("_txlock", txlock)
	sep := "?"
	if strings.ContainsRune(path, '?') {
		sep = "&"
	}
	db, err := sql.Open("sqlite", path+sep+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return db, nil
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the database. Transactions still running fail.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writeTx runs fn in a transaction on the write connection: BEGIN
// IMMEDIATE, so it holds the database's write lock from the start.
func (db *DB) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op; on error or panic, a rollback
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}
