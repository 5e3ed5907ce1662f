package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// backend is what Open needs of an adapter beyond Store.
type backend interface {
	Store
	Migrate(ctx context.Context) (int, error)
	Pending(ctx context.Context) (int, error)
}

// ErrNoDatabase means OpenExisting found no database where the URL points,
// or one whose schema this binary does not know yet.
var ErrNoDatabase = errors.New("store: no Latchkey database")

// IsPostgres reports whether a database setting names PostgreSQL.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// sqlitePath returns the SQLite path url names, or ok false for
// PostgreSQL.
func sqlitePath(url string) (path string, ok bool) {
	if IsPostgres(url) {
		return "", false
	}
	path = url
	if p, ok := strings.CutPrefix(path, "sqlite://"); ok {
		path = p
	} else if p, ok := strings.CutPrefix(path, "sqlite:"); ok {
		path = p
	}
	return path, true
}

// SQLiteFile is the file an SQLite setting names, a "file:" URI's
// included; ok is false for PostgreSQL and in-memory databases.
func SQLiteFile(url string) (path string, ok bool) {
	path, ok = sqlitePath(url)
	if !ok || strings.Contains(path, ":memory:") || strings.Contains(path, "mode=memory") {
		return "", false
	}
	if p, isURI := strings.CutPrefix(path, "file:"); isURI {
		p, _, _ = strings.Cut(p, "?")
		if rest, ok := strings.CutPrefix(p, "//"); ok {
			p = rest // file:///abs/path: an empty authority
			if !strings.HasPrefix(p, "/") {
				return "", false // a host in the URI: not a local file
			}
		}
		path = p
	}
	return path, path != ""
}

// open returns the backend url names, not yet migrated.
//
// A "postgres://" or "postgresql://" URL selects PostgreSQL. Anything else
// is an SQLite database: a file path, optionally prefixed "sqlite:" (or
// "sqlite://"), or a "file:" URI, or ":memory:".
func open(ctx context.Context, url string) (backend, error) {
	path, ok := sqlitePath(url)
	if !ok {
		return postgres.Open(ctx, url)
	}
	if path == "" {
		return nil, fmt.Errorf("store: no database named in %q", url)
	}
	return sqlite.Open(ctx, path)
}

// Open opens the database url names (see Migrate for the forms) and brings
// its schema up to date.
func Open(ctx context.Context, url string) (Store, error) {
	b, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	if _, err := b.Migrate(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Migrate brings the schema of the database url names up to date and
// returns how many migrations it applied; "latchkey migrate" runs it.
//
// A "postgres://" or "postgresql://" URL selects PostgreSQL. Anything else
// is an SQLite database: a file path, optionally prefixed "sqlite:" (or
// "sqlite://", so "sqlite:///var/lib/latchkey.db" is an absolute path), a
// "file:" URI, or ":memory:".
func Migrate(ctx context.Context, url string) (applied int, err error) {
	b, err := open(ctx, url)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	return b.Migrate(ctx)
}

// OpenExisting opens the database url names without creating or migrating
// it: what every command but serve and migrate does, so a command run in
// the wrong directory fails instead of making a new, empty database. It
// returns an error wrapping ErrNoDatabase when there is no SQLite file at
// the path, or when the schema lacks migrations this binary has.
func OpenExisting(ctx context.Context, url string) (Store, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: no database named", ErrNoDatabase)
	}
	if path, ok := SQLiteFile(url); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if abs, err := filepath.Abs(path); err == nil {
				path = abs // say where it looked, wherever the command ran
			}
			return nil, fmt.Errorf("%w at %q", ErrNoDatabase, path)
		}
	}
	b, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	n, err := b.Pending(ctx)
	if err != nil {
		b.Close()
		return nil, err
	}
	if n > 0 {
		b.Close()
		return nil, fmt.Errorf("%w: its schema lacks %d migration(s) of this version; run \"latchkey migrate\"", ErrNoDatabase, n)
	}
	return b, nil
}
