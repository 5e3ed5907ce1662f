package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/store"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations, provision an empty database, and exit",
		Long: `Apply the embedded database migrations and exit. Like a first start of
serve, an empty database is provisioned, so the other commands have a
tenant to act in; generated credentials are printed once, to a terminal only.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.migrate(cmd.Context()) },
	}
}

func (a *app) migrate(ctx context.Context) error {
	n, err := store.Migrate(ctx, a.cfg.database)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "applied %d migration(s)\n", n)
	st, res, err := openStore(ctx, &a.cfg, a.env)
	if err != nil {
		return err
	}
	a.firstStart(res, "")
	return st.Close()
}
