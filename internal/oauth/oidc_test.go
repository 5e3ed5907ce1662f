package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
)

func TestOpenIDConfiguration(t *testing.T) {
	f := newFlow(t)
	if err := f.db.CreateTenant(context.Background(), tenantBeta(f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"", "/t/beta"} {
		t.Run("at "+base+"/", func(t *testing.T) {
			iss := f.issuer + base
			m := getJSON(t, iss+"/.well-known/openid-configuration")
			strs := func(k string) []string {
				var out []string
				for _, v := range m[k].([]any) {
					out = append(out, v.(string))
				}
				return out
			}
			for k, want := range map[string]string{
				"issuer": iss, "authorization_endpoint": iss + "/oauth2/authorize", "token_endpoint": iss + "/oauth2/token",
				"userinfo_endpoint": iss + "/userinfo", "jwks_uri": iss + "/.well-known/jwks.json",
				"end_session_endpoint": iss + "/oauth2/logout", "introspection_endpoint": iss + "/oauth2/introspect",
				"revocation_endpoint": iss + "/oauth2/revoke",
			} {
				if m[k] != want {
					t.Errorf("%s = %v, want %s", k, m[k], want)
				}
			}
			for k, want := range map[string][]string{
				"response_types_supported":              {"code"},
				"response_modes_supported":              {"query"},
				"grant_types_supported":                 {"client_credentials", "authorization_code", "refresh_token"},
				"subject_types_supported":               {"public"},
				"id_token_signing_alg_values_supported": {"RS256", "ES256"},
				"scopes_supported":                      {"openid", "profile", "email", "offline_access"},
				"code_challenge_methods_supported":      {"S256"},
				"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
				"prompt_values_supported":               {"none", "login", "consent"},
			} {
				if got := strs(k); !slices.Equal(got, want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			for _, c := range []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email", "email_verified", "name"} {
				if !slices.Contains(strs("claims_supported"), c) {
					t.Errorf("claims_supported lacks %s", c)
				}
			}
			for k, want := range map[string]bool{"authorization_response_iss_parameter_supported": true,
				"request_parameter_supported": false, "request_uri_parameter_supported": false, "claims_parameter_supported": false} {
				if m[k] != want {
					t.Errorf("%s = %v, want %v", k, m[k], want)
				}
			}
			// The JWKS publishes both lineages: the RSA key that signs ID
			// tokens and the EC key that signs access tokens.
			var kinds []string
			for _, k := range f.jwks(base).Keys {
				kinds = append(kinds, k.Algorithm)
			}
			if !slices.Contains(kinds, "RS256") || !slices.Contains(kinds, "ES256") {
				t.Errorf("JWKS algorithms %v", kinds)
			}
		})
	}
}

// golang.org/x/oauth2 with its PKCE helpers completes the flow, for a
// confidential client (Basic) and a public one (client_id in the body).
func TestOAuth2LibraryFlow(t *testing.T) {
	f := newFlow(t)
	m := getJSON(t, f.issuer+"/.well-known/openid-configuration")
	endpoint := oauth2.Endpoint{AuthURL: m["authorization_endpoint"].(string), TokenURL: m["token_endpoint"].(string)}
	tests := []struct {
		name string
		conf oauth2.Config
		alg  jose.SignatureAlgorithm
	}{
		{"confidential", oauth2.Config{ClientID: f.web, ClientSecret: f.webSecret, RedirectURL: webCB,
			Scopes: []string{"openid", "read", "offline_access"}, Endpoint: withStyle(endpoint, oauth2.AuthStyleInHeader)}, jose.RS256},
		{"public", oauth2.Config{ClientID: f.spa, RedirectURL: "http://127.0.0.1:8765/cb",
			Scopes: []string{"openid", "read", "offline_access"}, Endpoint: withStyle(endpoint, oauth2.AuthStyleInParams)}, jose.ES256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			authURL := tt.conf.AuthCodeURL("xyz", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("nonce", "abc"))
			req, _ := http.NewRequest("GET", authURL, nil)
			req.AddCookie(&http.Cookie{Name: testCookie, Value: f.cookie})
			// offline_access, which the refresh below needs, asks for
			// consent the first time.
			code := f.codeFrom(f.approveOn(f.send(req), f.user, f.cookie), tt.conf.RedirectURL, "xyz")
			tok, err := tt.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			idt, _ := tok.Extra("id_token").(string)
			if c := f.verifyID(idt, tt.alg); c.Nonce != "abc" || c.Subject != f.user.ID {
				t.Fatalf("ID token %+v", c)
			}
			// The token source refreshes through the library too.
			tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
			fresh, err := tt.conf.TokenSource(context.Background(), tok).Token()
			if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh through the library: %v", err)
			}
		})
	}
}

func withStyle(e oauth2.Endpoint, s oauth2.AuthStyle) oauth2.Endpoint { e.AuthStyle = s; return e }

func TestUserinfo(t *testing.T) {
	f := newFlow(t)
	ccID, ccSecret := f.create(client.CreateParams{Name: "Machine", Scopes: []string{"openid"}})
	full := f.tokens(url.Values{"scope": {"openid profile email"}}).body["access_token"].(string)
	bare := f.tokens(url.Values{"scope": {"openid"}}).body["access_token"].(string)
	noOpenID := f.tokens(url.Values{"scope": {"read"}, "nonce": {""}}).body["access_token"].(string)
	machine := f.token(ccID, ccSecret, url.Values{"scope": {"openid"}}).body["access_token"].(string)
	gone := f.newUser("gone@example.com")
	code := f.authorize(f.signIn(gone), f.web, webCB, url.Values{"scope": {"openid"}})
	goneTok := f.exchange(f.web, f.webSecret, code, webCB, verifier).body["access_token"].(string)
	if _, err := f.users.SetStatus(context.Background(), f.actor, gone.ID, account.UserDisabled); err != nil {
		t.Fatal(err)
	}
	bearerOf := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	tests := []struct {
		name   string
		method string
		body   string
		header []string
		status int
		want   map[string]any
		error  string
	}{
		{"profile and email", "GET", "", bearerOf(full), 200, map[string]any{"sub": f.user.ID, "name": "Ada Lovelace",
			"locale": "nb", "email": "ada@example.com", "email_verified": false}, ""},
		{"by POST", "POST", "", bearerOf(full), 200, map[string]any{"sub": f.user.ID, "email": "ada@example.com"}, ""},
		{"openid alone", "GET", "", bearerOf(bare), 200, map[string]any{"sub": f.user.ID}, ""},
		{"no token", "GET", "", nil, 401, nil, ""},
		{"token in the body", "POST", "access_token=" + full, []string{"Content-Type", form}, 401, nil, ""},
		{"not a token", "GET", "", bearerOf("nonsense"), 401, nil, "invalid_token"},
		{"without openid", "GET", "", bearerOf(noOpenID), 403, nil, "insufficient_scope"},
		{"a client's token", "GET", "", bearerOf(machine), 401, nil, "invalid_token"},
		{"user disabled", "GET", "", bearerOf(goneTok), 401, nil, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(tt.method, "/userinfo", "", tt.body, tt.header...)
			if r.status != tt.status || r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%d %s %v", r.status, r.raw, r.header)
			}
			for k, v := range tt.want {
				if r.body[k] != v {
					t.Errorf("%s = %v, want %v", k, r.body[k], v)
				}
			}
			if tt.name == "openid alone" && len(r.body) != 1 {
				t.Errorf("claims beyond sub without profile or email: %s", r.raw)
			}
			if tt.status != 200 && !strings.Contains(r.header.Get("WWW-Authenticate"), tt.error) {
				t.Errorf("WWW-Authenticate %q, want %s", r.header.Get("WWW-Authenticate"), tt.error)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		r := f.do("OPTIONS", "/userinfo", "", "")
		if r.status != 204 || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
}
