package client

import "context"

// Committed is a change about to commit, as a WithinTx hook sees it.
type Committed struct {
	ClientID string
	// Secret is the secret a rotation or a creation issues, nil for other changes: the
	// one moment its plaintext is known inside the transaction.
	Secret *IssuedSecret
}

// TxHook runs inside the transaction of a client change, after the change
// and its audit event are written and before the commit: an error rolls
// the change back.
type TxHook func(ctx context.Context, tx Tx, c Committed) error

type hookKey struct{}

// WithinTx returns a context whose client changes (Create, Update,
// SetStatus, Revoke, Delete, RotateSecret) run hook in their own transaction, so a
// caller's bookkeeping of a change commits with it or not at all: a bulk
// job marks a client done in the transaction that changes it, and a
// process killed between the two never does a client twice.
func WithinTx(ctx context.Context, hook TxHook) context.Context {
	return context.WithValue(ctx, hookKey{}, hook)
}

// runHook runs the context's TxHook, if any.
func runHook(ctx context.Context, tx Tx, c Committed) error {
	if hook, ok := ctx.Value(hookKey{}).(TxHook); ok && hook != nil {
		return hook(ctx, tx, c)
	}
	return nil
}

type detailsKey struct{}

// WithAuditDetail returns a context whose client changes add key=value to
// the details of their audit events: a bulk job's ID, so each client's
// event names the job that made it.
func WithAuditDetail(ctx context.Context, key, value string) context.Context {
	return context.WithValue(ctx, detailsKey{}, [2]string{key, value})
}

// auditDetails adds the context's audit detail, if any, to details.
func auditDetails(ctx context.Context, details map[string]string) map[string]string {
	kv, ok := ctx.Value(detailsKey{}).([2]string)
	if !ok {
		return details
	}
	if details == nil {
		details = map[string]string{}
	}
	details[kv[0]] = kv[1]
	return details
}
