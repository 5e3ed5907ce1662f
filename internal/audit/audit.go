// Package audit records who did what: append-only events, each tenant's
// forming one hash chain, so that a changed, removed or reordered event is
// detected by Verify, and a whole stored chain by VerifyChain.
//
// The package owns the event, its canonical encoding and the chain; it
// imports no SQL. A storage adapter implements Appender inside the same
// transaction as the change an event describes, so the change and its
// event commit together or not at all, and it serialises appends per
// tenant (the chain has one head). Seal computes what the adapter stores.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
)

// ResultSuccess is the result of an action that was carried out.
const ResultSuccess = "success"

// Event is one audited action. Secrets never appear in it: Changes names
// fields, Before and After hold only values an auditor may see, and
// Details holds only what may be shown to an auditor.
type Event struct {
	TenantID string
	// Seq is the event's place in its tenant's chain, from 1; set by
	// Seal.
	Seq int64
	At  time.Time
	// ActorKind, ActorID and ActorName say who acted (see authz.Actor).
	ActorKind  authz.PrincipalKind
	ActorID    string
	ActorName  string
	Action     string // e.g. "client.created"
	TargetType string // e.g. "client"
	TargetID   string
	Result     string
	SourceAddr string
	RequestID  string
	// Changes names the fields the action changed, sorted.
	Changes []string
	// Before and After are the values, before and after an update, of
	// those Changes whose values may be shown, keyed by field name and
	// rendered as Diff renders them. A field changed but not shown (a
	// password, a secret) is in Changes only. Both are nil for an event
	// that records no values.
	Before map[string]string
	After  map[string]string
	// Details are extra facts (a secret's ID, a grace period), never a
	// secret.
	Details map[string]string
	// PrevHash is the Hash of the event before this one in the chain, ""
	// for the first; Hash covers every other field. Both are set by Seal.
	PrevHash string
	Hash     string
}

// New returns an event for action on a target, done by actor at now.
func New(actor authz.Actor, now time.Time, action, targetType, targetID string) *Event {
	return &Event{
		TenantID: actor.TenantID, At: now, ActorKind: actor.Kind, ActorID: actor.ID, ActorName: actor.Name,
		Action: action, TargetType: targetType, TargetID: targetID, Result: ResultSuccess,
		SourceAddr: actor.SourceAddr, RequestID: actor.RequestID,
	}
}

// Appender appends events. It is implemented by a storage transaction:
// the event commits with the change it describes.
type Appender interface {
	// AppendAudit seals e after the last event of its tenant's chain (see
	// Seal) and stores it. Appends to one tenant's chain serialise.
	AppendAudit(ctx context.Context, e *Event) error
}

// Reader reads a tenant's chain.
type Reader interface {
	// AuditEvents returns up to limit events of a tenant with Seq greater
	// than after, in chain order.
	AuditEvents(ctx context.Context, tenantID string, after int64, limit int) ([]Event, error)
	// AuditHead returns the Seq and Hash of the last event appended to a
	// tenant's chain, as the store recorded them beside the events:
	// (0, "") for a chain with none.
	AuditHead(ctx context.Context, tenantID string) (seq int64, hash string, err error)
}

// Seal places e after the event (prevSeq, prevHash) — (0, "") for the
// first of a chain — and computes its hash. Times are kept to the
// microsecond, as stores keep them, so a stored event verifies.
func Seal(e *Event, prevSeq int64, prevHash string) {
	e.Seq, e.PrevHash = prevSeq+1, prevHash
	e.At = e.At.UTC().Truncate(time.Microsecond)
	// Empty and nil encode differently; stores return nil for both.
	if len(e.Changes) == 0 {
		e.Changes = nil
	}
	if len(e.Details) == 0 {
		e.Details = nil
	}
	if len(e.Before) == 0 {
		e.Before = nil
	}
	if len(e.After) == 0 {
		e.After = nil
	}
	e.Hash = hash(e)
}

// canonical is the encoding the hash covers: every field but Hash, in a
// fixed order. encoding/json writes struct fields in order and map keys
// sorted, so equal events encode to equal bytes.
//
// Fields added after events were first stored are omitted when empty, so
// an event without them encodes, and hashes, exactly as it did before they
// existed: chains stored by earlier releases still verify. A field added
// later must be omitempty too, and never renamed.
type canonical struct {
	TenantID   string            `json:"tenant_id"`
	Seq        int64             `json:"seq"`
	At         string            `json:"at"`
	ActorKind  string            `json:"actor_kind"`
	ActorID    string            `json:"actor_id"`
	ActorName  string            `json:"actor_name"`
	Action     string            `json:"action"`
	TargetType string            `json:"target_type"`
	TargetID   string            `json:"target_id"`
	Result     string            `json:"result"`
	SourceAddr string            `json:"source_addr"`
	RequestID  string            `json:"request_id"`
	Changes    []string          `json:"changes"`
	Details    map[string]string `json:"details"`
	Before     map[string]string `json:"before,omitempty"`
	After      map[string]string `json:"after,omitempty"`
	PrevHash   string            `json:"prev_hash"`
}

func hash(e *Event) string {
	b, err := json.Marshal(canonical{
		TenantID: e.TenantID, Seq: e.Seq, At: e.At.UTC().Format(time.RFC3339Nano), ActorKind: string(e.ActorKind),
		ActorID: e.ActorID, ActorName: e.ActorName, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
		Result: e.Result, SourceAddr: e.SourceAddr, RequestID: e.RequestID, Changes: e.Changes, Details: e.Details,
		Before: e.Before, After: e.After, PrevHash: e.PrevHash,
	})
	if err != nil { // strings, ints and a map of strings always encode
		panic("audit: encoding an event: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
