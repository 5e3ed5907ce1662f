package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
)

// tenantJSON is a tenant as "tenants ... --json" prints it.
type tenantJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Slug    string `json:"slug,omitempty"`
	Default bool   `json:"default"`
	Issuer  string `json:"issuer,omitempty"`
	// RequireAdminMFA: the tenant's admins must prove a second factor
	// before the console lets them in.
	RequireAdminMFA bool      `json:"require_admin_mfa"`
	CreatedAt       time.Time `json:"created_at"`
}

func (a *app) tenantsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "Add, list and change tenants",
		Long: `Add, list and change tenants. Each tenant is served at {issuer}/t/{slug} with its
own signing keys; the default tenant at the issuer itself.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	var name, slug string
	create := &cobra.Command{
		Use:   "create --name NAME [--slug SLUG]",
		Short: "Add a tenant, served at {issuer}/t/{slug}",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.tenantsCreate(cmd.Context(), name, slug, asJSON)
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name (required)")
	create.Flags().StringVar(&slug, "slug", "", "the tenant's name in its issuer URL: a-z, 0-9 and '-' (default: derived from --name)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants and their issuers",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.tenantsList(cmd.Context(), asJSON) },
	}
	var requireMFA bool
	update := &cobra.Command{
		Use:   "update TENANT --require-admin-mfa=true|false",
		Short: "Change a tenant's settings",
		Long: `Change a tenant's settings. TENANT is its ID or slug.

--require-admin-mfa=true makes every admin of the tenant (a user holding any
permission) prove a second factor, an authenticator app or a passkey, before
the console lets them in; one who has none is asked to set one up first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("require-admin-mfa") {
				return usageError{msg: "nothing to change: give --require-admin-mfa=true or --require-admin-mfa=false"}
			}
			return a.tenantsUpdate(cmd.Context(), args[0], requireMFA, asJSON)
		},
	}
	update.Flags().BoolVar(&requireMFA, "require-admin-mfa", false, "require admins to prove a second factor for the console")
	cmd.AddCommand(create, list, update)
	return cmd
}

// tenantsUpdate sets a tenant's admin MFA requirement, audited in the
// tenant's own chain.
func (a *app) tenantsUpdate(ctx context.Context, ref string, requireMFA, asJSON bool) error {
	st, err := openExisting(ctx, &a.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tn, err := resolveTenant(ctx, st, ref)
	if err != nil {
		return err
	}
	svc := &account.Tenants{Repo: st}
	t, err := svc.SetRequireAdminMFA(ctx, operator(tn.ID, a.env), tn.ID, requireMFA)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, a.tenantView(t))
	}
	state := "no longer require"
	if t.RequireAdminMFA {
		state = "require"
	}
	fmt.Fprintf(a.stdout, "Admins of tenant %q (%s) now %s a second factor for the console.\n", t.Name, t.ID, state)
	return nil
}

// tenantView is how the tenant commands show a tenant.
func (a *app) tenantView(t *account.Tenant) tenantJSON {
	j := tenantJSON{ID: t.ID, Name: t.Name, Slug: t.Slug, Default: t.Default, RequireAdminMFA: t.RequireAdminMFA,
		CreatedAt: t.CreatedAt}
	switch {
	case t.Default:
		j.Issuer = a.cfg.issuer
	case t.Slug != "":
		j.Issuer = a.cfg.issuer + "/t/" + t.Slug
	}
	return j
}

// tenantsList works on an existing database only: it never creates one,
// and never provisions the defaults of a first start (serve and migrate do).
func (a *app) tenantsList(ctx context.Context, asJSON bool) error {
	st, err := openExisting(ctx, &a.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.Tenants(ctx)
	if err != nil {
		return err
	}
	rows := make([]tenantJSON, len(list))
	for i := range list {
		rows[i] = a.tenantView(&list[i])
	}
	if asJSON {
		return printJSON(a.stdout, rows)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tID\tNAME\tISSUER\tCREATED")
	for _, r := range rows {
		iss := r.Issuer
		if r.Default {
			iss += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", orNone(r.Slug), r.ID, oneLine(r.Name, 60), orNone(iss),
			r.CreatedAt.Format(time.DateOnly))
	}
	return tw.Flush()
}

func (a *app) tenantsCreate(ctx context.Context, name, slug string, asJSON bool) error {
	if name == "" {
		return usageError{msg: "--name is required"}
	}
	if slug == "" {
		if slug = account.SlugFromName(name); slug == "" {
			return usageError{msg: fmt.Sprintf("no slug can be made from the name %q: give --slug", name)}
		}
	}
	if err := account.ValidateSlug(slug); err != nil {
		return usageError{msg: "--slug: " + err.Error()}
	}
	st, err := openExisting(ctx, &a.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := client.NewID(rand.Reader, "ten_")
	if err != nil {
		return err
	}
	home, err := resolveTenant(ctx, st, "")
	if err != nil {
		return err
	}
	svc := &account.Tenants{Repo: st}
	t, err := svc.Create(ctx, operator(home.ID, a.env), account.NewTenant{ID: id, Name: name, Slug: slug})
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, a.tenantView(t))
	}
	fmt.Fprintf(a.stdout, "Created tenant %q (%s), served at %s\n", name, id, a.tenantView(t).Issuer)
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
