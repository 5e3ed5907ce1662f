package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
)

const tenantsUsage = `usage: latchkey tenants <command> [flags]

  create --name N [--slug S]   add a tenant, served at {issuer}/t/{slug}
  list                         list tenants and their issuers
`

// tenantJSON is a tenant as "tenants ... --json" prints it.
type tenantJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug,omitempty"`
	Default   bool      `json:"default"`
	Issuer    string    `json:"issuer,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// tenants runs "latchkey tenants create|list". It works on an existing
// database only: it never creates one, and never provisions the defaults
// of a first start (serve and migrate do).
func tenants(ctx context.Context, args []string, e env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, tenantsUsage)
		if len(args) == 0 {
			return usageError{"a command is required"}
		}
		return nil
	}
	cmd, args := args[0], args[1:]
	var c config
	var asJSON bool
	var name, slug string
	f := newFlags("tenants "+cmd, e, stdout)
	f.common(&c)
	f.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	switch cmd {
	case "create":
		f.StringVar(&name, "name", "", "display name (required)")
		f.StringVar(&slug, "slug", "", "the tenant's name in its issuer URL: a-z, 0-9 and '-' (default: derived from --name)")
	case "list":
	default:
		fmt.Fprint(stdout, tenantsUsage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	pos, err := f.parseArgs(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	if err := c.check(); err != nil {
		return err
	}
	if cmd == "create" {
		if name == "" {
			return usageError{"--name is required"}
		}
		if slug == "" {
			if slug = account.SlugFromName(name); slug == "" {
				return usageError{fmt.Sprintf("no slug can be made from the name %q: give --slug", name)}
			}
		}
		if err := account.ValidateSlug(slug); err != nil {
			return usageError{"--slug: " + err.Error()}
		}
	}
	st, err := openExisting(ctx, &c)
	if err != nil {
		return err
	}
	defer st.Close()

	out := func(t *account.Tenant) tenantJSON {
		j := tenantJSON{ID: t.ID, Name: t.Name, Slug: t.Slug, Default: t.Default, CreatedAt: t.CreatedAt}
		switch {
		case t.Default:
			j.Issuer = c.issuer
		case t.Slug != "":
			j.Issuer = c.issuer + "/t/" + t.Slug
		}
		return j
	}
	if cmd == "list" {
		list, err := st.Tenants(ctx)
		if err != nil {
			return err
		}
		rows := make([]tenantJSON, len(list))
		for i := range list {
			rows[i] = out(&list[i])
		}
		if asJSON {
			return printJSON(stdout, rows)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
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

	id, err := client.NewID(rand.Reader, "ten_")
	if err != nil {
		return err
	}
	home, err := resolveTenant(ctx, st, "")
	if err != nil {
		return err
	}
	svc := &account.Tenants{Repo: st}
	t, err := svc.Create(ctx, operator(home.ID, e), account.NewTenant{ID: id, Name: name, Slug: slug})
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, out(t))
	}
	fmt.Fprintf(stdout, "Created tenant %q (%s), served at %s\n", name, id, out(t).Issuer)
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
