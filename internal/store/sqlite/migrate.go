package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/latchkey/latchkey/internal/store/migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate brings the schema up to date and returns how many migrations it
// applied. Each migration runs in its own transaction and is recorded in
// schema_migrations; a failed one leaves the schema at the one before it.
// Several processes may migrate one file at once: write transactions
// serialize, and each re-checks whether its migration is still pending.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("sqlite: migrate: %w", err)
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, m := range ms {
		ran := false
		err := db.writeTx(ctx, func(tx *sql.Tx) error {
			var done bool
			err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&done)
			if err != nil || done {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at)
				VALUES (?, CAST(unixepoch('subsec') * 1000000 AS INTEGER))`, m.Version)
			ran = err == nil
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
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
		return 0, fmt.Errorf("sqlite: migrations: %w", err)
	}
	var exists bool
	if err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema
		WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("sqlite: migrations: %w", err)
	}
	if !exists {
		return len(ms), nil
	}
	applied := map[int]bool{}
	rows, err := db.read.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return 0, fmt.Errorf("sqlite: migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return migration.CountPending(ms, applied), nil
}
