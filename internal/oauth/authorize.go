package oauth

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/authz"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// Bounds of the authorization request's free-form values. Each travels
// sealed through the login and consent pages, whose URLs must stay short
// enough for browsers (authreq.MaxSealedLen).
const (
	maxStateLen     = 512
	maxNonceLen     = 512
	maxLoginHintLen = 256
	maxAgeDigits    = 9 // over 31 years: any more is a typo
)

// promptValues are the prompt values served (OpenID Connect Core
// §3.1.2.1); select_account is not, as a browser holds one session per
// tenant.
var promptValues = []string{"none", "login", "consent"}

// readAuthorize reads an authorization request's parameters: from the URL
// query of a GET, or from the form-encoded body of a POST (RFC 6749 §3.1,
// OpenID Connect Core §3.1.2.1), never from both. Repeated values are
// kept: which repetition is answered how is the caller's to decide. A
// non-empty message means the request cannot be read at all; it is shown
// on the error page.
func readAuthorize(w http.ResponseWriter, r *http.Request) (url.Values, string) {
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		if raw != "" {
			return nil, "The request sent parameters both in the address and in the form. Send them in one place only."
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != formType {
			return nil, "The request's form must be sent as application/x-www-form-urlencoded."
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			return nil, "The request's form could not be read, or is too large."
		}
		raw = string(body)
	}
	p, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "The request's parameters are malformed."
	}
	return p, ""
}

// single returns the one value of parameter k, "" when it is absent or
// empty (RFC 6749 §3.1: an empty parameter is an omitted one), and
// whether it was repeated.
func single(p url.Values, k string) (string, bool) {
	vs := p[k]
	if len(vs) > 1 {
		return "", true
	}
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], false
}

// redirectTarget returns the client_id and redirect_uri of a request, or
// the message of the error page when either is missing or repeated: until
// both are known and trusted, no redirect may be made.
func redirectTarget(p url.Values) (clientID, redirectURI, msg string) {
	clientID, dup := single(p, "client_id")
	switch {
	case dup:
		return "", "", "The request names its application (client_id) more than once."
	case clientID == "":
		return "", "", "The request does not name its application (client_id is missing)."
	}
	redirectURI, dup = single(p, "redirect_uri")
	switch {
	case dup:
		return "", "", "The request names more than one address to return to (redirect_uri is repeated)."
	case redirectURI == "":
		return "", "", "The request does not say where to return to (redirect_uri is missing)."
	}
	return clientID, redirectURI, ""
}

// matchTarget checks that the redirect URI is one the client registered,
// and returns the error page's message when not.
func matchTarget(c *client.Client, redirectURI string) string {
	if _, ok := c.MatchRedirectURI(redirectURI); !ok {
		return "The address to return to (redirect_uri) is not registered for this application."
	}
	return ""
}

// redirectState is the state to echo in an error redirect: the request's
// state when it sent exactly one within bounds (an error about the state
// itself echoes none).
func redirectState(p url.Values) string {
	st, dup := single(p, "state")
	if dup || len(st) > maxStateLen || !utf8.ValidString(st) {
		return ""
	}
	return st
}

// checkAuthorize validates an authorization request of client c whose
// redirect URI is already matched, and returns it ready to seal, with
// whether it asked for prompt=none (which never reaches the pages). An
// error is to be redirected to the client.
func checkAuthorize(c *client.Client, p url.Values, redirectURI string, now time.Time) (*authreq.Request, bool, *oautherr.Error) {
	for k, vs := range p {
		if len(vs) > 1 {
			return nil, false, oautherr.InvalidRequest("parameter %s is repeated", oautherr.Quote(k))
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, false, oautherr.InvalidRequest("parameters must be valid UTF-8")
		}
	}
	get := p.Get
	switch {
	case get("request") != "":
		return nil, false, oautherr.RequestNotSupported("request objects are not supported: send the parameters themselves")
	case get("request_uri") != "":
		return nil, false, oautherr.RequestURINotSupported("request_uri is not supported: send the parameters themselves")
	}
	switch rt := get("response_type"); rt {
	case "code":
	case "":
		return nil, false, oautherr.InvalidRequest("response_type is required: use code")
	default:
		return nil, false, oautherr.UnsupportedResponseType("response_type %s is not supported: use code, the authorization code flow; implicit and hybrid flows expose tokens in the browser (RFC 9700)", oautherr.Quote(rt))
	}
	if rm := get("response_mode"); rm != "" && rm != "query" {
		return nil, false, oautherr.InvalidRequest("response_mode %s is not supported: the response is sent in the redirect URI's query", oautherr.Quote(rm))
	}
	if !c.HasGrant(client.GrantAuthorizationCode) {
		return nil, false, oautherr.UnauthorizedClient("this client is not allowed the authorization_code grant")
	}
	scopes, oerr := authorizeScopes(c, get("scope"))
	if oerr != nil {
		return nil, false, oerr
	}
	challenge, method := get("code_challenge"), get("code_challenge_method")
	switch {
	case method == "plain":
		return nil, false, oautherr.InvalidRequest("code_challenge_method plain is not accepted: it protects nothing once the request is seen; use S256")
	case method != "" && method != "S256":
		return nil, false, oautherr.InvalidRequest("code_challenge_method %s is not supported: use S256", oautherr.Quote(method))
	case challenge == "" && method != "":
		return nil, false, oautherr.InvalidRequest("code_challenge_method was sent without a code_challenge")
	case challenge == "" && c.Type == client.Public:
		return nil, false, oautherr.InvalidRequest("code_challenge is required: a public client must use PKCE (RFC 7636) with S256")
	case challenge == "" && c.RequirePKCE:
		return nil, false, oautherr.InvalidRequest("code_challenge is required: this client must use PKCE (RFC 7636) with S256")
	case challenge != "" && method == "":
		// RFC 7636 §4.3: an omitted method means plain.
		return nil, false, oautherr.InvalidRequest("code_challenge_method is required: send S256 (when omitted it means plain, which is not accepted)")
	case challenge != "" && !grant.ValidPKCE(challenge):
		return nil, false, oautherr.InvalidRequest("code_challenge must be the 43-character base64url S256 hash of the code verifier (RFC 7636 section 4.2)")
	}
	req := &authreq.Request{TenantID: c.TenantID, ClientID: c.ID, RedirectURI: redirectURI, Scopes: scopes,
		State: get("state"), Nonce: get("nonce"), CodeChallenge: challenge, MaxAge: -1,
		LoginHint: get("login_hint"), Started: now}
	switch {
	case len(req.State) > maxStateLen:
		return nil, false, oautherr.InvalidRequest("state must be at most %d bytes", maxStateLen)
	case len(req.Nonce) > maxNonceLen:
		return nil, false, oautherr.InvalidRequest("nonce must be at most %d bytes", maxNonceLen)
	case len(req.LoginHint) > maxLoginHintLen:
		return nil, false, oautherr.InvalidRequest("login_hint must be at most %d bytes", maxLoginHintLen)
	}
	none := false
	for _, v := range strings.Fields(get("prompt")) {
		switch {
		case !slices.Contains(promptValues, v):
			return nil, false, oautherr.InvalidRequest("prompt %s is not supported: use none, login or consent", oautherr.Quote(v))
		case v == "none":
			none = true
		case !slices.Contains(req.Prompt, v):
			req.Prompt = append(req.Prompt, v)
		}
	}
	if none && len(req.Prompt) > 0 {
		return nil, false, oautherr.InvalidRequest("prompt none cannot be combined with another value (OpenID Connect Core section 3.1.2.1)")
	}
	if ma := get("max_age"); ma != "" {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 || len(ma) > maxAgeDigits || strings.TrimLeft(ma, "0123456789") != "" {
			return nil, false, oautherr.InvalidRequest("max_age must be a number of seconds, 0 or more")
		}
		req.MaxAge = n
	}
	return req, none, nil
}

// authorizeScopes resolves the scope of an authorization request as the
// token endpoint resolves a client's scopes (grant.ResolveScopes), with
// two differences. The OpenID Connect scopes (grant.OIDCScopes) are
// allowed to every authorization_code client, registered or not: they
// speak of the user, who consents to them, not of what the client may do.
// "*" is never granted: a user's application names what it needs. A
// scope naming an admin permission is granted only to the protected
// clients provisioned at first start (the console and the CLI), which list
// them by name, and the code carries it only if the user holds that
// permission (see userScopes). Any other application could send a signed-in
// admin through a link and act as them, so none may ask; a token obtained
// for a user acts for the user, never with the client's roles, which are
// for its client_credentials tokens.
func authorizeScopes(c *client.Client, requested string) ([]string, *oautherr.Error) {
	if requested == "" {
		return grant.ResolveScopes(c, "", nil)
	}
	if slices.Contains(strings.Split(requested, " "), "*") {
		return nil, oautherr.InvalidScope("the scope '*' cannot be asked for a user: name the scopes the application needs")
	}
	withOIDC := *c
	withOIDC.Scopes = slices.Clone(c.Scopes)
	for _, s := range grant.OIDCScopes {
		if !slices.Contains(withOIDC.Scopes, s) {
			withOIDC.Scopes = append(withOIDC.Scopes, s)
		}
	}
	for _, sc := range strings.Split(requested, " ") {
		if authz.IsPermission(authz.Permission(sc)) && (!c.Protected || !slices.Contains(c.Scopes, sc)) {
			return nil, oautherr.InvalidScope("the scope %s names an admin permission: only Latchkey's own console and CLI may ask for one for a user", oautherr.Quote(sc))
		}
	}
	return grant.ResolveScopes(&withOIDC, requested, authz.AllPermissions())
}

// userScopes returns scopes without the admin permissions the user does
// not hold anywhere in the tenant: what a code issued to the user may
// carry. (The admin API checks each record's division again.)
func userScopes(scopes []string, holds func(authz.Permission) bool) []string {
	return slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool {
		p := authz.Permission(sc)
		return authz.IsPermission(p) && !holds(p)
	})
}

// handleAuthorize is GET and POST /oauth2/authorize (RFC 6749 §4.1.1,
// OpenID Connect Core §3.1.2). A request whose client or redirect URI
// cannot be trusted gets the error page; any other error is redirected to
// the client with error, error_description, state and iss (RFC 9207).
// A valid request continues as decide says.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	if !s.flowConfigured(w, r) {
		return
	}
	p, msg := readAuthorize(w, r)
	if msg != "" {
		writePage(w, http.StatusBadRequest, msg)
		return
	}
	clientID, redirectURI, msg := redirectTarget(p)
	if msg != "" {
		writePage(w, http.StatusBadRequest, msg)
		return
	}
	c, ok := s.pageClient(w, r, ts, clientID)
	if !ok {
		return
	}
	if msg := matchTarget(c, redirectURI); msg != "" {
		writePage(w, http.StatusBadRequest, msg)
		return
	}
	req, none, oerr := checkAuthorize(c, p, redirectURI, s.now())
	if oerr != nil {
		s.redirectError(w, r, ts, redirectURI, redirectState(p), oerr)
		return
	}
	s.decide(w, r, ts, c, req, none)
}

// flowConfigured answers with an error page, and reports false, when the
// server was built without what the authorization code flow needs.
func (s *Server) flowConfigured(w http.ResponseWriter, r *http.Request) bool {
	if s.flowServed() {
		return true
	}
	s.Logger.Error("the authorization code flow is not configured: Sessions, Requests, GrantStore and Consents are required",
		"path", r.URL.Path)
	writePage(w, http.StatusInternalServerError, "Sign-in is not available on this server.")
	return false
}

// flowServed reports whether the authorization code flow is configured,
// so discovery advertises it.
func (s *Server) flowServed() bool {
	return s.Sessions != nil && s.Requests != nil && s.GrantStore != nil && s.Consents != nil
}

// pageClient returns the tenant's active client with this ID, or answers
// with the error page: an unknown client, another tenant's, and an
// inactive or revoked one are never redirected to.
func (s *Server) pageClient(w http.ResponseWriter, r *http.Request, ts *tenantScope, id string) (*client.Client, bool) {
	unknown := "The application (client_id) is not known to this server."
	if client.ValidateClientID(id) != nil {
		writePage(w, http.StatusBadRequest, unknown)
		return nil, false
	}
	c, _, err := s.Auth.Current(r.Context(), id)
	switch {
	case errors.Is(err, client.ErrNotFound):
		writePage(w, http.StatusBadRequest, unknown)
		return nil, false
	case err != nil:
		s.pageFailed(w, r, err)
		return nil, false
	case c.TenantID != ts.tenant.ID:
		writePage(w, http.StatusBadRequest, unknown)
		return nil, false
	case c.Status == client.StatusRevoked:
		// A client revoked for abuse must not keep this server working
		// as a redirector to its site (RFC 9700 §4.11).
		writePage(w, http.StatusBadRequest, "This application has been revoked: it can no longer sign anyone in.")
		return nil, false
	case c.Status != client.StatusActive:
		writePage(w, http.StatusBadRequest, "This application is inactive: it cannot sign anyone in until an administrator activates it.")
		return nil, false
	}
	return c, true
}

// redirectError sends an authorization error to the client's redirect
// URI, with the issuer so that the client can tell which server answered
// (RFC 9207).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, ts *tenantScope, redirectURI, state string, e *oautherr.Error) {
	v := url.Values{"error": {e.Code}, "iss": {ts.issuer}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	if state != "" {
		v.Set("state", state)
	}
	redirect(w, r, redirectURI, v)
}

// serverFailed logs a failure of an authorization request whose redirect
// URI is trusted, and tells the client (RFC 6749 §4.1.2.1 server_error or
// temporarily_unavailable).
func (s *Server) serverFailed(w http.ResponseWriter, r *http.Request, ts *tenantScope, req *authreq.Request, err error) {
	if clientGone(r) {
		s.Logger.Debug("request cancelled", "path", r.URL.Path, "err", err)
		writePage(w, statusClientClosedRequest, "The request was cancelled.")
		return
	}
	// server_error, or temporarily_unavailable when the database is away.
	e := failure(s.Logger, r, fmt.Errorf("authorization of client %s: %w", req.ClientID, err))
	s.redirectError(w, r, ts, req.RedirectURI, req.State, e)
}
