package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/changes"
)

// changeChannel is the channel the change log's trigger notifies on
// (migration 0015).
const changeChannel = "latchkey_changes"

// notified is a change as the trigger sends it.
type notified struct {
	Seq  int64  `json:"seq"`
	Kind string `json:"kind"`
	Key  string `json:"key"`
	At   int64  `json:"at"` // microseconds since the epoch
}

// ListenChanges calls fn with each change of the log as its transaction
// commits, with the time it was logged, until ctx ends (it then returns
// nil) or the connection is lost (it returns why). listening is called
// once the connection listens: changes committed from then on are
// delivered. The connection is the listener's own, outside the pool, so
// that waiting for notifications never holds a connection requests need.
func (db *DB) ListenChanges(ctx context.Context, listening func(), fn func(c changes.Change, logged time.Time)) error {
	if err := db.health.ready(); err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, db.health.connConfig.Copy())
	if err != nil {
		return fmt.Errorf("postgres: listen: %w", db.health.classify(err))
	}
	defer func() {
		// A fresh context: ctx may be done, and the connection must
		// still be closed.
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return fmt.Errorf("postgres: listen: %w", db.health.classify(err))
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("postgres: listen: %w", db.health.classify(err))
		}
		var m notified
		if err := json.Unmarshal([]byte(n.Payload), &m); err != nil || m.Kind == "" {
			// Not ours: nothing else sends on the channel, but a stray
			// NOTIFY must not stop the listener.
			continue
		}
		fn(changes.Change{Seq: m.Seq, Kind: changes.Kind(m.Kind), Key: m.Key}, time.UnixMicro(m.At))
	}
}
