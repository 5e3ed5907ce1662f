package client

import "testing"

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"https://app.example.com/callback?x=1", true},
		{"http://localhost:3000/callback", true},
		{"http://localhost/", true},
		{"http://127.0.0.1:8080/cb", true},
		{"http://[::1]:9000/cb", true},
		{"http://app.example.com/cb", false},
		{"https://app.example.com/cb#frag", false},
		{"https://app.example.com/cb#", false},
		{"https://user:pw@app.example.com/cb", false},
		{"/relative/path", false},
		{"https:///nohost", false},
		{"myapp://oauth/callback", false},
		{"javascript:alert(1)", false},
		{"https://app.example.com/a b", false},
		{"https://app.example.com/\x00", false},
		{"http://localhost.evil.com/cb", false},
		{"http://127.0.0.1.evil.com/cb", false},
		{"", false},
		{"%zz", false},
		{"https://*.example.com/cb", false},
		{"https://*/cb", false},
		{"https://app.*.example.com/cb", false},
		{"http://*:8080/cb", false},
		{"https://app.example.com/*", true}, // a path is matched exactly, '*' and all
		{"com.example.app:/cb", false},      // private-use schemes are for public clients
	}
	for _, tt := range tests {
		err := ValidateRedirectURI(tt.uri, Confidential)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateRedirectURI(%q) = %v, want ok=%v", tt.uri, err, tt.ok)
		}
	}
}

// A public (native) client may register private-use URI schemes (RFC 8252
// §7.1); schemes a browser runs or reads locally stay refused.
func TestValidateRedirectURIPublic(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"myapp://oauth/callback", true},
		{"com.example.app:/cb", true},
		{"com.example.app:/oauth2redirect/example-provider", true},
		{"https://app.example.com/callback", true},
		{"http://127.0.0.1/callback", true},
		{"javascript:alert(1)", false},
		{"JavaScript://%0aalert(1)", false},
		{"data:text/html,hi", false},
		{"file:///etc/passwd", false},
		{"vbscript:msgbox", false},
		{"about:blank", false},
		{"com.example.app:", false},
		{"com.example.app:cb", false}, // opaque: no path
		{"myapp://oauth/callback#x", false},
		{"myapp://u@oauth/callback", false},
		{"http://app.example.com/cb", false},
	}
	for _, tt := range tests {
		err := ValidateRedirectURI(tt.uri, Public)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateRedirectURI(%q, public) = %v, want ok=%v", tt.uri, err, tt.ok)
		}
	}
}

func TestMatchPrivateUseAndPostLogout(t *testing.T) {
	c := &Client{RedirectURIs: []string{"com.example.app:/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example.com/bye", "http://127.0.0.1/bye"}}
	if _, ok := c.MatchRedirectURI("com.example.app:/cb"); !ok {
		t.Error("the registered private-use URI does not match itself")
	}
	for _, uri := range []string{"com.example.app:/CB", "com.example.app://cb", "com.example.app:/cb?x=1"} {
		if _, ok := c.MatchRedirectURI(uri); ok {
			t.Errorf("%q matched", uri)
		}
	}
	if got, ok := c.MatchPostLogoutURI("http://127.0.0.1:4711/bye"); !ok || got != "http://127.0.0.1/bye" {
		t.Errorf("loopback post-logout URI: %q %v", got, ok)
	}
	if _, ok := c.MatchPostLogoutURI("https://app.example.com/bye/"); ok {
		t.Error("a post-logout URI matched loosely")
	}
}

func TestMatchRedirectURI(t *testing.T) {
	c := &Client{RedirectURIs: []string{
		"https://app.example.com/callback",
		"http://127.0.0.1/cb",
		"http://localhost:3000/dev?x=1",
	}}
	tests := []struct {
		uri, want string
	}{
		{"https://app.example.com/callback", "https://app.example.com/callback"},
		{"https://app.example.com/Callback", ""},
		{"https://app.example.com/callback/", ""},
		{"https://APP.example.com/callback", ""},
		{"https://app.example.com/callback?extra=1", ""},
		{"https://app.example.com:443/callback", ""},
		{"http://127.0.0.1:51234/cb", "http://127.0.0.1/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1/cb"},
		{"http://127.0.0.1:51234/other", ""},
		{"http://[::1]:51234/cb", ""},
		{"http://localhost:4000/dev?x=1", "http://localhost:3000/dev?x=1"},
		{"http://localhost:4000/dev?x=2", ""},
		{"http://127.0.0.1:5/cb#frag", ""},
		{"http://127.0.0.1:5000/cb#", ""},
		{"https://app.example.com/callback#", ""},
		{"https://127.0.0.1:5/cb", ""},
	}
	for _, tt := range tests {
		got, ok := c.MatchRedirectURI(tt.uri)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("MatchRedirectURI(%q) = %q, %v; want %q", tt.uri, got, ok, tt.want)
		}
	}
}

func TestRedirectURIWildcardIsRefused(t *testing.T) {
	for _, uri := range []string{"https://*.example.com/cb", "https://*/cb", "http://*:8080/cb", "https://*@app.example.com/cb"} {
		err := ValidateRedirectURI(uri, Confidential)
		if err == nil || err.Error() != "wildcards are not supported: redirect URIs match exactly" {
			t.Errorf("ValidateRedirectURI(%q) = %v", uri, err)
		}
	}
}
