package grant

import (
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// ResolveScopes decides which scopes a token gets. An omitted scope
// parameter means the client's allowed set; a requested scope must be in
// that set (or the client must hold "*"). Scopes that name an admin
// permission are granted only when held, through the given permissions:
// asked for explicitly without it, they are refused; in the default set,
// they are left out.
func ResolveScopes(c *client.Client, requested string, held []authz.Permission) ([]string, *oautherr.Error) {
	if requested == "" {
		out := make([]string, 0, len(c.Scopes))
		for _, s := range c.Scopes {
			if s != "*" && permitted(s, held) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	fields := strings.Split(requested, " ")
	out := make([]string, 0, len(fields))
	wildcard := slices.Contains(c.Scopes, "*")
	for _, s := range fields {
		switch {
		case s == "":
			return nil, oautherr.InvalidRequest("scope must be scope tokens separated by single spaces")
		case !client.ValidScope(s):
			return nil, oautherr.InvalidScope("%s is not a valid scope", oautherr.Quote(s))
		case !wildcard && !slices.Contains(c.Scopes, s):
			return nil, oautherr.InvalidScope("the scope %s is not allowed for this client", oautherr.Quote(s))
		case !permitted(s, held):
			return nil, oautherr.InvalidScope("the scope %s needs a permission this client's roles or owner do not grant", oautherr.Quote(s))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// permitted reports whether scope s, if it names a permission, is held.
func permitted(s string, held []authz.Permission) bool {
	p := authz.Permission(s)
	if !authz.IsPermission(p) {
		return true
	}
	return slices.Contains(held, p)
}
