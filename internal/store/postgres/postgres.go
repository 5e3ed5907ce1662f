package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is a Latchkey store in one PostgreSQL database. It is safe for
// concurrent use. Open it with Open and release it with Close.
type DB struct {
	pool   conns
	health *health
	// listCountCap is where a list page stops counting; zero for
	// keyset.CountCap (see SetListCountCap).
	listCountCap int
}

// Open connects to the database at url, a postgres:// URL or a libpq
// keyword/value string (pool settings such as pool_max_conns may be
// added), and checks that it answers. It does not create the schema; call
// Migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: open: the database URL is not valid")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	h := newHealth(cfg.ConnConfig.Copy())
	cfg.BeforeConnect = h.beforeConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := &DB{pool: conns{pool: pool, health: h}, health: h}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	h.run(db.pool.Ping)
	return db, nil
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Ready returns nil while the database is reachable, as far as the last
// connection attempt and heartbeat tell, without asking the database:
// readiness probes under load must not queue behind requests for a
// connection, nor add to a storm of them in an outage.
func (db *DB) Ready() error { return db.health.ready() }

// LogTo sends the store's changes of state (the database lost, the
// database back) to log: one line each, not one per failed request.
func (db *DB) LogTo(log *slog.Logger) {
	db.health.mu.Lock()
	db.health.log = log
	db.health.mu.Unlock()
}

// PoolStat is the connection pool's statistics.
func (db *DB) PoolStat() *pgxpool.Stat { return db.pool.Stat() }

// Close closes every connection, waiting for those in use to be returned.
func (db *DB) Close() error {
	db.health.stop()
	db.pool.Close()
	return nil
}

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction with the given options, committed when fn
// returns nil and rolled back otherwise (also when fn panics).
func (db *DB) inTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	if err := fn(tx); err != nil {
		return db.health.classify(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", db.health.classify(err))
	}
	return nil
}
