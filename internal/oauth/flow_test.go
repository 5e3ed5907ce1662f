package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// The redirect URIs of the test applications.
const (
	webCB    = "https://app.example/cb"
	webCBQ   = "https://app.example/cb2?tab=1"
	spaCB    = "http://127.0.0.1/cb"
	nativeCB = "com.example.app:/cb"
)

// verifier is a PKCE code verifier and challenge is its S256 challenge.
const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

var challenge = s256(verifier)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// apps are the clients of a flow test: a confidential web app with the
// refresh grant, a public app (loopback and native redirects), one that
// requires consent, and one without the refresh grant.
type apps struct {
	web, webSecret             string
	spa                        string
	strict, strictSecret       string
	noRefresh, noRefreshSecret string
}

func (h *harness) apps() apps {
	h.t.Helper()
	code := []client.GrantType{client.GrantAuthorizationCode, client.GrantRefreshToken}
	var a apps
	a.web, a.webSecret = h.create(client.CreateParams{Name: "Web app", GrantTypes: code,
		RedirectURIs: []string{webCB, webCBQ}, Scopes: []string{"read", "write", "oauth:client:view"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"}})
	a.spa, _ = h.create(client.CreateParams{Name: "SPA", Type: client.Public, GrantTypes: code,
		RedirectURIs: []string{spaCB, nativeCB}, Scopes: []string{"read"}, IDTokenAlg: client.IDTokenES256})
	a.strict, a.strictSecret = h.create(client.CreateParams{Name: "Strict app", GrantTypes: code,
		RedirectURIs: []string{webCB}, Scopes: []string{"read", "write"}, RequireConsent: true})
	a.noRefresh, a.noRefreshSecret = h.create(client.CreateParams{Name: "No refresh",
		GrantTypes: []client.GrantType{client.GrantAuthorizationCode}, RedirectURIs: []string{webCB}, Scopes: []string{"read"}})
	return a
}

// newUser creates an active user of the default tenant.
func (h *harness) newUser(email string) *account.User {
	h.t.Helper()
	u, err := h.users.Create(context.Background(), authz.SystemActor("ten_1"), account.NewUser{Email: email, Name: "Ada Lovelace", Locale: "nb"})
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// signIn starts a session for u now and returns its cookie value.
func (h *harness) signIn(u *account.User) string {
	h.t.Helper()
	v, _, err := h.sessions.Start(context.Background(), u, "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// page is a browser's view of one response: the status, where it is sent
// next, and the body.
type page struct {
	status   int
	location *url.URL
	header   http.Header
	body     string
}

// browse sends what a browser would: a GET with the parameters in the
// query, or a POST with them in a form body, and the session cookie when
// set. It does not follow redirects.
func (h *harness) browse(method, path, cookie string, params url.Values) page {
	h.t.Helper()
	target, body := h.ts.URL+path, ""
	if method == http.MethodGet && len(params) > 0 {
		target += "?" + params.Encode()
	} else {
		body = params.Encode()
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", form)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: testCookie, Value: cookie})
	}
	return h.send(req)
}

// send sends req without following redirects.
func (h *harness) send(req *http.Request) page {
	h.t.Helper()
	res, err := noRedirect.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	p := page{status: res.StatusCode, header: res.Header, body: string(raw)}
	if loc := res.Header.Get("Location"); loc != "" {
		if p.location, err = url.Parse(loc); err != nil {
			h.t.Fatalf("Location %q: %v", loc, err)
		}
	}
	return p
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authParams is a valid authorization request of client id to
// redirectURI, with extra set (an empty value deletes a parameter).
func authParams(id, redirectURI string, extra url.Values) url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirectURI},
		"state": {"st-1"}, "scope": {"openid read"}, "nonce": {"n-0S6"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for k, vs := range extra {
		if len(vs) == 1 && vs[0] == "" {
			delete(v, k)
			continue
		}
		v[k] = vs
	}
	return v
}

// target reports where a redirect sends the browser, without its query.
func target(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.RawQuery = ""
	return c.String()
}

// sealedReq returns the sealed request a redirect to a page carries.
func (h *harness) sealedReq(p page, path string) string {
	h.t.Helper()
	if p.status != http.StatusSeeOther || p.location == nil || target(p.location) != h.issuer+path {
		h.t.Fatalf("want 303 to %s, got %d %v %s", path, p.status, p.location, p.body)
	}
	v := p.location.Query().Get(authreq.Param)
	if v == "" {
		h.t.Fatalf("no sealed request in %v", p.location)
	}
	return v
}

// resume sends the browser back to the authorize endpoint with a sealed
// request, as the pages do.
func (h *harness) resume(cookie, sealed string) page {
	h.t.Helper()
	return h.browse(http.MethodGet, authreq.ResumePath, cookie, url.Values{authreq.Param: {sealed}})
}

// decideAs plays the consent page: it records user u's decision in the
// sealed request (and, approving, in the consent) and returns it sealed
// again.
func (h *harness) decideAs(u *account.User, sealed string, approve bool) string {
	h.t.Helper()
	req, err := h.sealer().Open(sealed)
	if err != nil {
		h.t.Fatal(err)
	}
	if approve {
		if _, err := h.sessions.Approve(context.Background(), u, req.ClientID, req.Scopes, "127.0.0.1"); err != nil {
			h.t.Fatal(err)
		}
	}
	req.DecidedBy, req.Approved = u.ID, approve
	out, err := h.sealer().Seal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) sealer() *authreq.Sealer {
	h.t.Helper()
	s, err := authreq.NewSealer(h.kek, h.clock.Now, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// codeFrom returns the code of a successful authorization redirect to
// redirectURI, checking its state and iss.
func (h *harness) codeFrom(p page, redirectURI, state string) string {
	h.t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther || p.location == nil {
		h.t.Fatalf("want a redirect with a code, got %d %v %s", p.status, p.location, p.body)
	}
	q := p.location.Query()
	if q.Get("error") != "" {
		h.t.Fatalf("authorization failed: %v", q)
	}
	if q.Get("state") != state || q.Get("iss") != h.issuer || !strings.HasPrefix(q.Get("code"), "lkac_") {
		h.t.Fatalf("redirect %v: want state %q, iss %s and a code", p.location, state, h.issuer)
	}
	if got := p.location.String(); !strings.HasPrefix(got, redirectURI) {
		h.t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return q.Get("code")
}

// authorize runs an authorization request of a signed-in user that needs
// no page, and returns the code.
func (h *harness) authorize(cookie, id, redirectURI string, extra url.Values) string {
	h.t.Helper()
	p := authParams(id, redirectURI, extra)
	return h.codeFrom(h.browse(http.MethodGet, "/oauth2/authorize", cookie, p), redirectURI, p.Get("state"))
}

// approveOn plays user u approving on the consent page, where p must
// send the browser, and returns what resuming the approved request
// answers.
func (h *harness) approveOn(p page, u *account.User, cookie string) page {
	h.t.Helper()
	return h.resume(cookie, h.decideAs(u, h.sealedReq(p, authreq.ConsentPath), true))
}

// authorizeApproving runs an authorization request of signed-in user u
// that must ask for consent, approves it, and returns the code.
func (h *harness) authorizeApproving(u *account.User, cookie, id, redirectURI string, extra url.Values) string {
	h.t.Helper()
	p := authParams(id, redirectURI, extra)
	first := h.browse(http.MethodGet, "/oauth2/authorize", cookie, p)
	return h.codeFrom(h.approveOn(first, u, cookie), redirectURI, p.Get("state"))
}

// codeApproving runs an authorization request of the flow's user and
// returns the code, approving on the consent page when it is asked:
// for the tests whose subject is the tokens, not the consent.
func (f *signedInFlow) codeApproving(id, redirectURI string, extra url.Values) string {
	f.t.Helper()
	p := authParams(id, redirectURI, extra)
	got := f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, p)
	if got.location != nil && target(got.location) == f.issuer+authreq.ConsentPath {
		got = f.approveOn(got, f.user, f.cookie)
	}
	return f.codeFrom(got, redirectURI, p.Get("state"))
}

// exchange trades a code at the token endpoint.
func (h *harness) exchange(id, secret, code, redirectURI, verifier string) response {
	h.t.Helper()
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	if secret == "" {
		v.Set("client_id", id)
		return h.do("POST", "/oauth2/token", form, v.Encode())
	}
	return h.do("POST", "/oauth2/token", form, v.Encode(), "Authorization", basicAuth(id, secret))
}

// refresh uses a refresh token at the token endpoint.
func (h *harness) refresh(id, secret, rt string, extra url.Values) response {
	h.t.Helper()
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, vs := range extra {
		v[k] = vs
	}
	if secret == "" {
		v.Set("client_id", id)
		return h.do("POST", "/oauth2/token", form, v.Encode())
	}
	return h.do("POST", "/oauth2/token", form, v.Encode(), "Authorization", basicAuth(id, secret))
}

// signedInFlow is a harness with the test applications and a signed-in
// user.
type signedInFlow struct {
	*harness
	apps
	user   *account.User
	cookie string
	// rs is a resource server, which may introspect access tokens.
	rs, rsSecret string
}

func newFlow(t *testing.T) *signedInFlow {
	t.Helper()
	h := newHarness(t, 0)
	f := &signedInFlow{harness: h, apps: h.apps()}
	f.user = h.newUser("ada@example.com")
	f.cookie = h.signIn(f.user)
	f.rs, f.rsSecret = h.resourceServer()
	return f
}

// offlineScope asks for a refresh token in an OpenID Connect request.
const offlineScope = "openid read offline_access"

// tokens runs a whole code flow for the web app, approving on the
// consent page when asked (offline_access asks), and returns the token
// response.
func (f *signedInFlow) tokens(extra url.Values) response {
	f.t.Helper()
	code := f.codeApproving(f.web, webCB, extra)
	r := f.exchange(f.web, f.webSecret, code, webCB, verifier)
	if r.status != 200 {
		f.t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	return r
}

// tenantBeta is a second tenant, served at /t/beta.
func tenantBeta(now time.Time) *account.Tenant {
	return &account.Tenant{ID: "ten_2", Name: "Beta", Slug: "beta", CreatedAt: now}
}

// active reports whether a token is active on introspection: an access
// token asked by the resource server, a refresh token by its client.
func (f *signedInFlow) active(tok, clientID, secret string) bool {
	f.t.Helper()
	id, sec := f.rs, f.rsSecret
	if strings.HasPrefix(tok, "lkrt_") {
		id, sec = clientID, secret
	}
	return f.introspect(id, sec, tok)["active"] == true
}
