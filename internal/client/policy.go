package client

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
)

// Policy is a tenant's guardrails for its clients (seed Genesys's
// "Compliance" list). The domain checks it on every create, update and
// secret issue, and a write that breaks a rule fails with a field error
// naming the rule (FieldError.Policy). A rule is checked only against
// what a write sets or changes: tightening a policy never breaks a client
// that exists, and the compliance report (Violations) lists those that
// no longer comply.
//
// The zero Policy sets no rule.
type Policy struct {
	TenantID string `json:"-"`

	// MaxSecretLifetime caps how long a new secret may last; 0 for no cap
	// beyond the model's (MaxSecretLifetime).
	MaxSecretLifetime time.Duration `json:"max_secret_lifetime"`
	// RequireSecretExpiry refuses secrets that never expire.
	RequireSecretExpiry bool `json:"require_secret_expiry"`
	// AllowedGrantTypes are the only grants a client may be given; empty
	// for all.
	AllowedGrantTypes []GrantType `json:"allowed_grant_types"`
	// RequirePKCE makes every client that uses authorization_code require
	// PKCE, confidential clients too (Client.RequirePKCE; public clients
	// always do).
	RequirePKCE bool `json:"require_pkce"`
	// ForbidWildcardScope refuses the "*" scope.
	ForbidWildcardScope bool `json:"forbid_wildcard_scope"`
	// RedirectHosts are the only hosts redirect URIs may name: a host
	// exactly, or "*.example.com" for its subdomains (not example.com
	// itself). Loopback redirects of native apps (RFC 8252 §7.3) are
	// always allowed. Empty for any host.
	RedirectHosts []string `json:"redirect_hosts"`
	// RequireOwner refuses clients without an owning user.
	RequireOwner bool `json:"require_owner"`
	// MaxAccessTokenTTL caps a client's access-token lifetime; 0 for the
	// model's cap (MaxAccessTokenTTL).
	MaxAccessTokenTTL time.Duration `json:"max_access_token_ttl"`
	// RequireAdminMFA is the tenant's account.Tenant.RequireAdminMFA,
	// shown and edited with the policy; the client domain does not check
	// it.
	RequireAdminMFA bool `json:"require_admin_mfa"`

	// Stale is what happens to clients unused for long.
	Stale StalePolicy `json:"stale"`
	// Leak is what a credible report of a leaked secret does.
	Leak LeakAction `json:"leak_action"`
	// Registration governs dynamic client registration (RFC 7591).
	Registration RegistrationPolicy `json:"registration"`

	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// StalePolicy is to deactivate clients unused for After (never used counts
// from creation), warning the owner Warn before through the expiry-warning
// channels. After 0 turns it off; Validate refuses any other value until
// the server has the sweep that acts on it.
type StalePolicy struct {
	After time.Duration `json:"after"`
	Warn  time.Duration `json:"warn"`
}

// LeakAction is what a verified leak report does to the secret.
type LeakAction string

const (
	// LeakRevoke revokes the secret at once: the default.
	LeakRevoke LeakAction = "revoke"
	// LeakFlag marks the secret leaked and notifies, leaving it working
	// until an admin acts.
	LeakFlag LeakAction = "flag"
)

// RegistrationMode says who may register clients dynamically.
type RegistrationMode string

const (
	// RegistrationOff refuses dynamic registration: the default.
	RegistrationOff RegistrationMode = "off"
	// RegistrationOpen lets anyone register (RFC 7591 §3 open registration).
	RegistrationOpen RegistrationMode = "open"
	// RegistrationToken needs an initial access token (RFC 7591 §3).
	RegistrationToken RegistrationMode = "token"
)

// RegistrationPolicy governs RFC 7591 registration in a tenant.
type RegistrationPolicy struct {
	Mode RegistrationMode `json:"mode"`
	// RequireApproval starts registered clients pending an admin's
	// approval instead of active.
	RequireApproval bool `json:"require_approval"`
	// Template names the RegistrationTemplate a registered client starts
	// from and is held to; empty for the default ("web").
	Template string `json:"template"`
	// ExpireUnused deletes a registered client unused for this long (a
	// client never used counts from its registration); 0 keeps it.
	ExpireUnused time.Duration `json:"expire_unused"`
}

// Policy rule names, as FieldError.Policy and Violation.Policy carry them.
const (
	RuleMaxSecretLifetime   = "max_secret_lifetime"
	RuleRequireSecretExpiry = "require_secret_expiry"
	RuleAllowedGrantTypes   = "allowed_grant_types"
	RuleRequirePKCE         = "require_pkce"
	RuleForbidWildcardScope = "forbid_wildcard_scope"
	RuleRedirectHosts       = "redirect_hosts"
	RuleRequireOwner        = "require_owner"
	RuleMaxAccessTokenTTL   = "max_access_token_ttl"
)

// Violation is one rule of the policy a client breaks.
type Violation struct {
	Policy  string `json:"policy"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Validate checks the policy's own values.
func (p *Policy) Validate() error {
	var fe fieldErrors
	if p.MaxSecretLifetime != 0 && (p.MaxSecretLifetime < MinSecretLifetime || p.MaxSecretLifetime > MaxSecretLifetime) {
		fe.add("max_secret_lifetime", "must be from 1 day to 3 years, or 0 for no cap")
	}
	for _, g := range p.AllowedGrantTypes {
		if CheckGrantType(string(g)) != nil {
			fe.add("allowed_grant_types", fmt.Sprintf("%q is not a grant type: use client_credentials, authorization_code or refresh_token", truncate(string(g), 40)))
		}
	}
	for _, h := range p.RedirectHosts {
		if !validHostPattern(h) {
			fe.add("redirect_hosts", fmt.Sprintf("%q is not a host name or *.domain pattern", truncate(h, 80)))
		}
	}
	if p.MaxAccessTokenTTL != 0 && (p.MaxAccessTokenTTL < MinAccessTokenTTL || p.MaxAccessTokenTTL > MaxAccessTokenTTL) {
		fe.add("max_access_token_ttl", "must be from 300 to 172800 seconds, or 0 for no cap")
	}
	if p.Stale.After < 0 || p.Stale.Warn < 0 || (p.Stale.After == 0 && p.Stale.Warn != 0) || (p.Stale.After != 0 && p.Stale.Warn >= p.Stale.After) {
		fe.add("stale", "after must be 0 (off) or positive, and warn shorter than after")
	}
	if p.Stale.After != 0 && p.Stale.After < 7*day {
		fe.add("stale.after", "must be at least 7 days")
	}
	if p.Stale.After != 0 {
		// Refused until a sweep acts on it: a rule stored but never
		// applied would promise what the server does not do.
		fe.add("stale.after", "deactivating stale clients is not available on this server: list them with the stale report (GET /reports/stale, latchkey clients stale)")
	}
	switch p.Leak {
	case "", LeakRevoke, LeakFlag:
	default:
		fe.add("leak_action", `must be "revoke" or "flag"`)
	}
	switch p.Registration.Mode {
	case "", RegistrationOff, RegistrationOpen, RegistrationToken:
	default:
		fe.add("registration.mode", `must be "off", "open" or "token"`)
	}
	if _, ok := RegistrationTemplateNamed(p.Registration.Template); !ok {
		fe.add("registration.template", fmt.Sprintf("%q is not a template: use %s", truncate(p.Registration.Template, 40),
			strings.Join(registrationTemplateNames(), ", ")))
	}
	if p.Registration.ExpireUnused != 0 && (p.Registration.ExpireUnused < time.Hour || p.Registration.ExpireUnused > MaxSecretLifetime) {
		fe.add("registration.expire_unused", "must be from 1 hour to 3 years, or 0 to keep registered clients")
	}
	return fe.err()
}

// LeakActionOrDefault is the policy's leak action, revoke when unset.
func (p *Policy) LeakActionOrDefault() LeakAction {
	if p.Leak == "" {
		return LeakRevoke
	}
	return p.Leak
}

// validHostPattern reports whether h is a lower-case DNS host name, or
// "*." followed by one.
func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 || h != strings.ToLower(h) {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// hostAllowed reports whether redirect URI u names a host the policy
// allows. A URI that does not parse is left to the model's own checks.
func (p *Policy) hostAllowed(u string) bool {
	if len(p.RedirectHosts) == 0 {
		return true
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		return true
	}
	host := strings.ToLower(parsed.Hostname())
	if isLoopbackHost(host) {
		return true
	}
	for _, pat := range p.RedirectHosts {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if strings.HasSuffix(host, "."+rest) {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

func isLoopbackHost(h string) bool {
	return h == "127.0.0.1" || h == "::1" || h == "localhost"
}

// Violations lists every rule of the policy c breaks as it stands, in the
// order of the rules: the compliance report's line for c. Secrets are
// c's, to check the lifetimes of those that still work at now.
func (p *Policy) Violations(c *Client, secrets []Secret, now time.Time) []Violation {
	var out []Violation
	add := func(rule, field, msg string) { out = append(out, Violation{Policy: rule, Field: field, Message: msg}) }
	for i := range secrets {
		s := &secrets[i]
		if !s.Usable(now) || s.Status == SecretRetiring {
			continue
		}
		if s.ExpiresAt.IsZero() {
			if p.RequireSecretExpiry {
				add(RuleRequireSecretExpiry, "secret_expires", fmt.Sprintf("secret …%s never expires", s.Hint))
			}
			if p.MaxSecretLifetime != 0 {
				add(RuleMaxSecretLifetime, "secret_expires", fmt.Sprintf("secret …%s never expires; the policy allows at most %s", s.Hint, days(p.MaxSecretLifetime)))
			}
		} else if p.MaxSecretLifetime != 0 && s.ExpiresAt.Sub(s.CreatedAt) > p.MaxSecretLifetime {
			add(RuleMaxSecretLifetime, "secret_expires", fmt.Sprintf("secret …%s lasts %s; the policy allows at most %s", s.Hint, days(s.ExpiresAt.Sub(s.CreatedAt)), days(p.MaxSecretLifetime)))
		}
	}
	return append(out, p.clientRules(nil, c)...)
}

// clientRules is what c breaks of the rules on a client's own fields,
// leaving out those old (the client before an update; nil for a new
// client) broke in the same field already.
func (p *Policy) clientRules(old, c *Client) []Violation {
	var out []Violation
	add := func(rule, field, msg string) { out = append(out, Violation{Policy: rule, Field: field, Message: msg}) }
	if len(p.AllowedGrantTypes) > 0 && (old == nil || !slices.Equal(old.GrantTypes, c.GrantTypes)) {
		for _, g := range c.GrantTypes {
			if !slices.Contains(p.AllowedGrantTypes, g) && (old == nil || !slices.Contains(old.GrantTypes, g)) {
				add(RuleAllowedGrantTypes, "grant_types", fmt.Sprintf("%s is not among the grant types the tenant policy allows", g))
			}
		}
	}
	if p.RequirePKCE && c.Type == Confidential && c.HasGrant(GrantAuthorizationCode) && !c.RequirePKCE &&
		(old == nil || old.RequirePKCE || !old.HasGrant(GrantAuthorizationCode)) {
		add(RuleRequirePKCE, "require_pkce", "the tenant policy requires PKCE for every client using authorization_code")
	}
	if p.ForbidWildcardScope && slices.Contains(c.Scopes, "*") && (old == nil || !slices.Contains(old.Scopes, "*")) {
		add(RuleForbidWildcardScope, "scopes", `the tenant policy forbids the "*" scope`)
	}
	for _, u := range c.RedirectURIs {
		if !p.hostAllowed(u) && (old == nil || !slices.Contains(old.RedirectURIs, u)) {
			add(RuleRedirectHosts, "redirect_uris", fmt.Sprintf("%s names a host outside the tenant policy's allow-list", truncate(u, 200)))
		}
	}
	if p.RequireOwner && c.OwnerUserID == "" && (old == nil || old.OwnerUserID != "") {
		add(RuleRequireOwner, "owner_user_id", "the tenant policy requires every client to have an owner")
	}
	if p.MaxAccessTokenTTL != 0 && c.AccessTokenTTL > p.MaxAccessTokenTTL && (old == nil || old.AccessTokenTTL != c.AccessTokenTTL) {
		add(RuleMaxAccessTokenTTL, "access_token_ttl", fmt.Sprintf("must be at most %d seconds under the tenant policy", int64(p.MaxAccessTokenTTL/time.Second)))
	}
	return out
}

// CheckClient returns a *ValidationError naming every rule that c breaks
// in what the write changes of old (nil for a new client), or nil.
func (p *Policy) CheckClient(old, c *Client) error {
	if p == nil {
		return nil
	}
	return violationsErr(p.clientRules(old, c))
}

// CheckSecretLifetime returns a *ValidationError when a new secret of the
// lifetime asked (0 for the default, NeverExpires for none) breaks the
// policy, or nil.
func (p *Policy) CheckSecretLifetime(lifetime time.Duration) error {
	if p == nil {
		return nil
	}
	var out []Violation
	switch {
	case lifetime == NeverExpires && p.RequireSecretExpiry:
		out = append(out, Violation{RuleRequireSecretExpiry, "secret_expires", "the tenant policy requires every secret to expire"})
	case lifetime == NeverExpires && p.MaxSecretLifetime != 0:
		out = append(out, Violation{RuleMaxSecretLifetime, "secret_expires", fmt.Sprintf("the tenant policy allows secrets of at most %s", days(p.MaxSecretLifetime))})
	case p.MaxSecretLifetime != 0 && p.effectiveLifetime(lifetime) > p.MaxSecretLifetime:
		out = append(out, Violation{RuleMaxSecretLifetime, "secret_expires", fmt.Sprintf("the tenant policy allows secrets of at most %s", days(p.MaxSecretLifetime))})
	}
	return violationsErr(out)
}

// DefaultSecretLifetimeFor is the lifetime a secret gets when none is
// asked for: the model's default, shortened to the policy's cap.
func (p *Policy) DefaultSecretLifetimeFor() time.Duration {
	if p != nil && p.MaxSecretLifetime != 0 && p.MaxSecretLifetime < DefaultSecretLifetime {
		return p.MaxSecretLifetime
	}
	return DefaultSecretLifetime
}

func (p *Policy) effectiveLifetime(d time.Duration) time.Duration {
	if d == 0 {
		return p.DefaultSecretLifetimeFor()
	}
	return d
}

func violationsErr(vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	fields := make([]errs.FieldError, len(vs))
	for i, v := range vs {
		fields[i] = errs.FieldError{Field: v.Field, Message: v.Message, Policy: v.Policy}
	}
	return &ValidationError{Fields: fields}
}

// days writes a duration in whole days, or hours below a day.
func days(d time.Duration) string {
	if d < day {
		return fmt.Sprintf("%d hours", int64(d/time.Hour))
	}
	n := int64(d / day)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
