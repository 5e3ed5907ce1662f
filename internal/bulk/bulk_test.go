package bulk_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testpg"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type world struct {
	t       *testing.T
	st      store.Store
	now     time.Time
	clients *client.Service
	bulk    *bulk.Service
	sealer  *bulk.Sealer
	admin   authz.Actor
	tenant  string
	// path is the SQLite database file; "" on PostgreSQL.
	path string
}

// backends runs fn on SQLite and, when its URL is set, PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, w *world)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "l.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := newWorld(t, db)
		w.path = path
		fn(t, w)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := postgres.Open(context.Background(), testpg.Database(t, "bulk"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		fn(t, newWorld(t, db))
	})
}

func newWorld(t *testing.T, st store.Store) *world {
	t.Helper()
	tenant := fmt.Sprintf("ten_%d", time.Now().UnixNano())
	if err := st.CreateTenant(t.Context(), &account.Tenant{ID: tenant, Name: "Acme", Slug: "acme" + tenant[4:], CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, st: st, now: t0, tenant: tenant,
		admin: authz.Actor{Kind: authz.KindUser, ID: "usr_admin", Name: "claire@example.com", TenantID: tenant,
			Roles: []string{authz.SuperAdmin}}}
	clock := func() time.Time { return w.now }
	w.clients = &client.Service{Repo: st, Now: clock}
	sealer, err := bulk.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	w.sealer = sealer
	w.bulk = &bulk.Service{Store: st.(bulk.Store), Clients: w.clients, Sealer: sealer, Now: clock}
	return w
}

func (w *world) create(n int, name string) []string {
	w.t.Helper()
	var ids []string
	for i := range n {
		c, _, err := w.clients.Create(w.t.Context(), w.admin, client.CreateParams{Name: fmt.Sprintf("%s %03d", name, i),
			GrantTypes: []client.GrantType{client.GrantClientCredentials}})
		if err != nil {
			w.t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

func (w *world) runner(owner string) *bulk.Runner {
	return &bulk.Runner{Store: w.st.(bulk.Store), Clients: w.clients, Sealer: w.sealer, Owner: owner,
		Now: func() time.Time { return w.now }}
}

// events counts the audit events of each target with action.
func (w *world) events(action string) map[string]int {
	w.t.Helper()
	evs, err := w.st.AuditEvents(w.t.Context(), w.tenant, 0, 100000)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		if e.Action == action {
			out[e.TargetID]++
		}
	}
	return out
}

func (w *world) dryRun(op bulk.Op, q client.ListQuery, p bulk.Params) []bulk.Change {
	w.t.Helper()
	var out []bulk.Change
	n, err := w.bulk.Match(w.t.Context(), w.admin, op, q, p, func(c bulk.Change) error { out = append(out, c); return nil })
	if err != nil || n != len(out) {
		w.t.Fatalf("dry run = %d, %v", n, err)
	}
	return out
}

// A runner stopped mid-job (its context ends after some clients, as a
// killed process would) leaves the job to another runner once its lease
// expires, which finishes it without changing any client twice.
func TestResumeDoesNoClientTwice(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		ids := w.create(45, "Old")
		w.create(3, "Kept") // matched by no filter below: already inactive
		for _, id := range ids[40:] {
			if _, err := w.clients.SetStatus(t.Context(), w.admin, id, client.StatusInactive, false); err != nil {
				t.Fatal(err)
			}
		}
		q := client.ListQuery{Search: "Old", Status: client.StatusActive}
		dry := w.dryRun(bulk.Deactivate, q, bulk.Params{})
		if len(dry) != 40 || dry[0].Change != "status active → inactive" {
			t.Fatalf("dry run = %d %+v", len(dry), dry[:1])
		}
		if got := len(w.events(client.ActionDeactivated)); got != 5 {
			t.Fatalf("the dry run wrote: %d deactivations", got)
		}
		if _, err := w.bulk.Create(t.Context(), w.admin, bulk.Deactivate, q, bulk.Params{}, 39); err == nil {
			t.Fatal("a job confirmed for the wrong count was created")
		}
		j, err := w.bulk.Create(t.Context(), w.admin, bulk.Deactivate, q, bulk.Params{}, 40)
		if err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		var changed atomic.Int32
		w.clients.OnChange = func(string) {
			if changed.Add(1) == 13 {
				cancel()
			}
		}
		if _, err := w.runner("a").RunOnce(ctx); err == nil {
			t.Fatal("the interrupted runner finished")
		}
		w.clients.OnChange = nil
		mid, err := w.bulk.Job(t.Context(), w.admin, j.ID)
		if err != nil || mid.State != bulk.Running || mid.Done != 13 {
			t.Fatalf("after the kill: %+v, %v", mid, err)
		}
		// The lease is still a's: b waits for it to expire.
		if ran, err := w.runner("b").RunOnce(t.Context()); ran || err != nil {
			t.Fatalf("b took a leased job: %v %v", ran, err)
		}
		w.now = w.now.Add(time.Minute)
		if ran, err := w.runner("b").RunOnce(t.Context()); !ran || err != nil {
			t.Fatalf("b resumed: %v %v", ran, err)
		}
		end, err := w.bulk.Job(t.Context(), w.admin, j.ID)
		if err != nil || end.State != bulk.Succeeded || end.Done != 40 || end.Failed != 0 || end.Total != 40 {
			t.Fatalf("end: %+v, %v", end, err)
		}
		got := w.events(client.ActionDeactivated)
		for _, c := range dry {
			if got[c.ClientID] != 1 {
				t.Errorf("%s deactivated %d times", c.ClientID, got[c.ClientID])
			}
		}
		if len(got) != 45 {
			t.Errorf("%d clients deactivated, want 40 by the job and 5 before", len(got))
		}
		if n := w.events(bulk.ActionStarted)[j.ID] + w.events(bulk.ActionFinished)[j.ID]; n != 2 {
			t.Errorf("job events = %d, want started and finished", n)
		}
		evs, _ := w.st.AuditEvents(t.Context(), w.tenant, 0, 100000)
		for _, e := range evs {
			if e.Action == client.ActionDeactivated && e.TargetID == dry[0].ClientID && e.Details["bulk_job"] != j.ID {
				t.Errorf("the client's event does not name the job: %v", e.Details)
			}
		}
	})
}

// A rotation over a tenant whose policy caps secret lifetimes stops at
// the first client whose new secret would last too long.
func TestStopsAtFirstPolicyFailure(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		w.create(5, "Rot")
		err := w.st.InTx(t.Context(), func(tx client.Tx) error {
			return tx.SavePolicy(t.Context(), &client.Policy{TenantID: w.tenant, MaxSecretLifetime: 30 * 24 * time.Hour})
		})
		if err != nil {
			t.Fatal(err)
		}
		p := bulk.Params{Lifetime: 90 * 24 * time.Hour}
		j, err := w.bulk.Create(t.Context(), w.admin, bulk.Rotate, client.ListQuery{Search: "Rot"}, p, 5)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.runner("a").RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		end, _ := w.bulk.Job(t.Context(), w.admin, j.ID)
		if end.State != bulk.Failed || end.Done != 0 || end.Failed != 1 {
			t.Fatalf("end: %+v", end)
		}
		items, err := w.st.(bulk.Store).BulkItems(t.Context(), j.ID, bulk.ItemFailed, 0, 10)
		if err != nil || len(items) != 1 || !strings.Contains(items[0].Detail, "max_secret_lifetime") {
			t.Fatalf("failed items = %+v, %v", items, err)
		}
		if n := len(w.events(client.ActionSecretRotated)); n != 0 {
			t.Fatalf("%d rotations", n)
		}
	})
}

func TestCancel(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		w.create(3, "Gone")
		j, err := w.bulk.Create(t.Context(), w.admin, bulk.Delete, client.ListQuery{Search: "Gone"}, bulk.Params{}, 3)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := w.bulk.Cancel(t.Context(), w.admin, j.ID); err != nil || c.State != bulk.Stopping {
			t.Fatalf("cancel = %+v, %v", c, err)
		}
		if _, err := w.runner("a").RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		end, _ := w.bulk.Job(t.Context(), w.admin, j.ID)
		if end.State != bulk.Stopped || end.Done != 0 {
			t.Fatalf("end: %+v", end)
		}
		if n := len(w.events(client.ActionDeleted)); n != 0 {
			t.Fatalf("%d deleted after cancel", n)
		}
	})
}

// A rotation's new secrets are downloaded once; each authenticates its
// client.
func TestRotateResultOnce(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		ids := w.create(3, "Rot")
		j, err := w.bulk.Create(t.Context(), w.admin, bulk.Rotate, client.ListQuery{Search: "Rot"}, bulk.Params{}, 3)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.bulk.Result(t.Context(), w.admin, j.ID); err == nil {
			t.Fatal("a result before the job ran")
		}
		if _, err := w.runner("a").RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		sealedCount := func() int {
			if w.path == "" {
				return 3
			}
			raw, err := sql.Open("sqlite", w.path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			var n int
			if err := raw.QueryRow(`SELECT count(*) FROM bulk_job_items WHERE job_id = ? AND sealed IS NOT NULL`, j.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := sealedCount(); n != 3 {
			t.Fatalf("%d sealed secrets before the download, want 3", n)
		}
		res, err := w.bulk.Result(t.Context(), w.admin, j.ID)
		if err != nil || len(res) != 3 {
			t.Fatalf("result = %d, %v", len(res), err)
		}
		if n := sealedCount(); w.path != "" && n != 0 {
			t.Fatalf("%d sealed secrets left after the download", n)
		}
		if w.path != "" {
			// No plaintext anywhere in the database, its log included.
			for _, f := range []string{w.path, w.path + "-wal"} {
				b, _ := os.ReadFile(f)
				for _, s := range res {
					if bytes.Contains(b, []byte(s.Secret)) {
						t.Fatalf("%s holds the plaintext secret of %s", f, s.ClientID)
					}
				}
			}
		}
		for i, s := range res {
			if !slices.Contains(ids, s.ClientID) || !strings.HasPrefix(s.Secret, "lks_") || s.ExpiresAt == nil {
				t.Fatalf("secret %d = %s %v", i, s.ClientID, s.ExpiresAt)
			}
			_, secrets, err := w.clients.Get(t.Context(), w.admin, s.ClientID)
			if err != nil || len(secrets) != 2 || !secrets[0].ExpiresAt.Equal(*s.ExpiresAt) {
				t.Fatalf("the new secret of %s: %+v, %v", s.ClientID, secrets, err)
			}
		}
		if _, err := w.bulk.Result(t.Context(), w.admin, j.ID); !errors.Is(err, bulk.ErrDelivered) {
			t.Fatalf("second download = %v", err)
		}
	})
}
