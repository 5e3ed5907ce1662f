package client

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/authz"
)

// clientIDPattern restricts supplied client IDs to characters that need no
// escaping in a URL, a form body or HTTP Basic credentials.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]{2,127}$`)

// ValidateClientID checks the shape of a client ID.
func ValidateClientID(id string) error {
	var fe fieldErrors
	if !clientIDPattern.MatchString(id) {
		fe.add("client_id", "must be 3–128 characters of letters, digits, '.', '_', '~' or '-', starting with a letter or digit")
	}
	return fe.err()
}

// reservedPrefixes start the IDs Latchkey generates for other kinds of
// record. A client_credentials token's sub is its client ID, so a client
// named like a user could pass for one (RFC 9068 §5).
var reservedPrefixes = []string{"usr_", "ten_", "sec_"}

// validateSuppliedClientID checks a client ID an admin chose.
func validateSuppliedClientID(fe *fieldErrors, id string) {
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(strings.ToLower(id), p) {
			fe.add("client_id", fmt.Sprintf("must not start with %q, which names other kinds of record", p))
			return
		}
	}
}

// Validate checks every rule of the client model and returns a
// *ValidationError naming each field that breaks one. Roles must be
// built-in roles; see ValidateIn for a tenant's custom ones.
func (c *Client) Validate() error { return c.validate(nil, nil) }

// ValidateIn is Validate with the roles of a tenant's catalog.
func (c *Client) ValidateIn(cat *authz.Catalog) error { return c.validate(nil, cat) }

// validate is Validate for c as an edit of old (nil for a new client),
// which words some errors for the change made, with the roles of cat.
func (c *Client) validate(old *Client, cat *authz.Catalog) error {
	var fe fieldErrors
	if c.ID == "" || !clientIDPattern.MatchString(c.ID) {
		fe.add("client_id", "must be 3–128 characters of letters, digits, '.', '_', '~' or '-', starting with a letter or digit")
	}
	if c.TenantID == "" {
		fe.add("tenant_id", "is required")
	}
	validateText(&fe, "name", c.Name, MaxNameLen, true)
	validateText(&fe, "description", c.Description, MaxDescriptionLen, false)
	if c.Type != Confidential && c.Type != Public {
		fe.add("type", `must be "confidential" or "public"`)
	}
	validateGrants(&fe, c)
	validateRedirectURIs(&fe, c, old)
	validateAuthMethod(&fe, c)
	validatePostLogoutURIs(&fe, c, old)
	switch c.IDTokenAlg {
	case "", IDTokenRS256, IDTokenES256:
	default:
		fe.add("id_token_signed_response_alg", `must be "RS256" or "ES256"`)
	}
	validateScopes(&fe, c.Scopes)
	validateRoles(&fe, c, cat)
	if !authz.ValidDivisionID(c.DivisionID) {
		fe.add("division", "must be a division ID")
	}
	if c.AccessTokenTTL < MinAccessTokenTTL || c.AccessTokenTTL > MaxAccessTokenTTL || c.AccessTokenTTL%time.Second != 0 {
		fe.add("access_token_ttl", fmt.Sprintf("must be a whole number of seconds from %d to %d", int(MinAccessTokenTTL.Seconds()), int(MaxAccessTokenTTL.Seconds())))
	}
	if c.RefreshTokenTTL < MinRefreshTokenTTL || c.RefreshTokenTTL > MaxRefreshTokenTTL || c.RefreshTokenTTL%time.Second != 0 {
		fe.add("refresh_token_ttl", fmt.Sprintf("must be a whole number of seconds from %d to %d", int(MinRefreshTokenTTL.Seconds()), int(MaxRefreshTokenTTL.Seconds())))
	}
	if c.TokenFormat != TokenJWT && c.TokenFormat != TokenOpaque {
		fe.add("token_format", `must be "jwt" or "opaque"`)
	}
	if !ValidStatus(c.Status) {
		fe.add("status", `must be "active", "inactive" or "revoked"`)
	}
	if c.OwnerUserID != "" && !validRef(c.OwnerUserID) {
		fe.add("owner_user_id", "must be a user ID")
	}
	return fe.err()
}

// validRef reports whether s can be the ID of a stored record: printable
// ASCII, at most 128 characters. Anything else is refused before it reaches
// a database that would reject it less politely.
func validRef(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validateText checks a human-entered string: valid UTF-8, no control
// characters (newlines and tabs are allowed in multi-line fields), and a
// length in characters.
func validateText(fe *fieldErrors, field, s string, max int, required bool) {
	switch {
	case !utf8.ValidString(s):
		fe.add(field, "must be valid UTF-8")
		return
	case required && strings.TrimSpace(s) == "":
		fe.add(field, "is required")
		return
	case utf8.RuneCountInString(s) > max:
		fe.add(field, fmt.Sprintf("must be at most %d characters", max))
		return
	}
	multiline := !required
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
			fe.add(field, "must not contain control characters")
			return
		}
	}
}

func validateGrants(fe *fieldErrors, c *Client) {
	if len(c.GrantTypes) == 0 {
		fe.add("grant_types", "at least one grant type is required")
		return
	}
	for i, g := range c.GrantTypes {
		if err := CheckGrantType(string(g)); err != nil {
			fe.add("grant_types", err.Error())
			return
		}
		if slices.Contains(c.GrantTypes[:i], g) {
			fe.add("grant_types", fmt.Sprintf("%q is listed twice", g))
			return
		}
	}
	if c.Type == Public && c.HasGrant(GrantClientCredentials) {
		fe.add("grant_types", "a public client cannot use client_credentials: it has no secret to authenticate with")
	}
	if c.HasGrant(GrantRefreshToken) && !c.HasGrant(GrantAuthorizationCode) {
		fe.add("grant_types", "refresh_token needs authorization_code: client_credentials clients get no refresh token")
	}
}

// CheckGrantType returns a descriptive error unless g is a grant Latchkey
// offers. Deprecated grants get an explanation rather than "unknown".
func CheckGrantType(g string) error {
	switch GrantType(g) {
	case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken:
		return nil
	case "implicit", "token":
		return fmt.Errorf("the implicit grant is not supported: it exposes tokens in the browser (RFC 9700); use authorization_code with PKCE")
	case "password":
		return fmt.Errorf("the password grant is not supported (RFC 9700); use authorization_code with PKCE")
	}
	return fmt.Errorf("unknown grant type %q; use client_credentials, authorization_code or refresh_token", truncate(g, 40))
}

// scopeChar reports whether r may appear in a scope token (RFC 6749 §3.3:
// %x21 / %x23-5B / %x5D-7E).
func scopeChar(r rune) bool {
	return r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E)
}

// ValidScope reports whether s is a well-formed scope token.
func ValidScope(s string) bool {
	if s == "" || len(s) > MaxScopeLen {
		return false
	}
	for _, r := range s {
		if !scopeChar(r) {
			return false
		}
	}
	return true
}

func validateScopes(fe *fieldErrors, scopes []string) {
	if len(scopes) > MaxScopes {
		fe.add("scopes", fmt.Sprintf("at most %d scopes", MaxScopes))
		return
	}
	for i, s := range scopes {
		if !ValidScope(s) {
			fe.add("scopes", fmt.Sprintf("%q is not a valid scope: 1–%d printable ASCII characters without spaces, quotes or backslashes", truncate(s, 40), MaxScopeLen))
			return
		}
		if slices.Contains(scopes[:i], s) {
			fe.add("scopes", fmt.Sprintf("%q is listed twice", s))
			return
		}
	}
}

// validateRoles checks c's grants: each a role of cat, tenant-wide or in
// one division (whose existence the service checks), listed once.
func validateRoles(fe *fieldErrors, c *Client, cat *authz.Catalog) {
	if len(c.Roles) == 0 {
		return
	}
	if !c.HasGrant(GrantClientCredentials) {
		fe.add("roles", "roles apply only to client_credentials clients")
		return
	}
	if len(c.Roles) > MaxRoles {
		fe.add("roles", fmt.Sprintf("at most %d roles", MaxRoles))
		return
	}
	for i, r := range c.Roles {
		g, err := authz.ParseGrant(r)
		if err != nil {
			fe.add("roles", err.Error())
			return
		}
		if !cat.ValidRole(g.Role) {
			fe.add("roles", fmt.Sprintf("unknown role %q", truncate(g.Role, 40)))
			return
		}
		if slices.Contains(c.Roles[:i], r) {
			fe.add("roles", fmt.Sprintf("%q is listed twice", r))
			return
		}
	}
}

// truncate shortens s for quoting in an error message, on a rune boundary,
// and replaces invalid UTF-8 so messages stay printable.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// validateAuthMethod holds a client to the one token endpoint
// authentication method its type allows.
func validateAuthMethod(fe *fieldErrors, c *Client) {
	switch m := c.TokenEndpointAuthMethod; {
	case c.Type == Public && m != AuthNone:
		fe.add("token_endpoint_auth_method", `a public client has no secret: its method is "none"`)
	case c.Type == Confidential && m == AuthNone:
		fe.add("token_endpoint_auth_method", `a confidential client authenticates with its secret: use "client_secret_basic" or "client_secret_post"`)
	case c.Type == Confidential && m != AuthSecretBasic && m != AuthSecretPost:
		fe.add("token_endpoint_auth_method", `must be "client_secret_basic" or "client_secret_post"`)
	}
}
