package reqid

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMiddleware(t *testing.T) {
	var seen string
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = From(r.Context()) }))
	for _, tt := range []struct {
		proposed string
		kept     bool
	}{
		{"req-42.a_B", true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"evil\nline", false},
		{"spaces here", false},
		{"ünïcode", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.proposed != "" {
			r.Header.Set(Header, tt.proposed)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get(Header)
		if got != seen || got == "" {
			t.Errorf("%q: header %q, context %q", tt.proposed, got, seen)
		}
		if (got == tt.proposed) != tt.kept {
			t.Errorf("%q: got %q, kept should be %v", tt.proposed, got, tt.kept)
		}
	}
	if From(t.Context()) != "" {
		t.Error("a context outside a request has an ID")
	}
}
