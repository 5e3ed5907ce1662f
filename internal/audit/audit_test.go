package audit

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
)

func chain(n int) []Event {
	actor := authz.OperatorActor("ten_a", "alice")
	var out []Event
	seq, prev := int64(0), ""
	for i := range n {
		e := New(actor, time.Date(2030, 1, 1, 0, 0, i, 1234567, time.UTC), "client.updated", "client", "lkc_x")
		e.Changes, e.Details = []string{"name"}, map[string]string{"k": "v"}
		Seal(e, seq, prev)
		seq, prev = e.Seq, e.Hash
		out = append(out, *e)
	}
	return out
}

func TestSealAndVerify(t *testing.T) {
	es := chain(4)
	if err := Verify(es, 0, ""); err != nil {
		t.Fatal(err)
	}
	if es[0].At.Nanosecond()%1000 != 0 || es[0].ActorKind != authz.KindCLI || es[0].ActorID != "cli:alice" {
		t.Errorf("sealed event: %+v", es[0])
	}
	if err := Verify(es[2:], es[1].Seq, es[1].Hash); err != nil {
		t.Errorf("a run from the middle: %v", err)
	}
	e := New(authz.SystemActor("t"), time.Now(), "a", "b", "c")
	e.Changes, e.Details = []string{}, map[string]string{}
	Seal(e, 0, "")
	if e.Changes != nil || e.Details != nil {
		t.Error("Seal kept empty slices, which a store returns as nil")
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := map[string]func([]Event) []Event{
		"changed action":  func(es []Event) []Event { es[1].Action = "client.deleted"; return es },
		"changed actor":   func(es []Event) []Event { es[2].ActorID = "usr_mallory"; return es },
		"changed details": func(es []Event) []Event { es[0].Details = map[string]string{"k": "w"}; return es },
		"changed time":    func(es []Event) []Event { es[3].At = es[3].At.Add(time.Second); return es },
		"removed event":   func(es []Event) []Event { return append(es[:1], es[2:]...) },
		"reordered":       func(es []Event) []Event { es[1], es[2] = es[2], es[1]; return es },
		"rehashed alone": func(es []Event) []Event {
			es[1].Result = "denied"
			es[1].Hash = hash(&es[1]) // the next event still links to the old hash
			return es
		},
		"other tenant": func(es []Event) []Event {
			es[1].TenantID = "ten_b"
			es[1].Hash = hash(&es[1])
			return es
		},
	}
	for name, tamper := range tests {
		if err := Verify(tamper(chain(4)), 0, ""); !errors.Is(err, ErrBroken) {
			t.Errorf("%s: Verify = %v, want ErrBroken", name, err)
		}
	}
	if err := Verify(chain(3)[1:], 0, ""); !errors.Is(err, ErrBroken) {
		t.Error("a run verified against the wrong predecessor")
	}
}

// An event without Before and After hashes exactly as it did before they
// existed, so chains stored by earlier releases still verify. The hashes
// were computed by the code of that release.
func TestHashOfAnOldStyleEventIsUnchanged(t *testing.T) {
	actor := authz.Actor{TenantID: "ten_a", Kind: authz.KindUser, ID: "usr_1", Name: "Alice", SourceAddr: "192.0.2.1", RequestID: "req_1"}
	e := New(actor, time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC), "client.updated", "client", "lkc_x")
	e.Changes, e.Details = []string{"name", "scopes"}, map[string]string{"k": "v"}
	e.Before, e.After = map[string]string{}, map[string]string{} // as a store returns none
	Seal(e, 16, "prevhash")
	if want := "flSDDaHa64yqY2_DIa2kbXtYrF8mIyVeZfoQhRq5kRM"; e.Hash != want {
		t.Errorf("hash of an event with details = %s, want %s", e.Hash, want)
	}
	bare := New(authz.SystemActor("ten_a"), time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), "client.created", "client", "lkc_y")
	Seal(bare, 0, "")
	if want := "xsVcEfp74Rto1jbnuAN844EwYCGqT4kH_uQly6mnUBc"; bare.Hash != want {
		t.Errorf("hash of a bare first event = %s, want %s", bare.Hash, want)
	}
	if e.Before != nil || e.After != nil {
		t.Error("Seal kept empty maps, which a store returns as nil")
	}
}

// Before and After are covered by the hash: changing either, or moving a
// value from one to the other, is detected.
func TestBeforeAndAfterAreHashed(t *testing.T) {
	mk := func() []Event {
		es := chain(3)
		seq, prev := int64(0), ""
		for i := range es {
			es[i].Before, es[i].After = map[string]string{"name": "Old"}, map[string]string{"name": "New"}
			Seal(&es[i], seq, prev)
			seq, prev = es[i].Seq, es[i].Hash
		}
		return es
	}
	if err := Verify(mk(), 0, ""); err != nil {
		t.Fatal(err)
	}
	for name, tamper := range map[string]func(e *Event){
		"changed before": func(e *Event) { e.Before["name"] = "Other" },
		"changed after":  func(e *Event) { e.After["name"] = "Other" },
		"dropped after":  func(e *Event) { e.After = nil },
		"swapped":        func(e *Event) { e.Before, e.After = e.After, e.Before },
		"added a value":  func(e *Event) { e.After["roles"] = `["super_admin"]` },
	} {
		es := mk()
		tamper(&es[1])
		var b *Break
		if err := Verify(es, 0, ""); !errors.As(err, &b) || b.Seq != 2 || b.Kind != BreakAltered {
			t.Errorf("%s: Verify = %v, want event 2 altered", name, err)
		}
	}
}
