package oauth

import (
	"net/http"
	"strconv"
)

// metadata is the RFC 8414 authorization server metadata, advertising
// exactly what this server does: response_types_supported is omitted while
// no authorization endpoint, and so no response type, is served.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported,omitempty"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	ServiceDocumentation             string   `json:"service_documentation,omitempty"`
}

// handleDiscovery serves the tenant's RFC 8414 metadata: its own issuer,
// and endpoints under it.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	served := servedBy(s.Grants)
	grants := make([]string, len(served))
	for i, g := range served {
		grants[i] = string(g)
	}
	iss := ts.issuer
	m := metadata{
		Issuer:                           iss,
		TokenEndpoint:                    iss + "/oauth2/token",
		JWKSURI:                          iss + "/.well-known/jwks.json",
		IntrospectionEndpoint:            iss + "/oauth2/introspect",
		RevocationEndpoint:               iss + "/oauth2/revoke",
		GrantTypesSupported:              grants,
		TokenEndpointAuthMethods:         []string{"client_secret_basic", "client_secret_post"},
		IntrospectionEndpointAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		RevocationEndpointAuthMethods:    []string{"client_secret_basic", "client_secret_post", "none"},
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeBody(w, m)
}

// handleJWKS serves the tenant's public keys, and no other tenant's.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Shorter than a next key is published before it signs, so resource
	// servers hold a key before they meet a token signed with it.
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(ts.keys.JWKSMaxAge().Seconds())))
	w.Write(ts.keys.JWKS())
}
