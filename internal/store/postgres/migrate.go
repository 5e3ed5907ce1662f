package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/latchkey/latchkey/internal/store/migration"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key every migrating
// transaction takes, so that instances starting at once migrate one at a
// time. ("lkmigrat" in ASCII.)
const migrationLock int64 = 0x6c6b6d6967726174

// Migrate brings the schema up to date and returns how many migrations it
// applied. Each migration runs in its own transaction, holding
// migrationLock, and is recorded in schema_migrations; a failed one leaves
// the schema at the one before it. Several instances may migrate at once.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range ms {
		ran := false
		err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
				return err
			}
			// Under the lock, so concurrent first runs do not race to
			// create the table.
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL
			)`); err != nil {
				return err
			}
			var done bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done)
			if err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, m.Version)
			ran = err == nil
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		if ran {
			applied++
		}
	}
	return applied, nil
}

// Pending returns how many embedded migrations the database has not
// applied; all of them for an empty database.
func (db *DB) Pending(ctx context.Context) (int, error) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("postgres: migrations: %w", err)
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: migrations: %w", err)
	}
	if !exists {
		return len(ms), nil
	}
	rows, err := db.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return 0, fmt.Errorf("postgres: migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, fmt.Errorf("postgres: migrations: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[int(v)] = true
	}
	return migration.CountPending(ms, applied), nil
}
