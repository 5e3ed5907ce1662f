package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// conns is the pool as the store uses it: every error it returns that
// means the database could not be used is marked errs.ErrUnavailable, at
// this one boundary, so that callers answer 503 and not 500.
type conns struct {
	pool   *pgxpool.Pool
	health *health
}

var _ querier = conns{}

func (c conns) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := c.pool.Exec(ctx, sql, args...)
	return tag, c.health.classify(err)
}

func (c conns) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, c.health.classify(err)
	}
	return classifiedRows{rows, c.health}, nil
}

func (c conns) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return classifiedRow{c.pool.QueryRow(ctx, sql, args...), c.health}
}

func (c conns) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := c.pool.BeginTx(ctx, opts)
	return tx, c.health.classify(err)
}

func (c conns) Ping(ctx context.Context) error { return c.health.classify(c.pool.Ping(ctx)) }

// Stat is the pool's statistics.
func (c conns) Stat() *pgxpool.Stat { return c.pool.Stat() }

func (c conns) Close() { c.pool.Close() }

type classifiedRows struct {
	pgx.Rows
	health *health
}

func (r classifiedRows) Err() error { return r.health.classify(r.Rows.Err()) }

func (r classifiedRows) Scan(dest ...any) error { return r.health.classify(r.Rows.Scan(dest...)) }

type classifiedRow struct {
	row    pgx.Row
	health *health
}

func (r classifiedRow) Scan(dest ...any) error { return r.health.classify(r.row.Scan(dest...)) }
