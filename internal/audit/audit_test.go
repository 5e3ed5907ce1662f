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
