package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
)

// bulkCmd is "latchkey bulk": one operation over every client a list
// filter matches, in the database, as the operator.
type bulkCmd struct {
	a      *app
	tenant string
	json   bool

	svc   *bulk.Service
	actor client.Actor
}

func (a *app) bulkCmd() *cobra.Command {
	bc := &bulkCmd{a: a}
	cmd := &cobra.Command{
		Use:   "bulk",
		Short: "Change every client a filter matches: a dry run, then one confirmed job",
		Long: `Apply one operation to every client a filter matches (the filters of
"clients list"). Without --yes the command is a dry run: it lists each
client and its change, and the total, and writes nothing. With --yes it
queues one job over exactly the clients the dry run matches; the servers
run it in the background, resuming after a restart without changing any
client twice. A job stops at the first client whose change the tenant's
policy (or any other rule) refuses; "bulk status" shows it.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	pf := cmd.PersistentFlags()
	tenantFlag(pf, &bc.tenant, "tenant to act in")
	pf.BoolVar(&bc.json, "json", false, "print JSON for scripts")
	for _, op := range bulk.Ops {
		cmd.AddCommand(bc.opCmd(op))
	}
	cmd.AddCommand(bc.statusCmd(), bc.cancelCmd(), bc.resultCmd())
	return cmd
}

func (bc *bulkCmd) open(ctx context.Context) (func(), error) {
	st, err := openExisting(ctx, &bc.a.cfg)
	if err != nil {
		return nil, err
	}
	tenant, err := resolveTenant(ctx, st, bc.tenant)
	if err != nil {
		st.Close()
		return nil, err
	}
	kek, err := loadKEK(&bc.a.cfg, bc.a.env, bc.a.log, false)
	if err != nil {
		st.Close()
		return nil, err
	}
	svc, _, err := newBulk(st, kek, &client.Service{Repo: st})
	if err != nil || svc == nil {
		st.Close()
		return nil, fmt.Errorf("this database keeps no bulk jobs: %v", err)
	}
	bc.svc, bc.actor = svc, operator(tenant.ID, bc.a.env)
	return func() { st.Close() }, nil
}

func (bc *bulkCmd) opCmd(op bulk.Op) *cobra.Command {
	var (
		q                     client.ListQuery
		status, typ, grant    string
		unused, expiresWithin string
		division              string
		dryRun, yes, confirm  bool
		grace, lifetime       time.Duration
	)
	cmd := &cobra.Command{
		Use:   string(op) + " [filter flags] [--dry-run] [--yes]",
		Short: "Dry-run or queue: " + string(op) + " every matching client",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q.Status, q.Type, q.GrantType = client.Status(status), client.Type(typ), client.GrantType(grant)
			if division != "" {
				q.Divisions = strings.Split(division, ",")
			}
			switch unused {
			case "":
			case "never":
				q.NeverUsed = true
			default:
				t, err := time.Parse(time.DateOnly, unused)
				if err != nil {
					return usageError{msg: "--unused-since: a date (2026-01-31) or never"}
				}
				q.UnusedSince = t
			}
			if expiresWithin != "" {
				d, err := admin.ParseSpan(expiresWithin)
				if err != nil || d <= 0 {
					return usageError{msg: "--secret-expires-within: a span like 30d or 12h"}
				}
				q.SecretExpiresBefore = time.Now().Add(d)
			}
			done, err := bc.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			p := bulk.Params{Grace: grace, Lifetime: lifetime, Confirm: confirm}
			return bc.run(cmd.Context(), op, q, p, dryRun || !yes)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&q.Search, "search", "", "substring of the name or client ID")
	fs.StringVar(&status, "status", "", "active, inactive or revoked")
	fs.StringVar(&typ, "type", "", "confidential or public")
	fs.StringVar(&grant, "grant-type", "", "only clients allowed this grant")
	fs.StringVar(&q.OwnerUserID, "owner", "", "only clients owned by this user ID")
	fs.StringVar(&q.CreatedBy, "created-by", "", "only clients created by this actor ID")
	fs.StringVar(&division, "division", "", "only clients of these division IDs (comma-separated)")
	fs.StringVar(&unused, "unused-since", "", "only clients unused since this date (2026-01-31), or never used (never)")
	fs.StringVar(&expiresWithin, "secret-expires-within", "", "only clients whose secret expires within this span (30d)")
	fs.BoolVar(&dryRun, "dry-run", false, "list the changes, write nothing (the default without --yes)")
	fs.BoolVar(&yes, "yes", false, "queue the job over the clients the dry run matches")
	fs.BoolVar(&confirm, "confirm", false, "change protected clients too")
	if op == bulk.Rotate {
		fs.DurationVar(&grace, "grace", 0, "keep each replaced secret working this long")
		fs.DurationVar(&lifetime, "secret-lifetime", 0, "how long the new secrets last (default: the tenant's default)")
	}
	completeValues(cmd, "status", "active", "inactive", "revoked")
	return cmd
}

// run prints the dry run and, unless dry, queues the job over exactly
// the clients it counted.
func (bc *bulkCmd) run(ctx context.Context, op bulk.Op, q client.ListQuery, p bulk.Params, dry bool) error {
	out := bc.a.stdout
	var changes []admin.BulkChange
	n, err := bc.svc.Match(ctx, bc.actor, op, q, p, func(c bulk.Change) error {
		if bc.json {
			if dry {
				changes = append(changes, admin.BulkChange(c))
			}
			return nil
		}
		if dry {
			fmt.Fprintf(out, "%s  %s  %s\n", c.ClientID, oneLine(c.Name, 40), c.Change)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if dry {
		if bc.json {
			if changes == nil {
				changes = []admin.BulkChange{}
			}
			return json.NewEncoder(out).Encode(admin.BulkDryRun{Operation: string(op), Changes: changes, Total: n})
		}
		fmt.Fprintf(out, "%d clients would change; add --yes to queue the job.\n", n)
		return nil
	}
	j, err := bc.svc.Create(ctx, bc.actor, op, q, p, n)
	if err != nil {
		return err
	}
	return bc.print(j, nil)
}

func (bc *bulkCmd) print(j *bulk.Job, failures []bulk.Item) error {
	v := admin.NewBulkJob(j, failures)
	if bc.json {
		return json.NewEncoder(bc.a.stdout).Encode(v)
	}
	out := bc.a.stdout
	fmt.Fprintf(out, "%s  %s  %s  %d/%d done, %d failed\n", v.ID, v.Operation, v.State, v.Done, v.Total, v.Failed)
	if v.Error != "" {
		fmt.Fprintf(out, "  %s\n", v.Error)
	}
	for _, f := range v.Failures {
		fmt.Fprintf(out, "  failed %s: %s\n", f.ClientID, f.Detail)
	}
	return nil
}

func (bc *bulkCmd) withJob(use, short string, fn func(ctx context.Context, id string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			done, err := bc.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			return fn(cmd.Context(), args[0])
		},
	}
}

func (bc *bulkCmd) statusCmd() *cobra.Command {
	return bc.withJob("status", "Show a bulk job's progress", func(ctx context.Context, id string) error {
		j, failures, err := bc.svc.JobWithFailures(ctx, bc.actor, id, 100)
		if err != nil {
			return err
		}
		return bc.print(j, failures)
	})
}

func (bc *bulkCmd) cancelCmd() *cobra.Command {
	return bc.withJob("cancel", "Stop a bulk job before its next client", func(ctx context.Context, id string) error {
		j, err := bc.svc.Cancel(ctx, bc.actor, id)
		if err != nil {
			return err
		}
		return bc.print(j, nil)
	})
}

func (bc *bulkCmd) resultCmd() *cobra.Command {
	return bc.withJob("result", "Print a finished rotation's new secrets as JSON, once", func(ctx context.Context, id string) error {
		secrets, err := bc.svc.Result(ctx, bc.actor, id)
		if err != nil {
			return err
		}
		return json.NewEncoder(bc.a.stdout).Encode(admin.BulkResult{Secrets: secrets})
	})
}
