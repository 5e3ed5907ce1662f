package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
)

// FuzzEndpoints sends arbitrary bodies, content types and Authorization
// headers to every POST endpoint: whatever the input, the answer is an
// RFC-shaped 2xx/4xx, never a panic or a 500.
func FuzzEndpoints(f *testing.F) {
	f.Add(0, form, "grant_type=client_credentials", "")
	f.Add(0, "application/json", `{"grant_type":"client_credentials","scope":"read"}`, basicAuth("lkc_x", "lks_y"))
	f.Add(1, form, "token=eyJhbGciOiJub25lIn0.e30.", basicAuth("a", "b"))
	f.Add(2, form, "token=lkat_abc&token_type_hint=refresh_token", "Basic Og==")
	f.Add(0, form, "grant_type=client_credentials&scope=%00%ff", "Basic !!")
	f.Add(1, "application/json", `{"token":"a.b.c"}`, "Bearer x")
	// "valid" stands for the real client's credentials.
	f.Add(0, form, "grant_type=client_credentials&scope=read", "valid")
	f.Add(1, form, "token=lkat_0000", "valid")
	f.Add(2, "application/json", `{"token":"eyJ.eyJ.sig"}`, "valid")
	h := newHarness(f, 0)
	id, secret := h.create(client.CreateParams{Scopes: []string{"read"}})
	paths := []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"}
	mux := http.NewServeMux()
	h.srv.Mount(mux)
	f.Fuzz(func(t *testing.T, which int, ctype, body, auth string) {
		if which < 0 {
			which = -which
		}
		req := httptest.NewRequest(http.MethodPost, paths[which%len(paths)], strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		switch {
		case auth == "valid":
			req.Header.Set("Authorization", basicAuth(id, secret))
		case auth != "":
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("%s %q: status %d %s", req.URL.Path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"error":"`) {
			t.Fatalf("error without an RFC body: %d %s", rec.Code, rec.Body)
		}
	})
}
