package oauth

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/oauth/grant"
)

// FuzzAuthorizeRequest runs the authorize endpoint's parsing and
// validation (readAuthorize, redirectTarget, matchTarget, checkAuthorize)
// over arbitrary requests. Whatever the input, nothing panics, an accepted
// request holds every rule, and a refusal is one of the RFC error codes
// with a description safe for a redirect.
func FuzzAuthorizeRequest(f *testing.F) {
	web := &client.Client{ID: "lkc_web", TenantID: "ten_1", Type: client.Confidential, Status: client.StatusActive,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		Scopes: []string{"read", "write", "oauth:client:view"}}
	spa := &client.Client{ID: "lkc_spa", TenantID: "ten_1", Type: client.Public, Status: client.StatusActive,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{"com.example.app:/cb"},
		Scopes: []string{"*"}}
	clients := map[string]*client.Client{web.ID: web, spa.ID: spa}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sealer, err := authreq.NewSealer(bytes.Repeat([]byte{1}, 32), func() time.Time { return now }, nil)
	if err != nil {
		f.Fatal(err)
	}
	codes := []string{"invalid_request", "invalid_scope", "unauthorized_client", "unsupported_response_type",
		"request_not_supported", "request_uri_not_supported"}

	f.Fuzz(func(t *testing.T, post bool, query, body, ctype string) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		target := "/oauth2/authorize"
		if query != "" {
			target += "?" + query
		}
		r, err := http.NewRequest(method, "http://latchkey.test"+target, strings.NewReader(body))
		if err != nil {
			return // not a request a server could receive
		}
		r.Header.Set("Content-Type", ctype)
		p, msg := readAuthorize(httptest.NewRecorder(), r)
		if msg != "" {
			return
		}
		id, redirectURI, msg := redirectTarget(p)
		if msg != "" {
			if id != "" || redirectURI != "" {
				t.Fatalf("a refused target still named %q %q", id, redirectURI)
			}
			return
		}
		if len(p["client_id"]) != 1 || len(p["redirect_uri"]) != 1 {
			t.Fatalf("accepted a repeated client_id or redirect_uri: %v", p)
		}
		c := clients[id]
		if c == nil || matchTarget(c, redirectURI) != "" {
			return
		}
		if _, ok := c.MatchRedirectURI(redirectURI); !ok {
			t.Fatalf("matchTarget accepted unregistered %q", redirectURI)
		}
		req, none, oerr := checkAuthorize(c, p, redirectURI, now)
		if oerr != nil {
			if !slices.Contains(codes, oerr.Code) || strings.ContainsAny(oerr.Description, "\"\\") {
				t.Fatalf("refusal %q %q", oerr.Code, oerr.Description)
			}
			return
		}
		for k, vs := range p {
			if len(vs) != 1 {
				t.Fatalf("accepted repeated %q", k)
			}
		}
		switch {
		case p.Get("response_type") != "code":
			t.Fatalf("accepted response_type %q", p.Get("response_type"))
		case req.RedirectURI != redirectURI || req.ClientID != c.ID || req.TenantID != c.TenantID:
			t.Fatalf("request %+v", req)
		case c.Type == client.Public && req.CodeChallenge == "":
			t.Fatal("a public client without PKCE")
		case req.CodeChallenge != "" && (!grant.ValidPKCE(req.CodeChallenge) || p.Get("code_challenge_method") != "S256"):
			t.Fatalf("challenge %q method %q", req.CodeChallenge, p.Get("code_challenge_method"))
		case len(req.State) > maxStateLen || len(req.Nonce) > maxNonceLen || len(req.LoginHint) > maxLoginHintLen:
			t.Fatal("an unbounded value")
		case req.MaxAge < -1:
			t.Fatalf("max_age %d", req.MaxAge)
		case none && len(req.Prompt) > 0:
			t.Fatal("prompt none with another value")
		case !req.Started.Equal(now):
			t.Fatal("Started is not now")
		}
		for _, pv := range req.Prompt {
			if pv != "login" && pv != "consent" {
				t.Fatalf("prompt %q reached the pages", pv)
			}
		}
		for _, s := range req.Scopes {
			allowed := slices.Contains(c.Scopes, s) || slices.Contains(c.Scopes, "*") || slices.Contains(grant.OIDCScopes, s)
			if !allowed || s == "*" || authz.IsPermission(authz.Permission(s)) {
				t.Fatalf("granted scope %q", s)
			}
		}
		sealed, err := sealer.Seal(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) <= authreq.MaxSealedLen {
			back, err := sealer.Open(sealed)
			if err != nil {
				t.Fatalf("sealed request does not open: %v", err)
			}
			back.Started, req.Started = now, now
			if len(req.Scopes) == 0 {
				back.Scopes, req.Scopes = nil, nil // sealed, an empty list is omitted
			}
			if !reflect.DeepEqual(back, req) {
				t.Fatalf("sealed %+v, opened %+v", req, back)
			}
		}
	})
}
