package client

import (
	"slices"
	"time"
)

// RegistrationTemplate is what a dynamically registered client (RFC 7591)
// starts from and may not exceed: the tenant's policy names one
// (RegistrationPolicy.Template). A registration asks for grants, scopes
// and an authentication method; it gets what the template allows and
// nothing more, and every registered client asks its users for consent,
// since whoever registered it is not the tenant.
type RegistrationTemplate struct {
	Name string
	// Summary says what the template is for.
	Summary string
	// GrantTypes are the grants a registration may ask for; Default the
	// ones it gets when it names none.
	GrantTypes, DefaultGrants []GrantType
	// AuthMethods are the token endpoint authentication methods allowed.
	AuthMethods []AuthMethod
	// Scopes are the scopes a registration may ask for; DefaultScopes the
	// ones it gets when it names none.
	Scopes, DefaultScopes []string
	// RequirePKCE makes confidential registered clients send PKCE too.
	RequirePKCE bool
	// AccessTokenTTL of the registered clients.
	AccessTokenTTL time.Duration
}

var userScopes = []string{"openid", "profile", "email", "offline_access"}

// RegistrationTemplates are the templates a policy may name; the first is
// the default.
var RegistrationTemplates = []RegistrationTemplate{
	{Name: "web", Summary: "Web and native apps that sign users in: the authorization code flow (with refresh tokens), confidential or public, and the OpenID Connect scopes.",
		GrantTypes: []GrantType{GrantAuthorizationCode, GrantRefreshToken}, DefaultGrants: []GrantType{GrantAuthorizationCode},
		AuthMethods: []AuthMethod{AuthSecretBasic, AuthSecretPost, AuthNone},
		Scopes:      userScopes, DefaultScopes: []string{"openid"}, AccessTokenTTL: time.Hour},
	{Name: "native", Summary: "Public apps only (mobile, desktop, single-page): no secret, PKCE, the authorization code flow with refresh tokens.",
		GrantTypes: []GrantType{GrantAuthorizationCode, GrantRefreshToken}, DefaultGrants: []GrantType{GrantAuthorizationCode},
		AuthMethods: []AuthMethod{AuthNone},
		Scopes:      userScopes, DefaultScopes: []string{"openid"}, AccessTokenTTL: time.Hour},
	{Name: "mcp", Summary: "Model Context Protocol clients: the authorization code flow with PKCE always, public or confidential, short-lived access tokens.",
		GrantTypes: []GrantType{GrantAuthorizationCode, GrantRefreshToken}, DefaultGrants: []GrantType{GrantAuthorizationCode, GrantRefreshToken},
		AuthMethods: []AuthMethod{AuthNone, AuthSecretBasic, AuthSecretPost},
		Scopes:      userScopes, DefaultScopes: []string{"openid", "offline_access"}, RequirePKCE: true, AccessTokenTTL: 15 * time.Minute},
}

// RegistrationTemplateNamed returns the template called name, the default
// for "", and false for a name no template has.
func RegistrationTemplateNamed(name string) (RegistrationTemplate, bool) {
	if name == "" {
		return RegistrationTemplates[0], true
	}
	i := slices.IndexFunc(RegistrationTemplates, func(t RegistrationTemplate) bool { return t.Name == name })
	if i < 0 {
		return RegistrationTemplate{}, false
	}
	return RegistrationTemplates[i], true
}

// registrationTemplateNames lists the templates' names, for messages.
func registrationTemplateNames() []string {
	names := make([]string, len(RegistrationTemplates))
	for i, t := range RegistrationTemplates {
		names[i] = t.Name
	}
	return names
}
