package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

var _ ratelimit.Failures = (*DB)(nil)

// CountFailure adds one failure to key's window, or starts a window at
// now when key has none that is still open, in one statement: concurrent
// failures on several instances each see their own count.
func (db *DB) CountFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n       int
		expires time.Time
	)
	// Every SET expression reads the row as it was, so the three agree on
	// whether the old window had ended.
	err := db.pool.QueryRow(ctx, `INSERT INTO failure_counts (key, started_at, expires_at, failures)
		VALUES ($1, $2, $3, 1)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN failure_counts.expires_at <= excluded.started_at THEN 1
				ELSE failure_counts.failures + 1 END,
			started_at = CASE WHEN failure_counts.expires_at <= excluded.started_at THEN excluded.started_at
				ELSE failure_counts.started_at END,
			expires_at = CASE WHEN failure_counts.expires_at <= excluded.started_at THEN excluded.expires_at
				ELSE failure_counts.expires_at END
		RETURNING failures, expires_at`,
		key, ts(now), ts(now.Add(window))).Scan(&n, &expires)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("postgres: count failure: %w", err)
	}
	return n, utc(expires), nil
}

// AnnounceLockout logs the lockout in the change log, whose trigger
// notifies every listening instance as it commits.
func (db *DB) AnnounceLockout(ctx context.Context, key string, until time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO change_log (kind, key) VALUES ($1, $2)`,
		string(changes.Lockout), ratelimit.LockoutChange(key, until))
	if err != nil {
		return fmt.Errorf("postgres: announce lockout: %w", err)
	}
	return nil
}

// PruneFailures removes the failure counts whose windows ended before t.
func (db *DB) PruneFailures(ctx context.Context, t time.Time) error {
	return db.deleteExpired(ctx, "failure counts", t, "failure_counts")
}
