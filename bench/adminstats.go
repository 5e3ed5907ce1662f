package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

// The admin benchmark's dashboard step times the console's start page
// reads on the loaded fleet: client.Service.Stats, tenant-wide and for an
// admin of one division (the fleet's, so the division filter meets every
// client), and TokenVolume of one client. Before them it adds daily token
// counts for some clients through the usage flush's write
// (AddTokenCounts), and times that write too.

// Token history the step adds: tokenClients clients, each counted on
// every one of the last client.MaxTokenVolumeDays days, in flushes of
// flushBatch counts.
const (
	tokenClients = 2000
	flushBatch   = 10_000
)

// statResult is one timed dashboard read.
type statResult struct {
	name  string
	note  string // what it returned, to check by eye
	times []time.Duration
	err   error
	write bool // the flush's write, which no reader waits for
}

// timeDashboard adds the token history and times the dashboard's reads,
// o.warmup and o.requests times each, on the fleet of tenantID as of now.
// The middle client is among those counted.
func timeDashboard(ctx context.Context, st store.Store, tenantID, middleID string, o adminOptions, now time.Time,
	stderr io.Writer) ([]*statResult, error) {
	flush, err := addTokenHistory(ctx, st, tenantID, middleID, now)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "token history added; timing the dashboard ...\n")
	svc := &client.Service{Repo: st, Now: func() time.Time { return now }}
	tenant := client.SystemActor(tenantID)
	division := client.Actor{Kind: authz.KindUser, ID: "usr_bench", TenantID: tenantID, Roles: []string{authz.Viewer + "@" + authz.HomeDivision}}
	stats := func(a client.Actor) func() (string, error) {
		return func() (string, error) {
			s, err := svc.Stats(ctx, a)
			if err != nil {
				return "", err
			}
			var tokens int64
			for _, d := range s.TokensDaily {
				tokens += d.Tokens
			}
			return fmt.Sprintf("total %d, active %d, expired %d, soon %d, tokens %d",
				s.Total, s.ByStatus[client.StatusActive], s.Expired, s.ExpiringSoon, tokens), nil
		}
	}
	volume := func(days int) func() (string, error) {
		return func() (string, error) {
			v, err := svc.TokenVolume(ctx, tenant, middleID, days)
			if err != nil {
				return "", err
			}
			var tokens int64
			for _, d := range v {
				tokens += d.Tokens
			}
			return fmt.Sprintf("%d days, %d tokens", len(v), tokens), nil
		}
	}
	results := []*statResult{flush}
	for _, r := range []struct {
		name string
		read func() (string, error)
	}{
		{"Stats, tenant-wide", stats(tenant)},
		{"Stats, one division's admin", stats(division)},
		{"TokenVolume, 30 days", volume(30)},
		{"TokenVolume, 90 days", volume(client.MaxTokenVolumeDays)},
	} {
		res := &statResult{name: r.name}
		for i := range o.warmup + o.requests {
			start := time.Now()
			note, err := r.read()
			d := time.Since(start)
			if err != nil {
				res.err = err
				break
			}
			if i >= o.warmup {
				res.times = append(res.times, d)
			}
			res.note = note
		}
		results = append(results, res)
	}
	return results, nil
}

// addTokenHistory counts tokens for the last MaxTokenVolumeDays days for
// tokenClients of the tenant's newest clients and the middle one, through
// AddTokenCounts in flushes of flushBatch, and returns the flushes'
// times.
func addTokenHistory(ctx context.Context, st store.Store, tenantID, middleID string, now time.Time) (*statResult, error) {
	page, err := st.ListClients(ctx, client.ListQuery{TenantID: tenantID, Sort: client.SortCreatedAt, Desc: true,
		Limit: client.MaxListLimit})
	if err != nil {
		return nil, err
	}
	ids := []string{middleID}
	for len(ids) < tokenClients && page != nil {
		for _, c := range page.Clients {
			if c.ID != middleID && len(ids) < tokenClients {
				ids = append(ids, c.ID)
			}
		}
		if page.Next == "" {
			break
		}
		page, err = st.ListClients(ctx, client.ListQuery{TenantID: tenantID, Sort: client.SortCreatedAt, Desc: true,
			Limit: client.MaxListLimit, After: page.Next})
		if err != nil {
			return nil, err
		}
	}
	today := now.UTC().Truncate(24 * time.Hour)
	res := &statResult{name: "AddTokenCounts, " + strconv.Itoa(flushBatch) + " counts", write: true}
	var batch []client.TokenCount
	write := func() error {
		start := time.Now()
		err := st.AddTokenCounts(ctx, batch)
		res.times = append(res.times, time.Since(start))
		batch = batch[:0]
		return err
	}
	for i, id := range ids {
		for d := range client.MaxTokenVolumeDays {
			batch = append(batch, client.TokenCount{ClientID: id, TenantID: tenantID, DivisionID: authz.HomeDivision,
				Day: today.AddDate(0, 0, -d), Tokens: int64(1 + (i+d)%50)})
			if len(batch) == flushBatch {
				if err := write(); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(batch) > 0 {
		if err := write(); err != nil {
			return nil, err
		}
	}
	res.note = fmt.Sprintf("%d clients × %d days in %d flushes", len(ids), client.MaxTokenVolumeDays, len(res.times))
	return res, nil
}

// printDashboard prints one backend's dashboard table.
func printDashboard(w io.Writer, results []*statResult) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintln(w, "\ndashboard reads (client.Service in this process)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "read\tp50\tp95\tresult\t")
	for _, r := range results {
		note := r.note
		if r.err != nil {
			note = "error: " + r.err.Error()
		}
		worst := flagged(r.times)
		if r.write {
			worst = ms(p95(r.times)) + "  " // a background write: no read budget
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.name, ms(p50(r.times)), worst, note)
	}
	tw.Flush()
}
