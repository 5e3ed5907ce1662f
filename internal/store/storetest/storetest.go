package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

// RunTests runs the conformance suite against the stores newStore makes.
// newStore returns an empty, migrated store for one test and arranges,
// with t.Cleanup, for it to be closed and removed when the test ends.
// Every leaf test gets a store of its own.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Clients", clientTests},
		{"Secrets", secretTests},
		{"InTx", txTests},
		{"List", listTests},
		{"Concurrency", concurrencyTests},
		{"Accounts", accountTests},
		{"Users", userTests},
		{"Divisions", divisionTests},
		{"Roles", roleTests},
		{"Sessions", sessionTests},
		{"Consents", consentTests},
		{"SigningKeys", keyTests},
		{"Tokens", tokenTests},
		{"Grants", grantTests},
		{"CutOffs", cutOffTests},
		{"Audit", auditTests},
		{"AuditQuery", auditQueryTests},
		{"ChangeLog", changeLogTests},
		{"Idempotency", idempotencyTests},
		{"Stats", statsTests},
		{"MFA", mfaTests},
		{"Notify", notifyTests},
		{"Failures", failureTests},
		{"Policies", policyTests},
		{"Rotation", rotationTests},
		{"Leaks", leakTests},
		{"Registrations", registrationTests},
	}
	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
			}
		})
	}
}

// test is one leaf of the suite.
type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// base is the suite's clock. It has nanoseconds and a non-UTC zone on
// purpose: stores keep microseconds and return UTC.
var base = time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+1", 3600))

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// stored is what a store returns for a time it was given: microsecond
// precision in UTC, and the zero time unchanged.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// nilIfEmpty is how a store returns a list it was given: empty lists come
// back nil.
func nilIfEmpty[T any](xs []T) []T {
	if len(xs) == 0 {
		return nil
	}
	return xs
}

// newClient returns a client with every field set to a distinctive value.
func newClient(tenantID, id, name string) *client.Client {
	return &client.Client{
		ID:              id,
		TenantID:        tenantID,
		Name:            name,
		Description:     "Description of " + name + "\nwith a second line",
		Type:            client.Confidential,
		GrantTypes:      []client.GrantType{client.GrantRefreshToken, client.GrantAuthorizationCode, client.GrantClientCredentials},
		RedirectURIs:    []string{"https://b.example/cb", "https://a.example/cb", "http://127.0.0.1/cb"},
		Scopes:          []string{"write", "read", "openid"},
		Roles:           []string{"viewer", "oauth_admin"},
		OwnerUserID:     "usr_owner",
		DivisionID:      "div_ops",
		AccessTokenTTL:  900 * time.Second,
		RefreshTokenTTL: 48 * time.Hour,
		TokenFormat:     client.TokenOpaque,
		RequireConsent:  true,
		RequirePKCE:     true,
		Status:          client.StatusActive,
		Protected:       true,
		CreatedAt:       at(0),
		CreatedBy:       "usr_creator",
		UpdatedAt:       at(time.Minute),
		LastUsedAt:      at(time.Hour),
		SecretExpiresAt: at(180 * 24 * time.Hour),

		TokenEndpointAuthMethod: client.AuthSecretPost,
		IDTokenAlg:              client.IDTokenES256,
		PostLogoutRedirectURIs:  []string{"https://b.example/bye", "https://a.example/bye"},
		LastAuthorization:       client.Authorization{At: at(2 * time.Hour), UserID: "usr_authorizer", RedirectURI: "https://b.example/cb"},
		LastToken:               client.Issue{At: at(3 * time.Hour), Grant: client.GrantRefreshToken},
	}
}

// storedClient is what a store returns for c: an empty division is the
// home division.
func storedClient(c *client.Client) *client.Client {
	d := c.Clone()
	if d.DivisionID == "" {
		d.DivisionID = authz.HomeDivision
	}
	d.GrantTypes, d.RedirectURIs = nilIfEmpty(d.GrantTypes), nilIfEmpty(d.RedirectURIs)
	d.Scopes, d.Roles = nilIfEmpty(d.Scopes), nilIfEmpty(d.Roles)
	d.CreatedAt, d.UpdatedAt = stored(d.CreatedAt), stored(d.UpdatedAt)
	d.LastUsedAt, d.SecretExpiresAt = stored(d.LastUsedAt), stored(d.SecretExpiresAt)
	d.PostLogoutRedirectURIs = nilIfEmpty(d.PostLogoutRedirectURIs)
	d.LastAuthorization.At, d.LastToken.At = stored(d.LastAuthorization.At), stored(d.LastToken.At)
	return d
}

// newSecret returns a secret with every field set.
func newSecret(clientID, id string, created time.Time) *client.Secret {
	return &client.Secret{
		ID:         id,
		ClientID:   clientID,
		Hash:       "sha256:" + id + "-hash",
		Hint:       id[len(id)-4:],
		Status:     client.SecretActive,
		CreatedAt:  created,
		CreatedBy:  "usr_creator",
		ExpiresAt:  created.Add(90 * 24 * time.Hour),
		LastUsedAt: created.Add(time.Hour),
		RevokedAt:  created.Add(2 * time.Hour),
		LeakedAt:   created.Add(3 * time.Hour),
	}
}

func storedSecret(s client.Secret) client.Secret {
	s.CreatedAt, s.ExpiresAt = stored(s.CreatedAt), stored(s.ExpiresAt)
	s.LastUsedAt, s.RevokedAt = stored(s.LastUsedAt), stored(s.RevokedAt)
	s.LeakedAt = stored(s.LeakedAt)
	return s
}

// inTx runs fn in a transaction and fails the test if it returns an error.
func inTx(t *testing.T, s store.Store, fn func(ctx context.Context, tx client.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.InTx(ctx, func(tx client.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// createClients stores clients (and nothing else) in one transaction.
func createClients(t *testing.T, s store.Store, cs ...*client.Client) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		for _, c := range cs {
			if err := tx.CreateClient(ctx, c); err != nil {
				return fmt.Errorf("create %s: %w", c.ID, err)
			}
		}
		return nil
	})
}

// createSecrets stores secrets in one transaction.
func createSecrets(t *testing.T, s store.Store, ss ...*client.Secret) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx client.Tx) error {
		for _, sec := range ss {
			if err := tx.CreateSecret(ctx, sec); err != nil {
				return fmt.Errorf("create %s: %w", sec.ID, err)
			}
		}
		return nil
	})
}

// getClient reads a client back and fails the test if that fails.
func getClient(t *testing.T, s store.Store, id string) *client.Client {
	t.Helper()
	c, err := s.Client(t.Context(), id)
	if err != nil {
		t.Fatalf("Client(%q): %v", id, err)
	}
	return c
}

func getSecrets(t *testing.T, s store.Store, clientID string) []client.Secret {
	t.Helper()
	ss, err := s.Secrets(t.Context(), clientID)
	if err != nil {
		t.Fatalf("Secrets(%q): %v", clientID, err)
	}
	return ss
}

// checkEqual fails the test, naming every differing field, unless got and
// want are deeply equal.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	diffs := diff(reflect.ValueOf(got), reflect.ValueOf(want), "")
	if len(diffs) == 0 {
		diffs = []string{fmt.Sprintf(": got %#v, want %#v", got, want)}
	}
	for _, d := range diffs {
		t.Errorf("%s%s", what, d)
	}
}

// diff lists the paths at which got and want differ, descending into
// pointers, structs and slices.
func diff(got, want reflect.Value, path string) []string {
	if got.IsValid() != want.IsValid() || (got.IsValid() && got.Type() != want.Type()) {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
	}
	if !got.IsValid() {
		return nil
	}
	switch got.Kind() {
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			break
		}
		return diff(got.Elem(), want.Elem(), path)
	case reflect.Struct:
		if got.Type() == reflect.TypeFor[time.Time]() {
			break
		}
		var out []string
		for i := range got.NumField() {
			if !got.Type().Field(i).IsExported() {
				continue
			}
			out = append(out, diff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)...)
		}
		return out
	case reflect.Slice:
		if got.IsNil() != want.IsNil() || got.Len() != want.Len() {
			break
		}
		var out []string
		for i := range got.Len() {
			out = append(out, diff(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if reflect.DeepEqual(got.Interface(), want.Interface()) {
		return nil
	}
	if got.Type() == reflect.TypeFor[time.Time]() {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got.Interface(), want.Interface())}
	}
	return []string{fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface())}
}
