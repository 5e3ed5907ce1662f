package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
)

// Changes returns, in seq order, at most limit logged changes whose seq
// is greater than after or is one of missing: rows committed late, below
// seqs the reader has already seen.
func (db *DB) Changes(ctx context.Context, after int64, missing []int64, limit int) ([]changes.Change, error) {
	if missing == nil {
		missing = []int64{}
	}
	rows, err := db.pool.Query(ctx, `SELECT seq, kind, key FROM change_log
		WHERE seq > $1 OR seq = ANY($2::bigint[])
		ORDER BY seq LIMIT $3`, after, missing, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: changes: %w", err)
	}
	defer rows.Close()
	var out []changes.Change
	for rows.Next() {
		var c changes.Change
		if err := rows.Scan(&c.Seq, &c.Kind, &c.Key); err != nil {
			return nil, fmt.Errorf("postgres: changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: changes: %w", err)
	}
	return out, nil
}

// LatestChangeSeqs returns the seqs of the n most recent changes, highest
// first.
func (db *DB) LatestChangeSeqs(ctx context.Context, n int) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq FROM change_log ORDER BY seq DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest changes: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("postgres: latest changes: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: latest changes: %w", err)
	}
	return out, nil
}

// PruneChanges deletes changes logged before t, except the latest.
func (db *DB) PruneChanges(ctx context.Context, t time.Time) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM change_log
		WHERE at < $1 AND seq < (SELECT max(seq) FROM change_log)`, ts(t))
	if err != nil {
		return fmt.Errorf("postgres: prune changes: %w", err)
	}
	return nil
}
