package audit

import (
	"context"
	"errors"
	"fmt"
)

// ErrBroken is wrapped by every *Break: the chain was altered.
var ErrBroken = errors.New("audit: chain broken")

// BreakKind says how a chain is broken at a Break.
type BreakKind string

const (
	// BreakAltered: the event's content does not match its hash, or its
	// hash does not match the head the store recorded for it.
	BreakAltered BreakKind = "altered"
	// BreakMissing: the event is not there; the chain skips over it, or
	// ends before the head the store recorded.
	BreakMissing BreakKind = "missing"
	// BreakUnlinked: the event does not name the hash of the one before
	// it: it was moved, or the one before it was replaced.
	BreakUnlinked BreakKind = "unlinked"
	// BreakForeign: the event belongs to another tenant's chain.
	BreakForeign BreakKind = "foreign"
	// BreakOutOfOrder: the event comes after one with the same or a
	// later Seq.
	BreakOutOfOrder BreakKind = "out_of_order"
	// BreakUnrecorded: the event lies past the head the store recorded,
	// so it was not appended through the store.
	BreakUnrecorded BreakKind = "unrecorded"
)

// A Break is the first broken link of a chain: Seq is the place in the
// chain, from 1, where the events stop being what the chain says they
// must be. Everything before Seq verified.
type Break struct {
	TenantID string
	Seq      int64
	Kind     BreakKind
	// Prev is the Seq of the event verified before Seq (0 when Seq is the
	// first); it names the other end of an unlinked or out-of-order link.
	Prev int64
}

// Reason words the break for a person, without the tenant: "event 17 was
// altered".
func (b *Break) Reason() string {
	switch b.Kind {
	case BreakAltered:
		return fmt.Sprintf("event %d was altered", b.Seq)
	case BreakMissing:
		return fmt.Sprintf("event %d is missing", b.Seq)
	case BreakUnlinked:
		if b.Prev == 0 {
			return fmt.Sprintf("event %d does not start the chain", b.Seq)
		}
		return fmt.Sprintf("event %d does not link to event %d", b.Seq, b.Prev)
	case BreakForeign:
		return fmt.Sprintf("event %d belongs to another tenant", b.Seq)
	case BreakOutOfOrder:
		return fmt.Sprintf("event %d follows event %d", b.Seq, b.Prev)
	case BreakUnrecorded:
		return fmt.Sprintf("event %d was not appended through the store: it lies past the chain's recorded head", b.Seq)
	}
	return fmt.Sprintf("event %d is %s", b.Seq, b.Kind)
}

func (b *Break) Error() string { return ErrBroken.Error() + ": " + b.Reason() }

// Unwrap makes errors.Is(b, ErrBroken) hold.
func (b *Break) Unwrap() error { return ErrBroken }

// Verify checks that events are a run of one tenant's chain, in order,
// each linked to the one before and unaltered. prevSeq and prevHash are
// those of the event before the run ((0, "") when it starts the chain).
// A broken run is reported as a *Break at its first broken link.
func Verify(events []Event, prevSeq int64, prevHash string) error {
	if len(events) == 0 {
		return nil
	}
	if b := verify(events, events[0].TenantID, prevSeq, prevHash); b != nil {
		return b
	}
	return nil
}

// verify is Verify for events that must all be tenantID's.
func verify(events []Event, tenantID string, prevSeq int64, prevHash string) *Break {
	for i := range events {
		e := &events[i]
		brk := func(k BreakKind, seq int64) *Break {
			return &Break{TenantID: tenantID, Seq: seq, Kind: k, Prev: prevSeq}
		}
		switch {
		case e.Seq <= prevSeq:
			return brk(BreakOutOfOrder, e.Seq)
		case e.Seq != prevSeq+1:
			return brk(BreakMissing, prevSeq+1)
		case e.TenantID != tenantID:
			return brk(BreakForeign, e.Seq)
		case e.PrevHash != prevHash:
			return brk(BreakUnlinked, e.Seq)
		case hash(e) != e.Hash:
			return brk(BreakAltered, e.Seq)
		}
		prevSeq, prevHash = e.Seq, e.Hash
	}
	return nil
}

// DefaultBatch is how many events VerifyChain reads at a time when told 0.
const DefaultBatch = 1000

// VerifyChain checks a tenant's whole stored chain, reading it batch events
// at a time (DefaultBatch when batch is 0 or less), so memory stays flat
// however long the chain is. It returns how many events verified.
//
// The chain verifies when its events run from Seq 1 without a gap, each
// belongs to the tenant, names the hash of the one before it and matches
// its own hash; and when it agrees with the head the store recorded: it
// reaches the head read before the walk, with the same hash there, and no
// event lies past the head read after it (events appended while the walk
// runs are verified like the others). Otherwise the error is a *Break
// naming the first broken link, which wraps ErrBroken; checked then counts
// the events before it. Any other error is the store's.
//
// A rewritten chain (every hash from an altered event onward recomputed,
// and the head with them) cannot be told from the original by the chain
// alone; an exported copy of a head, kept elsewhere, can.
func VerifyChain(ctx context.Context, r Reader, tenantID string, batch int) (checked int64, err error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	headSeq, headHash, err := r.AuditHead(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	prevSeq, prevHash := int64(0), ""
	for {
		events, err := r.AuditEvents(ctx, tenantID, prevSeq, batch)
		if err != nil {
			return checked, err
		}
		if b := verify(events, tenantID, prevSeq, prevHash); b != nil {
			return b.Prev, b
		}
		for i := range events {
			if e := &events[i]; e.Seq == headSeq && e.Hash != headHash {
				return e.Seq - 1, &Break{TenantID: tenantID, Seq: e.Seq, Kind: BreakAltered, Prev: e.Seq - 1}
			}
		}
		if len(events) > 0 {
			last := events[len(events)-1]
			prevSeq, prevHash, checked = last.Seq, last.Hash, last.Seq
		}
		if len(events) < batch {
			break
		}
	}
	if prevSeq < headSeq {
		return checked, &Break{TenantID: tenantID, Seq: prevSeq + 1, Kind: BreakMissing, Prev: prevSeq}
	}
	if prevSeq > headSeq {
		// Heads only move forward: a head read now that is still behind
		// the last event means events were added beside the store.
		now, _, err := r.AuditHead(ctx, tenantID)
		if err != nil {
			return checked, err
		}
		if prevSeq > now {
			return now, &Break{TenantID: tenantID, Seq: now + 1, Kind: BreakUnrecorded, Prev: now}
		}
	}
	return checked, nil
}
