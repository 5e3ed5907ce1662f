package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/store"
)

// openExisting opens the database the configuration names for a command
// that must not create or migrate one (everything but serve and migrate).
func openExisting(ctx context.Context, c *config) (store.Store, error) {
	st, err := store.OpenExisting(ctx, c.database)
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, fmt.Errorf("%w\n  Only \"latchkey serve\" and \"latchkey migrate\" create and provision a database."+
			"\n  Point this command at the server's database with --database or LATCHKEY_DATABASE_URL", err)
	}
	return st, err
}

// resolveTenant finds the tenant a command acts on: the one named (by ID
// or slug), or, when none is named, the default tenant provisioned at
// first start.
func resolveTenant(ctx context.Context, st store.Store, name string) (*account.Tenant, error) {
	if name != "" {
		t, err := st.Tenant(ctx, name)
		if errors.Is(err, account.ErrNotFound) {
			t, err = st.TenantBySlug(ctx, name)
		}
		if errors.Is(err, account.ErrNotFound) {
			return nil, fmt.Errorf("no tenant %q in this database (\"latchkey tenants list\" shows them)", name)
		}
		return t, err
	}
	t, err := st.DefaultTenant(ctx)
	if errors.Is(err, account.ErrNotFound) {
		return nil, errors.New("the database has no tenant yet: \"latchkey serve\" or \"latchkey migrate\" provisions one at first start")
	}
	return t, err
}

// operator is the actor of a command-line change: the operating-system
// user at the terminal, as a super admin of the tenant.
func operator(tenantID string, e env) authz.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	} else {
		name = e.lookup("USER")
	}
	return authz.OperatorActor(tenantID, name)
}

// tenantFlag registers --tenant, a setting: the tenant a command acts in.
func tenantFlag(fs *pflag.FlagSet, p *string, usage string) {
	stringSetting(fs, p, "tenant", "LATCHKEY_TENANT", "", usage+", by ID or slug (default: the default tenant)")
}

// completeValues offers a flag's fixed values to shell completion.
func completeValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}
