package changes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/changes"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// openSQLite returns a migrated store in a new file.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is a settable test clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func revoke(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := st.Revoke(t.Context(), token.Revocation{TokenID: id, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

func keys(b changes.Batch) []string {
	var out []string
	for _, c := range b.Changes {
		out = append(out, string(c.Kind)+":"+c.Key)
	}
	return out
}

func poll(t *testing.T, p *changes.Poller) changes.Batch {
	t.Helper()
	b, err := p.Poll(t.Context())
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return b
}

func TestPollerDeliversChangesAfterStart(t *testing.T) {
	st := openSQLite(t)
	revoke(t, st, "before")
	clk := &clock{t: time.Now()}
	p := &changes.Poller{Log: st, Now: clk.Now}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b := poll(t, p); b.Resync || len(b.Changes) != 0 {
		t.Fatalf("first poll after Start = %+v, want nothing (the change before Start is loaded with the caches)", b)
	}
	revoke(t, st, "a", "b", "c")
	if got, want := keys(poll(t, p)), []string{"revocation:a", "revocation:b", "revocation:c"}; !slices.Equal(got, want) {
		t.Fatalf("poll = %v, want %v", got, want)
	}
	if b := poll(t, p); len(b.Changes) != 0 || b.Resync {
		t.Fatalf("poll with nothing new = %+v", b)
	}
}

func TestPollerReadsPagesOfTheLog(t *testing.T) {
	st := openSQLite(t)
	p := &changes.Poller{Log: st}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// More changes than one read returns.
	var want []string
	err := func() error {
		for i := range 1500 {
			id := fmt.Sprint("jti_", i)
			want = append(want, "revocation:"+id)
			if err := st.Revoke(t.Context(), token.Revocation{TokenID: id, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(poll(t, p)); !slices.Equal(got, want) {
		t.Fatalf("poll returned %d changes, want %d", len(got), len(want))
	}
}

func TestPollerWithoutStartResyncs(t *testing.T) {
	p := &changes.Poller{Log: openSQLite(t)}
	if b := poll(t, p); !b.Resync {
		t.Fatalf("first poll without Start = %+v, want a Resync", b)
	}
	if b := poll(t, p); b.Resync {
		t.Fatal("second poll resynced again")
	}
}

func TestPollerResyncsAfterFallingBehind(t *testing.T) {
	st := openSQLite(t)
	clk := &clock{t: time.Now()}
	p := &changes.Poller{Log: st, Now: clk.Now, Retain: time.Hour}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Minute)
	if b := poll(t, p); b.Resync {
		t.Fatal("resynced after half of Retain")
	}
	clk.Advance(30*time.Minute + time.Second) // pruning may have removed changes since
	revoke(t, st, "a")
	if b := poll(t, p); !b.Resync {
		t.Fatalf("poll after more than half of Retain = %+v, want a Resync", b)
	}
	revoke(t, st, "b")
	if got := keys(poll(t, p)); !slices.Equal(got, []string{"revocation:b"}) {
		t.Fatalf("poll after the Resync = %v, want only what came after it", got)
	}
}

func TestPollerStepResyncsAfterAFailedApply(t *testing.T) {
	st := openSQLite(t)
	p := &changes.Poller{Log: st}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []changes.Batch
	fail := true
	a := changes.ApplierFunc(func(ctx context.Context, b changes.Batch) error {
		got = append(got, b)
		if fail {
			return errors.New("database is down")
		}
		return nil
	})
	revoke(t, st, "a")
	if err := p.Step(t.Context(), a); err == nil {
		t.Fatal("Step hid the Applier's error")
	}
	fail = false
	if err := p.Step(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := p.Step(t.Context(), a); err != nil { // nothing new: not applied
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Resync || !got[1].Resync {
		t.Fatalf("batches applied = %+v; want the change, then a Resync", got)
	}
}

func TestPollerPrunesTheLog(t *testing.T) {
	st := openSQLite(t)
	revoke(t, st, "a", "b", "c")
	// The database stamps rows with its own clock; the poller's runs two
	// hours ahead of it, so every row is past Retain.
	clk := &clock{t: time.Now().Add(2 * time.Hour)}
	p := &changes.Poller{Log: st, Now: clk.Now, Retain: time.Hour}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		cs, err := st.Changes(t.Context(), 0, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	if err := p.Prune(t.Context()); err != nil || count() != 3 {
		t.Fatalf("Prune right after Start: %v, %d rows left; want it to wait a quarter of Retain", err, count())
	}
	clk.Advance(15 * time.Minute)
	if err := p.Prune(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows after pruning, want 1 (the latest is kept)", n)
	}
}

// downLog is a change log whose reads fail while down is set.
type downLog struct {
	changes.Log
	down bool
}

func (l *downLog) Changes(ctx context.Context, after int64, missing []int64, limit int) ([]changes.Change, error) {
	if l.down {
		return nil, errors.New("database is down")
	}
	return l.Log.Changes(ctx, after, missing, limit)
}

func TestPollerLogsStalenessOncePerOutage(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := &downLog{Log: openSQLite(t)}
	p := &changes.Poller{Log: l, Now: clk.Now, Logger: log}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	nothing := changes.ApplierFunc(func(context.Context, changes.Batch) error { return nil })
	step := func() error { clk.Advance(time.Second); return p.Step(t.Context(), nothing) }
	if err := step(); err != nil {
		t.Fatal(err)
	}
	synced := clk.Now()
	l.down = true
	for range 5 {
		if err := step(); err == nil {
			t.Fatal("Step hid the log's error")
		}
	}
	l.down = false
	for range 2 {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	var lines []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, rec)
	}
	if len(lines) != 2 {
		t.Fatalf("five failed Steps and two good ones logged %d lines, want one as staleness began and one as it ended:\n%s", len(lines), buf.String())
	}
	if lines[0]["level"] != "WARN" || !strings.Contains(lines[0]["msg"].(string), "revocation list last loaded (stale)") ||
		lines[0]["loaded_at"] != synced.Format(time.RFC3339Nano) {
		t.Errorf("first line %v, want a warning naming the list stale as loaded at %s", lines[0], synced.Format(time.RFC3339Nano))
	}
	if lines[1]["level"] != "INFO" || lines[1]["stale_for"] != "6s" {
		t.Errorf("second line %v, want the list current again after 6s", lines[1])
	}
}
