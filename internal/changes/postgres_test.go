package changes_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testpg"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/store"
)

// TestPollerSeesTransactionsCommittedOutOfOrder runs two transactions on
// a real PostgreSQL: the first takes a seq, the second takes the next one
// and commits first. A reader that only remembered the highest seq seen
// would skip the first transaction's change; the poller delivers it when
// it commits.
func TestPollerSeesTransactionsCommittedOutOfOrder(t *testing.T) {
	dbURL := testpg.Database(t, "latchkey_changes_")
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &clock{t: time.Now()}
	var logs bytes.Buffer
	p := &changes.Poller{Log: st, Now: clk.Now, Grace: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	begin := func() pgx.Tx {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	revokeIn := func(tx pgx.Tx, id string) {
		if _, err := tx.Exec(ctx, `INSERT INTO revocations (token_id, client_id, expires_at)
			VALUES ($1, 'lkc_x', now() + interval '1 hour')`, id); err != nil {
			t.Fatal(err)
		}
	}
	slow, fast := begin(), begin()
	revokeIn(slow, "jti_slow") // takes seq n
	revokeIn(fast, "jti_fast") // takes seq n+1
	if err := fast.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := poll(t, p)
	if got := keys(b); !slices.Equal(got, []string{"revocation:jti_fast"}) {
		t.Fatalf("first poll = %v, want only the committed change", got)
	}
	high := b.Changes[0].Seq

	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// What a reader of "everything after the highest seq seen" gets:
	if naive, err := st.Changes(ctx, high, nil, 100); err != nil || len(naive) != 0 {
		t.Fatalf("Changes after %d = %v, %v; the late row is below it", high, naive, err)
	}
	clk.Advance(time.Second)
	if got := keys(poll(t, p)); !slices.Equal(got, []string{"revocation:jti_slow"}) {
		t.Fatalf("poll after the late commit = %v, want the late change", got)
	}
	if got := keys(poll(t, p)); len(got) != 0 {
		t.Fatalf("the late change was delivered again: %v", got)
	}

	// A seq whose transaction rolls back is waited for, then given up.
	lost, kept := begin(), begin()
	revokeIn(lost, "jti_lost")
	revokeIn(kept, "jti_kept")
	if err := kept.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lost.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := keys(poll(t, p)); !slices.Equal(got, []string{"revocation:jti_kept"}) {
		t.Fatalf("poll = %v, want the kept change", got)
	}
	clk.Advance(time.Minute + time.Second)
	poll(t, p)
	if !strings.Contains(logs.String(), "gave up waiting for missing changes") {
		t.Fatalf("the rolled-back seq was not given up after the grace period:\n%s", logs.String())
	}
}
