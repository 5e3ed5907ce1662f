package client

import (
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
)

// TestPolicyValidate: every value a policy could hold wrong is refused by
// the field it is in, and a full, sensible policy passes.
func TestPolicyValidate(t *testing.T) {
	good := Policy{
		MaxSecretLifetime: 90 * day, RequireSecretExpiry: true,
		AllowedGrantTypes: []GrantType{GrantClientCredentials, GrantAuthorizationCode}, RequirePKCE: true,
		ForbidWildcardScope: true, RedirectHosts: []string{"app.example", "*.corp.example"}, RequireOwner: true,
		MaxAccessTokenTTL: time.Hour, Leak: LeakFlag,
		Registration: RegistrationPolicy{Mode: RegistrationToken, RequireApproval: true, Template: "mcp", ExpireUnused: day},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	if err := (&Policy{}).Validate(); err != nil {
		t.Fatalf("Validate(zero) = %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Policy)
		field string
	}{
		{"secret lifetime below a day", func(p *Policy) { p.MaxSecretLifetime = time.Hour }, "max_secret_lifetime"},
		{"secret lifetime beyond 3 years", func(p *Policy) { p.MaxSecretLifetime = MaxSecretLifetime + day }, "max_secret_lifetime"},
		{"unknown grant", func(p *Policy) { p.AllowedGrantTypes = []GrantType{"implicit"} }, "allowed_grant_types"},
		{"host with a scheme", func(p *Policy) { p.RedirectHosts = []string{"https://app.example"} }, "redirect_hosts"},
		{"host in upper case", func(p *Policy) { p.RedirectHosts = []string{"App.example"} }, "redirect_hosts"},
		{"bare wildcard", func(p *Policy) { p.RedirectHosts = []string{"*"} }, "redirect_hosts"},
		{"empty label", func(p *Policy) { p.RedirectHosts = []string{"app..example"} }, "redirect_hosts"},
		{"access TTL too short", func(p *Policy) { p.MaxAccessTokenTTL = time.Minute }, "max_access_token_ttl"},
		{"warn without after", func(p *Policy) { p.Stale = StalePolicy{Warn: day} }, "stale"},
		{"warn not before after", func(p *Policy) { p.Stale = StalePolicy{After: 30 * day, Warn: 30 * day} }, "stale"},
		{"stale after under a week", func(p *Policy) { p.Stale = StalePolicy{After: 3 * day} }, "stale.after"},
		{"unknown leak action", func(p *Policy) { p.Leak = "ignore" }, "leak_action"},
		{"unknown registration mode", func(p *Policy) { p.Registration.Mode = "anyone" }, "registration.mode"},
		{"unknown registration template", func(p *Policy) { p.Registration.Template = "custom" }, "registration.template"},
		{"unused expiry under an hour", func(p *Policy) { p.Registration.ExpireUnused = time.Minute }, "registration.expire_unused"},
		{"stale deactivation not offered", func(p *Policy) { p.Stale = StalePolicy{After: 90 * day, Warn: 14 * day} }, "stale.after"},
		{"negative unused expiry", func(p *Policy) { p.Registration.ExpireUnused = -time.Second }, "registration.expire_unused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			p.AllowedGrantTypes, p.RedirectHosts = slices.Clone(good.AllowedGrantTypes), slices.Clone(good.RedirectHosts)
			tc.edit(&p)
			got := errs.Fields(p.Validate())
			if !slices.ContainsFunc(got, func(f errs.FieldError) bool { return f.Field == tc.field }) {
				t.Fatalf("Validate = %+v; want an error on %s", got, tc.field)
			}
		})
	}
}

// TestPolicyRedirectHosts: an exact host, subdomains of a wildcard (not
// the domain itself), loopback always, other hosts never.
func TestPolicyRedirectHosts(t *testing.T) {
	p := &Policy{RedirectHosts: []string{"app.example", "*.corp.example"}}
	for u, want := range map[string]bool{
		"https://app.example/cb":          true,
		"https://APP.example/cb":          true,
		"https://app.example:8443/cb":     true,
		"https://a.corp.example/cb":       true,
		"https://a.b.corp.example/cb":     true,
		"https://corp.example/cb":         false,
		"https://evilcorp.example/cb":     false,
		"https://app.example.evil/cb":     false,
		"https://other.example/cb":        false,
		"http://127.0.0.1:5555/cb":        true,
		"http://[::1]/cb":                 true,
		"http://localhost:8080/cb":        true,
		"com.example.app:/oauth-callback": true, // no host: left to the model's own checks
	} {
		if got := p.hostAllowed(u); got != want {
			t.Errorf("hostAllowed(%s) = %v; want %v", u, got, want)
		}
	}
	if !(&Policy{}).hostAllowed("https://anything.example/cb") {
		t.Error("an empty allow-list must allow every host")
	}
}

// TestPolicyCheckClient: each rule refuses what a new client breaks,
// naming itself; on an update only what the write changes is held to the
// rules, so a client that broke a rule before the policy was tightened
// can still be edited otherwise.
func TestPolicyCheckClient(t *testing.T) {
	strict := &Policy{
		AllowedGrantTypes: []GrantType{GrantAuthorizationCode, GrantRefreshToken}, RequirePKCE: true,
		ForbidWildcardScope: true, RedirectHosts: []string{"app.example"}, RequireOwner: true,
		MaxAccessTokenTTL: 15 * time.Minute,
	}
	bad := &Client{
		Type: Confidential, GrantTypes: []GrantType{GrantAuthorizationCode, GrantClientCredentials},
		RedirectURIs: []string{"https://elsewhere.example/cb"}, Scopes: []string{"*"}, AccessTokenTTL: time.Hour,
	}
	rules := func(err error) []string {
		var out []string
		for _, f := range errs.Fields(err) {
			out = append(out, f.Policy+"@"+f.Field)
		}
		return out
	}
	want := []string{"allowed_grant_types@grant_types", "require_pkce@require_pkce", "forbid_wildcard_scope@scopes",
		"redirect_hosts@redirect_uris", "require_owner@owner_user_id", "max_access_token_ttl@access_token_ttl"}
	if got := rules(strict.CheckClient(nil, bad)); !slices.Equal(got, want) {
		t.Fatalf("CheckClient(new) = %v; want %v", got, want)
	}
	if err := (&Policy{}).CheckClient(nil, bad); err != nil {
		t.Fatalf("the zero policy refused: %v", err)
	}
	var none *Policy
	if err := none.CheckClient(nil, bad); err != nil {
		t.Fatalf("a nil policy refused: %v", err)
	}

	renamed := bad.Clone()
	renamed.Name = "renamed"
	if err := strict.CheckClient(bad, renamed); err != nil {
		t.Fatalf("an edit that leaves every violating field alone was refused: %v", err)
	}
	worse := bad.Clone()
	worse.RedirectURIs = append(worse.RedirectURIs, "https://another.example/cb")
	worse.AccessTokenTTL = 2 * time.Hour
	if got := rules(strict.CheckClient(bad, worse)); !slices.Equal(got, []string{"redirect_hosts@redirect_uris", "max_access_token_ttl@access_token_ttl"}) {
		t.Fatalf("CheckClient(changed) = %v; want the new redirect URI and the changed TTL only", got)
	}
	fixed := bad.Clone()
	fixed.RequirePKCE, fixed.OwnerUserID = true, "usr_owner"
	if err := strict.CheckClient(bad, fixed); err != nil {
		t.Fatalf("an edit towards compliance was refused: %v", err)
	}
	dropped := fixed.Clone()
	dropped.RequirePKCE, dropped.OwnerUserID = false, ""
	if got := rules(strict.CheckClient(fixed, dropped)); !slices.Equal(got, []string{"require_pkce@require_pkce", "require_owner@owner_user_id"}) {
		t.Fatalf("CheckClient(undo) = %v; want PKCE and owner refused again", got)
	}
	public := &Client{Type: Public, GrantTypes: []GrantType{GrantAuthorizationCode}, OwnerUserID: "usr_owner",
		RedirectURIs: []string{"https://app.example/cb"}, AccessTokenTTL: time.Minute * 5}
	if err := strict.CheckClient(nil, public); err != nil {
		t.Fatalf("a public client always uses PKCE, yet: %v", err)
	}
}

// TestPolicySecretLifetime: the cap and the expiry requirement hold for an
// asked lifetime, and the default shortens to the cap.
func TestPolicySecretLifetime(t *testing.T) {
	p := &Policy{MaxSecretLifetime: 30 * day}
	for _, tc := range []struct {
		lifetime time.Duration
		rule     string
	}{
		{0, ""}, {30 * day, ""}, {31 * day, RuleMaxSecretLifetime}, {NeverExpires, RuleMaxSecretLifetime},
	} {
		got := errs.Fields(p.CheckSecretLifetime(tc.lifetime))
		switch {
		case tc.rule == "" && got != nil:
			t.Errorf("lifetime %v: %+v; want allowed", tc.lifetime, got)
		case tc.rule != "" && (len(got) != 1 || got[0].Policy != tc.rule || got[0].Field != "secret_expires"):
			t.Errorf("lifetime %v: %+v; want %s on secret_expires", tc.lifetime, got, tc.rule)
		}
	}
	if d := p.DefaultSecretLifetimeFor(); d != 30*day {
		t.Errorf("default under a 30-day cap = %v", d)
	}
	if d := (&Policy{MaxSecretLifetime: 365 * day}).DefaultSecretLifetimeFor(); d != DefaultSecretLifetime {
		t.Errorf("default under a cap above it = %v; want %v", d, DefaultSecretLifetime)
	}
	expiring := &Policy{RequireSecretExpiry: true}
	if got := errs.Fields(expiring.CheckSecretLifetime(NeverExpires)); len(got) != 1 || got[0].Policy != RuleRequireSecretExpiry {
		t.Errorf("never under require_secret_expiry: %+v", got)
	}
	if err := expiring.CheckSecretLifetime(MaxSecretLifetime); err != nil {
		t.Errorf("an expiring secret under require_secret_expiry: %v", err)
	}
}

// TestPolicyViolations: the report line of a client lists its working
// secrets' lifetimes beside the client rules, and leaves out retiring,
// revoked and expired secrets.
func TestPolicyViolations(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	p := &Policy{MaxSecretLifetime: 90 * day, RequireSecretExpiry: true, RequireOwner: true}
	c := &Client{Type: Confidential, GrantTypes: []GrantType{GrantClientCredentials}, AccessTokenTTL: time.Hour}
	secrets := []Secret{
		{Hint: "long", Status: SecretActive, CreatedAt: now.Add(-day), ExpiresAt: now.Add(179 * day)},
		{Hint: "ever", Status: SecretActive, CreatedAt: now.Add(-day)},
		{Hint: "fine", Status: SecretActive, CreatedAt: now.Add(-day), ExpiresAt: now.Add(29 * day)},
		{Hint: "grce", Status: SecretRetiring, CreatedAt: now.Add(-400 * day), ExpiresAt: now.Add(day)},
		{Hint: "gone", Status: SecretRevoked, CreatedAt: now.Add(-day)},
		{Hint: "past", Status: SecretActive, CreatedAt: now.Add(-400 * day), ExpiresAt: now.Add(-day)},
	}
	var got []string
	for _, v := range p.Violations(c, secrets, now) {
		got = append(got, v.Policy+": "+v.Message)
	}
	want := []string{
		"max_secret_lifetime: secret …long lasts 180 days; the policy allows at most 90 days",
		"require_secret_expiry: secret …ever never expires",
		"max_secret_lifetime: secret …ever never expires; the policy allows at most 90 days",
		"require_owner: the tenant policy requires every client to have an owner",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Violations =\n%q\nwant\n%q", got, want)
	}
	c.OwnerUserID = "usr_owner"
	if v := p.Violations(c, secrets[2:], now); len(v) != 0 {
		t.Fatalf("a compliant client has violations: %+v", v)
	}
}
