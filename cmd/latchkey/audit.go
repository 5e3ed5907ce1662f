package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

// exportBatch is how many events "audit export" reads, writes and flushes
// at a time: memory stays flat however long the trail.
const exportBatch = 500

func (a *app) auditCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify the audit trail's hash chains; export events for a SIEM",
		Long: `Check and export the audit trail. Each tenant's events form one hash
chain: every event carries the hash of the one before it, so an event
changed, removed, reordered or moved in from another tenant is found by
"audit verify". "audit export" writes events as JSON lines for a SIEM.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	tenantFlag(cmd.PersistentFlags(), &tenant, "tenant whose trail to read")
	cmd.AddCommand(a.auditVerifyCmd(&tenant), a.auditExportCmd(&tenant))
	return cmd
}

func (a *app) auditVerifyCmd(tenant *string) *cobra.Command {
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--tenant SLUG | --all-tenants]",
		Short: "Check a tenant's audit chain, event by event (exit 1 when it is broken)",
		Long: `Check the audit chain of a tenant (the default tenant unless --tenant names
another), or of every tenant with --all-tenants: that its events run
from 1 without a gap, each unaltered and linked to the one before, up to
the head the database recorded. The chain is read in batches, so a long
trail takes little memory.

Exit status: 0 when every chain checked verified; 1 when one is broken,
naming its first broken link ("event 17 was altered", "event 4 is
missing", "event 9 does not link to event 8"), or when the database
could not be read; 2 a usage error.`,
		Example: `  latchkey audit verify
  latchkey audit verify --tenant acme
  latchkey audit verify --all-tenants --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all && cmd.Flags().Changed("tenant") {
				return usageError{msg: "--all-tenants checks every tenant: it cannot be used with --tenant (or LATCHKEY_TENANT)"}
			}
			return a.auditVerify(cmd.Context(), *tenant, all, asJSON)
		},
	}
	cmd.Flags().BoolVar(&all, "all-tenants", false, "check the chain of every tenant")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

// chainJSON is one tenant's verification as "audit verify --json" prints
// it.
type chainJSON struct {
	TenantID string `json:"tenant_id"`
	Slug     string `json:"slug,omitempty"`
	Verified bool   `json:"verified"`
	// Events counts the events verified: all of them, or those before
	// the break.
	Events int64      `json:"events"`
	Broken *breakJSON `json:"broken,omitempty"`
}

type breakJSON struct {
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

func (a *app) auditVerify(ctx context.Context, tenant string, all, asJSON bool) error {
	st, err := openExisting(ctx, &a.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tenants, err := auditTenants(ctx, st, tenant, all)
	if err != nil {
		return err
	}
	var results []chainJSON
	var broken []error
	for _, t := range tenants {
		n, err := audit.VerifyChain(ctx, st, t.ID, 0)
		var b *audit.Break
		if err != nil && !errors.As(err, &b) {
			return fmt.Errorf("audit chain of tenant %s: %w", tenantName(&t), err)
		}
		r := chainJSON{TenantID: t.ID, Slug: t.Slug, Verified: b == nil, Events: n}
		if b != nil {
			r.Broken = &breakJSON{Seq: b.Seq, Kind: string(b.Kind), Reason: b.Reason()}
			broken = append(broken, fmt.Errorf("audit chain of tenant %s is broken: %s (%s before it verified)",
				tenantName(&t), b.Reason(), events(n)))
		} else if !asJSON {
			fmt.Fprintf(a.stdout, "audit chain of tenant %s verified: %s\n", tenantName(&t), events(n))
		}
		results = append(results, r)
	}
	if asJSON {
		if err := printJSON(a.stdout, struct {
			Tenants []chainJSON `json:"tenants"`
		}{results}); err != nil {
			return err
		}
	}
	return errors.Join(broken...)
}

// auditTenants is the tenants a command reads the trail of: the one
// named, the default, or every tenant.
func auditTenants(ctx context.Context, st store.Store, name string, all bool) ([]account.Tenant, error) {
	if all {
		return st.Tenants(ctx)
	}
	t, err := resolveTenant(ctx, st, name)
	if err != nil {
		return nil, err
	}
	return []account.Tenant{*t}, nil
}

// tenantName is how the audit commands name a tenant: by slug, else ID.
func tenantName(t *account.Tenant) string {
	if t.Slug != "" {
		return t.Slug
	}
	return t.ID
}

func events(n int64) string {
	if n == 1 {
		return "1 event"
	}
	return fmt.Sprintf("%d events", n)
}

func (a *app) auditExportCmd(tenant *string) *cobra.Command {
	var since, until string
	cmd := &cobra.Command{
		Use:   "export --since TIME [--until TIME] [--tenant SLUG]",
		Short: "Write a tenant's audit events as JSON lines, for a SIEM",
		Long: `Write the audit events of a tenant (the default tenant unless --tenant names
another) to standard output, oldest first, one JSON object per line: time,
tenant_id, seq, actor_kind, actor_id, actor_name, action, target_type,
target_id, result, source_address, request_id, changes, before, after,
details, prev_hash and hash. Every field is always present. No secret is
ever part of an event.

--since and --until take an RFC 3339 time (2026-01-31T09:00:00Z), a date
(2026-01-31, midnight UTC) or a span back from now (24h, 90m, 30d). Events
from --since up to, not including, --until are written; without --until,
every event up to now. Events are read and written a batch at a time, so
an export of any size takes little memory.`,
		Example: `  latchkey audit export --since 24h > audit.jsonl
  latchkey audit export --since 2026-01-01 --until 2026-02-01 --tenant acme`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			if since == "" {
				return usageError{msg: "--since is required: an RFC 3339 time, a date, or a span back from now such as 24h"}
			}
			q := audit.Query{Limit: exportBatch}
			var err error
			if q.Since, err = parseInstant("--since", since, now); err != nil {
				return err
			}
			if until != "" {
				if q.Until, err = parseInstant("--until", until, now); err != nil {
					return err
				}
				if !q.Since.Before(q.Until) {
					return usageError{msg: "--until must be later than --since"}
				}
			}
			return a.auditExport(cmd.Context(), *tenant, q)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "first time to export: RFC 3339, a date, or a span back from now like 24h (required)")
	cmd.Flags().StringVar(&until, "until", "", "time to stop before, in the same forms (default: now)")
	return cmd
}

// parseInstant reads a time flag: RFC 3339, a date (midnight UTC), or a
// span back from now.
func parseInstant(flag, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := parseDuration(s); err == nil && d >= 0 && !strings.HasPrefix(s, "-") {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError{msg: fmt.Sprintf("%s %q: use an RFC 3339 time (2026-01-31T09:00:00Z), a date (2026-01-31) "+
		"or a span back from now (24h, 30d)", flag, s)}
}

func (a *app) auditExport(ctx context.Context, tenant string, q audit.Query) error {
	st, err := openExisting(ctx, &a.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := resolveTenant(ctx, st, tenant)
	if err != nil {
		return err
	}
	q.TenantID = t.ID
	w := bufio.NewWriter(a.stdout)
	enc := json.NewEncoder(w)
	for {
		page, err := st.ListAudit(ctx, q)
		if err != nil {
			return err
		}
		for i := range page.Events {
			if err := enc.Encode(admin.NewAuditEvent(&page.Events[i])); err != nil {
				return err
			}
		}
		// Each batch reaches the reader before the next is read.
		if err := w.Flush(); err != nil {
			return err
		}
		if page.Next == 0 {
			return nil
		}
		q.After = page.Next
	}
}
