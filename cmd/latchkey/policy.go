package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/admin/adminclient"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// policyOps is what the policy and compliance commands ask of Latchkey:
// the domain service on the database, or a server's admin API, as
// clientOps is for the clients commands.
type policyOps interface {
	// Policy returns the tenant's policy, UpdatedAt set for its version.
	Policy(ctx context.Context) (*client.Policy, error)
	// SetPolicy replaces it, if it still has the version given.
	SetPolicy(ctx context.Context, p *client.Policy, version string) (*client.Policy, error)
	// Compliance returns the clients that break it.
	Compliance(ctx context.Context) (admin.ComplianceReport, error)
}

var (
	_ policyOps = localPolicy{}
	_ policyOps = remotePolicy{}
)

type localPolicy struct {
	svc   *client.Service
	actor authz.Actor
}

func (l localPolicy) Policy(ctx context.Context) (*client.Policy, error) {
	return l.svc.Policy(ctx, l.actor)
}

func (l localPolicy) SetPolicy(ctx context.Context, p *client.Policy, version string) (*client.Policy, error) {
	return l.svc.SetPolicy(ctx, l.actor, *p, version)
}

func (l localPolicy) Compliance(ctx context.Context) (admin.ComplianceReport, error) {
	rep := admin.ComplianceReport{Clients: []admin.Noncompliant{}}
	err := l.svc.Compliance(ctx, l.actor, func(n client.Noncompliant) error {
		rep.Clients = append(rep.Clients, admin.Noncompliant{ClientID: n.Client.ID, Name: n.Client.Name,
			Status: string(n.Client.Status), DivisionID: n.Client.DivisionID, Violations: n.Violations})
		return nil
	})
	rep.Count = len(rep.Clients)
	return rep, err
}

type remotePolicy struct {
	api *adminclient.Client
	r   *remote
}

func fromView(v *admin.Policy) *client.Policy {
	p := v.PolicyBody.Domain()
	if v.UpdatedAt != nil {
		p.UpdatedAt = *v.UpdatedAt
	}
	p.UpdatedBy = v.UpdatedBy
	return &p
}

func (rp remotePolicy) Policy(ctx context.Context) (*client.Policy, error) {
	v, err := rp.api.Policy(ctx)
	if err != nil {
		return nil, rp.r.remoteErr(err)
	}
	return fromView(v), nil
}

func (rp remotePolicy) SetPolicy(ctx context.Context, p *client.Policy, version string) (*client.Policy, error) {
	v, err := rp.api.SetPolicy(ctx, p, version)
	if err != nil {
		return nil, rp.r.remoteErr(err)
	}
	return fromView(v), nil
}

func (rp remotePolicy) Compliance(ctx context.Context) (admin.ComplianceReport, error) {
	v, err := rp.api.Compliance(ctx)
	if err != nil {
		return admin.ComplianceReport{}, rp.r.remoteErr(err)
	}
	return *v, nil
}

// policyCmd is one run of "latchkey policy ..." or "latchkey compliance".
type policyCmd struct {
	a        *app
	tenant   string
	endpoint string
	json     bool
	ops      policyOps
}

func (pc *policyCmd) flags(fs *pflag.FlagSet) {
	tenantFlag(fs, &pc.tenant, "tenant to act in")
	endpointFlag(fs, &pc.endpoint, endpointHelp)
	fs.BoolVar(&pc.json, "json", false, "print JSON for scripts")
}

// open connects to the tenant, as clientsCmd.open does.
func (pc *policyCmd) open(ctx context.Context) (func(), error) {
	if pc.endpoint != "" {
		r, api, err := pc.a.connect(pc.endpoint, pc.tenant)
		if err != nil {
			return nil, err
		}
		pc.ops = remotePolicy{api: api, r: r}
		return func() {}, nil
	}
	st, err := openExisting(ctx, &pc.a.cfg)
	if err != nil {
		return nil, err
	}
	tenant, err := resolveTenant(ctx, st, pc.tenant)
	if err != nil {
		st.Close()
		return nil, err
	}
	pc.ops = localPolicy{svc: &client.Service{Repo: st}, actor: operator(tenant.ID, pc.a.env)}
	return func() { st.Close() }, nil
}

func (a *app) policyCmd() *cobra.Command {
	pc := &policyCmd{a: a}
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Show and set the tenant's client policy",
		Long: `Show and set the tenant's policy: the guardrails every client create, update
and secret issue is checked against. A change never breaks a client that
exists; "latchkey compliance" lists those the policy finds at fault.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	pc.flags(cmd.PersistentFlags())
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the tenant's policy",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			done, err := pc.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			p, err := pc.ops.Policy(cmd.Context())
			if err != nil {
				return err
			}
			return pc.print(p)
		},
	}
	cmd.AddCommand(show, pc.setCmd())
	return cmd
}

// policyFlags are the flags of "policy set", each a rule; only those
// given change.
type policyFlags struct {
	maxSecret, maxTTL, staleAfter, staleWarn, expireUnused time.Duration
	grants, hosts                                          string
	secretExpiry, pkce, wildcard, owner, mfa, approval     bool
	leak, mode, template                                   string
}

func (pc *policyCmd) setCmd() *cobra.Command {
	var f policyFlags
	cmd := &cobra.Command{
		Use:   "set [flags]",
		Short: "Change rules of the tenant's policy",
		Long: `Change rules of the tenant's policy; the rules whose flags are not given stay
as they are. A boolean rule is turned off with =false (--require-pkce=false),
a cap with 0 (--max-secret-lifetime 0), a list with "" (--redirect-hosts "").`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if fs.NFlag() == 0 || !anyChanged(fs, "max-secret-lifetime", "require-secret-expiry", "allowed-grant-types",
				"require-pkce", "forbid-wildcard-scope", "redirect-hosts", "require-owner", "max-access-token-ttl",
				"require-admin-mfa", "stale-after", "stale-warn", "leak-action", "registration-mode",
				"registration-require-approval", "registration-template", "registration-expire-unused") {
				return usageError{msg: "nothing to change: give at least one rule's flag (see latchkey policy set --help)"}
			}
			done, err := pc.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			p, err := pc.ops.Policy(cmd.Context())
			if err != nil {
				return err
			}
			version := p.Version()
			f.apply(fs, p)
			out, err := pc.ops.SetPolicy(cmd.Context(), p, version)
			if err != nil {
				return err
			}
			return pc.print(out)
		},
	}
	fs := cmd.Flags()
	optionalDurationVar(fs, &f.maxSecret, "max-secret-lifetime", "longest a new secret may last, like 90d (1d to 3y; 0 for no cap)")
	fs.BoolVar(&f.secretExpiry, "require-secret-expiry", false, "refuse secrets that never expire")
	fs.StringVar(&f.grants, "allowed-grant-types", "", `the only grant types clients may have, comma-separated ("" for all)`)
	fs.BoolVar(&f.pkce, "require-pkce", false, "every client using authorization_code must require PKCE, confidential ones too")
	fs.BoolVar(&f.wildcard, "forbid-wildcard-scope", false, `refuse the "*" scope`)
	fs.StringVar(&f.hosts, "redirect-hosts", "", `the only hosts redirect URIs may name, comma-separated: host or *.domain ("" for any; loopback is always allowed)`)
	fs.BoolVar(&f.owner, "require-owner", false, "refuse clients without an owning user")
	optionalDurationVar(fs, &f.maxTTL, "max-access-token-ttl", "longest access-token lifetime a client may have, like 1h (300s to 48h; 0 for no cap)")
	fs.BoolVar(&f.mfa, "require-admin-mfa", false, "admins must prove a second factor for the console")
	optionalDurationVar(fs, &f.staleAfter, "stale-after", "deactivate clients unused this long, like 180d (at least 7d; 0 for off)")
	optionalDurationVar(fs, &f.staleWarn, "stale-warn", "warn this long before a stale client is deactivated, like 14d")
	fs.StringVar(&f.leak, "leak-action", "", "what a verified leak report does to the secret: revoke or flag")
	fs.StringVar(&f.mode, "registration-mode", "", "dynamic client registration: off, open or token")
	fs.BoolVar(&f.approval, "registration-require-approval", false, "registered clients wait for an admin's approval")
	fs.StringVar(&f.template, "registration-template", "", "preset registered clients start from")
	optionalDurationVar(fs, &f.expireUnused, "registration-expire-unused", "remove a registered client never used within this long (0 keeps it)")
	completeValues(cmd, "leak-action", string(client.LeakRevoke), string(client.LeakFlag))
	// Stored in the policy, and refused by it until the server acts on
	// them: not offered in the help.
	for _, name := range []string{"stale-after", "stale-warn", "registration-mode", "registration-require-approval",
		"registration-template", "registration-expire-unused"} {
		_ = fs.MarkHidden(name)
	}
	completeValues(cmd, "registration-mode", string(client.RegistrationOff), string(client.RegistrationOpen), string(client.RegistrationToken))
	return cmd
}

func anyChanged(fs *pflag.FlagSet, names ...string) bool {
	for _, n := range names {
		if fs.Changed(n) {
			return true
		}
	}
	return false
}

// commaList splits a comma-separated flag value, "" being the empty list.
func commaList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// apply sets the rules whose flags were given on p.
func (f *policyFlags) apply(fs *pflag.FlagSet, p *client.Policy) {
	given := fs.Changed
	if given("max-secret-lifetime") {
		p.MaxSecretLifetime = f.maxSecret
	}
	if given("require-secret-expiry") {
		p.RequireSecretExpiry = f.secretExpiry
	}
	if given("allowed-grant-types") {
		p.AllowedGrantTypes = grantTypes(commaList(f.grants))
	}
	if given("require-pkce") {
		p.RequirePKCE = f.pkce
	}
	if given("forbid-wildcard-scope") {
		p.ForbidWildcardScope = f.wildcard
	}
	if given("redirect-hosts") {
		p.RedirectHosts = commaList(f.hosts)
	}
	if given("require-owner") {
		p.RequireOwner = f.owner
	}
	if given("max-access-token-ttl") {
		p.MaxAccessTokenTTL = f.maxTTL
	}
	if given("require-admin-mfa") {
		p.RequireAdminMFA = f.mfa
	}
	if given("stale-after") {
		p.Stale.After = f.staleAfter
	}
	if given("stale-warn") {
		p.Stale.Warn = f.staleWarn
	}
	if given("leak-action") {
		p.Leak = client.LeakAction(f.leak)
	}
	if given("registration-mode") {
		p.Registration.Mode = client.RegistrationMode(f.mode)
	}
	if given("registration-require-approval") {
		p.Registration.RequireApproval = f.approval
	}
	if given("registration-template") {
		p.Registration.Template = f.template
	}
	if given("registration-expire-unused") {
		p.Registration.ExpireUnused = f.expireUnused
	}
}

// print shows a policy: its JSON form with --json, else one rule a line.
func (pc *policyCmd) print(p *client.Policy) error {
	v := admin.NewPolicy(p)
	if pc.json {
		return printJSON(pc.a.stdout, v)
	}
	capOf := func(d time.Duration) string {
		if d == 0 {
			return "no cap"
		}
		return spanText(d)
	}
	listOf := func(xs []string, none string) string {
		if len(xs) == 0 {
			return none
		}
		return strings.Join(xs, ", ")
	}
	tw := tabwriter.NewWriter(pc.a.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("Max secret lifetime", capOf(p.MaxSecretLifetime))
	row("Require secret expiry", yesNo(p.RequireSecretExpiry))
	row("Allowed grant types", listOf(v.AllowedGrantTypes, "all"))
	row("Require PKCE", yesNo(p.RequirePKCE))
	row("Forbid * scope", yesNo(p.ForbidWildcardScope))
	row("Redirect hosts", listOf(p.RedirectHosts, "any"))
	row("Require owner", yesNo(p.RequireOwner))
	row("Max access token TTL", capOf(p.MaxAccessTokenTTL))
	row("Require admin MFA", yesNo(p.RequireAdminMFA))
	stale := "off"
	if p.Stale.After != 0 {
		stale = "after " + spanText(p.Stale.After) + ", warning " + spanText(p.Stale.Warn) + " before"
	}
	row("Deactivate stale clients", stale)
	row("Leak action", v.LeakAction)
	row("Dynamic registration", v.Registration.Mode)
	if p.UpdatedAt.IsZero() {
		row("Last changed", "never")
	} else {
		row("Last changed", p.UpdatedAt.UTC().Format(time.RFC3339)+" by "+p.UpdatedBy)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// spanText writes a span as the flags take it: whole days as "90d".
func spanText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func (a *app) complianceCmd() *cobra.Command {
	pc := &policyCmd{a: a}
	cmd := &cobra.Command{
		Use:   "compliance",
		Short: "List the clients that break the tenant's policy",
		Long: `List every client that breaks the tenant's policy as it is now, and every
rule it breaks; revoked clients are left out. With --endpoint, the clients
the signed-in principal can view.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			done, err := pc.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			rep, err := pc.ops.Compliance(cmd.Context())
			if err != nil {
				return err
			}
			if pc.json {
				return printJSON(a.stdout, rep)
			}
			if rep.Count == 0 {
				fmt.Fprintln(a.stdout, "Every client complies with the tenant's policy.")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT ID\tNAME\tRULE\tPROBLEM")
			for _, n := range rep.Clients {
				for _, v := range n.Violations {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.ClientID, oneLine(n.Name, 40), v.Policy, oneLine(v.Message, 100))
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%d clients break the policy.\n", rep.Count)
			return nil
		},
	}
	pc.flags(cmd.Flags())
	return cmd
}
