package admin

import (
	"time"

	"github.com/latchkey/latchkey/internal/audit"
)

// AuditEvent is the JSON form of an audit event, as the admin API lists it
// and "latchkey audit export" writes it, one per line, for a SIEM. Every
// field is always present, so each line has one shape: lists and objects
// are empty, not null. The time is RFC 3339 in UTC, to the microsecond.
// prev_hash and hash let a reader check the chain itself (see package
// audit for the encoding the hash covers).
type AuditEvent struct {
	Time       time.Time `json:"time"`
	TenantID   string    `json:"tenant_id"`
	Seq        int64     `json:"seq"`
	ActorKind  string    `json:"actor_kind"`
	ActorID    string    `json:"actor_id"`
	ActorName  string    `json:"actor_name"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type"`
	TargetID   string    `json:"target_id"`
	Result     string    `json:"result"`
	SourceAddr string    `json:"source_address"`
	RequestID  string    `json:"request_id"`
	// Changes names the fields the action changed; Before and After hold
	// the values of those an auditor may see, written as audit.Diff
	// writes them (lists as JSON arrays, durations in seconds, times in
	// RFC 3339).
	Changes  []string          `json:"changes"`
	Before   map[string]string `json:"before"`
	After    map[string]string `json:"after"`
	Details  map[string]string `json:"details"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

// NewAuditEvent returns the JSON form of e.
func NewAuditEvent(e *audit.Event) AuditEvent {
	return AuditEvent{
		Time: e.At.UTC(), TenantID: e.TenantID, Seq: e.Seq,
		ActorKind: string(e.ActorKind), ActorID: e.ActorID, ActorName: e.ActorName,
		Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, Result: e.Result,
		SourceAddr: e.SourceAddr, RequestID: e.RequestID,
		Changes: nonNil(e.Changes), Before: nonNilMap(e.Before), After: nonNilMap(e.After), Details: nonNilMap(e.Details),
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
