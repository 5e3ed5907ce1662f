package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
)

func validClient() *Client {
	return &Client{
		ID: "lkc_abc", TenantID: "t1", Name: "Billing sync", Type: Confidential,
		GrantTypes: []GrantType{GrantClientCredentials}, Scopes: []string{"read"},
		AccessTokenTTL: DefaultAccessTTL, RefreshTokenTTL: DefaultRefreshTTL,
		TokenFormat: TokenJWT, Status: StatusActive, TokenEndpointAuthMethod: AuthSecretBasic,
		DivisionID: authz.HomeDivision,
	}
}

// fieldOf returns the first field named in err, or "" when err is nil.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		t.Fatalf("error %v is not a *ValidationError with fields", err)
	}
	return ve.Fields[0].Field
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(c *Client)
		field  string // "" for valid
		substr string
	}{
		{"valid", func(c *Client) {}, "", ""},
		{"empty name", func(c *Client) { c.Name = "" }, "name", "required"},
		{"blank name", func(c *Client) { c.Name = "   " }, "name", "required"},
		{"200 char name", func(c *Client) { c.Name = strings.Repeat("é", 200) }, "", ""},
		{"201 char name", func(c *Client) { c.Name = strings.Repeat("a", 201) }, "name", "at most 200"},
		{"10KB name", func(c *Client) { c.Name = strings.Repeat("a", 10240) }, "name", "at most 200"},
		{"NUL in name", func(c *Client) { c.Name = "a\x00b" }, "name", "control"},
		{"newline in name", func(c *Client) { c.Name = "a\nb" }, "name", "control"},
		{"invalid UTF-8 name", func(c *Client) { c.Name = "a\xffb" }, "name", "UTF-8"},
		{"newline in description", func(c *Client) { c.Description = "line one\nline two" }, "", ""},
		{"NUL in description", func(c *Client) { c.Description = "a\x00" }, "description", "control"},
		{"2001 char description", func(c *Client) { c.Description = strings.Repeat("a", 2001) }, "description", "at most 2000"},
		{"bad client id", func(c *Client) { c.ID = "has space" }, "client_id", ""},
		{"short client id", func(c *Client) { c.ID = "ab" }, "client_id", ""},
		{"bad type", func(c *Client) { c.Type = "secret" }, "type", ""},
		{"no grants", func(c *Client) { c.GrantTypes = nil }, "grant_types", "at least one"},
		{"implicit", func(c *Client) { c.GrantTypes = []GrantType{"implicit"} }, "grant_types", "implicit grant is not supported"},
		{"password", func(c *Client) { c.GrantTypes = []GrantType{"password"} }, "grant_types", "password grant is not supported"},
		{"unknown grant", func(c *Client) { c.GrantTypes = []GrantType{"magic"} }, "grant_types", "unknown grant type"},
		{"duplicate grant", func(c *Client) {
			c.GrantTypes = []GrantType{GrantClientCredentials, GrantClientCredentials}
		}, "grant_types", "twice"},
		{"public client_credentials", func(c *Client) { c.Type = Public }, "grant_types", "public client"},
		{"public with a secret method", func(c *Client) {
			c.Type, c.GrantTypes, c.RedirectURIs = Public, []GrantType{GrantAuthorizationCode}, []string{"https://a.example/cb"}
		}, "token_endpoint_auth_method", `its method is "none"`},
		{"public native scheme", func(c *Client) {
			c.Type, c.TokenEndpointAuthMethod = Public, AuthNone
			c.GrantTypes, c.RedirectURIs = []GrantType{GrantAuthorizationCode}, []string{"com.example.app:/cb", "myapp://oauth/callback"}
		}, "", ""},
		{"confidential native scheme", func(c *Client) {
			c.GrantTypes, c.RedirectURIs = []GrantType{GrantAuthorizationCode}, []string{"com.example.app:/cb"}
		}, "redirect_uris[0]", "public (native) clients"},
		{"javascript redirect", func(c *Client) {
			c.Type, c.TokenEndpointAuthMethod = Public, AuthNone
			c.GrantTypes, c.RedirectURIs = []GrantType{GrantAuthorizationCode}, []string{"javascript:alert(1)"}
		}, "redirect_uris[0]", "not allowed"},
		{"confidential with none", func(c *Client) { c.TokenEndpointAuthMethod = AuthNone }, "token_endpoint_auth_method", "authenticates with its secret"},
		{"confidential with no method", func(c *Client) { c.TokenEndpointAuthMethod = "" }, "token_endpoint_auth_method", "client_secret_basic"},
		{"unknown method", func(c *Client) { c.TokenEndpointAuthMethod = "private_key_jwt" }, "token_endpoint_auth_method", "client_secret_basic"},
		{"post method", func(c *Client) { c.TokenEndpointAuthMethod = AuthSecretPost }, "", ""},
		{"ES256 ID tokens", func(c *Client) { c.IDTokenAlg = IDTokenES256 }, "", ""},
		{"unknown ID token alg", func(c *Client) { c.IDTokenAlg = "none" }, "id_token_signed_response_alg", "RS256"},
		{"post-logout without code", func(c *Client) { c.PostLogoutRedirectURIs = []string{"https://a.example/bye"} }, "post_logout_redirect_uris", "authorization_code"},
		{"post-logout URIs", func(c *Client) {
			c.GrantTypes, c.RedirectURIs = []GrantType{GrantAuthorizationCode}, []string{"https://a.example/cb"}
			c.PostLogoutRedirectURIs = []string{"https://a.example/bye", "http://127.0.0.1/bye"}
		}, "", ""},
		{"bad post-logout URI", func(c *Client) {
			c.GrantTypes, c.RedirectURIs = []GrantType{GrantAuthorizationCode}, []string{"https://a.example/cb"}
			c.PostLogoutRedirectURIs = []string{"https://a.example/bye", "http://a.example/bye"}
		}, "post_logout_redirect_uris[1]", "https"},
		{"repeated post-logout URI", func(c *Client) {
			c.GrantTypes, c.RedirectURIs = []GrantType{GrantAuthorizationCode}, []string{"https://a.example/cb"}
			c.PostLogoutRedirectURIs = []string{"https://a.example/bye", "https://a.example/bye"}
		}, "post_logout_redirect_uris[1]", "twice"},
		{"refresh without code", func(c *Client) {
			c.GrantTypes = []GrantType{GrantClientCredentials, GrantRefreshToken}
		}, "grant_types", "refresh_token needs"},
		{"code without redirect", func(c *Client) { c.GrantTypes = []GrantType{GrantAuthorizationCode} }, "redirect_uris", "required"},
		{"code with redirect", func(c *Client) {
			c.GrantTypes = []GrantType{GrantAuthorizationCode, GrantRefreshToken}
			c.RedirectURIs = []string{"https://app.example.com/cb"}
		}, "", ""},
		{"redirect without code", func(c *Client) { c.RedirectURIs = []string{"https://app.example.com/cb"} },
			"redirect_uris", "used only by the authorization_code grant: add it to grant_types, or clear the redirect URIs"},
		{"http redirect", func(c *Client) {
			c.GrantTypes = []GrantType{GrantAuthorizationCode}
			c.RedirectURIs = []string{"http://app.example.com/cb"}
		}, "redirect_uris[0]", "https"},
		{"wildcard redirect", func(c *Client) {
			c.GrantTypes = []GrantType{GrantAuthorizationCode}
			c.RedirectURIs = []string{"https://*.example.com/cb"}
		}, "redirect_uris[0]", "wildcards are not supported: redirect URIs match exactly"},
		{"too many redirects", func(c *Client) {
			c.GrantTypes = []GrantType{GrantAuthorizationCode}
			for i := range 126 {
				c.RedirectURIs = append(c.RedirectURIs, "https://a.example/"+strings.Repeat("x", i))
			}
		}, "redirect_uris", "at most 125"},
		{"duplicate redirect", func(c *Client) {
			c.GrantTypes = []GrantType{GrantAuthorizationCode}
			c.RedirectURIs = []string{"https://a.example/cb", "https://a.example/cb"}
		}, "redirect_uris[1]", "twice"},
		{"bad scope", func(c *Client) { c.Scopes = []string{"has space"} }, "scopes", "not a valid scope"},
		{"quote scope", func(c *Client) { c.Scopes = []string{`a"b`} }, "scopes", "not a valid scope"},
		{"duplicate scope", func(c *Client) { c.Scopes = []string{"a", "a"} }, "scopes", "twice"},
		{"star scope", func(c *Client) { c.Scopes = []string{"*"} }, "", ""},
		{"unknown role", func(c *Client) { c.Roles = []string{"god"} }, "roles", "unknown role"},
		{"a role in a division", func(c *Client) { c.Roles = []string{"oauth_admin@emea", "viewer"} }, "", ""},
		{"a malformed grant", func(c *Client) { c.Roles = []string{"oauth_admin@"} }, "roles", "division"},
		{"super admin in a division", func(c *Client) { c.Roles = []string{"super_admin@emea"} }, "roles", "every division"},
		{"a custom role, unknown without the catalog", func(c *Client) { c.Roles = []string{"auditor@emea"} }, "roles", "unknown role"},
		{"no division", func(c *Client) { c.DivisionID = "" }, "division", ""},
		{"a malformed division", func(c *Client) { c.DivisionID = "a@b" }, "division", ""},
		{"known role", func(c *Client) { c.Roles = []string{"viewer"} }, "", ""},
		{"role without client_credentials", func(c *Client) {
			c.GrantTypes = []GrantType{GrantAuthorizationCode}
			c.RedirectURIs = []string{"https://a.example/cb"}
			c.Roles = []string{"viewer"}
		}, "roles", "only to client_credentials"},
		{"ttl too short", func(c *Client) { c.AccessTokenTTL = 299 * time.Second }, "access_token_ttl", "300 to 172800"},
		{"ttl too long", func(c *Client) { c.AccessTokenTTL = 172801 * time.Second }, "access_token_ttl", ""},
		{"ttl fraction", func(c *Client) { c.AccessTokenTTL = 300*time.Second + time.Millisecond }, "access_token_ttl", ""},
		{"ttl edges", func(c *Client) { c.AccessTokenTTL = MaxAccessTokenTTL }, "", ""},
		{"refresh ttl", func(c *Client) { c.RefreshTokenTTL = time.Minute }, "refresh_token_ttl", ""},
		{"bad format", func(c *Client) { c.TokenFormat = "paseto" }, "token_format", ""},
		{"bad status", func(c *Client) { c.Status = "deleted" }, "status", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClient()
			tt.edit(c)
			err := c.Validate()
			if got := fieldOf(t, err); got != tt.field {
				t.Fatalf("field = %q, want %q (err %v)", got, tt.field, err)
			}
			if tt.substr != "" && !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q does not mention %q", err, tt.substr)
			}
		})
	}
}

func TestValidationErrorListsEveryField(t *testing.T) {
	c := validClient()
	c.Name, c.Type, c.AccessTokenTTL = "", "x", 1
	var ve *ValidationError
	if !errors.As(c.Validate(), &ve) || len(ve.Fields) != 3 {
		t.Fatalf("want 3 field errors, got %+v", ve)
	}
}

func TestCanTransition(t *testing.T) {
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{StatusActive, StatusInactive, true},
		{StatusInactive, StatusActive, true},
		{StatusActive, StatusRevoked, true},
		{StatusInactive, StatusRevoked, true},
		{StatusRevoked, StatusActive, false},
		{StatusRevoked, StatusInactive, false},
		{StatusActive, "deleted", false},
	}
	for _, tt := range tests {
		if got := CanTransition(tt.from, tt.to); got != tt.ok {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func TestListQueryNormalize(t *testing.T) {
	q := ListQuery{}
	if err := q.Normalize(); err != nil || q.Sort != SortCreatedAt || q.Limit != DefaultListLimit {
		t.Fatalf("defaults: %+v, %v", q, err)
	}
	bad := []ListQuery{
		{Sort: "password"}, {Status: "gone"}, {Limit: -1}, {Limit: MaxListLimit + 1},
		{After: "not-a-cursor"}, {Search: "\x00"},
	}
	for _, q := range bad {
		if err := q.Normalize(); fieldOf(t, err) == "" {
			t.Errorf("Normalize(%+v) accepted", q)
		}
	}
	cur := Cursor{Key: "k", ID: "lkc_1"}.Encode()
	q = ListQuery{After: cur}
	if err := q.Normalize(); err != nil {
		t.Fatalf("valid cursor refused: %v", err)
	}
}

func TestValidateInCatalog(t *testing.T) {
	c := validClient()
	c.Roles = []string{"auditor@emea"}
	cat := authz.NewCatalog([]authz.Role{{Name: "auditor", Permissions: []authz.Permission{authz.AuditView}}})
	if err := c.ValidateIn(cat); err != nil {
		t.Fatalf("a custom role of the catalog: %v", err)
	}
}
