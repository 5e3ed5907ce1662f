package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/client"
)

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func grantStrings(gs []client.GrantType) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = string(g)
	}
	return out
}

// CreateClient registers a client. A confidential client's view carries
// its secret, in the one answer that shows it (an admin-chosen secret is
// not shown back).
func (c *Client) CreateClient(ctx context.Context, p client.CreateParams) (*admin.Client, error) {
	b := admin.NewClientBody(p)
	var v admin.Client
	if err := c.do(ctx, request{method: http.MethodPost, path: "/clients", body: b}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ListParams are the query parameters of GET /clients, by the API's
// names; a zero value is left out. SecretExpiresWithin is a span such as
// "30d"; UnusedSince a date, an RFC 3339 time or "never"; Order "asc" or
// "desc".
type ListParams struct {
	Q, Status, Type, GrantType, Owner, CreatedBy string
	SecretExpiresWithin, UnusedSince             string
	LastGrant, AuthorizedBy                      string
	Sort, Order                                  string
	PageSize                                     int
	PageToken                                    string
}

func (p ListParams) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"q": p.Q, "status": p.Status, "type": p.Type, "grant_type": p.GrantType,
		"owner": p.Owner, "created_by": p.CreatedBy, "secret_expires_within": p.SecretExpiresWithin,
		"unused_since": p.UnusedSince, "last_grant": p.LastGrant, "authorized_by": p.AuthorizedBy,
		"sort": p.Sort, "order": p.Order, "page_token": p.PageToken} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if p.PageSize > 0 {
		v.Set("page_size", strconv.Itoa(p.PageSize))
	}
	return v
}

// ListClients returns one page of the clients p matches; the page's
// NextPageToken, as PageToken, asks for the next.
func (c *Client) ListClients(ctx context.Context, p ListParams) (*admin.ClientList, error) {
	var l admin.ClientList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/clients", query: p.values()}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// GetClient returns a client with its secrets' metadata.
func (c *Client) GetClient(ctx context.Context, id string) (*admin.Client, error) {
	var v admin.Client
	if err := c.do(ctx, request{method: http.MethodGet, path: "/clients/" + escape(id)}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// UpdateClient changes the fields p gives, and only those, as a JSON
// merge patch (RFC 7396). p.Confirm confirms a change to a protected
// client; p.IfVersion, when set, is sent as If-Match, so a change from an
// outdated copy fails with errs.ErrStale. It returns the client as it
// now is, with its secrets' metadata.
func (c *Client) UpdateClient(ctx context.Context, id string, p client.UpdateParams) (*admin.Client, error) {
	m := map[string]any{}
	set := func(k string, given bool, v func() any) {
		if given {
			m[k] = v()
		}
	}
	set("name", p.Name != nil, func() any { return *p.Name })
	set("description", p.Description != nil, func() any { return *p.Description })
	set("grant_types", p.GrantTypes != nil, func() any { return grantStrings(*p.GrantTypes) })
	set("redirect_uris", p.RedirectURIs != nil, func() any { return nonNil(*p.RedirectURIs) })
	set("scopes", p.Scopes != nil, func() any { return nonNil(*p.Scopes) })
	set("roles", p.Roles != nil, func() any { return nonNil(*p.Roles) })
	set("owner_user_id", p.OwnerUserID != nil, func() any { return *p.OwnerUserID })
	set("division_id", p.DivisionID != nil, func() any { return *p.DivisionID })
	set("access_token_ttl", p.AccessTokenTTL != nil, func() any { return seconds(*p.AccessTokenTTL) })
	set("refresh_token_ttl", p.RefreshTokenTTL != nil, func() any { return seconds(*p.RefreshTokenTTL) })
	set("token_format", p.TokenFormat != nil, func() any { return string(*p.TokenFormat) })
	set("require_consent", p.RequireConsent != nil, func() any { return *p.RequireConsent })
	set("require_pkce", p.RequirePKCE != nil, func() any { return *p.RequirePKCE })
	set("status", p.Status != nil, func() any { return string(*p.Status) })
	set("token_endpoint_auth_method", p.TokenEndpointAuthMethod != nil, func() any { return string(*p.TokenEndpointAuthMethod) })
	set("id_token_signed_response_alg", p.IDTokenAlg != nil, func() any { return *p.IDTokenAlg })
	set("post_logout_redirect_uris", p.PostLogoutRedirectURIs != nil, func() any { return nonNil(*p.PostLogoutRedirectURIs) })
	var h http.Header
	if p.IfVersion != "" {
		h = http.Header{"If-Match": {`"` + p.IfVersion + `"`}}
	}
	var v admin.Client
	if err := c.do(ctx, request{method: http.MethodPatch, path: "/clients/" + escape(id), query: confirm(p.Confirm), header: h,
		body: m, contentType: "application/merge-patch+json"}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// nonNil sends an empty list as [], not null: null would reset the field
// to its default rather than clear it.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// confirm is the query that confirms a change to a protected client.
func confirm(yes bool) url.Values {
	if !yes {
		return nil
	}
	return url.Values{"confirm": {"true"}}
}

// ClientAction is a change of a client's status.
type ClientAction string

// The status changes: Activate and Deactivate move a client between
// active and inactive; Revoke ends it for good.
const (
	Activate   ClientAction = "activate"
	Deactivate ClientAction = "deactivate"
	Revoke     ClientAction = "revoke"
)

// SetClientStatus activates, deactivates or revokes a client; confirmed
// confirms the change of a protected one. It returns the client as it
// now is, with its secrets' metadata.
func (c *Client) SetClientStatus(ctx context.Context, id string, action ClientAction, confirmed bool) (*admin.Client, error) {
	var v admin.Client
	if err := c.do(ctx, request{method: http.MethodPost, path: "/clients/" + escape(id) + "/" + string(action), query: confirm(confirmed)}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// RotateSecret gives a client a new secret, returned in the one answer
// that shows it. p.Grace keeps the replaced secret working that long.
func (c *Client) RotateSecret(ctx context.Context, id string, p client.RotateParams) (*admin.IssuedSecretView, error) {
	b := admin.RotateBody{GracePeriod: seconds(p.Grace), SecretBody: admin.NewSecretBody(p.Secret, p.Lifetime)}
	var v admin.IssuedSecretView
	if err := c.do(ctx, request{method: http.MethodPost, path: "/clients/" + escape(id) + "/rotate-secret", query: confirm(p.Confirm), body: b}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// DeleteClient removes a client.
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/clients/" + escape(id)}, nil)
}
