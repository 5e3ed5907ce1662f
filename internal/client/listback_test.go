package client_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

func listIDs(p *client.ListPage) []string {
	var out []string
	for _, c := range p.Clients {
		out = append(out, c.ID)
	}
	return out
}

// Going back with a page's Prev lists the page before it; going back past
// a start that moved (a client deleted) lands on a full first page, not
// on a short one.
func TestListBackward(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"One", "Two", "Three", "Four", "Five"} {
		c, _, err := f.svc.Create(ctx, f.sys, cc(name))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
		f.now = f.now.Add(time.Minute)
	}
	q := client.ListQuery{Limit: 2}
	first, err := f.svc.List(ctx, f.sys, q)
	if err != nil || first.Prev != "" || first.Next == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	q.After = first.Next
	second, err := f.svc.List(ctx, f.sys, q)
	if err != nil || second.Prev == "" {
		t.Fatalf("second page: %+v, %v", second, err)
	}
	if got := listIDs(second); !reflect.DeepEqual(got, ids[2:4]) {
		t.Fatalf("second page = %v, want %v", got, ids[2:4])
	}
	back, err := f.svc.List(ctx, f.sys, client.ListQuery{Limit: 2, Before: second.Prev})
	if err != nil {
		t.Fatal(err)
	}
	if got := listIDs(back); !reflect.DeepEqual(got, ids[:2]) || back.Prev != "" || back.Next == "" || back.Total != 5 {
		t.Fatalf("back = %v prev %q next %q total %d, want %v", got, back.Prev, back.Next, back.Total, ids[:2])
	}

	// With the first client gone, one client lies before the second page:
	// the first page is read instead, full.
	if err := f.svc.Delete(ctx, f.sys, ids[0]); err != nil {
		t.Fatal(err)
	}
	back, err = f.svc.List(ctx, f.sys, client.ListQuery{Limit: 2, Before: second.Prev})
	if err != nil {
		t.Fatal(err)
	}
	if got := listIDs(back); !reflect.DeepEqual(got, ids[1:3]) || back.Prev != "" {
		t.Fatalf("back after a delete = %v prev %q, want %v", got, back.Prev, ids[1:3])
	}
}

func TestListBeforeIsChecked(t *testing.T) {
	f := newFixture(t)
	cur := client.Cursor{Key: "1", ID: "lkc_1"}.Encode()
	for name, q := range map[string]client.ListQuery{
		"garbage":          {Before: "not a cursor"},
		"with after":       {After: cur, Before: cur},
		"an id of no kind": {Before: client.Cursor{Key: "1", ID: "lkc 1; --"}.Encode()},
	} {
		if _, err := f.svc.List(context.Background(), f.sys, q); fields(err) != "before" {
			t.Errorf("%s: err %v, want a field error on before", name, err)
		}
	}
}
