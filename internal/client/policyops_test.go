package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

const testDay = 24 * time.Hour

// policyRules names the rule each field error of err enforces.
func policyRules(err error) []string {
	var ve *client.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Policy)
	}
	return out
}

// owned is a client that complies with every rule the table sets.
func owned(name string) client.CreateParams {
	p := cc(name)
	p.OwnerUserID = "usr_1"
	return p
}

// TestPolicyRules takes each rule in turn: a write that breaks it is
// allowed while the rule is off, refused with a field error naming the
// rule once it is on, an update that leaves an already-breaking field as
// it is still succeeds, and the compliance report lists exactly the
// clients that break it.
func TestPolicyRules(t *testing.T) {
	authCode := []client.GrantType{client.GrantClientCredentials, client.GrantAuthorizationCode}
	appCB := []string{"https://app.example/cb"}
	cases := []struct {
		rule string
		pol  client.Policy
		// bad makes a create break the rule.
		bad func(*client.CreateParams)
		// update breaks the rule on a compliant client; nil for the
		// secret rules, which lifetime breaks on rotation and on a new
		// secret instead.
		update   *client.UpdateParams
		lifetime time.Duration
	}{
		{rule: client.RuleMaxSecretLifetime, pol: client.Policy{MaxSecretLifetime: 90 * testDay},
			bad: func(p *client.CreateParams) { p.SecretLifetime = 365 * testDay }, lifetime: 365 * testDay},
		{rule: client.RuleRequireSecretExpiry, pol: client.Policy{RequireSecretExpiry: true},
			bad: func(p *client.CreateParams) { p.SecretLifetime = client.NeverExpires }, lifetime: client.NeverExpires},
		{rule: client.RuleAllowedGrantTypes, pol: client.Policy{AllowedGrantTypes: []client.GrantType{client.GrantClientCredentials}},
			bad: func(p *client.CreateParams) {
				p.GrantTypes, p.RedirectURIs, p.RequirePKCE = authCode, appCB, true
			},
			update: &client.UpdateParams{GrantTypes: &authCode, RedirectURIs: &appCB, RequirePKCE: ptr(true)}},
		{rule: client.RuleRequirePKCE, pol: client.Policy{RequirePKCE: true},
			bad:    func(p *client.CreateParams) { p.GrantTypes, p.RedirectURIs = authCode, appCB },
			update: &client.UpdateParams{GrantTypes: &authCode, RedirectURIs: &appCB}},
		{rule: client.RuleForbidWildcardScope, pol: client.Policy{ForbidWildcardScope: true},
			bad:    func(p *client.CreateParams) { p.Scopes = []string{"*"} },
			update: &client.UpdateParams{Scopes: &[]string{"read", "*"}}},
		{rule: client.RuleRedirectHosts, pol: client.Policy{RedirectHosts: []string{"app.example", "*.corp.example"}},
			bad: func(p *client.CreateParams) {
				p.GrantTypes, p.RedirectURIs, p.RequirePKCE = authCode, []string{"https://evil.example/cb"}, true
			},
			update: &client.UpdateParams{GrantTypes: &authCode, RequirePKCE: ptr(true),
				RedirectURIs: &[]string{"https://x.corp.example/cb", "https://corp.example/cb"}}},
		{rule: client.RuleRequireOwner, pol: client.Policy{RequireOwner: true},
			bad:    func(p *client.CreateParams) { p.OwnerUserID = "" },
			update: &client.UpdateParams{OwnerUserID: ptr("")}},
		{rule: client.RuleMaxAccessTokenTTL, pol: client.Policy{MaxAccessTokenTTL: time.Hour},
			bad:    func(p *client.CreateParams) { p.AccessTokenTTL = 2 * time.Hour },
			update: &client.UpdateParams{AccessTokenTTL: ptr(2 * time.Hour)}},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			bad := owned("Before the policy")
			tc.bad(&bad)
			// The rule off: every write that would break it succeeds.
			early, _, err := f.svc.Create(ctx, f.sys, bad)
			if err != nil {
				t.Fatalf("create with the rule off: %v", err)
			}
			offEdited, _, err := f.svc.Create(ctx, f.sys, owned("Edited with the rule off"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.update != nil {
				_, err = f.svc.Update(ctx, f.sys, offEdited.ID, *tc.update)
			} else {
				_, err = f.svc.RotateSecret(ctx, f.sys, offEdited.ID, client.RotateParams{Lifetime: tc.lifetime})
			}
			if err != nil {
				t.Fatalf("update or rotate with the rule off: %v", err)
			}

			if _, err := f.svc.SetPolicy(ctx, f.sys, tc.pol, ""); err != nil {
				t.Fatal(err)
			}
			f.now = f.now.Add(time.Minute)

			// The rule on: the same writes are refused, naming the rule.
			bad.Name = "After the policy"
			if _, _, err := f.svc.Create(ctx, f.sys, bad); !slices.Contains(policyRules(err), tc.rule) {
				t.Errorf("create: got %v, want a field error of %s", err, tc.rule)
			}
			good, _, err := f.svc.Create(ctx, f.sys, owned("Compliant"))
			if err != nil {
				t.Fatalf("a compliant create: %v", err)
			}
			if tc.update != nil {
				if _, err := f.svc.Update(ctx, f.sys, good.ID, *tc.update); !slices.Contains(policyRules(err), tc.rule) {
					t.Errorf("update: got %v, want a field error of %s", err, tc.rule)
				}
			} else {
				if _, err := f.svc.RotateSecret(ctx, f.sys, good.ID, client.RotateParams{Lifetime: tc.lifetime}); !slices.Contains(policyRules(err), tc.rule) {
					t.Errorf("rotate: got %v, want a field error of %s", err, tc.rule)
				}
				if _, err := f.svc.AddSecret(ctx, f.sys, good.ID, client.AddSecretParams{Lifetime: tc.lifetime}); !slices.Contains(policyRules(err), tc.rule) {
					t.Errorf("add secret: got %v, want a field error of %s", err, tc.rule)
				}
				// A rotation asking nothing gets what the policy allows.
				if _, err := f.svc.RotateSecret(ctx, f.sys, good.ID, client.RotateParams{}); err != nil {
					t.Errorf("a rotation with the default lifetime: %v", err)
				}
			}

			// A client that broke the rule before it was set keeps
			// working and stays editable in its other fields.
			if _, err := f.svc.Update(ctx, f.sys, early.ID, client.UpdateParams{Name: ptr("Renamed")}); err != nil {
				t.Errorf("an update leaving the breaking field alone: %v", err)
			}

			// The report lists exactly the two clients that break it.
			var got []string
			err = f.svc.Compliance(ctx, f.sys, func(n client.Noncompliant) error {
				for _, v := range n.Violations {
					if v.Policy != tc.rule || v.Field == "" || v.Message == "" {
						t.Errorf("%s: violation %+v", n.Client.Name, v)
					}
				}
				got = append(got, n.Client.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{early.ID, offEdited.ID}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("report lists %v, want %v (good is %s)", got, want, good.ID)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestSetPolicy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := client.Actor{Kind: authz.KindUser, TenantID: "ten_a", ID: "usr_1", Roles: []string{authz.OAuthAdmin}}
	nobody := client.Actor{Kind: authz.KindUser, TenantID: "ten_a", ID: "usr_2"}

	if _, err := f.svc.SetPolicy(ctx, admin, client.Policy{RequireOwner: true}, ""); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("an OAuth admin set the policy: %v", err)
	}
	if _, err := f.svc.Policy(ctx, admin); err != nil {
		t.Errorf("an OAuth admin cannot read the policy: %v", err)
	}
	if _, err := f.svc.Policy(ctx, nobody); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("an actor without permissions read the policy: %v", err)
	}
	if err := f.svc.Compliance(ctx, nobody, func(client.Noncompliant) error { return nil }); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("an actor without permissions read the report: %v", err)
	}
	if _, err := f.svc.SetPolicy(ctx, f.sys, client.Policy{MaxAccessTokenTTL: time.Second, RedirectHosts: []string{"Bad Host"}}, ""); fields(err) != "redirect_hosts,max_access_token_ttl" {
		t.Errorf("invalid policy: fields %q (%v)", fields(err), err)
	}

	before, err := f.svc.Policy(ctx, f.sys)
	if err != nil || before.Version() != "0" {
		t.Fatalf("unsaved policy %+v, %v", before, err)
	}
	want := client.Policy{MaxSecretLifetime: 90 * testDay, RequireAdminMFA: true,
		AllowedGrantTypes: []client.GrantType{client.GrantClientCredentials}, RedirectHosts: []string{"app.example"}}
	got, err := f.svc.SetPolicy(ctx, f.sys, want, before.Version())
	if err != nil {
		t.Fatal(err)
	}
	if !got.UpdatedAt.Equal(t0) || got.UpdatedBy != "system" || got.TenantID != "ten_a" {
		t.Errorf("saved %+v", got)
	}
	read, _ := f.svc.Policy(ctx, admin)
	if read.MaxSecretLifetime != want.MaxSecretLifetime || !read.RequireAdminMFA || read.Version() != got.Version() {
		t.Errorf("read back %+v", read)
	}
	if tn, _ := f.db.Tenant(ctx, "ten_a"); !tn.RequireAdminMFA {
		t.Error("require_admin_mfa did not reach the tenant")
	}
	// A stale version changes nothing.
	f.now = f.now.Add(time.Minute)
	if _, err := f.svc.SetPolicy(ctx, f.sys, client.Policy{}, before.Version()); !errors.Is(err, errs.ErrStale) {
		t.Errorf("stale version: %v", err)
	}
	// Setting what is set records nothing.
	if _, err := f.svc.SetPolicy(ctx, f.sys, want, ""); err != nil {
		t.Fatal(err)
	}
	page, err := f.db.ListAudit(ctx, audit.Query{TenantID: "ten_a", Action: client.ActionPolicyUpdated})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 {
		t.Fatalf("%d policy events, want 1", len(page.Events))
	}
	e := page.Events[0]
	wantChanges := []string{"allowed_grant_types", "max_secret_lifetime", "redirect_hosts", "require_admin_mfa"}
	if !slices.Equal(e.Changes, wantChanges) || e.TargetType != audit.TargetTenant || e.TargetID != "ten_a" {
		t.Errorf("event changes %v target %s/%s", e.Changes, e.TargetType, e.TargetID)
	}
	if e.Before["max_secret_lifetime"] != "0" || e.After["max_secret_lifetime"] != "7776000" ||
		e.After["allowed_grant_types"] != `["client_credentials"]` || e.Before["require_admin_mfa"] != "false" {
		t.Errorf("event values before %v after %v", e.Before, e.After)
	}
}
