package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// usageRepo records what a flush writes, and fails on demand.
type usageRepo struct {
	client.Repository // only the two methods below are called
	uses              [][]client.Use
	acts              [][]client.Activity
	failUses          bool
	failActs          bool
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

func TestUsageRecorderCoalescesActivity(t *testing.T) {
	repo := &usageRepo{}
	u := &client.UsageRecorder{Repo: repo}
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	u.RecordAuthorization("a", client.Authorization{At: t2, UserID: "usr_late", RedirectURI: "https://a/cb"})
	u.RecordAuthorization("a", client.Authorization{At: t1, UserID: "usr_early"}) // older: ignored
	u.RecordToken("a", client.GrantRefreshToken, t1)
	u.RecordToken("a", client.GrantAuthorizationCode, t2)
	u.RecordToken("b", client.GrantClientCredentials, t1)
	u.Record("b", "sec_1", t1)
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
			u.Record("a", "", t0)
			u.RecordAuthorization("a", client.Authorization{At: t0, UserID: "usr_1"})
			u.RecordToken("a", client.GrantAuthorizationCode, t0)
			if err := u.Flush(context.Background()); !errors.Is(err, errWrite) {
				t.Fatalf("flush: %v, want the write's error", err)
			}
			// A newer token arrives before the retry: the later one wins.
			u.RecordToken("a", client.GrantRefreshToken, t0.Add(time.Second))
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
