package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

var clientTests = []test{
	{"CreateAndGet", testCreateAndGet},
	{"ZeroAndEmptyValues", testZeroAndEmptyValues},
	{"DuplicateID", testDuplicateClientID},
	{"NotFound", testClientNotFound},
	{"Update", testUpdateClient},
	{"Delete", testDeleteClient},
	{"RecordUse", testRecordUse},
	{"RecordActivity", testRecordActivity},
	{"DeleteRemovesGrants", testDeleteClientRemovesGrants},
	{"ContextCanceled", testContextCanceled},
}

func testCreateAndGet(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_roundtrip", "Round Trip")
	createClients(t, s, c)
	checkEqual(t, "Client", getClient(t, s, c.ID), storedClient(c))

	// The transaction sees its own writes, and LockClient reads the same.
	d := newClient("ten_a", "lkc_in_tx", "In Tx")
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		if err := tx.CreateClient(ctx, d); err != nil {
			return err
		}
		got, err := tx.LockClient(ctx, d.ID)
		if err != nil {
			return err
		}
		checkEqual(t, "LockClient", got, storedClient(d))
		return nil
	})
}

func testZeroAndEmptyValues(t *testing.T, s store.Store) {
	zero := &client.Client{
		ID: "lkc_zero", TenantID: "ten_a", Name: "Z", Type: client.Public, TokenFormat: client.TokenJWT,
		Status: client.StatusInactive, AccessTokenTTL: 300 * time.Second, RefreshTokenTTL: time.Hour,
		CreatedAt: base, UpdatedAt: base,
	}
	empty := zero.Clone()
	empty.ID = "lkc_empty"
	empty.GrantTypes, empty.RedirectURIs, empty.Scopes, empty.Roles = []client.GrantType{}, []string{}, []string{}, []string{}
	empty.PostLogoutRedirectURIs = []string{}
	createClients(t, s, zero, empty)

	for _, c := range []*client.Client{zero, empty} {
		got := getClient(t, s, c.ID)
		checkEqual(t, c.ID, got, storedClient(c))
		if got.GrantTypes != nil || got.RedirectURIs != nil || got.Scopes != nil || got.Roles != nil {
			t.Errorf("%s: empty lists must come back nil, got %#v %#v %#v %#v", c.ID, got.GrantTypes, got.RedirectURIs, got.Scopes, got.Roles)
		}
		if !got.LastUsedAt.IsZero() || !got.SecretExpiresAt.IsZero() || !got.LastAuthorization.At.IsZero() || !got.LastToken.At.IsZero() {
			t.Errorf("%s: zero times must come back zero, got %v %v %v %v", c.ID, got.LastUsedAt, got.SecretExpiresAt,
				got.LastAuthorization.At, got.LastToken.At)
		}
		if got.PostLogoutRedirectURIs != nil || got.TokenEndpointAuthMethod != "" || got.IDTokenAlg != "" {
			t.Errorf("%s: empty values must come back empty, got %#v %q %q", c.ID, got.PostLogoutRedirectURIs,
				got.TokenEndpointAuthMethod, got.IDTokenAlg)
		}
	}
}

func testDuplicateClientID(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_dup", "First")
	createClients(t, s, c)
	dup := newClient("ten_b", "lkc_dup", "Second")
	err := s.InTx(t.Context(), func(tx client.Tx) error { return tx.CreateClient(t.Context(), dup) })
	if !errors.Is(err, client.ErrConflict) {
		t.Fatalf("CreateClient with a taken ID: got %v, want client.ErrConflict", err)
	}
	checkEqual(t, "first client", getClient(t, s, c.ID), storedClient(c))
}

func testClientNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createClients(t, s, newClient("ten_a", "lkc_exists", "Exists"))
	if _, err := s.Client(ctx, "lkc_missing"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Client: got %v, want client.ErrNotFound", err)
	}
	checks := []struct {
		name string
		fn   func(tx client.Tx) error
	}{
		{"LockClient", func(tx client.Tx) error { _, err := tx.LockClient(ctx, "lkc_missing"); return err }},
		{"UpdateClient", func(tx client.Tx) error { return tx.UpdateClient(ctx, newClient("ten_a", "lkc_missing", "M")) }},
		{"DeleteClient", func(tx client.Tx) error { return tx.DeleteClient(ctx, "lkc_missing") }},
		{"UpdateSecret", func(tx client.Tx) error {
			return tx.UpdateSecret(ctx, newSecret("lkc_exists", "sec_missing", base))
		}},
		{"CreateSecret for a missing client", func(tx client.Tx) error {
			return tx.CreateSecret(ctx, newSecret("lkc_missing", "sec_orphan", base))
		}},
	}
	for _, c := range checks {
		if err := s.InTx(ctx, c.fn); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("%s: got %v, want client.ErrNotFound", c.name, err)
		}
	}
	if ss := getSecrets(t, s, "lkc_missing"); len(ss) != 0 {
		t.Errorf("Secrets of a missing client: got %d, want none", len(ss))
	}
}

func testUpdateClient(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_update", "Before")
	createClients(t, s, c)

	u := c.Clone()
	u.Name, u.Description, u.Type = "After", "", client.Public
	u.GrantTypes = []client.GrantType{client.GrantAuthorizationCode}
	u.RedirectURIs = []string{"https://c.example/cb"}
	u.Scopes, u.Roles = []string{"profile", "email"}, nil
	u.OwnerUserID = ""
	u.AccessTokenTTL, u.RefreshTokenTTL = 172800*time.Second, 365*24*time.Hour
	u.TokenFormat, u.RequireConsent, u.Status, u.Protected = client.TokenJWT, false, client.StatusInactive, false
	u.UpdatedAt = at(2*time.Hour + 987654321)
	u.SecretExpiresAt = time.Time{}
	u.TokenEndpointAuthMethod, u.IDTokenAlg = client.AuthNone, client.IDTokenRS256
	u.PostLogoutRedirectURIs = []string{"https://c.example/bye"}
	// Fields that never change, and LastUsedAt, LastAuthorization and
	// LastToken, which only RecordUse and RecordActivity write, are left as
	// stored whatever the update says.
	u.TenantID, u.CreatedAt, u.CreatedBy = "ten_other", at(-time.Hour), "usr_other"
	u.LastUsedAt = at(-time.Hour)
	u.LastAuthorization = client.Authorization{At: at(-time.Hour), UserID: "usr_other", RedirectURI: "https://c.example/cb"}
	u.LastToken = client.Issue{}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateClient(ctx, u) })

	want := storedClient(u)
	want.TenantID, want.CreatedAt, want.CreatedBy = c.TenantID, stored(c.CreatedAt), c.CreatedBy
	want.LastUsedAt = stored(c.LastUsedAt)
	want.LastAuthorization, want.LastToken = storedClient(c).LastAuthorization, storedClient(c).LastToken
	checkEqual(t, "updated client", getClient(t, s, c.ID), want)
}

func testDeleteClient(t *testing.T, s store.Store) {
	c, other := newClient("ten_a", "lkc_doomed", "Doomed"), newClient("ten_a", "lkc_other", "Other")
	createClients(t, s, c, other)
	createSecrets(t, s, newSecret(c.ID, "sec_doomed_1", base), newSecret(c.ID, "sec_doomed_2", at(time.Hour)),
		newSecret(other.ID, "sec_other_1", base))

	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, c.ID) })
	if _, err := s.Client(t.Context(), c.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Client after delete: got %v, want client.ErrNotFound", err)
	}
	if ss := getSecrets(t, s, c.ID); len(ss) != 0 {
		t.Errorf("Secrets after delete: got %d, want none", len(ss))
	}
	if ss := getSecrets(t, s, other.ID); len(ss) != 1 {
		t.Errorf("Secrets of another client after delete: got %d, want 1", len(ss))
	}
	// The ID is free again, with no secrets left over.
	createClients(t, s, newClient("ten_a", c.ID, "Reborn"))
	if ss := getSecrets(t, s, c.ID); len(ss) != 0 {
		t.Errorf("Secrets of a re-created client: got %d, want none", len(ss))
	}
	err := s.InTx(t.Context(), func(tx client.Tx) error {
		return tx.UpdateSecret(t.Context(), newSecret(c.ID, "sec_doomed_1", base))
	})
	if !errors.Is(err, client.ErrNotFound) {
		t.Errorf("UpdateSecret of a deleted secret: got %v, want client.ErrNotFound", err)
	}
}

func testRecordUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newClient("ten_a", "lkc_used", "Used")
	c.LastUsedAt = time.Time{}
	createClients(t, s, c)
	sec := newSecret(c.ID, "sec_used", base)
	sec.LastUsedAt = time.Time{}
	createSecrets(t, s, sec)

	lastUsed := func() (time.Time, time.Time) {
		t.Helper()
		return getClient(t, s, c.ID).LastUsedAt, getSecrets(t, s, c.ID)[0].LastUsedAt
	}
	steps := []struct {
		name             string
		uses             []client.Use
		client, secretAt time.Time
	}{
		{"nothing", nil, time.Time{}, time.Time{}},
		{"first use", []client.Use{{ClientID: c.ID, SecretID: sec.ID, At: at(time.Hour)}}, at(time.Hour), at(time.Hour)},
		{"an earlier use is ignored", []client.Use{{ClientID: c.ID, SecretID: sec.ID, At: at(time.Minute)}}, at(time.Hour), at(time.Hour)},
		{"a use without a secret", []client.Use{{ClientID: c.ID, At: at(2 * time.Hour)}}, at(2 * time.Hour), at(time.Hour)},
		{"the latest of a batch wins", []client.Use{
			{ClientID: c.ID, SecretID: sec.ID, At: at(3 * time.Hour)},
			{ClientID: c.ID, SecretID: sec.ID, At: at(5 * time.Hour)},
			{ClientID: c.ID, SecretID: sec.ID, At: at(4 * time.Hour)},
		}, at(5 * time.Hour), at(5 * time.Hour)},
		{"unknown records are ignored", []client.Use{
			{ClientID: "lkc_gone", SecretID: "sec_gone", At: at(9 * time.Hour)},
			{ClientID: c.ID, SecretID: "sec_gone", At: at(6 * time.Hour)},
		}, at(6 * time.Hour), at(5 * time.Hour)},
	}
	for _, st := range steps {
		if err := s.RecordUse(ctx, st.uses); err != nil {
			t.Fatalf("%s: RecordUse: %v", st.name, err)
		}
		gotClient, gotSecret := lastUsed()
		if !gotClient.Equal(stored(st.client)) || !gotSecret.Equal(stored(st.secretAt)) {
			t.Errorf("%s: last used (client, secret) = (%v, %v), want (%v, %v)",
				st.name, gotClient, gotSecret, stored(st.client), stored(st.secretAt))
		}
	}
}

// testRecordActivity: a client's latest authorization and token move only
// later, each on its own, and activity of unknown clients is ignored.
func testRecordActivity(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_active", "Active")
	c.LastAuthorization, c.LastToken = client.Authorization{}, client.Issue{}
	createClients(t, s, c)
	auth := func(h int, user string) *client.Authorization {
		return &client.Authorization{At: at(time.Duration(h) * time.Hour), UserID: user, RedirectURI: "https://" + user + ".example/cb"}
	}
	issue := func(h int, g client.GrantType) *client.Issue {
		return &client.Issue{At: at(time.Duration(h) * time.Hour), Grant: g}
	}
	steps := []struct {
		name      string
		acts      []client.Activity
		wantAuth  *client.Authorization // nil: never
		wantToken *client.Issue
	}{
		{"nothing", nil, nil, nil},
		{"a token only", []client.Activity{{ClientID: c.ID, Token: issue(1, client.GrantClientCredentials)}},
			nil, issue(1, client.GrantClientCredentials)},
		{"an authorization and a token", []client.Activity{{ClientID: c.ID, Authorization: auth(2, "usr_1"), Token: issue(2, client.GrantAuthorizationCode)}},
			auth(2, "usr_1"), issue(2, client.GrantAuthorizationCode)},
		{"earlier ones are ignored", []client.Activity{{ClientID: c.ID, Authorization: auth(1, "usr_2"), Token: issue(1, client.GrantRefreshToken)}},
			auth(2, "usr_1"), issue(2, client.GrantAuthorizationCode)},
		{"each part on its own", []client.Activity{{ClientID: c.ID, Authorization: auth(1, "usr_2"), Token: issue(3, client.GrantRefreshToken)}},
			auth(2, "usr_1"), issue(3, client.GrantRefreshToken)},
		{"the latest of a batch wins", []client.Activity{
			{ClientID: c.ID, Authorization: auth(5, "usr_5")},
			{ClientID: c.ID, Authorization: auth(6, "usr_6"), Token: issue(4, client.GrantClientCredentials)},
			{ClientID: c.ID, Authorization: auth(4, "usr_4"), Token: issue(6, client.GrantRefreshToken)},
			{ClientID: c.ID, Token: issue(5, client.GrantAuthorizationCode)},
		}, auth(6, "usr_6"), issue(6, client.GrantRefreshToken)},
		{"unknown clients are ignored", []client.Activity{
			{ClientID: "lkc_gone", Authorization: auth(9, "usr_9"), Token: issue(9, client.GrantRefreshToken)},
			{ClientID: c.ID, Authorization: auth(7, "usr_7")},
		}, auth(7, "usr_7"), issue(6, client.GrantRefreshToken)},
	}
	for _, st := range steps {
		if err := s.RecordActivity(t.Context(), st.acts); err != nil {
			t.Fatalf("%s: RecordActivity: %v", st.name, err)
		}
		got := getClient(t, s, c.ID)
		var wantAuth client.Authorization
		var wantToken client.Issue
		if st.wantAuth != nil {
			wantAuth = *st.wantAuth
			wantAuth.At = stored(wantAuth.At)
		}
		if st.wantToken != nil {
			wantToken = *st.wantToken
			wantToken.At = stored(wantToken.At)
		}
		checkEqual(t, st.name+": last authorization", got.LastAuthorization, wantAuth)
		checkEqual(t, st.name+": last token", got.LastToken, wantToken)
	}
	// Nothing else of the client moved.
	want := storedClient(c)
	want.LastAuthorization, want.LastToken = getClient(t, s, c.ID).LastAuthorization, getClient(t, s, c.ID).LastToken
	checkEqual(t, "the client after RecordActivity", getClient(t, s, c.ID), want)
}

// testDeleteClientRemovesGrants: deleting a client deletes the consents,
// codes and refresh tokens issued to it, and no other client's.
func testDeleteClientRemovesGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	createClients(t, s, newClient("ten_a", "lkc_doomed", "Doomed"), newClient("ten_a", "lkc_other", "Other"))
	putConsents(t, s, newConsent("usr_1", "lkc_doomed", base), newConsent("usr_1", "lkc_other", base))
	doomedCode, otherCode := newCode("code-doomed", base), newCode("code-other", base)
	doomedCode.ClientID, otherCode.ClientID = "lkc_doomed", "lkc_other"
	createCodes(t, s, doomedCode, otherCode)
	createRefreshTokens(t, s, newRefreshToken("rt_doomed", "fam_1", "usr_1", "lkc_doomed", base),
		newRefreshToken("rt_other", "fam_2", "usr_1", "lkc_other", base))

	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.DeleteClient(ctx, "lkc_doomed") })
	if _, err := s.Consent(ctx, "usr_1", "lkc_doomed"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("the deleted client's consent: got %v, want account.ErrNotFound", err)
	}
	if _, err := useCode(t, s, "code-doomed", base); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("the deleted client's code: got %v, want token.ErrNotFound", err)
	}
	if _, err := s.RefreshTokenByHash(ctx, "hash-of-rt_doomed"); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("the deleted client's refresh token: got %v, want token.ErrNotFound", err)
	}
	getConsent(t, s, "usr_1", "lkc_other")
	if _, err := useCode(t, s, "code-other", base); err != nil {
		t.Errorf("another client's code: %v", err)
	}
	getRefreshToken(t, s, "hash-of-rt_other")
}

func testContextCanceled(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_ctx", "Ctx"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Client(ctx, "lkc_ctx"); !errors.Is(err, context.Canceled) {
		t.Errorf("Client with a canceled context: got %v, want context.Canceled", err)
	}
	if err := s.InTx(ctx, func(client.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("InTx with a canceled context: got %v, want context.Canceled", err)
	}
	if _, err := s.Users(ctx, "ten_a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Users with a canceled context: got %v, want context.Canceled", err)
	}
}

var secretTests = []test{
	{"RoundTrip", testSecretRoundTrip},
	{"NewestFirst", testSecretsNewestFirst},
	{"DuplicateID", testDuplicateSecretID},
	{"Update", testUpdateSecret},
}

func testSecretRoundTrip(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_sec", "Sec"))
	full := newSecret("lkc_sec", "sec_full", base)
	bare := &client.Secret{ID: "sec_bare", ClientID: "lkc_sec", Hash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$a2V5",
		Status: client.SecretActive, CreatedAt: at(-time.Hour)}
	createSecrets(t, s, full, bare)
	checkEqual(t, "Secrets", getSecrets(t, s, "lkc_sec"), []client.Secret{storedSecret(*full), storedSecret(*bare)})
}

func testSecretsNewestFirst(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_sec", "Sec"))
	// Inserted out of order; the last two share a creation time, and the
	// one inserted later counts as newer.
	ids := []string{"sec_b_middle", "sec_a_oldest", "sec_z_newest", "sec_y_same1", "sec_x_same2"}
	times := []time.Time{at(time.Hour), at(0), at(3 * time.Hour), at(2 * time.Hour), at(2 * time.Hour)}
	var ss []*client.Secret
	for i, id := range ids {
		ss = append(ss, newSecret("lkc_sec", id, times[i]))
	}
	createSecrets(t, s, ss...)
	want := []string{"sec_z_newest", "sec_x_same2", "sec_y_same1", "sec_b_middle", "sec_a_oldest"}
	check := func(what string, got []client.Secret) {
		t.Helper()
		var gotIDs []string
		for _, sec := range got {
			gotIDs = append(gotIDs, sec.ID)
		}
		checkEqual(t, what, gotIDs, want)
	}
	check("Secrets", getSecrets(t, s, "lkc_sec"))
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		got, err := tx.Secrets(ctx, "lkc_sec")
		check("Tx.Secrets", got)
		return err
	})
}

func testDuplicateSecretID(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_sec", "Sec"), newClient("ten_a", "lkc_sec2", "Sec2"))
	createSecrets(t, s, newSecret("lkc_sec", "sec_dup", base))
	err := s.InTx(t.Context(), func(tx client.Tx) error {
		return tx.CreateSecret(t.Context(), newSecret("lkc_sec2", "sec_dup", base))
	})
	if !errors.Is(err, client.ErrConflict) {
		t.Fatalf("CreateSecret with a taken ID: got %v, want client.ErrConflict", err)
	}
}

func testUpdateSecret(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_sec", "Sec"))
	sec := newSecret("lkc_sec", "sec_upd", base)
	sec.RevokedAt = time.Time{}
	createSecrets(t, s, sec, newSecret("lkc_sec", "sec_untouched", at(-time.Hour)))

	u := *sec
	u.Hash, u.Hint, u.Status = "sha256:rehashed", "wxyz", client.SecretRevoked
	u.ExpiresAt, u.RevokedAt = time.Time{}, at(time.Hour+1)
	// Immutable fields and LastUsedAt (RecordUse's) stay as stored.
	u.CreatedAt, u.CreatedBy, u.LastUsedAt = at(time.Hour), "usr_other", at(-time.Hour)
	inTx(t, s, func(ctx context.Context, tx client.Tx) error { return tx.UpdateSecret(ctx, &u) })

	want := u
	want.CreatedAt, want.CreatedBy, want.LastUsedAt = sec.CreatedAt, sec.CreatedBy, sec.LastUsedAt
	got := getSecrets(t, s, "lkc_sec")
	checkEqual(t, "updated secret", got[0], storedSecret(want))
	checkEqual(t, "other secret", got[1], storedSecret(*newSecret("lkc_sec", "sec_untouched", at(-time.Hour))))
}

var txTests = []test{
	{"Commit", testTxCommit},
	{"RollbackOnError", testTxRollbackOnError},
	{"RollbackOnPanic", testTxRollbackOnPanic},
	{"UserInTenant", testUserInTenant},
}

func testTxCommit(t *testing.T, s store.Store) {
	c := newClient("ten_a", "lkc_commit", "Commit")
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		if err := tx.CreateClient(ctx, c); err != nil {
			return err
		}
		return tx.CreateSecret(ctx, newSecret(c.ID, "sec_commit", base))
	})
	getClient(t, s, c.ID)
	if n := len(getSecrets(t, s, c.ID)); n != 1 {
		t.Errorf("Secrets after commit: got %d, want 1", n)
	}
}

// checkNothingWritten fails unless the client written by an aborted
// transaction is absent, and the store still takes writes.
func checkNothingWritten(t *testing.T, s store.Store, c *client.Client) {
	t.Helper()
	if _, err := s.Client(t.Context(), c.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Client after rollback: got %v, want client.ErrNotFound", err)
	}
	if n := len(getSecrets(t, s, c.ID)); n != 0 {
		t.Errorf("Secrets after rollback: got %d, want none", n)
	}
	if _, err := s.Client(t.Context(), "lkc_existing"); err != nil {
		t.Errorf("a client written before the rollback: %v", err)
	}
	createClients(t, s, newClient("ten_a", "lkc_after", "After"))
}

func testTxRollbackOnError(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_existing", "Existing"))
	c := newClient("ten_a", "lkc_rollback", "Rollback")
	boom := errors.New("boom")
	err := s.InTx(t.Context(), func(tx client.Tx) error {
		if err := tx.CreateClient(t.Context(), c); err != nil {
			return err
		}
		if err := tx.CreateSecret(t.Context(), newSecret(c.ID, "sec_rollback", base)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: got %v, want the error fn returned", err)
	}
	checkNothingWritten(t, s, c)
}

func testTxRollbackOnPanic(t *testing.T, s store.Store) {
	createClients(t, s, newClient("ten_a", "lkc_existing", "Existing"))
	c := newClient("ten_a", "lkc_panic", "Panic")
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic fn raised", r)
			}
		}()
		_ = s.InTx(t.Context(), func(tx client.Tx) error {
			if err := tx.CreateClient(t.Context(), c); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	checkNothingWritten(t, s, c)
}

func testUserInTenant(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := &account.User{ID: "usr_1", TenantID: "ten_a", Email: "a@example.com", CreatedAt: base, UpdatedAt: base}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	cases := []struct {
		tenant, user string
		want         bool
	}{{"ten_a", "usr_1", true}, {"ten_b", "usr_1", false}, {"ten_a", "usr_2", false}}
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		for _, c := range cases {
			got, err := tx.UserInTenant(ctx, c.tenant, c.user)
			if err != nil {
				return err
			}
			if got != c.want {
				t.Errorf("UserInTenant(%q, %q) = %v, want %v", c.tenant, c.user, got, c.want)
			}
		}
		return nil
	})
}
