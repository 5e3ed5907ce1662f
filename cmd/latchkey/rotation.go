package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/admin/adminclient"
	"github.com/latchkey/latchkey/internal/client"
)

// finishRotationCmd is "clients finish-rotation": the end of a rotation's
// grace period brought forward, once the secrets' last uses show that no
// caller still uses the old one.
func (cc *clientsCmd) finishRotationCmd() *cobra.Command {
	var confirm bool
	cmd := &cobra.Command{
		Use:   "finish-rotation CLIENT_ID",
		Short: "Revoke the old secret of a rotation now, before its grace period ends",
		Long: `Revoke every retiring secret of a client (the old secret of a rotation,
still working in its grace period) now; the new secret keeps working.
"clients show" lists each secret's last use and source address first.`,
		Args: oneArg("client ID"),
		RunE: cc.withClient(func(ctx context.Context, _ *cobra.Command, id string) error {
			v, err := cc.ops.FinishRotation(ctx, id, confirm)
			if err != nil {
				return err
			}
			return cc.print(v)
		}),
	}
	cmd.Flags().BoolVar(&confirm, "confirm", false, "confirm changing a protected client's secrets")
	return cmd
}

func (l localClients) FinishRotation(ctx context.Context, id string, confirm bool) (admin.Client, error) {
	if _, err := l.svc.FinishRotation(ctx, l.actor, id, confirm); err != nil {
		return admin.Client{}, err
	}
	return l.Get(ctx, id)
}

func (rc remoteClients) FinishRotation(ctx context.Context, id string, confirm bool) (admin.Client, error) {
	if _, err := rc.api.FinishRotation(ctx, id, confirm); err != nil {
		return admin.Client{}, rc.r.remoteErr(err)
	}
	return rc.Get(ctx, id)
}

// staleCmd is "clients stale": the clients unused for --days days, a
// never used one counting from its creation, listed as "clients list"
// lists.
func (cc *clientsCmd) staleCmd() *cobra.Command {
	days := admin.DefaultStaleDays
	var q client.ListQuery
	var status string
	cmd := &cobra.Command{
		Use:   "stale [--days N] [flags]",
		Short: "List clients unused for --days days (never used ones counting from their creation)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 1 || days > client.MaxStaleDays {
				return usageError{msg: fmt.Sprintf("--days %d: use 1 to %d", days, client.MaxStaleDays)}
			}
			if q.Limit < 1 || q.Limit > client.MaxListLimit {
				return usageError{msg: fmt.Sprintf("--limit %d: use 1 to %d", q.Limit, client.MaxListLimit)}
			}
			done, err := cc.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			q.Status, q.Sort = client.Status(status), client.SortLastUsedAt
			cc.ops = staleLister{clientOps: cc.ops, days: days}
			return cc.list(cmd.Context(), q, true)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&days, "days", days, fmt.Sprintf("unused for this many days (1 to %d)", client.MaxStaleDays))
	fs.StringVar(&status, "status", "", "active, inactive or revoked")
	fs.IntVar(&q.Limit, "limit", client.DefaultListLimit, fmt.Sprintf("clients per request (1 to %d)", client.MaxListLimit))
	return cmd
}

// staleLister lists the stale clients where the list command lists all.
type staleLister struct {
	clientOps
	days int
}

func (s staleLister) List(ctx context.Context, q client.ListQuery) (admin.ClientList, error) {
	return s.Stale(ctx, s.days, q)
}

func (l localClients) Stale(ctx context.Context, days int, q client.ListQuery) (admin.ClientList, error) {
	page, err := l.svc.Stale(ctx, l.actor, days, q)
	if err != nil {
		return admin.ClientList{}, err
	}
	return clientList(page), nil
}

func (rc remoteClients) Stale(ctx context.Context, days int, q client.ListQuery) (admin.ClientList, error) {
	p := adminclient.ListParams{Q: q.Search, Status: string(q.Status), Sort: string(q.Sort), PageSize: q.Limit, PageToken: q.After}
	if q.Desc {
		p.Order = "desc"
	}
	l, err := rc.api.StaleClients(ctx, days, p)
	if err != nil {
		return admin.ClientList{}, rc.r.remoteErr(domainFields(err, listFields))
	}
	return *l, nil
}
