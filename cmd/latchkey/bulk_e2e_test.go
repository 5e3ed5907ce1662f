package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

func TestBulkJobSurvivesKill(t *testing.T) { forEachBackend(t, testBulkJobSurvivesKill) }

// testBulkJobSurvivesKill queues a deactivation of 400 clients with the
// CLI, SIGKILLs the real serve process once some are done, starts it
// again, and checks the job finishes with every client deactivated
// exactly once: one audit event each.
func testBulkJobSurvivesKill(t *testing.T, db database) {
	s := newSandbox(t)
	dbURL := db.env["LATCHKEY_DATABASE_URL"]
	if filepath.IsAbs(dbURL) {
		dbURL = filepath.Join(s.dir, "latchkey.db")
	}
	s.env = append(s.env, "LATCHKEY_DATABASE_URL="+dbURL)
	if k := db.env["LATCHKEY_SECRET_KEY"]; k != "" {
		s.env = append(s.env, "LATCHKEY_SECRET_KEY="+k)
	}
	srv := startBinary(t, s)

	ctx := context.Background()
	st, err := store.OpenExisting(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tenant, err := st.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc := &client.Service{Repo: st}
	const n = 400
	for i := range n {
		if _, _, err := svc.Create(ctx, client.SystemActor(tenant.ID), client.CreateParams{
			Name: fmt.Sprintf("Fleet %03d", i), GrantTypes: []client.GrantType{client.GrantClientCredentials}}); err != nil {
			t.Fatal(err)
		}
	}
	r := s.run("", "bulk", "deactivate", "--search", "Fleet", "--dry-run", "--json")
	r.expect(t, "bulk dry run", 0)
	var dry struct{ Total int }
	if err := json.Unmarshal([]byte(r.stdout), &dry); err != nil || dry.Total != n {
		t.Fatalf("dry run: %s %v", r.stdout, err)
	}
	r = s.run("", "bulk", "deactivate", "--search", "Fleet", "--yes", "--json")
	r.expect(t, "bulk deactivate --yes", 0)
	var queued struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &queued); err != nil || queued.ID == "" {
		t.Fatalf("bulk deactivate printed %s: %v", r.stdout, err)
	}
	jobs := st.(bulk.Store)
	job := func() *bulk.Job {
		t.Helper()
		j, err := jobs.BulkJob(ctx, queued.ID)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	// Kill the server as soon as it has done some clients.
	deadline := time.Now().Add(60 * time.Second)
	for job().Done < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("the job made no progress: %+v", job())
		}
		time.Sleep(2 * time.Millisecond)
	}
	srv.cmd.Process.Kill()
	srv.cmd.Wait()
	mid := job()
	if mid.State != bulk.Running || mid.Done == 0 || mid.Done >= n {
		t.Fatalf("after the kill: %s %d/%d: kill it earlier", mid.State, mid.Done, mid.Total)
	}

	startBinary(t, s)
	deadline = time.Now().Add(90 * time.Second)
	for job().State != bulk.Succeeded {
		if time.Now().After(deadline) {
			t.Fatalf("not resumed: %+v", job())
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := job()
	if end.Done != n || end.Failed != 0 || end.Total != n {
		t.Fatalf("end: %d/%d done, %d failed", end.Done, end.Total, end.Failed)
	}
	evs, err := st.AuditEvents(ctx, tenant.ID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, e := range evs {
		if e.Action == client.ActionDeactivated && e.Details["bulk_job"] == queued.ID {
			per[e.TargetID]++
		}
	}
	if len(per) != n {
		t.Errorf("%d clients deactivated by the job, want %d", len(per), n)
	}
	for id, k := range per {
		if k != 1 {
			t.Errorf("%s deactivated %d times", id, k)
		}
	}
	r = s.run("", "bulk", "status", queued.ID)
	r.expect(t, "bulk status", 0, "succeeded", fmt.Sprintf("%d/%d done", n, n))
	t.Logf("killed at %d of %d done; resumed and finished", mid.Done, n)
}
