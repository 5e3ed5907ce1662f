package grant

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

func TestResolveScopes(t *testing.T) {
	c := &client.Client{Scopes: []string{"read", "write", "oauth:client:view", "oauth:client:add"}}
	star := &client.Client{Scopes: []string{"*", "read"}}
	view := []authz.Permission{authz.ClientView}
	tests := []struct {
		name      string
		c         *client.Client
		requested string
		held      []authz.Permission
		want      string
		code      string
	}{
		{"default set drops unheld permissions", c, "", view, "read write oauth:client:view", ""},
		{"default set without permissions", c, "", nil, "read write", ""},
		{"subset", c, "write", nil, "write", ""},
		{"duplicates collapse", c, "read read", nil, "read", ""},
		{"not allowed", c, "admin", nil, "", "invalid_scope"},
		{"unheld permission asked for", c, "oauth:client:add", view, "", "invalid_scope"},
		{"held permission asked for", c, "oauth:client:view", view, "oauth:client:view", ""},
		{"double space", c, "read  write", nil, "", "invalid_request"},
		{"malformed", c, "re\"ad", nil, "", "invalid_scope"},
		{"star allows any", star, "anything else", nil, "anything else", ""},
		{"star is never granted by default", star, "", nil, "read", ""},
		{"star still needs permissions", star, "users:manage", nil, "", "invalid_scope"},
	}
	for _, tt := range tests {
		got, err := ResolveScopes(tt.c, tt.requested, tt.held)
		switch {
		case tt.code != "":
			if err == nil || err.Code != tt.code {
				t.Errorf("%s: got %v, %v; want %s", tt.name, got, err, tt.code)
			}
		case err != nil || strings.Join(got, " ") != tt.want:
			t.Errorf("%s: got %q, %v; want %q", tt.name, strings.Join(got, " "), err, tt.want)
		}
	}
}
