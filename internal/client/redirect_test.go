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
	}
	for _, tt := range tests {
		err := ValidateRedirectURI(tt.uri)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateRedirectURI(%q) = %v, want ok=%v", tt.uri, err, tt.ok)
		}
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
		err := ValidateRedirectURI(uri)
		if err == nil || err.Error() != "wildcards are not supported: redirect URIs match exactly" {
			t.Errorf("ValidateRedirectURI(%q) = %v", uri, err)
		}
	}
}
