package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// backend is what Open needs of an adapter beyond Store.
type backend interface {
	Store
	Migrate(ctx context.Context) (int, error)
}

// open returns the backend url names, not yet migrated.
//
// A "postgres://" or "postgresql://" URL selects PostgreSQL. Anything else
// is an SQLite database: a file path, optionally prefixed "sqlite:" (or
// "sqlite://"), or a "file:" URI, or ":memory:".
func open(ctx context.Context, url string) (backend, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return postgres.Open(ctx, url)
	}
	path := url
	if p, ok := strings.CutPrefix(path, "sqlite://"); ok {
		path = p
	} else if p, ok := strings.CutPrefix(path, "sqlite:"); ok {
		path = p
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
