package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/admin"
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
