package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// ClientList is one page of the client list.
type ClientList struct {
	Clients []Client `json:"clients"`
	// NextPageToken continues the listing; absent on the last page.
	NextPageToken string `json:"next_page_token,omitempty"`
	// Total counts every client the query matches; TotalEstimated says it
	// is an estimate (past the point where counting stops being cheap).
	Total          int  `json:"total"`
	TotalEstimated bool `json:"total_estimated"`
}

// MaxShowAll is the most clients page_size=all streams in one response.
const MaxShowAll = 100_000

// listParams are the query parameters of GET /clients.
var listParams = []string{"q", "status", "type", "grant_type", "owner", "created_by", "secret_expires_within",
	"unused_since", "last_grant", "authorized_by", "sort", "order", "page_size", "page_token"}

// parseList turns the list's query parameters into a client.ListQuery,
// with a field error per parameter that is wrong. all reports
// page_size=all.
func parseList(r *http.Request, now time.Time) (q client.ListQuery, all bool, err error) {
	v, err := queryParams(r, listParams...)
	if err != nil {
		return q, false, err
	}
	var fe []errs.FieldError
	bad := func(field, msg string) { fe = append(fe, errs.FieldError{Field: field, Message: msg}) }
	q = client.ListQuery{Search: v.Get("q"), Status: client.Status(v.Get("status")), Type: client.Type(v.Get("type")),
		GrantType: client.GrantType(v.Get("grant_type")), OwnerUserID: v.Get("owner"), CreatedBy: v.Get("created_by"),
		LastGrant: client.GrantType(v.Get("last_grant")), AuthorizedBy: v.Get("authorized_by"),
		Sort: client.SortField(v.Get("sort")), After: v.Get("page_token")}
	if q.Type != "" && q.Type != client.Confidential && q.Type != client.Public {
		bad("type", `must be "confidential" or "public"`)
	}
	if s := v.Get("secret_expires_within"); s != "" {
		if d, err := ParseSpan(s); err != nil || d <= 0 {
			bad("secret_expires_within", "must be a span like 30d or 12h")
		} else {
			q.SecretExpiresBefore = now.Add(d)
		}
	}
	switch s := v.Get("unused_since"); s {
	case "":
	case "never":
		q.NeverUsed = true
	default:
		t, err := parseInstant(s)
		if err != nil {
			bad("unused_since", `must be a date (2026-01-31), an RFC 3339 time, or "never"`)
		}
		q.UnusedSince = t
	}
	switch v.Get("order") {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		bad("order", `must be "asc" or "desc"`)
	}
	switch s := v.Get("page_size"); s {
	case "":
	case "all":
		all = true
		q.Limit = client.MaxListLimit
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > client.MaxListLimit {
			bad("page_size", fmt.Sprintf(`must be from 1 to %d, or "all"`, client.MaxListLimit))
		}
		q.Limit = n
	}
	if fe != nil {
		return q, false, &errs.ValidationError{Fields: fe}
	}
	// The domain's own checks, with the API's names for its fields.
	if err := q.Normalize(); err != nil {
		return q, false, renameFields(err, map[string]string{"search": "q", "after": "page_token",
			"limit": "page_size", "owner_user_id": "owner", "secret_expires_before": "secret_expires_within"})
	}
	return q, all, nil
}

// clientFieldNames maps the domain's field names to the API's where they
// differ.
var clientFieldNames = map[string]string{"division": "division_id", "secret_expires": "secret_lifetime"}

// parseInstant reads a date (midnight UTC) or an RFC 3339 time.
func parseInstant(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// renameFields gives a validation error's fields the names the caller
// used; other errors pass unchanged.
func renameFields(err error, names map[string]string) error { return errs.Rename(err, names) }

func listClients(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	q, all, err := parseList(r, a.now())
	if err != nil {
		return err
	}
	if all {
		return a.streamClients(w, r, c, q)
	}
	page, err := a.Clients.List(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	out := ClientList{Clients: make([]Client, 0, len(page.Clients)), NextPageToken: page.Next,
		Total: page.Total, TotalEstimated: page.TotalEstimated}
	for _, cl := range page.Clients {
		out.Clients = append(out.Clients, NewClient(cl, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// streamClients writes every client the query matches, up to MaxShowAll,
// page by page as the store reads them, so "show all" holds one page in
// memory however long the list. An error after the first byte cannot
// change the status: it ends the object with an "error" problem instead.
func (a *API) streamClients(w http.ResponseWriter, r *http.Request, c *call, q client.ListQuery) error {
	page, err := a.Clients.List(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	total, estimated := page.Total, page.TotalEstimated
	fmt.Fprint(w, `{"clients":[`)
	n := 0
	for {
		for _, cl := range page.Clients {
			if n == MaxShowAll {
				break
			}
			if n > 0 {
				w.Write([]byte{','})
			}
			enc.Encode(NewClient(cl, nil))
			n++
		}
		if flusher != nil {
			flusher.Flush()
		}
		if page.Next == "" || n == MaxShowAll {
			break
		}
		q.After = page.Next
		if page, err = a.Clients.List(r.Context(), c.actor, q); err != nil {
			prob, known := Classify(err)
			if !known {
				a.log().Error("admin API: streaming clients", "request_id", c.requestID, "err", err)
			}
			b, _ := json.Marshal(prob)
			fmt.Fprintf(w, `],"total":%d,"total_estimated":%t,"truncated":true,"error":%s}`+"\n", total, estimated, b)
			return nil
		}
	}
	truncated := n == MaxShowAll && (page.Next != "" || len(page.Clients) > 0 && n < total)
	fmt.Fprintf(w, `],"total":%d,"total_estimated":%t,"truncated":%t}`+"\n", total, estimated, truncated)
	return nil
}

// ClientBody is the body of POST /clients: the client's fields by their
// API names, and the secret's. A field left out takes its default.
type ClientBody struct {
	ClientID                string   `json:"client_id,omitempty"`
	Name                    string   `json:"name"`
	Description             string   `json:"description,omitempty"`
	Type                    string   `json:"type,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	Scopes                  []string `json:"scopes,omitempty"`
	Roles                   []string `json:"roles,omitempty"`
	OwnerUserID             string   `json:"owner_user_id,omitempty"`
	DivisionID              string   `json:"division_id,omitempty"`
	AccessTokenTTL          int64    `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL         int64    `json:"refresh_token_ttl,omitempty"`
	TokenFormat             string   `json:"token_format,omitempty"`
	RequireConsent          bool     `json:"require_consent,omitempty"`
	RequirePKCE             bool     `json:"require_pkce,omitempty"`
	Status                  string   `json:"status,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	IDTokenAlg              string   `json:"id_token_signed_response_alg,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	SecretBody
}

// NewClientBody is the body that asks for the client p describes: what
// the API's Go client sends.
func NewClientBody(p client.CreateParams) ClientBody {
	return ClientBody{ClientID: p.ClientID, Name: p.Name, Description: p.Description, Type: string(p.Type),
		GrantTypes: strs(p.GrantTypes), RedirectURIs: p.RedirectURIs, Scopes: p.Scopes, Roles: p.Roles,
		OwnerUserID: p.OwnerUserID, DivisionID: p.DivisionID, AccessTokenTTL: int64(p.AccessTokenTTL / time.Second),
		RefreshTokenTTL: int64(p.RefreshTokenTTL / time.Second), TokenFormat: string(p.TokenFormat),
		RequireConsent: p.RequireConsent, RequirePKCE: p.RequirePKCE, Status: string(p.Status),
		TokenEndpointAuthMethod: string(p.TokenEndpointAuthMethod), IDTokenAlg: p.IDTokenAlg,
		PostLogoutRedirectURIs: p.PostLogoutRedirectURIs, SecretBody: NewSecretBody(p.Secret, p.SecretLifetime)}
}

// params is the domain's reading of the body.
func (b ClientBody) params() (client.CreateParams, error) {
	lifetime, err := b.lifetime()
	return client.CreateParams{
		ClientID: b.ClientID, Name: b.Name, Description: b.Description, Type: client.Type(b.Type),
		GrantTypes: grantTypes(b.GrantTypes), RedirectURIs: b.RedirectURIs, Scopes: b.Scopes, Roles: b.Roles,
		OwnerUserID: b.OwnerUserID, DivisionID: b.DivisionID,
		AccessTokenTTL: seconds(b.AccessTokenTTL), RefreshTokenTTL: seconds(b.RefreshTokenTTL),
		TokenFormat: client.TokenFormat(b.TokenFormat), RequireConsent: b.RequireConsent, RequirePKCE: b.RequirePKCE, Status: client.Status(b.Status),
		TokenEndpointAuthMethod: client.AuthMethod(b.TokenEndpointAuthMethod), IDTokenAlg: b.IDTokenAlg,
		PostLogoutRedirectURIs: b.PostLogoutRedirectURIs, Secret: b.ClientSecret, SecretLifetime: lifetime,
	}, err
}

// strs returns the strings of a list of string-typed values.
func strs[T ~string](in []T) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// SecretBody is a new secret's part of a request: an admin-supplied value
// (else one is generated) and its lifetime in seconds (0: the default, 180
// days), or never_expires.
type SecretBody struct {
	ClientSecret       string `json:"client_secret,omitempty"`
	SecretLifetime     int64  `json:"secret_lifetime,omitempty"`
	SecretNeverExpires bool   `json:"secret_never_expires,omitempty"`
}

// NewSecretBody asks for a secret: supplied, or generated when empty, with
// the lifetime the domain takes (0 the default, client.NeverExpires none).
func NewSecretBody(supplied string, lifetime time.Duration) SecretBody {
	b := SecretBody{ClientSecret: supplied}
	if lifetime == client.NeverExpires {
		b.SecretNeverExpires = true
	} else {
		b.SecretLifetime = int64(lifetime / time.Second)
	}
	return b
}

// lifetime returns the secret's lifetime as the domain takes it.
func (b SecretBody) lifetime() (time.Duration, error) {
	switch {
	case b.SecretNeverExpires && b.SecretLifetime != 0:
		return 0, errs.Invalid("secret_lifetime", "leave it out when secret_never_expires is true")
	case b.SecretNeverExpires:
		return client.NeverExpires, nil
	case b.SecretLifetime < 0:
		// Any lifetime the domain refuses, so its message answers.
		return -time.Second, nil
	}
	return seconds(b.SecretLifetime), nil
}

// seconds converts a number of seconds from a request, saturating far
// beyond any lifetime the domain accepts rather than wrapping around, so
// an absurd value is refused by the domain's own range check.
func seconds(n int64) time.Duration {
	const most = int64(1000 * 365 * 24 * 3600) // a thousand years
	return time.Duration(max(min(n, most), -most)) * time.Second
}

func grantTypes(gs []string) []client.GrantType {
	if gs == nil {
		return nil
	}
	out := make([]client.GrantType, len(gs))
	for i, g := range gs {
		out[i] = client.GrantType(g)
	}
	return out
}

func createClient(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readCreate(r)
	if err != nil {
		return err
	}
	return a.idempotent(w, r, c, body, func() (int, any, any, error) {
		var b ClientBody
		if err := decodeInto(body, &b); err != nil {
			return 0, nil, nil, err
		}
		p, err := b.params()
		if err != nil {
			return 0, nil, nil, err
		}
		cl, sec, err := a.Clients.Create(r.Context(), c.actor, p)
		if err != nil {
			return 0, nil, nil, renameFields(err, clientFieldNames)
		}
		var secrets []client.Secret
		if sec != nil {
			secrets = []client.Secret{sec.Secret}
		}
		v := NewClient(cl, secrets)
		w.Header().Set("Location", clientURL(r, c, cl.ID))
		w.Header().Set("ETag", etag(cl))
		// Stored for a replay without the secret; answered with it once.
		if b.ClientSecret != "" {
			// An admin-chosen secret is the caller's already: never
			// echoed back.
			sec = nil
		}
		return http.StatusCreated, v.WithSecret(sec), v, nil
	})
}

// clientURL is the URL of a client under the request's prefix.
func clientURL(r *http.Request, c *call, id string) string {
	p := Prefix
	if c.slug != "" {
		p = "/t/" + c.slug + Prefix
	}
	return p + "/clients/" + url.PathEscape(id)
}

// etag is a client's entity tag, its version quoted (RFC 9110 §8.8.3).
func etag(c *client.Client) string { return `"` + c.Version() + `"` }

// ifMatch reads If-Match as the version an update must find; "" when the
// header is absent (no precondition) and "*" is any version.
func ifMatch(r *http.Request) (string, error) {
	h := r.Header.Values("If-Match")
	if len(h) == 0 {
		return "", nil
	}
	v := strings.TrimSpace(h[0])
	if len(h) > 1 || strings.Contains(v, ",") || strings.HasPrefix(v, "W/") {
		return "", errs.Invalid("If-Match", "must be one strong entity tag, as an ETag header gave it")
	}
	if v == "*" {
		return "", nil
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", errs.Invalid("If-Match", "must be an entity tag in double quotes")
	}
	return v[1 : len(v)-1], nil
}

func getClient(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	cl, secrets, err := a.Clients.Get(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(cl))
	writeJSON(w, http.StatusOK, NewClient(cl, secrets))
	return nil
}

// updateClient serves PATCH /clients/{id}: a JSON merge patch (RFC 7396)
// of the client, applied only if the If-Match version is still current.
func updateClient(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	confirm, err := confirmParam(r)
	if err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readBody(r, "application/merge-patch+json", "application/json")
	if err != nil {
		return err
	}
	p, err := clientPatch(body)
	if err != nil {
		return err
	}
	p.Confirm, p.IfVersion = confirm, version
	cl, err := a.Clients.Update(r.Context(), c.actor, r.PathValue("id"), p)
	if err != nil {
		return renameFields(err, clientFieldNames)
	}
	return a.writeClient(w, r, c, cl)
}

// writeClient answers with a client as it now is, secrets included.
func (a *API) writeClient(w http.ResponseWriter, r *http.Request, c *call, cl *client.Client) error {
	_, secrets, err := a.Clients.Get(r.Context(), c.actor, cl.ID)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(cl))
	writeJSON(w, http.StatusOK, NewClient(cl, secrets))
	return nil
}

// clientPatch reads a JSON merge patch (RFC 7396) of a client into the
// domain's update: a key left out stays, a key set to null clears the
// field (the domain refuses a clear where a field cannot be empty, as for
// "name"), anything else replaces the field. Read-only and unknown fields
// are field errors.
func clientPatch(body []byte) (client.UpdateParams, error) {
	var p client.UpdateParams
	m, pt, err := readPatch(body)
	if err != nil {
		return p, err
	}
	for k, raw := range m {
		switch k {
		case "name":
			p.Name = pt.str(k, raw)
		case "description":
			p.Description = pt.str(k, raw)
		case "grant_types":
			gs := grantTypes(*pt.list(k, raw))
			p.GrantTypes = &gs
		case "redirect_uris":
			p.RedirectURIs = pt.list(k, raw)
		case "scopes":
			p.Scopes = pt.list(k, raw)
		case "roles":
			p.Roles = pt.list(k, raw)
		case "owner_user_id":
			p.OwnerUserID = pt.str(k, raw)
		case "division_id":
			p.DivisionID = pt.str(k, raw)
		case "access_token_ttl":
			p.AccessTokenTTL = pt.seconds(k, raw)
		case "refresh_token_ttl":
			p.RefreshTokenTTL = pt.seconds(k, raw)
		case "token_format":
			f := client.TokenFormat(*pt.str(k, raw))
			p.TokenFormat = &f
		case "require_consent":
			p.RequireConsent = pt.boolean(k, raw)
		case "require_pkce":
			p.RequirePKCE = pt.boolean(k, raw)
		case "status":
			st := client.Status(*pt.str(k, raw))
			p.Status = &st
		case "token_endpoint_auth_method":
			am := client.AuthMethod(*pt.str(k, raw))
			p.TokenEndpointAuthMethod = &am
		case "id_token_signed_response_alg":
			p.IDTokenAlg = pt.str(k, raw)
		case "post_logout_redirect_uris":
			p.PostLogoutRedirectURIs = pt.list(k, raw)
		case "client_id", "tenant_id", "type", "protected", "created_at", "created_by", "updated_at", "last_used_at",
			"secret_expires_at", "secrets", "last_authorization", "last_token":
			pt.bad(k, "cannot be changed")
		default:
			pt.bad(k, "is not a field of a client")
		}
	}
	return p, pt.err()
}

func deleteClient(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	if err := a.Clients.Delete(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setStatus serves activate, deactivate and revoke.
func setStatus(to client.Status) handler {
	return func(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
		confirm, err := confirmParam(r)
		if err != nil {
			return err
		}
		cl, err := a.Clients.SetStatus(r.Context(), c.actor, r.PathValue("id"), to, confirm)
		if err != nil {
			return err
		}
		return a.writeClient(w, r, c, cl)
	}
}

// IssuedSecretView is a secret in the one response that shows it.
type IssuedSecretView struct {
	ClientID     string `json:"client_id"`
	Secret       Secret `json:"secret"`
	ClientSecret string `json:"client_secret,omitempty"`
	Notice       string `json:"client_secret_notice,omitempty"`
}

// RotateBody is the body of POST /clients/{id}/rotate-secret.
type RotateBody struct {
	// GracePeriod keeps the replaced secret working this many seconds.
	GracePeriod int64 `json:"grace_period,omitempty"`
	SecretBody
}

func rotateSecret(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	confirm, b, err := secretRequest[RotateBody](r)
	if err != nil {
		return err
	}
	lifetime, err := b.lifetime()
	if err != nil {
		return err
	}
	sec, err := a.Clients.RotateSecret(r.Context(), c.actor, r.PathValue("id"), client.RotateParams{
		Grace: seconds(b.GracePeriod), Lifetime: lifetime, Secret: b.ClientSecret, Confirm: confirm})
	if err != nil {
		return renameFields(err, map[string]string{"grace": "grace_period", "secret_expires": "secret_lifetime"})
	}
	writeJSON(w, http.StatusOK, issuedView(sec, b.ClientSecret != ""))
	return nil
}

// issuedView shows a new secret once; an admin-chosen one (supplied) is
// the caller's already and is not echoed back.
func issuedView(sec *client.IssuedSecret, supplied bool) IssuedSecretView {
	v := IssuedSecretView{ClientID: sec.ClientID, Secret: NewSecret(sec.Secret)}
	if !supplied {
		v.ClientSecret, v.Notice = sec.Plaintext, SecretNotice
	}
	return v
}

// secretRequest reads the confirm parameter and an optional JSON body of
// type T: a request without a body takes T's zero value.
func secretRequest[T any](r *http.Request) (bool, T, error) {
	var b T
	confirm, err := confirmParam(r)
	if err != nil {
		return false, b, err
	}
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return confirm, b, nil
	}
	body, err := readBody(r, "application/json")
	if err != nil {
		return false, b, err
	}
	return confirm, b, decodeInto(body, &b)
}

// SecretList is a client's secrets' metadata.
type SecretList struct {
	Secrets []Secret `json:"secrets"`
}

func listSecrets(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	_, secrets, err := a.Clients.Get(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := SecretList{Secrets: make([]Secret, 0, len(secrets))}
	for _, s := range secrets {
		out.Secrets = append(out.Secrets, NewSecret(s))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func addSecret(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	confirm, b, err := secretRequest[SecretBody](r)
	if err != nil {
		return err
	}
	lifetime, err := b.lifetime()
	if err != nil {
		return err
	}
	sec, err := a.Clients.AddSecret(r.Context(), c.actor, r.PathValue("id"),
		client.AddSecretParams{Lifetime: lifetime, Secret: b.ClientSecret, Confirm: confirm})
	if err != nil {
		return renameFields(err, clientFieldNames)
	}
	writeJSON(w, http.StatusCreated, issuedView(sec, b.ClientSecret != ""))
	return nil
}

func revokeSecret(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	confirm, err := confirmParam(r)
	if err != nil {
		return err
	}
	sec, err := a.Clients.RevokeSecret(r.Context(), c.actor, r.PathValue("id"), r.PathValue("secret"), confirm)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewSecret(*sec))
	return nil
}
