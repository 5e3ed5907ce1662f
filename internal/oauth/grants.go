package oauth

import (
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/token"
)

var _ grant.IDSigner = (*token.TenantKeys)(nil)

// grantOrder is the order in which grants are listed, in discovery and in
// error messages.
var grantOrder = []client.GrantType{
	client.GrantClientCredentials,
	client.GrantAuthorizationCode,
	client.GrantRefreshToken,
}

// defaultGrants returns the registry New mounts when the config names no
// grants of its own. It only copies s's fields, so a zero Server lists the
// grants too (ServedGrants), and a user grant built from one fails as a
// server error instead of running unconfigured.
func (s *Server) defaultGrants() grant.Registry {
	users := grant.UserGrants{Store: s.GrantStore, Tokens: s.minter(), User: s.user, Random: s.Random,
		OnRevoke: s.addRevocations}
	if s.Keys != nil {
		users.IDTokens = s.Keys
	}
	return grant.NewRegistry(
		&grant.ClientCredentials{Tokens: s.minter(), OwnerRoles: s.ownerRoles, Catalog: s.catalog},
		&grant.AuthorizationCode{UserGrants: users},
		&grant.RefreshToken{UserGrants: users},
	)
}

// ServedGrants returns the grants the token endpoint serves by default (a
// server built with a GrantStore), in the order client_credentials,
// authorization_code, refresh_token.
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
