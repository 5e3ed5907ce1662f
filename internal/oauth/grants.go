package oauth

import (
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
)

// grantOrder is the order in which grants are listed, in discovery and in
// error messages.
var grantOrder = []client.GrantType{
	client.GrantClientCredentials,
	client.GrantAuthorizationCode,
	client.GrantRefreshToken,
}

// defaultGrants returns the registry New mounts when the config names no
// grants of its own.
func (s *Server) defaultGrants() grant.Registry {
	return grant.NewRegistry(
		&grant.ClientCredentials{Tokens: s.minter(), OwnerRoles: s.ownerRoles},
	)
}

// ServedGrants returns the grants the token endpoint serves by default, in
// the order client_credentials, authorization_code, refresh_token.
func ServedGrants() []client.GrantType {
	return servedBy((&Server{}).defaultGrants())
}

// servedBy returns the grants r serves, in grantOrder.
func servedBy(r grant.Registry) []client.GrantType {
	var out []client.GrantType
	for _, g := range grantOrder {
		if _, ok := r[g]; ok {
			out = append(out, g)
		}
	}
	return out
}
