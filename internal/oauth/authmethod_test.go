package oauth_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
)

// Each client authenticates with its own token_endpoint_auth_method only,
// at every endpoint that authenticates clients.
func TestAuthMethodIsEnforced(t *testing.T) {
	h := newHarness(t, 0)
	rs := []string{"oauth_admin"} // may introspect
	basicID, basicSecret := h.create(client.CreateParams{Name: "Basic", Roles: rs})
	postID, postSecret := h.create(client.CreateParams{Name: "Post", Roles: rs, TokenEndpointAuthMethod: client.AuthSecretPost})
	pubID, _ := h.create(client.CreateParams{Name: "Public", Type: client.Public,
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{spaCB}})
	code := []client.GrantType{client.GrantAuthorizationCode}
	confID, confSecret := h.create(client.CreateParams{Name: "Web", GrantTypes: code, RedirectURIs: []string{webCB}})

	asBasic := func(id, secret string) []string { return []string{"Authorization", basicAuth(id, secret)} }
	asPost := func(id, secret string) url.Values { return url.Values{"client_id": {id}, "client_secret": {secret}} }
	asNone := func(id string) url.Values { return url.Values{"client_id": {id}} }
	cc := url.Values{"grant_type": {"client_credentials"}}
	ac := url.Values{"grant_type": {"authorization_code"}, "code": {"lkac_x"}, "redirect_uri": {webCB}, "code_verifier": {verifier}}
	tok := url.Values{"token": {"lkat_x"}}
	join := func(a, b url.Values) string {
		v := url.Values{}
		for _, m := range []url.Values{a, b} {
			for k, vs := range m {
				v[k] = vs
			}
		}
		return v.Encode()
	}
	tests := []struct {
		name   string
		path   string
		body   string
		header []string
		status int
		want   string // in the description, or "" for success
	}{
		{"basic client with basic", "/oauth2/token", cc.Encode(), asBasic(basicID, basicSecret), 200, ""},
		{"basic client with post", "/oauth2/token", join(cc, asPost(basicID, basicSecret)), nil, 401, "is client_secret_basic"},
		{"post client with post", "/oauth2/token", join(cc, asPost(postID, postSecret)), nil, 200, ""},
		{"post client with basic", "/oauth2/token", cc.Encode(), asBasic(postID, postSecret), 401, "is client_secret_post"},
		{"public client with a secret (basic)", "/oauth2/token", ac.Encode(), asBasic(pubID, "lks_guess"), 401, "is none"},
		{"public client with a secret (post)", "/oauth2/token", join(ac, asPost(pubID, "lks_guess")), nil, 401, "is none"},
		{"public client with none", "/oauth2/token", join(ac, asNone(pubID)), nil, 400, "invalid or expired"},
		{"confidential client with none", "/oauth2/token", join(ac, asNone(confID)), nil, 401, "is client_secret_basic"},
		{"confidential client with none, client_credentials", "/oauth2/token", join(cc, asNone(basicID)), nil, 401, "is client_secret_basic"},
		{"confidential client with its method", "/oauth2/token", ac.Encode(), asBasic(confID, confSecret), 400, "invalid or expired"},
		{"introspect: post client with basic", "/oauth2/introspect", tok.Encode(), asBasic(postID, postSecret), 401, "is client_secret_post"},
		{"introspect: basic client with post", "/oauth2/introspect", join(tok, asPost(basicID, basicSecret)), nil, 401, "is client_secret_basic"},
		{"introspect: post client with post", "/oauth2/introspect", join(tok, asPost(postID, postSecret)), nil, 200, ""},
		{"revoke: basic client with post", "/oauth2/revoke", join(tok, asPost(basicID, basicSecret)), nil, 401, "is client_secret_basic"},
		{"revoke: public client with a secret", "/oauth2/revoke", join(tok, asPost(pubID, "lks_guess")), nil, 401, "is none"},
		{"revoke: public client with none", "/oauth2/revoke", join(tok, asNone(pubID)), nil, 200, ""},
		{"revoke: confidential client with none", "/oauth2/revoke", join(tok, asNone(basicID)), nil, 401, "is client_secret_basic"},
		{"unknown client with none", "/oauth2/revoke", join(tok, asNone("lkc_unknown")), nil, 401, "client authentication failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", tt.path, form, tt.body, tt.header...)
			desc, _ := r.body["error_description"].(string)
			if r.status != tt.status || !strings.Contains(desc, tt.want) {
				t.Fatalf("%d %s; want %d saying %q", r.status, r.raw, tt.status, tt.want)
			}
			if tt.status == 401 && (r.body["error"] != "invalid_client" || r.header.Get("WWW-Authenticate") == "") {
				t.Errorf("want invalid_client with a challenge: %s %v", r.raw, r.header)
			}
		})
	}
}
