package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
)

// Changes returns, in seq order, at most limit logged changes whose seq
// is greater than after or is one of missing. (SQLite commits in seq
// order, so missing is empty in practice; it is honoured all the same.)
func (db *DB) Changes(ctx context.Context, after int64, missing []int64, limit int) ([]changes.Change, error) {
	gaps, err := json.Marshal(missing)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT seq, kind, key FROM change_log
		WHERE seq > ? OR seq IN (SELECT value FROM json_each(?))
		ORDER BY seq LIMIT ?`, after, string(gaps), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	defer rows.Close()
	var out []changes.Change
	for rows.Next() {
		var c changes.Change
		if err := rows.Scan(&c.Seq, &c.Kind, &c.Key); err != nil {
			return nil, fmt.Errorf("sqlite: changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	return out, nil
}

// LatestChangeSeqs returns the seqs of the n most recent changes, highest
// first.
func (db *DB) LatestChangeSeqs(ctx context.Context, n int) ([]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq FROM change_log ORDER BY seq DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest changes: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: latest changes: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: latest changes: %w", err)
	}
	return out, nil
}

// PruneChanges deletes changes logged before t, except the latest.
func (db *DB) PruneChanges(ctx context.Context, t time.Time) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM change_log
		WHERE at < ? AND seq < (SELECT max(seq) FROM change_log)`, t.UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlite: prune changes: %w", err)
	}
	return nil
}
