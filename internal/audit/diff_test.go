package audit

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
)

func TestDiffRendersValues(t *testing.T) {
	var d Diff
	d.String("name", "Old", "New")
	d.String("description", "same", "same")
	d.List("scopes", []string{"read"}, []string{"read", "a, b"})
	d.List("roles", nil, []string{})
	d.Seconds("access_token_ttl", time.Hour, 90*time.Minute+500*time.Millisecond)
	d.Time("expires_at", time.Time{}, time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.FixedZone("x", 3600)))
	d.Bool("require_consent", false, true)
	d.Name("password", true)
	d.Name("email", false)
	var e Event
	d.Apply(&e)
	if want := []string{"access_token_ttl", "expires_at", "name", "password", "require_consent", "scopes"}; !slices.Equal(e.Changes, want) {
		t.Errorf("changes %v, want %v", e.Changes, want)
	}
	want := map[string][2]string{
		"name":             {"Old", "New"},
		"scopes":           {`["read"]`, `["read","a, b"]`},
		"access_token_ttl": {"3600", "5400"},
		"expires_at":       {"", "2030-01-02T02:04:05.6Z"},
		"require_consent":  {"false", "true"},
	}
	if len(e.Before) != len(want) || len(e.After) != len(want) {
		t.Fatalf("before %v after %v", e.Before, e.After)
	}
	for k, v := range want {
		if e.Before[k] != v[0] || e.After[k] != v[1] {
			t.Errorf("%s: %q → %q, want %q → %q", k, e.Before[k], e.After[k], v[0], v[1])
		}
	}
	if _, ok := e.After["password"]; ok {
		t.Error("a field named without values has one")
	}
	var empty Diff
	empty.Name("x", false)
	if !empty.Empty() || empty.Before != nil {
		t.Errorf("an empty diff: %+v", empty)
	}
	(*Diff)(nil).Apply(&e) // leaves e alone
	if len(e.Changes) == 0 {
		t.Error("a nil diff cleared the event")
	}
}

func TestQueryNormalize(t *testing.T) {
	q := Query{TenantID: "ten_a"}
	if err := q.Normalize(); err != nil || q.Limit != DefaultLimit {
		t.Fatalf("defaults: %+v, %v", q, err)
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for field, q := range map[string]Query{
		"tenant_id":   {},
		"limit":       {TenantID: "t", Limit: MaxLimit + 1},
		"until":       {TenantID: "t", Since: t0, Until: t0},
		"after":       {TenantID: "t", After: -1},
		"action":      {TenantID: "t", Action: "."},
		"target_id":   {TenantID: "t", TargetID: "a\nb"},
		"actor_id":    {TenantID: "t", ActorID: string(make([]byte, MaxFilterLen+1))},
		"target_type": {TenantID: "t", TargetType: "\x7f"},
	} {
		err := q.Normalize()
		var ve *errs.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if lo, hi := (&Query{Action: "client."}).ActionRange(); lo != "client." || hi != "client/" {
		t.Errorf(`"client." is the range %q to %q`, lo, hi)
	}
	if lo, hi := (&Query{Action: "client.updated"}).ActionRange(); lo != "client.updated" || hi != "" {
		t.Errorf(`"client.updated" is the range %q to %q`, lo, hi)
	}
}
