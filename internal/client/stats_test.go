package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// statsNow is mid-day, with microseconds, so that every bound falls inside
// a UTC day.
var statsNow = time.Date(2026, 3, 10, 15, 4, 5, 123456000, time.UTC)

const day = 24 * time.Hour

// expiring creates an active client_credentials client in division whose
// secret expires at exp: created lifetime before it.
func (f *fixture) expiring(t *testing.T, name, division string, exp time.Time, lifetime time.Duration) *client.Client {
	t.Helper()
	saved := f.now
	f.now = exp.Add(-lifetime)
	defer func() { f.now = saved }()
	p := cc(name)
	p.DivisionID, p.SecretLifetime = division, lifetime
	c, _, err := f.svc.Create(context.Background(), f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SecretExpiresAt.Equal(exp) {
		t.Fatalf("%s expires at %v, want %v", name, c.SecretExpiresAt, exp)
	}
	return c
}

func (f *fixture) setStatus(t *testing.T, c *client.Client, st client.Status) {
	t.Helper()
	if _, err := f.svc.SetStatus(context.Background(), f.sys, c.ID, st, true); err != nil {
		t.Fatal(err)
	}
}

func TestStatsExpiryWeeks(t *testing.T) {
	f := newFixture(t)
	now := statsNow
	// Each case is one active client; want is its week, or -1 for
	// expired and -2 for beyond the histogram.
	cases := []struct {
		name     string
		exp      time.Time
		lifetime time.Duration
		week     int
		soon     bool
	}{
		{"expired a day ago", now.Add(-day), 30 * day, -1, false},
		{"expired a microsecond ago", now.Add(-time.Microsecond), day, -1, false},
		{"expires now", now, day, 0, true},
		{"expires just before a week", now.Add(7*day - time.Microsecond), 7 * day, 0, true},
		{"expires in exactly a week", now.Add(7 * day), 7 * day, 1, true},
		{"expires just inside 30 days", now.Add(30*day - time.Microsecond), 90 * day, 4, true},
		{"expires in exactly 30 days", now.Add(30 * day), 90 * day, 4, false},
		{"expires in the last week", now.Add(26*7*day - time.Microsecond), 200 * day, 25, false},
		{"expires in exactly 26 weeks", now.Add(26 * 7 * day), 200 * day, -2, false},
	}
	for _, c := range cases {
		f.expiring(t, c.name, "", c.exp, c.lifetime)
	}
	// Not active, never expiring or without a secret: counted by status
	// only.
	f.setStatus(t, f.expiring(t, "inactive", "", now.Add(day), 10*day), client.StatusInactive)
	f.setStatus(t, f.expiring(t, "revoked", "", now.Add(-day), 10*day), client.StatusRevoked)
	f.now = now
	never := cc("never")
	never.SecretLifetime = client.NeverExpires
	public := client.CreateParams{Name: "public", Type: client.Public, GrantTypes: []client.GrantType{client.GrantAuthorizationCode},
		RedirectURIs: []string{"https://app.example/cb"}}
	for _, p := range []client.CreateParams{never, public} {
		if _, _, err := f.svc.Create(context.Background(), f.sys, p); err != nil {
			t.Fatal(err)
		}
	}

	st, err := f.svc.Stats(context.Background(), f.sys)
	if err != nil {
		t.Fatal(err)
	}
	wantWeeks := make([]int64, client.ExpiryWeeks)
	var expired, soon int64
	for _, c := range cases {
		switch {
		case c.week == -1:
			expired++
		case c.week >= 0:
			wantWeeks[c.week]++
		}
		if c.soon {
			soon++
		}
	}
	if !slices.Equal(st.ExpiringWeeks, wantWeeks) {
		t.Errorf("weeks %v, want %v", st.ExpiringWeeks, wantWeeks)
	}
	if st.Expired != expired || st.ExpiringSoon != soon {
		t.Errorf("expired %d, soon %d; want %d, %d", st.Expired, st.ExpiringSoon, expired, soon)
	}
	active := int64(len(cases) + 2)
	want := map[client.Status]int64{client.StatusActive: active, client.StatusInactive: 1, client.StatusRevoked: 1}
	if len(st.ByStatus) != 3 || st.ByStatus[client.StatusActive] != want[client.StatusActive] ||
		st.ByStatus[client.StatusInactive] != 1 || st.ByStatus[client.StatusRevoked] != 1 || st.Total != active+2 {
		t.Errorf("by status %v, total %d; want %v, %d", st.ByStatus, st.Total, want, active+2)
	}
}

// An empty tenant has every status, every week and every day, at zero.
func TestStatsEmpty(t *testing.T) {
	f := newFixture(t)
	f.now = statsNow
	st, err := f.svc.Stats(context.Background(), client.SystemActor("ten_b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ByStatus) != 3 || st.Total != 0 || st.Expired != 0 || st.ExpiringSoon != 0 ||
		len(st.ExpiringWeeks) != client.ExpiryWeeks || slices.ContainsFunc(st.ExpiringWeeks, func(n int64) bool { return n != 0 }) {
		t.Errorf("stats of an empty tenant: %+v", st)
	}
	today := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	if len(st.TokensDaily) != client.FleetTokenDays || !st.TokensDaily[0].Day.Equal(today.AddDate(0, 0, -29)) ||
		!st.TokensDaily[29].Day.Equal(today) {
		t.Fatalf("days %v to %v (%d), want 30 ending %v", st.TokensDaily[0].Day, st.TokensDaily[len(st.TokensDaily)-1].Day,
			len(st.TokensDaily), today)
	}
	for i, d := range st.TokensDaily {
		if d.Tokens != 0 || d.Day.Location() != time.UTC || (i > 0 && d.Day.Sub(st.TokensDaily[i-1].Day) != day) {
			t.Errorf("day %d: %+v", i, d)
		}
	}
}

// Tokens counted by the recorder reach the fleet's days and the client's,
// by UTC day; a deleted client's stay in the fleet's.
func TestStatsTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.create(t, "A", "")
	b := f.create(t, "B", "")
	u := &client.UsageRecorder{Repo: f.db}
	today := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	for _, tk := range []struct {
		c  *client.Client
		at time.Time
		n  int
	}{
		{a, today.Add(-time.Microsecond), 2},         // yesterday, its last microsecond
		{a, today, 3},                                // today, its first
		{b, today.Add(23 * time.Hour), 1},            // today
		{b, today.AddDate(0, 0, -29), 4},             // the fleet's first day
		{b, today.AddDate(0, 0, -30), 8},             // the day before it: left out
		{a, today.Add(-time.Hour).In(time.Local), 1}, // yesterday, whatever the zone
	} {
		for range tk.n {
			u.RecordToken(tk.c, client.GrantClientCredentials, tk.at)
		}
	}
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.now = today.Add(12 * time.Hour)
	st, err := f.svc.Stats(ctx, f.sys)
	if err != nil {
		t.Fatal(err)
	}
	tokens := func(days []client.DayCount) []int64 {
		out := make([]int64, len(days))
		for i, d := range days {
			out[i] = d.Tokens
		}
		return out
	}
	want := make([]int64, 30)
	want[0], want[28], want[29] = 4, 3, 4
	if got := tokens(st.TokensDaily); !slices.Equal(got, want) {
		t.Errorf("fleet days %v, want %v", got, want)
	}
	vol, err := f.svc.TokenVolume(ctx, f.sys, a.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := tokens(vol); !slices.Equal(got, []int64{0, 3, 3}) || !vol[2].Day.Equal(today) {
		t.Errorf("a's 3 days %v ending %v, want [0 3 3] ending %v", got, vol[2].Day, today)
	}
	vol, err = f.svc.TokenVolume(ctx, f.sys, b.ID, client.MaxTokenVolumeDays)
	if err != nil || len(vol) != 90 || vol[89].Tokens != 1 || vol[60].Tokens != 4 || vol[59].Tokens != 8 {
		t.Errorf("b's 90 days: %v, %v", vol, err)
	}
	// At midnight the window moves on a day.
	f.now = today.AddDate(0, 0, 1)
	if vol, err := f.svc.TokenVolume(ctx, f.sys, a.ID, 2); err != nil || !slices.Equal(tokens(vol), []int64{3, 0}) {
		t.Errorf("a's 2 days after midnight: %v, %v", vol, err)
	}

	// b goes; the fleet's days keep its tokens.
	if err := f.svc.Delete(ctx, f.sys, b.ID); err != nil {
		t.Fatal(err)
	}
	f.now = today.Add(12 * time.Hour)
	if st, err := f.svc.Stats(ctx, f.sys); err != nil || !slices.Equal(tokens(st.TokensDaily), want) {
		t.Errorf("fleet days after a delete: %v, %v", st, err)
	}
	if _, err := f.svc.TokenVolume(ctx, f.sys, b.ID, 7); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("TokenVolume of a deleted client: %v", err)
	}
}

// An admin of some divisions sees the figures of those divisions, never
// the tenant's: statuses, expiry, and the tokens issued in them.
func TestStatsDivisions(t *testing.T) {
	f := newFixture(t)
	f.withDivisions(t)
	ctx := context.Background()
	now := statsNow
	mine := f.expiring(t, "Mine", "d1", now.Add(-day), 10*day)
	f.expiring(t, "Mine too", "d1", now.Add(3*day), 10*day)
	theirs := f.expiring(t, "Theirs", "d2", now.Add(-2*day), 10*day)
	f.expiring(t, "Theirs too", "d2", now.Add(day), 10*day)
	home := f.expiring(t, "Home", "", now.Add(10*day), 20*day)
	f.setStatus(t, theirs, client.StatusInactive)
	u := &client.UsageRecorder{Repo: f.db}
	for c, n := range map[*client.Client]int{mine: 2, theirs: 5, home: 7} {
		for range n {
			u.RecordToken(c, client.GrantClientCredentials, now)
		}
	}
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.now = now
	for _, tc := range []struct {
		name                    string
		roles                   []string
		active, inactive, total int64
		expired, soon, tokens   int64
	}{
		{"viewer of d1", []string{"viewer@d1"}, 2, 0, 2, 1, 1, 2},
		{"viewer of d1 and d2", []string{"viewer@d1", "oauth_admin@d2"}, 3, 1, 4, 1, 2, 7},
		{"viewer everywhere", []string{"viewer"}, 4, 1, 5, 1, 3, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			actor := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: tc.roles}
			st, err := f.svc.Stats(ctx, actor)
			if err != nil {
				t.Fatal(err)
			}
			if st.ByStatus[client.StatusActive] != tc.active || st.ByStatus[client.StatusInactive] != tc.inactive ||
				st.Total != tc.total || st.Expired != tc.expired || st.ExpiringSoon != tc.soon ||
				st.TokensDaily[len(st.TokensDaily)-1].Tokens != tc.tokens {
				t.Errorf("stats %+v; want active %d, inactive %d, total %d, expired %d, soon %d, tokens %d",
					st, tc.active, tc.inactive, tc.total, tc.expired, tc.soon, tc.tokens)
			}
		})
	}

	viewer := client.Actor{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{"viewer@d1"}}
	if vol, err := f.svc.TokenVolume(ctx, viewer, mine.ID, 1); err != nil || len(vol) != 1 || vol[0].Tokens != 2 {
		t.Errorf("TokenVolume of d1's client: %v, %v", vol, err)
	}
	for _, c := range []*client.Client{theirs, home} {
		if _, err := f.svc.TokenVolume(ctx, viewer, c.ID, 1); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("TokenVolume of %s's client: %v, want not found", c.DivisionID, err)
		}
	}
}

func TestStatsPermission(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.create(t, "A", "")
	noView := []client.Actor{
		{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a"},
		{Kind: authz.KindUser, ID: "usr_1", TenantID: "ten_a", Roles: []string{authz.SuperAdmin}, Limit: []authz.Permission{authz.AuditView}},
		{Kind: authz.KindUser, ID: "usr_1", Roles: []string{authz.SuperAdmin}}, // no tenant
	}
	for i, actor := range noView {
		if _, err := f.svc.Stats(ctx, actor); !errors.Is(err, client.ErrForbidden) {
			t.Errorf("actor %d: Stats: %v, want forbidden", i, err)
		}
		if _, err := f.svc.TokenVolume(ctx, actor, c.ID, 7); !errors.Is(err, client.ErrForbidden) {
			t.Errorf("actor %d: TokenVolume: %v, want forbidden", i, err)
		}
	}
	// Another tenant's client, a malformed ID and an unknown one are not
	// found alike.
	for _, id := range []string{c.ID, "not a client id", "lkc_doesnotexist0000000000"} {
		if _, err := f.svc.TokenVolume(ctx, client.SystemActor("ten_b"), id, 7); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("TokenVolume(%q) in another tenant: %v, want not found", id, err)
		}
	}
	for _, days := range []int{0, -1, client.MaxTokenVolumeDays + 1} {
		if _, err := f.svc.TokenVolume(ctx, f.sys, c.ID, days); fields(err) != "days" {
			t.Errorf("days %d: %v, want a field error on days", days, err)
		}
	}
}

// statsRepo fails the statistics' reads on demand.
type statsRepo struct {
	client.Repository
	fleet, days, get error
	short            bool // FleetCounts answers one expiry count too few
}

func (r statsRepo) FleetCounts(ctx context.Context, q client.FleetQuery) (*client.FleetCounts, error) {
	if r.fleet != nil {
		return nil, r.fleet
	}
	fc, err := r.Repository.FleetCounts(ctx, q)
	if err == nil && r.short {
		fc.ExpiringBefore = fc.ExpiringBefore[1:]
	}
	return fc, err
}

func (r statsRepo) ClientTokenDays(ctx context.Context, id string, from, to time.Time) ([]client.DayCount, error) {
	if r.days != nil {
		return nil, r.days
	}
	return r.Repository.ClientTokenDays(ctx, id, from, to)
}

func (r statsRepo) Client(ctx context.Context, id string) (*client.Client, error) {
	if r.get != nil {
		return nil, r.get
	}
	return r.Repository.Client(ctx, id)
}

func TestStatsStoreErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.create(t, "A", "")
	boom := errors.New("store down")
	svc := func(r statsRepo) *client.Service {
		r.Repository = f.db
		return &client.Service{Repo: r, Now: func() time.Time { return statsNow }}
	}
	if _, err := svc(statsRepo{fleet: boom}).Stats(ctx, f.sys); !errors.Is(err, boom) {
		t.Errorf("Stats with FleetCounts failing: %v", err)
	}
	if st, err := svc(statsRepo{short: true}).Stats(ctx, f.sys); err == nil {
		t.Errorf("Stats with expiry counts missing: %+v", st)
	}
	if _, err := svc(statsRepo{days: boom}).TokenVolume(ctx, f.sys, c.ID, 7); !errors.Is(err, boom) {
		t.Errorf("TokenVolume with ClientTokenDays failing: %v", err)
	}
	if _, err := svc(statsRepo{get: boom}).TokenVolume(ctx, f.sys, c.ID, 7); !errors.Is(err, boom) {
		t.Errorf("TokenVolume with Client failing: %v", err)
	}
	if _, err := svc(statsRepo{}).TokenVolume(ctx, f.sys, c.ID, 7); err != nil {
		t.Errorf("TokenVolume through the wrapper: %v", err)
	}
}
