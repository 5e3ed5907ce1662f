package registration

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/client"
)

// Metadata is a client's metadata as RFC 7591 §2 and OpenID Connect
// Dynamic Client Registration name it: the body of a registration or an
// RFC 7592 replacement. Fields the server does not know are ignored, as
// RFC 7591 §2 asks.
type Metadata struct {
	RedirectURIs             []string `json:"redirect_uris"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes               []string `json:"grant_types,omitempty"`
	ResponseTypes            []string `json:"response_types,omitempty"`
	ClientName               string   `json:"client_name,omitempty"`
	Scope                    string   `json:"scope,omitempty"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg,omitempty"`
	Extra

	// Refused: Latchkey authenticates registered clients with secrets or,
	// public, with PKCE, and trusts no software publisher.
	JWKSURI           string `json:"jwks_uri,omitempty"`
	JWKS              any    `json:"jwks,omitempty"`
	SoftwareStatement string `json:"software_statement,omitempty"`

	// RFC 7592 §2.2: a replacement names the client, and may send its
	// secret, which must then be its current one.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// Limits of the metadata kept beside the client model.
const (
	maxURILen      = 2000
	maxContacts    = 10
	maxContactLen  = 254
	maxSoftwareLen = 200
	defaultName    = "Dynamically registered client"
)

// spec is a registration's metadata checked against a template: what the
// client domain is asked to create, or to set on a replacement.
type spec struct {
	Type       client.Type
	Method     client.AuthMethod
	Grants     []client.GrantType
	Redirects  []string
	Scopes     []string
	Name       string
	PostLogout []string
	IDAlg      string
	Extra      Extra
}

// check validates m against template t, with RFC 7591's defaults: the
// first problem found is the error, with the §3.2.2 code that fits it.
func (m *Metadata) check(t client.RegistrationTemplate) (*spec, *Error) {
	if m.SoftwareStatement != "" {
		if parts := strings.Split(m.SoftwareStatement, "."); len(parts) != 3 || slices.Contains(parts[:2], "") {
			return nil, &Error{Status: 400, Code: CodeInvalidSoftwareStatement, Description: "software_statement is not a signed JWT"}
		}
		return nil, &Error{Status: 400, Code: CodeUnapprovedSoftwareStatement,
			Description: "this server trusts no software statement issuer: register without software_statement"}
	}
	if m.JWKSURI != "" || m.JWKS != nil {
		return nil, badMetadata("jwks and jwks_uri are not supported: register with client_secret_basic, client_secret_post or none")
	}
	s := &spec{Method: client.AuthMethod(m.TokenEndpointAuthMethod), Name: strings.TrimSpace(m.ClientName),
		PostLogout: m.PostLogoutRedirectURIs, IDAlg: m.IDTokenSignedResponseAlg, Extra: m.Extra}
	if s.Method == "" {
		s.Method = client.AuthSecretBasic // RFC 7591 §2
	}
	if !slices.Contains(t.AuthMethods, s.Method) {
		return nil, badMetadata(fmt.Sprintf("token_endpoint_auth_method %q is not allowed here: use %s",
			clip(string(s.Method)), joinMethods(t.AuthMethods)))
	}
	s.Type = client.Confidential
	if s.Method == client.AuthNone {
		s.Type = client.Public
	}

	grants := m.GrantTypes
	if len(grants) == 0 {
		grants = []string{string(client.GrantAuthorizationCode)} // RFC 7591 §2
	}
	for _, g := range grants {
		if !slices.Contains(t.GrantTypes, client.GrantType(g)) {
			return nil, badMetadata(fmt.Sprintf("grant type %q is not allowed here: use %s", clip(g), joinGrants(t.GrantTypes)))
		}
		if !slices.Contains(s.Grants, client.GrantType(g)) {
			s.Grants = append(s.Grants, client.GrantType(g))
		}
	}
	code := slices.Contains(s.Grants, client.GrantAuthorizationCode)
	responses := m.ResponseTypes
	if len(responses) == 0 {
		responses = []string{"code"}
	}
	for _, r := range responses {
		if r != "code" {
			return nil, badMetadata(fmt.Sprintf("response type %q is not supported: only code", clip(r)))
		}
	}
	if !code {
		return nil, badMetadata("response type code needs the authorization_code grant (RFC 7591 §2.1)")
	}
	if len(m.RedirectURIs) == 0 {
		return nil, badRedirect("redirect_uris is required for the authorization_code grant")
	}
	s.Redirects = m.RedirectURIs

	if m.Scope == "" {
		s.Scopes = slices.Clone(t.DefaultScopes)
	} else {
		for _, sc := range strings.Fields(m.Scope) {
			if !slices.Contains(t.Scopes, sc) {
				return nil, badMetadata(fmt.Sprintf("scope %q is not allowed here: use %s", clip(sc), strings.Join(t.Scopes, " ")))
			}
			if !slices.Contains(s.Scopes, sc) {
				s.Scopes = append(s.Scopes, sc)
			}
		}
	}
	if s.Name == "" {
		s.Name = defaultName
	}
	if len(s.Name) > client.MaxNameLen {
		return nil, badMetadata(fmt.Sprintf("client_name is longer than %d characters", client.MaxNameLen))
	}
	if s.IDAlg != "" && s.IDAlg != client.IDTokenRS256 && s.IDAlg != client.IDTokenES256 {
		return nil, badMetadata(fmt.Sprintf("id_token_signed_response_alg %q is not supported: use RS256 or ES256", clip(s.IDAlg)))
	}
	for name, u := range map[string]string{"client_uri": m.ClientURI, "logo_uri": m.LogoURI, "tos_uri": m.TOSURI, "policy_uri": m.PolicyURI} {
		if u != "" && !webURL(u) {
			return nil, badMetadata(name + " must be an https URL (http only for localhost)")
		}
	}
	if len(m.Contacts) > maxContacts {
		return nil, badMetadata(fmt.Sprintf("contacts lists more than %d entries", maxContacts))
	}
	for _, c := range m.Contacts {
		if c == "" || len(c) > maxContactLen {
			return nil, badMetadata(fmt.Sprintf("each contact must be 1 to %d characters", maxContactLen))
		}
	}
	if len(m.SoftwareID) > maxSoftwareLen || len(m.SoftwareVersion) > maxSoftwareLen {
		return nil, badMetadata(fmt.Sprintf("software_id and software_version are at most %d characters", maxSoftwareLen))
	}
	switch m.ApplicationType {
	case "", "web", "native":
	default:
		return nil, badMetadata(`application_type must be "web" or "native"`)
	}
	return s, nil
}

// webURL reports whether u is an absolute https URL, or http on a
// loopback host, of reasonable length.
func webURL(u string) bool {
	if len(u) > maxURILen {
		return false
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil {
		return false
	}
	switch p.Scheme {
	case "https":
		return true
	case "http":
		h := p.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func joinMethods(ms []client.AuthMethod) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return strings.Join(out, ", ")
}

func joinGrants(gs []client.GrantType) string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = string(g)
	}
	return strings.Join(out, ", ")
}
