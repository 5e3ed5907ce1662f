package oauth

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/jsonbody"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/registration"
	"github.com/latchkey/latchkey/internal/reqid"
)

// RegistrationPath is the tenant's dynamic client registration endpoint
// (RFC 7591 §3), under its issuer; a registered client's configuration
// endpoint (RFC 7592 §2) is RegistrationPath/{client_id}.
const RegistrationPath = "/oauth2/register"

// maxRegistrationBody bounds a registration's metadata: far more than any
// client sends, and too little to hurt.
const maxRegistrationBody = 64 << 10

// registrationResponse is RFC 7591 §3.2.1's client information response,
// which RFC 7592 §3 reads return too.
type registrationResponse struct {
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret,omitempty"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at"`
	// ClientSecretExpiresAt is 0 for a secret that never expires; absent
	// for a public client.
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`

	RedirectURIs             []string `json:"redirect_uris"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method"`
	GrantTypes               []string `json:"grant_types"`
	ResponseTypes            []string `json:"response_types"`
	ClientName               string   `json:"client_name"`
	Scope                    string   `json:"scope"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	registration.Extra
}

func describeRegistered(ts *tenantScope, reg *registration.Registered) registrationResponse {
	c := reg.Client
	grants := make([]string, len(c.GrantTypes))
	for i, g := range c.GrantTypes {
		grants[i] = string(g)
	}
	out := registrationResponse{
		ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RegistrationAccessToken: reg.AccessToken, RegistrationClientURI: ts.issuer + RegistrationPath + "/" + c.ID,
		RedirectURIs: c.RedirectURIs, TokenEndpointAuthMethod: string(c.TokenEndpointAuthMethod),
		GrantTypes: grants, ResponseTypes: []string{"code"}, ClientName: c.Name, Scope: strings.Join(c.Scopes, " "),
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, IDTokenSignedResponseAlg: idAlg(c),
		Extra: reg.Registration.Extra,
	}
	if c.Type == client.Confidential {
		var exp int64
		if !c.SecretExpiresAt.IsZero() {
			exp = c.SecretExpiresAt.Unix()
		}
		out.ClientSecretExpiresAt = &exp
	}
	if reg.Secret != nil {
		out.ClientSecret = reg.Secret.Plaintext
	}
	return out
}

func idAlg(c *client.Client) string {
	if c.IDTokenAlg == "" {
		return client.IDTokenRS256
	}
	return c.IDTokenAlg
}

// mountRegistration registers the registration endpoints under base.
func (s *Server) mountRegistration(mux *http.ServeMux, base string) {
	if s.Registration == nil {
		return
	}
	mux.HandleFunc("POST "+base+RegistrationPath, s.inTenant(s.handleRegister))
	mux.HandleFunc(base+RegistrationPath, methodNotAllowed("POST"))
	item := base + RegistrationPath + "/{client_id}"
	mux.HandleFunc("GET "+item, s.inTenant(s.handleRegistrationRead))
	mux.HandleFunc("PUT "+item, s.inTenant(s.handleRegistrationReplace))
	mux.HandleFunc("DELETE "+item, s.inTenant(s.handleRegistrationDelete))
	mux.HandleFunc(item, methodNotAllowed("GET, PUT, DELETE"))
}

// registrationRequest reads what every registration request carries: the
// source, the bearer token if any (from the Authorization header only,
// RFC 6750 §2.1), and for POST and PUT the metadata, one JSON object
// without a key given twice.
func (s *Server) registrationRequest(w http.ResponseWriter, r *http.Request, ts *tenantScope, body bool) (registration.Request, *oautherr.Error) {
	req := registration.Request{TenantID: ts.tenant.ID, SourceAddr: ratelimit.SourceAddr(r, s.TrustedProxies), RequestID: reqid.From(r.Context())}
	if len(r.Header.Values("Authorization")) > 0 {
		tok, e := bearer(r)
		if e != nil {
			return req, e
		}
		req.Bearer = tok
	}
	if !body {
		return req, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return req, &oautherr.Error{Code: registration.CodeInvalidClientMetadata, Status: http.StatusBadRequest,
			Description: "send the client metadata as application/json"}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return req, &oautherr.Error{Code: registration.CodeInvalidClientMetadata, Status: http.StatusRequestEntityTooLarge,
			Description: "the client metadata is larger than " + strconv.Itoa(maxRegistrationBody) + " bytes"}
	case err != nil:
		return req, &oautherr.Error{Code: CodeInvalidRequest, Status: http.StatusBadRequest, Description: "the request body could not be read"}
	}
	if err := jsonbody.Check(b); err != nil {
		return req, &oautherr.Error{Code: registration.CodeInvalidClientMetadata, Status: http.StatusBadRequest, Description: err.Error()}
	}
	if err := json.Unmarshal(b, &req.Metadata); err != nil {
		return req, &oautherr.Error{Code: registration.CodeInvalidClientMetadata, Status: http.StatusBadRequest,
			Description: metadataTypeError(err)}
	}
	return req, nil
}

// CodeInvalidRequest is RFC 6749's invalid_request.
const CodeInvalidRequest = "invalid_request"

// metadataTypeError names the field of a value of the wrong JSON type.
func metadataTypeError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field + " has the wrong type: must be " + te.Type.Kind().String()
	}
	return "the client metadata is not valid JSON"
}

// registrationFailed answers a refusal of the registrar, or a failure.
func (s *Server) registrationFailed(w http.ResponseWriter, r *http.Request, err error) {
	var re *registration.Error
	if errors.As(err, &re) {
		e := &oautherr.Error{Code: re.Code, Status: re.Status, Description: re.Description}
		if re.Status == http.StatusUnauthorized {
			e.Challenge = `Bearer realm="latchkey", error="invalid_token"`
		}
		writeError(w, e)
		return
	}
	serverError(w, s.Logger, r, err)
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	if s.RegistrationLimit != nil {
		key := ratelimit.SourceKey(ratelimit.SourceAddr(r, s.TrustedProxies))
		if wait := s.RegistrationLimit.Attempt(s.now(), key); wait > 0 {
			writeError(w, &oautherr.Error{Code: "slow_down", Status: http.StatusTooManyRequests, RetryAfter: wait,
				Description: "too many registrations from this address; retry later"})
			return
		}
	}
	req, e := s.registrationRequest(w, r, ts, true)
	if e != nil {
		writeError(w, e)
		return
	}
	reg, err := s.Registration.Register(r.Context(), req)
	if err != nil {
		s.registrationFailed(w, r, err)
		return
	}
	w.Header().Set("Location", ts.issuer+RegistrationPath+"/"+reg.Client.ID)
	writeJSON(w, http.StatusCreated, describeRegistered(ts, reg))
}

func (s *Server) handleRegistrationRead(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	req, e := s.registrationRequest(w, r, ts, false)
	if e != nil {
		writeError(w, e)
		return
	}
	reg, err := s.Registration.Read(r.Context(), req, r.PathValue("client_id"))
	if err != nil {
		s.registrationFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, describeRegistered(ts, reg))
}

func (s *Server) handleRegistrationReplace(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	req, e := s.registrationRequest(w, r, ts, true)
	if e != nil {
		writeError(w, e)
		return
	}
	reg, err := s.Registration.Replace(r.Context(), req, r.PathValue("client_id"))
	if err != nil {
		s.registrationFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, describeRegistered(ts, reg))
}

func (s *Server) handleRegistrationDelete(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	req, e := s.registrationRequest(w, r, ts, false)
	if e != nil {
		writeError(w, e)
		return
	}
	if err := s.Registration.Delete(r.Context(), req, r.PathValue("client_id")); err != nil {
		s.registrationFailed(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
