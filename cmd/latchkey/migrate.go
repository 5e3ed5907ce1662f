package main

import (
	"context"
	"fmt"
	"io"

	"github.com/latchkey/latchkey/internal/store"
)

func migrate(ctx context.Context, args []string, e env, stdout io.Writer) error {
	var c config
	f := newFlags("migrate", e, stdout)
	f.common(&c)
	if _, err := f.parseArgs(args); err != nil {
		return err
	}
	log, err := c.setup(io.Discard)
	if err != nil {
		return err
	}
	n, err := store.Migrate(ctx, c.database)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
	// Like a first start of serve, an empty database is provisioned, so
	// the other commands have a tenant to act in.
	st, err := openStore(ctx, &c, e, stdout, log)
	if err != nil {
		return err
	}
	return st.Close()
}
