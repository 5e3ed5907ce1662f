package oauth

import (
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey/internal/oauth/grant"
)

// metadata is the tenant's authorization server metadata: RFC 8414's,
// which is also OpenID Connect Discovery 1.0's provider metadata. It
// advertises exactly what this server does; the authorization code flow's
// fields are left out when the server was built without it.
type metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint,omitempty"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint,omitempty"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	// RegistrationEndpoint is RFC 7591's, present only where the
	// tenant's policy takes registrations.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`

	ResponseTypesSupported []string `json:"response_types_supported,omitempty"`
	ResponseModesSupported []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported    []string `json:"grant_types_supported"`
	SubjectTypesSupported  []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ClaimsSupported        []string `json:"claims_supported,omitempty"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported,omitempty"`
	PromptValuesSupported  []string `json:"prompt_values_supported,omitempty"`

	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`

	// Pointers: present, as false or true, exactly with the flow.
	AuthorizationResponseIss *bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	RequestParameter         *bool `json:"request_parameter_supported,omitempty"`
	RequestURIParameter      *bool `json:"request_uri_parameter_supported,omitempty"`
	ClaimsParameter          *bool `json:"claims_parameter_supported,omitempty"`

	ServiceDocumentation string `json:"service_documentation,omitempty"`
}

// claimsSupported are the claims ID tokens and /userinfo may carry.
var claimsSupported = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
	"name", "locale", "updated_at", "email", "email_verified"}

// handleDiscovery serves the tenant's metadata, at RFC 8414's and OpenID
// Connect Discovery's well-known paths alike: its own issuer, and
// endpoints under it.
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
		TokenEndpointAuthMethods:         []string{"client_secret_basic", "client_secret_post", "none"},
		IntrospectionEndpointAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		RevocationEndpointAuthMethods:    []string{"client_secret_basic", "client_secret_post", "none"},
	}
	if s.Registration != nil {
		on, err := s.Registration.Enabled(r.Context(), ts.tenant.ID)
		if err != nil {
			serverError(w, s.Logger, r, err)
			return
		}
		if on {
			m.RegistrationEndpoint = iss + RegistrationPath
		}
	}
	if s.flowServed() {
		algs, err := s.Keys.IDAlgorithms(r.Context(), ts.tenant.ID)
		if err != nil {
			serverError(w, s.Logger, r, err)
			return
		}
		yes, no := true, false
		m.AuthorizationEndpoint = iss + "/oauth2/authorize"
		m.UserinfoEndpoint = iss + "/userinfo"
		m.EndSessionEndpoint = iss + "/oauth2/logout"
		m.ResponseTypesSupported = []string{"code"}
		m.ResponseModesSupported = []string{"query"}
		m.SubjectTypesSupported = []string{"public"}
		m.IDTokenSigningAlgs = algs
		m.ScopesSupported = grant.OIDCScopes
		m.ClaimsSupported = claimsSupported
		m.CodeChallengeMethods = []string{"S256"}
		m.PromptValuesSupported = promptValues
		m.AuthorizationResponseIss = &yes
		m.RequestParameter, m.RequestURIParameter, m.ClaimsParameter = &no, &no, &no
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeBody(w, m)
}

// handleJWKS serves the tenant's public keys, of both lineages (access
// tokens, ID tokens), and no other tenant's.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	doc, err := s.Keys.JWKS(r.Context(), ts.tenant.ID)
	if err != nil {
		serverError(w, s.Logger, r, err)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Shorter than a next key is published before it signs, so resource
	// servers hold a key before they meet a token signed with it.
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.Keys.JWKSMaxAge().Seconds())))
	w.Write(doc)
}
