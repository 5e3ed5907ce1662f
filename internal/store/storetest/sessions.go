package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store"
)

var sessionTests = []test{
	{"RoundTrip", testSessionRoundTrip},
	{"Conflicts", testSessionConflicts},
	{"Delete", testDeleteSessions},
	{"Prune", testPruneSessions},
	{"Touch", testTouchSession},
	{"Methods", testSessionMethods},
	{"DeleteOthers", testDeleteOtherSessions},
}

// newSession returns a session of user, signed in at created, for a day.
// Its hash is "hash-of-" and its ID.
func newSession(id, user string, created time.Time) *account.Session {
	return &account.Session{
		ID: id, Hash: "hash-of-" + id, TenantID: "ten_a", UserID: user,
		AuthTime: created.Add(-time.Second), CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
		LastSeenAt: created.Add(time.Second), Methods: []string{"pwd", "otp", "mfa"},
	}
}

func storedSession(s *account.Session) *account.Session {
	d := *s
	d.AuthTime, d.CreatedAt, d.ExpiresAt = stored(d.AuthTime), stored(d.CreatedAt), stored(d.ExpiresAt)
	d.LastSeenAt = stored(d.LastSeenAt)
	d.Methods = nilIfEmpty(d.Methods)
	return &d
}

func createSessions(t *testing.T, s store.Store, ss ...*account.Session) {
	t.Helper()
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		for _, sess := range ss {
			if err := tx.CreateSession(ctx, sess); err != nil {
				return err
			}
		}
		return nil
	})
}

// sessionExists reports whether the session with this hash is stored.
func sessionExists(t *testing.T, s store.Store, hash string) bool {
	t.Helper()
	_, err := s.SessionByHash(t.Context(), hash)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("SessionByHash(%s): %v", hash, err)
	}
	return err == nil
}

func testSessionRoundTrip(t *testing.T, s store.Store) {
	sess := newSession("ses_1", "usr_1", base)
	expired := newSession("ses_expired", "usr_1", at(-48*time.Hour))
	createSessions(t, s, sess, expired)
	for _, want := range []*account.Session{sess, expired} { // expired or not
		got, err := s.SessionByHash(t.Context(), want.Hash)
		if err != nil {
			t.Fatalf("SessionByHash(%s): %v", want.Hash, err)
		}
		checkEqual(t, "SessionByHash", got, storedSession(want))
	}
	for _, h := range []string{"hash-missing", "ses_1", ""} {
		if _, err := s.SessionByHash(t.Context(), h); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("SessionByHash(%q): got %v, want account.ErrNotFound", h, err)
		}
	}
}

func testSessionConflicts(t *testing.T, s store.Store) {
	createSessions(t, s, newSession("ses_1", "usr_1", base))
	dupID := newSession("ses_1", "usr_2", base)
	dupID.Hash = "another-hash"
	dupHash := newSession("ses_2", "usr_2", base)
	dupHash.Hash = "hash-of-ses_1"
	for what, sess := range map[string]*account.Session{"a taken ID": dupID, "a taken hash": dupHash} {
		err := s.InAccountTx(t.Context(), func(tx account.Tx) error { return tx.CreateSession(t.Context(), sess) })
		if !errors.Is(err, account.ErrConflict) {
			t.Errorf("CreateSession with %s: got %v, want account.ErrConflict", what, err)
		}
	}
	if got, err := s.SessionByHash(t.Context(), "hash-of-ses_1"); err != nil || got.UserID != "usr_1" {
		t.Errorf("the first session after the conflicts: %+v, %v", got, err)
	}
}

func testDeleteSessions(t *testing.T, s store.Store) {
	createSessions(t, s, newSession("ses_1a", "usr_1", base), newSession("ses_1b", "usr_1", base),
		newSession("ses_1c", "usr_1", base), newSession("ses_2", "usr_2", base))
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.DeleteSession(ctx, "hash-of-ses_1a"); err != nil {
			return err
		}
		return tx.DeleteSession(ctx, "hash-missing") // not an error
	})
	if sessionExists(t, s, "hash-of-ses_1a") || !sessionExists(t, s, "hash-of-ses_1b") {
		t.Error("DeleteSession deleted the wrong sessions")
	}
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.DeleteUserSessions(ctx, "usr_1"); err != nil {
			return err
		}
		return tx.DeleteUserSessions(ctx, "usr_nobody")
	})
	for hash, want := range map[string]bool{"hash-of-ses_1b": false, "hash-of-ses_1c": false, "hash-of-ses_2": true} {
		if got := sessionExists(t, s, hash); got != want {
			t.Errorf("after DeleteUserSessions(usr_1), %s exists: %v, want %v", hash, got, want)
		}
	}
}

func testPruneSessions(t *testing.T, s store.Store) {
	old := newSession("ses_old", "usr_1", at(-48*time.Hour))     // expired a day ago
	edge := newSession("ses_edge", "usr_1", at(-24*time.Hour))   // expires at base
	young := newSession("ses_young", "usr_1", at(-23*time.Hour)) // expires an hour after base
	createSessions(t, s, old, edge, young)
	if err := s.PruneSessions(t.Context(), base); err != nil {
		t.Fatalf("PruneSessions: %v", err)
	}
	for hash, want := range map[string]bool{old.Hash: false, edge.Hash: true, young.Hash: true} {
		if got := sessionExists(t, s, hash); got != want {
			t.Errorf("after PruneSessions, %s exists: %v, want %v", hash, got, want)
		}
	}
}

// getSession returns the stored session with this hash.
func getSession(t *testing.T, s store.Store, hash string) *account.Session {
	t.Helper()
	sess, err := s.SessionByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("SessionByHash(%s): %v", hash, err)
	}
	return sess
}

// testTouchSession: TouchSession moves one session's last activity
// forward, never back, and a missing session is not an error.
func testTouchSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	one, other := newSession("ses_1", "usr_1", base), newSession("ses_2", "usr_1", base)
	createSessions(t, s, one, other)
	touched := at(10*time.Minute + 7*time.Microsecond)
	if err := s.TouchSession(ctx, one.ID, touched); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	later := stored(touched)
	if got := getSession(t, s, one.Hash).LastSeenAt; !got.Equal(later) {
		t.Errorf("LastSeenAt after the touch: %v, want %v", got, later)
	}
	if got := getSession(t, s, other.Hash).LastSeenAt; !got.Equal(stored(other.LastSeenAt)) {
		t.Errorf("another session's LastSeenAt moved to %v", got)
	}
	if err := s.TouchSession(ctx, one.ID, at(time.Minute)); err != nil {
		t.Fatalf("TouchSession back in time: %v", err)
	}
	if got := getSession(t, s, one.Hash).LastSeenAt; !got.Equal(later) {
		t.Errorf("LastSeenAt after a touch at an earlier time: %v, want it kept at %v", got, later)
	}
	if err := s.TouchSession(ctx, "ses_missing", later); err != nil {
		t.Errorf("TouchSession of a missing session: %v, want nil", err)
	}
	checkEqual(t, "the touched session's other fields", getSession(t, s, one.Hash), func() *account.Session {
		d := storedSession(one)
		d.LastSeenAt = later
		return d
	}())
}

// testSessionMethods: the methods round-trip in order, SetSessionMethods
// replaces them, and a missing session is ErrNotFound.
func testSessionMethods(t *testing.T, s store.Store) {
	ctx := t.Context()
	pwd := newSession("ses_pwd", "usr_1", base)
	pwd.Methods = []string{"pwd"}
	createSessions(t, s, pwd, newSession("ses_2", "usr_1", base))
	checkEqual(t, "Methods of a password session", getSession(t, s, pwd.Hash).Methods, []string{"pwd"})
	checkEqual(t, "Methods in order", getSession(t, s, "hash-of-ses_2").Methods, []string{"pwd", "otp", "mfa"})
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		return tx.SetSessionMethods(ctx, pwd.ID, []string{"pwd", "hwk", "mfa"})
	})
	checkEqual(t, "Methods after SetSessionMethods", getSession(t, s, pwd.Hash).Methods, []string{"pwd", "hwk", "mfa"})
	checkEqual(t, "another session's methods", getSession(t, s, "hash-of-ses_2").Methods, []string{"pwd", "otp", "mfa"})
	err := s.InAccountTx(ctx, func(tx account.Tx) error { return tx.SetSessionMethods(ctx, "ses_missing", []string{"pwd"}) })
	if !errors.Is(err, account.ErrNotFound) {
		t.Errorf("SetSessionMethods of a missing session: got %v, want account.ErrNotFound", err)
	}
}

// testDeleteOtherSessions: every session of the user but the one kept
// ends; other users' sessions stay.
func testDeleteOtherSessions(t *testing.T, s store.Store) {
	createSessions(t, s, newSession("ses_1a", "usr_1", base), newSession("ses_1b", "usr_1", base),
		newSession("ses_1c", "usr_1", base), newSession("ses_2", "usr_2", base))
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.DeleteOtherSessions(ctx, "usr_1", "ses_1b"); err != nil {
			return err
		}
		return tx.DeleteOtherSessions(ctx, "usr_nobody", "ses_none") // not an error
	})
	for hash, want := range map[string]bool{"hash-of-ses_1a": false, "hash-of-ses_1b": true, "hash-of-ses_1c": false, "hash-of-ses_2": true} {
		if got := sessionExists(t, s, hash); got != want {
			t.Errorf("after DeleteOtherSessions(usr_1, ses_1b), %s exists: %v, want %v", hash, got, want)
		}
	}
}

var consentTests = []test{
	{"RoundTrip", testConsentRoundTrip},
	{"Replace", testReplaceConsent},
	{"LatestFirst", testConsentsLatestFirst},
	{"Delete", testDeleteConsent},
}

// newConsent returns user's consent to clientID, first given at first.
func newConsent(user, clientID string, first time.Time) *account.Consent {
	return &account.Consent{
		TenantID: "ten_a", UserID: user, ClientID: clientID, Scopes: []string{"email", "openid", "profile"},
		FirstAt: first, LastAt: first.Add(time.Hour),
	}
}

func storedConsent(c *account.Consent) *account.Consent {
	d := *c
	d.Scopes = nilIfEmpty(d.Scopes)
	d.FirstAt, d.LastAt = stored(d.FirstAt), stored(d.LastAt)
	return &d
}

func putConsents(t *testing.T, s store.Store, cs ...*account.Consent) {
	t.Helper()
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		for _, c := range cs {
			if err := tx.PutConsent(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func getConsent(t *testing.T, s store.Store, user, clientID string) *account.Consent {
	t.Helper()
	c, err := s.Consent(t.Context(), user, clientID)
	if err != nil {
		t.Fatalf("Consent(%s, %s): %v", user, clientID, err)
	}
	return c
}

// consentClients returns the client IDs of cs, in order.
func consentClients(cs []account.Consent) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ClientID)
	}
	return out
}

func testConsentRoundTrip(t *testing.T, s store.Store) {
	full := newConsent("usr_1", "lkc_a", base)
	bare := &account.Consent{TenantID: "ten_a", UserID: "usr_1", ClientID: "lkc_b", Scopes: []string{}, FirstAt: base, LastAt: base}
	putConsents(t, s, full, bare)
	checkEqual(t, "Consent", getConsent(t, s, "usr_1", "lkc_a"), storedConsent(full))
	checkEqual(t, "Consent without scopes", getConsent(t, s, "usr_1", "lkc_b"), storedConsent(bare))
	for _, k := range [][2]string{{"usr_2", "lkc_a"}, {"usr_1", "lkc_c"}, {"lkc_a", "usr_1"}} {
		if _, err := s.Consent(t.Context(), k[0], k[1]); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("Consent(%s, %s): got %v, want account.ErrNotFound", k[0], k[1], err)
		}
	}
}

// testReplaceConsent: a second PutConsent replaces every field of the
// first.
func testReplaceConsent(t *testing.T, s store.Store) {
	first := newConsent("usr_1", "lkc_a", base)
	putConsents(t, s, first, newConsent("usr_2", "lkc_a", base))
	again := newConsent("usr_1", "lkc_a", at(time.Minute))
	again.TenantID, again.Scopes, again.LastAt = "ten_b", []string{"openid"}, at(5*time.Hour)
	putConsents(t, s, again)
	checkEqual(t, "the replaced consent", getConsent(t, s, "usr_1", "lkc_a"), storedConsent(again))
	checkEqual(t, "another user's consent", getConsent(t, s, "usr_2", "lkc_a"), storedConsent(newConsent("usr_2", "lkc_a", base)))
}

func testConsentsLatestFirst(t *testing.T, s store.Store) {
	ctx := t.Context()
	if cs, err := s.Consents(ctx, "usr_1"); err != nil || len(cs) != 0 {
		t.Fatalf("Consents of a user with none: %v, %v", cs, err)
	}
	// Put out of order; two share their latest time.
	var cs []*account.Consent
	for _, c := range []struct {
		client string
		last   time.Duration
	}{{"lkc_mid", 2}, {"lkc_old", 1}, {"lkc_tie_b", 3}, {"lkc_new", 4}, {"lkc_tie_a", 3}} {
		con := newConsent("usr_1", c.client, base)
		con.LastAt = at(c.last * time.Hour)
		cs = append(cs, con)
	}
	putConsents(t, s, append(cs, newConsent("usr_2", "lkc_other", at(10*time.Hour)))...)
	got, err := s.Consents(ctx, "usr_1")
	if err != nil {
		t.Fatalf("Consents: %v", err)
	}
	checkEqual(t, "Consents, latest first", consentClients(got), []string{"lkc_new", "lkc_tie_a", "lkc_tie_b", "lkc_mid", "lkc_old"})
	checkEqual(t, "a listed consent", got[0], *storedConsent(cs[3]))
}

func testDeleteConsent(t *testing.T, s store.Store) {
	ctx := t.Context()
	putConsents(t, s, newConsent("usr_1", "lkc_a", base), newConsent("usr_1", "lkc_b", base), newConsent("usr_2", "lkc_a", base))
	inAccountTx(t, s, func(ctx context.Context, tx account.Tx) error {
		if err := tx.DeleteConsent(ctx, "usr_1", "lkc_a"); err != nil {
			return err
		}
		return tx.DeleteConsent(ctx, "usr_1", "lkc_missing") // not an error
	})
	if _, err := s.Consent(ctx, "usr_1", "lkc_a"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("a deleted consent: got %v, want account.ErrNotFound", err)
	}
	for _, k := range [][2]string{{"usr_1", "lkc_b"}, {"usr_2", "lkc_a"}} {
		getConsent(t, s, k[0], k[1])
	}
	got, err := s.Consents(ctx, "usr_1")
	if err != nil || !slices.Equal(consentClients(got), []string{"lkc_b"}) {
		t.Errorf("Consents after the delete: %v, %v", consentClients(got), err)
	}
}
