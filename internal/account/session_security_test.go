package account_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
)

// spyRepo counts the writes of session activity and methods, and fails
// what a test asks it to.
type spyRepo struct {
	account.Repository
	mu           sync.Mutex
	touches, txs int
	failTouch    error
	failTx       error
	// beforeTx, when set, runs once before the next transaction.
	beforeTx  func()
	touchedID string
}

func (r *spyRepo) TouchSession(ctx context.Context, id string, at time.Time) error {
	r.mu.Lock()
	r.touches++
	r.touchedID = id
	fail := r.failTouch
	r.mu.Unlock()
	if fail != nil {
		return fail
	}
	return r.Repository.TouchSession(ctx, id, at)
}

func (r *spyRepo) InAccountTx(ctx context.Context, fn func(account.Tx) error) error {
	r.mu.Lock()
	r.txs++
	fail, hook := r.failTx, r.beforeTx
	r.beforeTx = nil
	r.mu.Unlock()
	if hook != nil {
		hook()
	}
	if fail != nil {
		return fail
	}
	return r.Repository.InAccountTx(ctx, fn)
}

func (r *spyRepo) counts() (touches, txs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.touches, r.txs
}

var errDisk = errors.New("store: disk on fire")

// withSpy gives the fixture's services a spying repository.
func withSpy(f *fixture) *spyRepo {
	spy := &spyRepo{Repository: f.db}
	f.sessions.Repo, f.users.Repo = spy, spy
	return spy
}

func newUserAna(t *testing.T, f *fixture) *account.User {
	t.Helper()
	u, err := f.users.Create(context.Background(), f.op, account.NewUser{Email: "ana@example.com", Password: "correct horse battery",
		Roles: []string{"viewer"}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func storedSession(t *testing.T, f *fixture, value string) *account.Session {
	t.Helper()
	s, err := f.db.SessionByHash(context.Background(), account.HashValue(value))
	if err != nil {
		t.Fatalf("the stored session: %v", err)
	}
	return s
}

// StartWith records how the user signed in, on the session and in the
// sign-in's audit event; Start is a password sign-in. A session starts
// seen at its start.
func TestStartWithMethods(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := newUserAna(t, f)

	value, sess, err := f.sessions.StartWith(ctx, u, "", "192.0.2.1", []string{"pwd", "otp", "pwd", "mfa"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pwd", "otp", "mfa"} // a repeat is dropped, the order kept
	if !slices.Equal(sess.Methods, want) || !sess.LastSeenAt.Equal(f.now) || !sess.CreatedAt.Equal(f.now) {
		t.Errorf("the session returned: methods %v, last seen %v", sess.Methods, sess.LastSeenAt)
	}
	if got := storedSession(t, f, value); !slices.Equal(got.Methods, want) || !got.LastSeenAt.Equal(f.now) {
		t.Errorf("the session stored: methods %v, last seen %v", got.Methods, got.LastSeenAt)
	}
	e := lastEvent(t, f)
	if e.Action != account.ActionLogin || e.Details["methods"] != "pwd otp mfa" || e.Details["session_id"] != sess.ID {
		t.Errorf("the sign-in event: %s %v", e.Action, e.Details)
	}

	plain, psess, err := f.sessions.Start(ctx, u, value, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(psess.Methods, []string{account.MethodPassword}) ||
		!slices.Equal(storedSession(t, f, plain).Methods, []string{"pwd"}) {
		t.Errorf("Start's session signed in by %v", psess.Methods)
	}
	if e := lastEvent(t, f); e.Details["methods"] != "pwd" {
		t.Errorf("Start's event: %v", e.Details)
	}

	for _, bad := range [][]string{nil, {}, {""}, {"PWD"}, {"pwd", "o t p"}, {"pwd\n"}, {"averyveryverylongmethod"}} {
		before, _ := f.db.AuditEvents(ctx, "ten_home", 0, 1000)
		if _, s, err := f.sessions.StartWith(ctx, u, "", "192.0.2.1", bad); err == nil || s != nil {
			t.Errorf("StartWith(%q): %v, %v; want a refusal", bad, s, err)
		}
		if after, _ := f.db.AuditEvents(ctx, "ten_home", 0, 1000); len(after) != len(before) {
			t.Errorf("StartWith(%q) was refused but audited", bad)
		}
	}

	spy := withSpy(f)
	spy.failTx = errDisk
	if _, _, err := f.sessions.StartWith(ctx, u, "", "192.0.2.1", []string{"pwd"}); !errors.Is(err, errDisk) {
		t.Errorf("StartWith with the store failing: %v", err)
	}
}

// Touch writes a session's activity only when the last one recorded is
// more than a minute old, so a busy console does not write per request.
func TestTouchWritesAtMostOnceAMinute(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := newUserAna(t, f)
	value, sess, err := f.sessions.Start(ctx, u, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	spy := withSpy(f)
	start := f.now
	steps := []struct {
		after     time.Duration
		writes    int
		lastSeen  time.Duration // since start, as stored afterwards
		sessAfter time.Duration // since start, on sess afterwards
	}{
		{0, 0, 0, 0},
		{30 * time.Second, 0, 0, 0},
		{account.TouchEvery, 0, 0, 0}, // a minute old exactly: not yet
		{account.TouchEvery + time.Second, 1, 61 * time.Second, 61 * time.Second},
		{90 * time.Second, 1, 61 * time.Second, 61 * time.Second},
		{3 * time.Minute, 2, 3 * time.Minute, 3 * time.Minute},
	}
	for _, st := range steps {
		f.now = start.Add(st.after)
		if err := f.sessions.Touch(ctx, sess); err != nil {
			t.Fatalf("Touch at +%v: %v", st.after, err)
		}
		if n, _ := spy.counts(); n != st.writes {
			t.Errorf("after a touch at +%v: %d writes, want %d", st.after, n, st.writes)
		}
		if got := storedSession(t, f, value).LastSeenAt; !got.Equal(start.Add(st.lastSeen)) {
			t.Errorf("after a touch at +%v: stored last seen +%v, want +%v", st.after, got.Sub(start), st.lastSeen)
		}
		if !sess.LastSeenAt.Equal(start.Add(st.sessAfter)) {
			t.Errorf("after a touch at +%v: sess.LastSeenAt +%v, want +%v", st.after, sess.LastSeenAt.Sub(start), st.sessAfter)
		}
	}
	if spy.touchedID != sess.ID {
		t.Errorf("touched session %q, want %q", spy.touchedID, sess.ID)
	}

	// A failed write is the caller's error, and sess is left as read.
	f.now = f.now.Add(time.Hour)
	spy.failTouch = errDisk
	was := sess.LastSeenAt
	if err := f.sessions.Touch(ctx, sess); !errors.Is(err, errDisk) || !sess.LastSeenAt.Equal(was) {
		t.Errorf("Touch with the store failing: %v, last seen moved to %v", err, sess.LastSeenAt)
	}
	spy.failTouch = nil

	// A session ended meanwhile is not an error.
	if err := f.sessions.End(ctx, value); err != nil {
		t.Fatal(err)
	}
	if err := f.sessions.Touch(ctx, sess); err != nil {
		t.Errorf("Touch of an ended session: %v", err)
	}
}

// Idle says whether a session went without activity for longer than a
// limit.
func TestIdle(t *testing.T) {
	f := newFixture(t)
	sess := &account.Session{LastSeenAt: f.now}
	start := f.now
	for _, tc := range []struct {
		after time.Duration
		want  bool
	}{{0, false}, {15*time.Minute - time.Second, false}, {15 * time.Minute, false}, {15*time.Minute + time.Second, true}} {
		f.now = start.Add(tc.after)
		if got := f.sessions.Idle(sess, 15*time.Minute); got != tc.want {
			t.Errorf("Idle after %v: %v, want %v", tc.after, got, tc.want)
		}
	}
}

// AddMethods records a step-up on the session: new methods are appended
// once, nothing is written when none is new, and a malformed one or a
// session ended meanwhile is refused.
func TestAddMethods(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := newUserAna(t, f)
	value, sess, err := f.sessions.Start(ctx, u, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	spy := withSpy(f)
	if err := f.sessions.AddMethods(ctx, sess, "otp", "mfa", "otp"); err != nil {
		t.Fatal(err)
	}
	want := []string{"pwd", "otp", "mfa"}
	if !slices.Equal(sess.Methods, want) || !slices.Equal(storedSession(t, f, value).Methods, want) {
		t.Errorf("methods after the step-up: %v, stored %v", sess.Methods, storedSession(t, f, value).Methods)
	}
	_, txs := spy.counts()
	if err := f.sessions.AddMethods(ctx, sess, "pwd", "mfa"); err != nil {
		t.Fatal(err)
	}
	if err := f.sessions.AddMethods(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, again := spy.counts(); again != txs {
		t.Errorf("adding no new method wrote %d times", again-txs)
	}
	if err := f.sessions.AddMethods(ctx, sess, "hwk", "Not One"); err == nil || !slices.Equal(sess.Methods, want) {
		t.Errorf("a malformed method: %v, methods %v", err, sess.Methods)
	}
	spy.failTx = errDisk
	if err := f.sessions.AddMethods(ctx, sess, "hwk"); !errors.Is(err, errDisk) || !slices.Equal(sess.Methods, want) {
		t.Errorf("a failing store: %v, methods %v", err, sess.Methods)
	}
	spy.failTx = nil
	if err := f.sessions.End(ctx, value); err != nil {
		t.Fatal(err)
	}
	if err := f.sessions.AddMethods(ctx, sess, "hwk"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a step-up on an ended session: %v, want account.ErrNotFound", err)
	}
	if events, _ := f.db.AuditEvents(ctx, "ten_home", 0, 1000); events[len(events)-1].Action != account.ActionLogin {
		t.Errorf("a step-up was audited: %+v", events[len(events)-1])
	}
}
