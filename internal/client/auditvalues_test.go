package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/client"
)

// An update's event carries each changed field's values before and after,
// written as audit.Diff writes them; a creation names its fields only; no
// event carries a secret or its hash.
func TestUpdateEventsCarryBeforeAndAfter(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := cc("Before")
	p.GrantTypes = []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken}
	p.RedirectURIs = []string{"https://app.example/cb"}
	p.Scopes = []string{"read"}
	c, sec, err := f.svc.Create(ctx, f.sys, p)
	if err != nil {
		t.Fatal(err)
	}
	name, desc, ttl, consent := "After", "Now described", 2*time.Hour, true
	scopes := []string{"read", "write"}
	grants := []client.GrantType{client.GrantAuthorizationCode}
	f.now = t0.Add(time.Minute)
	if _, err := f.svc.Update(ctx, f.sys, c.ID, client.UpdateParams{Name: &name, Description: &desc, Scopes: &scopes,
		AccessTokenTTL: &ttl, RequireConsent: &consent, GrantTypes: &grants}); err != nil {
		t.Fatal(err)
	}
	rot, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetStatus(ctx, f.sys, c.ID, client.StatusInactive, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, f.sys, c.ID); err != nil {
		t.Fatal(err)
	}
	es, err := f.db.AuditEvents(ctx, "ten_a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 5 {
		t.Fatalf("%d events", len(es))
	}
	created, updated, rotated, deactivated, revoked := es[0], es[1], es[2], es[3], es[4]
	if created.Before != nil || created.After != nil || len(created.Changes) == 0 {
		t.Errorf("creation: changes %v, values %v → %v", created.Changes, created.Before, created.After)
	}
	want := map[string][2]string{
		"name":             {"Before", "After"},
		"description":      {"", "Now described"},
		"scopes":           {`["read"]`, `["read","write"]`},
		"grant_types":      {`["authorization_code","refresh_token"]`, `["authorization_code"]`},
		"access_token_ttl": {"3600", "7200"},
		"require_consent":  {"false", "true"},
	}
	if strings.Join(updated.Changes, " ") != "access_token_ttl description grant_types name require_consent scopes" {
		t.Errorf("update changes %v", updated.Changes)
	}
	for k, v := range want {
		if updated.Before[k] != v[0] || updated.After[k] != v[1] {
			t.Errorf("%s: %q → %q, want %q → %q", k, updated.Before[k], updated.After[k], v[0], v[1])
		}
	}
	if len(updated.Before) != len(want) || len(updated.After) != len(want) {
		t.Errorf("update values %v → %v", updated.Before, updated.After)
	}
	if deactivated.Before["status"] != "active" || deactivated.After["status"] != "inactive" ||
		revoked.Before["status"] != "inactive" || revoked.After["status"] != "revoked" {
		t.Errorf("status events: %v → %v, %v → %v", deactivated.Before, deactivated.After, revoked.Before, revoked.After)
	}
	if rotated.Before != nil || rotated.After != nil {
		t.Errorf("the rotation recorded values: %v → %v", rotated.Before, rotated.After)
	}
	for _, e := range es {
		for _, m := range []map[string]string{e.Before, e.After, e.Details} {
			for k, v := range m {
				for _, s := range []string{sec.Plaintext, rot.Plaintext, sec.Hash, rot.Hash} {
					if s != "" && strings.Contains(v, s) {
						t.Errorf("event %d: %s holds a secret or its hash", e.Seq, k)
					}
				}
			}
		}
	}
	if n, err := audit.VerifyChain(ctx, f.db, "ten_a", 2); err != nil || n != 5 {
		t.Errorf("VerifyChain = %d, %v", n, err)
	}
}
