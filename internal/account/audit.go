package account

import (
	"context"

	"github.com/latchkey/latchkey/internal/audit"
)

// AppendAudit stores events that record no change of their own (failed
// sign-ins, counts of failed client authentications) in one transaction
// of repo's.
func AppendAudit(ctx context.Context, repo Repository, events []*audit.Event) error {
	return repo.InAccountTx(ctx, func(tx Tx) error {
		for _, e := range events {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}
