package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/token"
)

// TestMigration0006 upgrades a database made before end users signed in:
// public clients authenticate with none and confidential ones with
// client_secret_basic, as they did; clients have no activity yet; users
// are active; the keys so far sign access tokens, and an ID key lineage
// starts beside them; revocations are no cut-offs. The upgrade logs no
// change.
func TestMigration0006(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	db := openAt(t, 6, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{
			`INSERT INTO tenants (id, name, slug, is_default, created_at) VALUES ('ten_0', 'Default', 'default', 1, 0)`,
			`INSERT INTO users (id, tenant_id, email, name, password_hash, roles, locale, created_at, updated_at)
				VALUES ('usr_1', 'ten_0', 'a@example.com', 'A', '', '[]', 'en', 0, 0)`,
			`INSERT INTO clients (id, tenant_id, name, description, type, grant_types, redirect_uris, scopes, roles,
				owner_user_id, access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
				created_at, created_by, updated_at, last_used_at, secret_expires_at) VALUES
				('lkc_pub', 'ten_0', 'Public', '', 'public', '["authorization_code"]', '["https://a.example/cb"]', '[]', '[]',
				 '', 3600, 86400, 'jwt', 1, 'active', 0, 0, 'system', 0, NULL, NULL),
				('lkc_conf', 'ten_0', 'Confidential', '', 'confidential', '["client_credentials"]', '[]', '[]', '[]',
				 '', 3600, 86400, 'jwt', 0, 'active', 0, 0, 'system', 0, 5, NULL)`,
			`INSERT INTO signing_keys (id, tenant_id, algorithm, public_key, sealed_private_key, state, created_at, activated_at)
				VALUES ('k_cur', 'ten_0', 'ES256', x'01', x'02', 'current', 0, 0), ('k_next', 'ten_0', 'ES256', x'03', x'04', 'next', 1, NULL)`,
			`INSERT INTO revocations (token_id, client_id, expires_at) VALUES ('jti_1', 'lkc_conf', 4102444800000000)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	logged := func() int {
		t.Helper()
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM change_log`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := logged()
	// Version 6 and every later migration are pending.
	pending, err := db.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != pending || pending < 1 {
		t.Fatalf("Migrate: applied %d of %d pending, %v", n, pending, err)
	}
	if after := logged(); after != before {
		t.Errorf("the upgrade logged %d changes", after-before)
	}

	for id, want := range map[string]client.AuthMethod{"lkc_pub": client.AuthNone, "lkc_conf": client.AuthSecretBasic} {
		c, err := db.Client(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.TokenEndpointAuthMethod != want || c.IDTokenAlg != "" || c.PostLogoutRedirectURIs != nil ||
			c.LastAuthorization != (client.Authorization{}) || c.LastToken != (client.Issue{}) {
			t.Errorf("%s after the upgrade: auth %q, alg %q, logout %v, last %+v %+v", id, c.TokenEndpointAuthMethod,
				c.IDTokenAlg, c.PostLogoutRedirectURIs, c.LastAuthorization, c.LastToken)
		}
	}
	if u, err := db.User(ctx, "usr_1"); err != nil || u.Status != account.UserActive {
		t.Errorf("the user after the upgrade: %+v, %v", u, err)
	}
	ks, err := db.SigningKeys(ctx, "ten_0")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Use != token.UseAccess {
			t.Errorf("key %s after the upgrade has use %q, want access", k.ID, k.Use)
		}
	}
	if rs, err := db.Revocations(ctx, t0); err != nil || len(rs) != 1 || !rs[0].IssuedBefore.IsZero() {
		t.Errorf("revocations after the upgrade: %+v, %v", rs, err)
	}

	// An ID key lineage starts beside the access keys, and keeps to one
	// current key of its own.
	idKey := &token.SigningKey{ID: "k_id", Algorithm: "RS256", Use: token.UseID, PublicKey: []byte{5},
		SealedPrivateKey: []byte{6}, State: token.KeyCurrent, CreatedAt: t0, ActivatedAt: t0}
	if err := db.AddSigningKey(ctx, "ten_0", idKey); err != nil {
		t.Fatalf("the first ID key: %v", err)
	}
	idKey.ID = "k_id2"
	if err := db.AddSigningKey(ctx, "ten_0", idKey); !errors.Is(err, token.ErrConflict) {
		t.Errorf("a second current ID key: got %v, want token.ErrConflict", err)
	}
	if err := db.PromoteSigningKey(ctx, "ten_0", "k_next", "k_cur", t0, t0.Add(time.Hour)); err != nil {
		t.Errorf("promoting the old next key: %v", err)
	}
}
