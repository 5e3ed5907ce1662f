package leak

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []client.LeakReport
		ok         bool
	}{
		{"github shape", `[{"token":"lks_x","type":"latchkey_secret","url":"https://github.com/a/b","source":"content"}]`,
			[]client.LeakReport{{Token: "lks_x", Type: "latchkey_secret", URL: "https://github.com/a/b", Source: "content"}}, true},
		{"empty list", `[]`, nil, true},
		{"unknown members tolerated", `[{"token":"t","found_at":{"line":3,"x":[1,2]},"n":null}]`, []client.LeakReport{{Token: "t"}}, true},
		{"missing members", `[{}, {"url":"u"}]`, []client.LeakReport{{}, {URL: "u"}}, true},
		{"not a list", `{"token":"t"}`, nil, false},
		{"duplicate member", `[{"token":"a","token":"b"}]`, nil, false},
		{"duplicate unknown member", `[{"x":1,"x":2}]`, nil, false},
		{"number token", `[{"token":5}]`, nil, false},
		{"object url", `[{"url":{}}]`, nil, false},
		{"entry not an object", `["lks_x"]`, nil, false},
		{"trailing data", `[] []`, nil, false},
		{"truncated", `[{"token":"a"`, nil, false},
		{"empty", ``, nil, false},
		{"too many", "[" + strings.TrimSuffix(strings.Repeat(`{},`, MaxEntries+1), ",") + "]", nil, false},
		{"as many as allowed", "[" + strings.TrimSuffix(strings.Repeat(`{},`, MaxEntries), ",") + "]",
			make([]client.LeakReport, MaxEntries), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.body))
			if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %v, %v; want ok %v", got, err, tc.ok)
			}
			if tc.ok && len(got) != len(tc.want) {
				t.Fatalf("Parse = %v; want %v", got, tc.want)
			}
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Fatalf("entry %d = %+v; want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// FuzzParse: no input panics, and an accepted report holds at most
// MaxEntries entries; a refusal always wraps ErrMalformed.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"token":"lks_x","type":"t","url":"https://example.com","source":"content"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := Parse(body)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		if len(got) > MaxEntries {
			t.Fatalf("%d entries accepted", len(got))
		}
	})
}
