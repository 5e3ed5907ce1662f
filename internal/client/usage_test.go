package client_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// usageRepo records what a flush writes, and fails on demand.
type usageRepo struct {
	client.Repository // only the three methods below are called
	mu                sync.Mutex
	uses              [][]client.Use
	acts              [][]client.Activity
	counts            [][]client.TokenCount
	failUses          bool
	failActs          bool
	// failCounts fails the next AddTokenCounts calls, counting down.
	failCounts int
}

var errWrite = errors.New("write failed")

func (r *usageRepo) RecordUse(_ context.Context, uses []client.Use) error {
	if r.failUses {
		return errWrite
	}
	r.uses = append(r.uses, uses)
	return nil
}

func (r *usageRepo) RecordActivity(_ context.Context, acts []client.Activity) error {
	if r.failActs {
		return errWrite
	}
	slices.SortFunc(acts, func(a, b client.Activity) int { return strings.Compare(a.ClientID, b.ClientID) })
	r.acts = append(r.acts, acts)
	return nil
}

func (r *usageRepo) AddTokenCounts(_ context.Context, counts []client.TokenCount) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failCounts > 0 {
		r.failCounts--
		return errWrite
	}
	slices.SortFunc(counts, func(a, b client.TokenCount) int {
		return cmp.Or(strings.Compare(a.ClientID, b.ClientID), a.Day.Compare(b.Day))
	})
	r.counts = append(r.counts, counts)
	return nil
}

// total sums every count written, by client.
func (r *usageRepo) total() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for _, batch := range r.counts {
		for _, c := range batch {
			out[c.ClientID] += c.Tokens
		}
	}
	return out
}

// issued is a client as the token endpoint knows it.
func issued(id string) *client.Client {
	return &client.Client{ID: id, TenantID: "ten_a", DivisionID: "home"}
}

func TestUsageRecorderCoalescesActivity(t *testing.T) {
	repo := &usageRepo{}
	u := &client.UsageRecorder{Repo: repo}
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	u.RecordAuthorization("a", client.Authorization{At: t2, UserID: "usr_late", RedirectURI: "https://a/cb"})
	u.RecordAuthorization("a", client.Authorization{At: t1, UserID: "usr_early"}) // older: ignored
	u.RecordToken(issued("a"), client.GrantRefreshToken, t1)
	u.RecordToken(issued("a"), client.GrantAuthorizationCode, t2)
	u.RecordToken(issued("b"), client.GrantClientCredentials, t1)
	u.Record("b", "sec_1", "192.0.2.1", t1)
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(repo.uses) != 1 || len(repo.acts) != 1 {
		t.Fatalf("writes: %d uses, %d activities; want one of each", len(repo.uses), len(repo.acts))
	}
	acts := repo.acts[0]
	if len(acts) != 2 || acts[0].ClientID != "a" || acts[1].ClientID != "b" {
		t.Fatalf("activities %+v", acts)
	}
	if a := acts[0]; a.Authorization == nil || a.Authorization.UserID != "usr_late" || a.Token == nil ||
		a.Token.Grant != client.GrantAuthorizationCode || !a.Token.At.Equal(t2) {
		t.Errorf("a: %+v %+v", a.Authorization, a.Token)
	}
	if b := acts[1]; b.Authorization != nil || b.Token == nil || b.Token.Grant != client.GrantClientCredentials {
		t.Errorf("b: %+v %+v", b.Authorization, b.Token)
	}
	// Nothing pending: the next flush writes nothing.
	if err := u.Flush(context.Background()); err != nil || len(repo.uses) != 1 || len(repo.acts) != 1 {
		t.Fatalf("an empty flush wrote: %v %d %d", err, len(repo.uses), len(repo.acts))
	}
}

func TestUsageRecorderKeepsWhatFailed(t *testing.T) {
	tests := []struct {
		name               string
		failUses, failActs bool
		wantUses, wantActs int // writes that succeed on the retry
	}{
		{"activity fails", false, true, 0, 1},
		{"uses fail", true, false, 1, 0},
		{"both fail", true, true, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := &usageRepo{failUses: tt.failUses, failActs: tt.failActs}
			u := &client.UsageRecorder{Repo: repo}
			u.Record("a", "", "", t0)
			u.RecordAuthorization("a", client.Authorization{At: t0, UserID: "usr_1"})
			u.RecordToken(issued("a"), client.GrantAuthorizationCode, t0)
			if err := u.Flush(context.Background()); !errors.Is(err, errWrite) {
				t.Fatalf("flush: %v, want the write's error", err)
			}
			// A newer token arrives before the retry: the later one wins.
			u.RecordToken(issued("a"), client.GrantRefreshToken, t0.Add(time.Second))
			before := [2]int{len(repo.uses), len(repo.acts)}
			repo.failUses, repo.failActs = false, false
			if err := u.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := [2]int{len(repo.uses) - before[0], len(repo.acts) - before[1]}; got != [2]int{tt.wantUses, 1} {
				t.Fatalf("retry wrote %v, want [%d 1]", got, tt.wantUses)
			}
			last := repo.acts[len(repo.acts)-1][0]
			if last.Token == nil || last.Token.Grant != client.GrantRefreshToken {
				t.Errorf("token %+v, want the later refresh_token", last.Token)
			}
			if (last.Authorization != nil) != (tt.wantActs == 1) {
				t.Errorf("authorization %+v kept: want %v", last.Authorization, tt.wantActs == 1)
			}
		})
	}
}

// Tokens are counted per client and UTC day, whatever the zone of the
// time they were issued at, with the client's tenant and division.
func TestUsageRecorderCountsTokens(t *testing.T) {
	repo := &usageRepo{}
	u := &client.UsageRecorder{Repo: repo}
	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	east := time.FixedZone("UTC+5", 5*3600)
	a := &client.Client{ID: "a", TenantID: "ten_a", DivisionID: "d1"}
	b := &client.Client{ID: "b", TenantID: "ten_b"} // no division: the home one
	u.RecordToken(a, client.GrantClientCredentials, midnight.Add(-time.Nanosecond))
	u.RecordToken(a, client.GrantClientCredentials, midnight.Add(-time.Hour).In(east)) // 04:00 on the 2nd there
	u.RecordToken(a, client.GrantClientCredentials, midnight)
	u.RecordToken(a, client.GrantRefreshToken, midnight.Add(24*time.Hour-time.Nanosecond))
	u.RecordToken(b, client.GrantClientCredentials, midnight.Add(time.Hour))
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []client.TokenCount{
		{ClientID: "a", TenantID: "ten_a", DivisionID: "d1", Day: midnight.AddDate(0, 0, -1), Tokens: 2},
		{ClientID: "a", TenantID: "ten_a", DivisionID: "d1", Day: midnight, Tokens: 2},
		{ClientID: "b", TenantID: "ten_b", DivisionID: "home", Day: midnight, Tokens: 1},
	}
	if len(repo.counts) != 1 || !slices.Equal(repo.counts[0], want) {
		t.Fatalf("counts written: %+v, want %+v", repo.counts, want)
	}
	// Counted and written: the next flush starts from nothing.
	u.RecordToken(b, client.GrantClientCredentials, midnight.Add(2*time.Hour))
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(repo.counts) != 2 || !slices.Equal(repo.counts[1], []client.TokenCount{
		{ClientID: "b", TenantID: "ten_b", DivisionID: "home", Day: midnight, Tokens: 1}}) {
		t.Fatalf("second flush: %+v", repo.counts[1:])
	}
	if err := u.Flush(context.Background()); err != nil || len(repo.counts) != 2 {
		t.Fatalf("an empty flush wrote counts: %v %+v", err, repo.counts[2:])
	}
}

// A failed write of the counts puts them back, added to what was counted
// meanwhile: the retry writes each token once.
func TestUsageRecorderPutsCountsBack(t *testing.T) {
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	midnight := day.Truncate(24 * time.Hour)
	for _, meanwhile := range []bool{false, true} {
		t.Run(fmt.Sprintf("counted meanwhile %v", meanwhile), func(t *testing.T) {
			repo := &usageRepo{failCounts: 1}
			u := &client.UsageRecorder{Repo: repo}
			a := &client.Client{ID: "a", TenantID: "ten_a", DivisionID: "d1"}
			for range 3 {
				u.RecordToken(a, client.GrantClientCredentials, day)
			}
			u.RecordToken(issued("b"), client.GrantClientCredentials, day)
			if err := u.Flush(context.Background()); !errors.Is(err, errWrite) {
				t.Fatalf("flush: %v, want the write's error", err)
			}
			want := []client.TokenCount{
				{ClientID: "a", TenantID: "ten_a", DivisionID: "d1", Day: midnight, Tokens: 3},
				{ClientID: "b", TenantID: "ten_a", DivisionID: "home", Day: midnight, Tokens: 1},
			}
			if meanwhile {
				// The client moved to d2 before its next token: the
				// count keeps the later division.
				moved := &client.Client{ID: "a", TenantID: "ten_a", DivisionID: "d2"}
				u.RecordToken(moved, client.GrantClientCredentials, day)
				u.RecordToken(issued("c"), client.GrantClientCredentials, day.Add(24*time.Hour))
				want[0].DivisionID, want[0].Tokens = "d2", 4
				want = append(want, client.TokenCount{ClientID: "c", TenantID: "ten_a", DivisionID: "home",
					Day: midnight.AddDate(0, 0, 1), Tokens: 1})
			}
			if err := u.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(repo.counts) != 1 || !slices.Equal(repo.counts[0], want) {
				t.Fatalf("retry wrote %+v, want %+v", repo.counts, want)
			}
			if err := u.Flush(context.Background()); err != nil || len(repo.counts) != 1 {
				t.Fatalf("a third flush wrote again: %v %+v", err, repo.counts[1:])
			}
		})
	}
}

// Tokens recorded while flushes run and fail are all written, once.
func TestUsageRecorderCountsUnderConcurrency(t *testing.T) {
	repo := &usageRepo{}
	u := &client.UsageRecorder{Repo: repo}
	const workers, each = 4, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := issued(fmt.Sprint("c", w))
			for i := range each {
				u.RecordToken(c, client.GrantClientCredentials, t0.Add(time.Duration(i)*time.Minute))
			}
		})
	}
	var flushErrs int
	for i := range 50 {
		repo.mu.Lock()
		repo.failCounts = i % 2 // every other flush fails
		repo.mu.Unlock()
		if u.Flush(context.Background()) != nil {
			flushErrs++
		}
	}
	wg.Wait()
	repo.mu.Lock()
	repo.failCounts = 0
	repo.mu.Unlock()
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		if got := repo.total()[fmt.Sprint("c", w)]; got != each {
			t.Errorf("c%d: %d tokens written, want %d", w, got, each)
		}
	}
	t.Logf("%d of 50 flushes failed", flushErrs)
}

// BenchmarkRecordToken is the token endpoint's cost of counting: one map
// update under the recorder's mutex. Once every client has been counted
// that day it allocates nothing.
func BenchmarkRecordToken(b *testing.B) {
	u := &client.UsageRecorder{Repo: &usageRepo{}}
	clients := make([]*client.Client, 1024)
	for i := range clients {
		clients[i] = &client.Client{ID: fmt.Sprintf("lkc_%020d", i), TenantID: "ten_a", DivisionID: "home"}
		u.RecordToken(clients[i], client.GrantClientCredentials, t0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u.RecordToken(clients[i%len(clients)], client.GrantClientCredentials, t0.Add(time.Duration(i)))
		i++
	}
}

// BenchmarkRecordTokenAcrossFlushes records as traffic does, with a flush
// every 10,000 tokens: the recorder reuses its maps, so RecordToken stays
// free of allocations from one flush to the next, and what allocates is
// the flushes' batches, some bytes a token amortized.
func BenchmarkRecordTokenAcrossFlushes(b *testing.B) {
	u := &client.UsageRecorder{Repo: discardRepo{}}
	clients := make([]*client.Client, 1024)
	for i := range clients {
		clients[i] = &client.Client{ID: fmt.Sprintf("lkc_%020d", i), TenantID: "ten_a", DivisionID: "home"}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u.RecordToken(clients[i%len(clients)], client.GrantClientCredentials, t0)
		if i++; i%10_000 == 0 {
			if err := u.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// discardRepo writes nothing and never fails.
type discardRepo struct{ client.Repository }

func (discardRepo) RecordActivity(context.Context, []client.Activity) error   { return nil }
func (discardRepo) AddTokenCounts(context.Context, []client.TokenCount) error { return nil }

func TestUsageRecorderKeepsTheLatestUsesAddress(t *testing.T) {
	repo := &usageRepo{}
	u := &client.UsageRecorder{Repo: repo}
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	u.Record("a", "sec_1", "192.0.2.2", t2)
	u.Record("a", "sec_1", "192.0.2.1", t1) // older: its address is not kept
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []client.Use{{ClientID: "a", SecretID: "sec_1", At: t2, Addr: "192.0.2.2"}}
	if len(repo.uses) != 1 || !slices.Equal(repo.uses[0], want) {
		t.Fatalf("uses %+v, want %+v", repo.uses, want)
	}
}
