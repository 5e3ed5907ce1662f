package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

var _ ratelimit.Failures = (*DB)(nil)

// CountFailure adds one failure to key's window, or starts a window at
// now when key has none that is still open, in one statement.
func (db *DB) CountFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n       int
		expires int64
	)
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		// Every SET expression reads the row as it was, so the three
		// agree on whether the old window had ended.
		return tx.QueryRowContext(ctx, `INSERT INTO failure_counts (key, started_at, expires_at, failures)
			VALUES (?, ?, ?, 1)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN failure_counts.expires_at <= excluded.started_at THEN 1
					ELSE failure_counts.failures + 1 END,
				started_at = CASE WHEN failure_counts.expires_at <= excluded.started_at THEN excluded.started_at
					ELSE failure_counts.started_at END,
				expires_at = CASE WHEN failure_counts.expires_at <= excluded.started_at THEN excluded.expires_at
					ELSE failure_counts.expires_at END
			RETURNING failures, expires_at`,
			key, now.UnixMicro(), now.Add(window).UnixMicro()).Scan(&n, &expires)
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: count failure: %w", err)
	}
	return n, fromMicros(expires), nil
}

// AnnounceLockout logs the lockout in the change log, for any other
// process on the file.
func (db *DB) AnnounceLockout(ctx context.Context, key string, until time.Time) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO change_log (kind, key, at)
			VALUES (?, ?, CAST(unixepoch('subsec') * 1000000 AS INTEGER))`,
			changes.Lockout, ratelimit.LockoutChange(key, until))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: announce lockout: %w", err)
	}
	return nil
}

// PruneFailures removes the failure counts whose windows ended before t.
func (db *DB) PruneFailures(ctx context.Context, t time.Time) error {
	return db.deleteExpired(ctx, "failure counts", t, "failure_counts")
}
