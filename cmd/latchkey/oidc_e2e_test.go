package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// These tests put "Log in with Latchkey" in an application as an
// integration developer would: the real binary, an unmodified OAuth
// library (golang.org/x/oauth2 with its PKCE helpers) and an OpenID
// Connect library (go-oidc) that checks discovery, the JWKS and the ID
// token, with the sign-in and consent done through the real HTML forms.

// Where the applications registered below send the browser back. Nothing
// listens there: the test reads the code from the redirect.
const (
	webCallback   = "http://127.0.0.1/cb"
	webSignedOut  = "http://127.0.0.1/signed-out"
	spaCallback   = "http://127.0.0.1/spa/cb"
	oidcUserEmail = "ana@example.com"
	oidcUserName  = "Ana Lima"
	// The password is a fixture, not a secret; it is never logged.
	oidcUserPassword = "correct horse battery staple"
)

// oidcSite is the real binary serving a user, a confidential web
// application that requires consent, a public single-page application,
// and an API (resource_server) that introspects tokens.
type oidcSite struct {
	s      *sandbox
	srv    *process
	issuer string
	userID string
	web    clientCreds
	spa    string // public: no secret
	api    clientCreds
}

type clientCreds struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// newOIDCSite starts the binary on db and registers the user and clients
// with the real CLI.
func newOIDCSite(t *testing.T, db database) *oidcSite {
	t.Helper()
	s := newSandbox(t)
	for k, v := range db.env {
		s.env = append(s.env, k+"="+v)
	}
	srv := startBinary(t, s)
	site := &oidcSite{s: s, srv: srv, issuer: srv.issuer}

	r := s.run(oidcUserPassword+"\n", "users", "create", "--email", oidcUserEmail, "--name", oidcUserName,
		"--password-file", "-", "--json")
	r.expect(t, "users create", 0)
	var u struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || u.ID == "" {
		t.Fatalf("users create --json printed %q: %v", r.stdout, err)
	}
	site.userID = u.ID

	site.web = site.createClient(t, "--name", "Recipe Box", "--description", "Keeps your recipes.",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", webCallback, "--post-logout-redirect-uri", webSignedOut,
		"--scope", "openid", "--scope", "profile", "--scope", "email", "--require-consent")
	if site.web.Secret == "" {
		t.Fatal("the web application got no secret")
	}
	site.spa = site.createClient(t, "--name", "Recipe Box SPA", "--public",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", spaCallback, "--scope", "openid", "--scope", "profile", "--scope", "email").ID
	site.api = site.createClient(t, "--name", "Recipe API", "--grant-type", "client_credentials", "--role", "resource_server")
	return site
}

func (site *oidcSite) createClient(t *testing.T, args ...string) clientCreds {
	t.Helper()
	r := site.s.run("", append([]string{"clients", "create", "--json"}, args...)...)
	r.expect(t, "clients create "+strings.Join(args, " "), 0)
	var c clientCreds
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.ID == "" {
		t.Fatalf("clients create --json printed %q: %v", r.stdout, err)
	}
	return c
}

// browser is a user agent without JavaScript: a cookie jar, redirects
// followed one at a time, and forms read from the HTML and submitted as
// a browser would.
type browser struct {
	t      *testing.T
	hc     *http.Client
	origin string // the issuer's origin
}

func newBrowser(t *testing.T, issuer string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	u, _ := url.Parse(issuer)
	return &browser{t: t, hc: hc, origin: u.Scheme + "://" + u.Host}
}

// page is one response the browser read to the end.
type page struct {
	status   int
	location string // resolved against the request URL
	header   http.Header
	body     string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		b.t.Fatal(err)
	}
	p := page{status: res.StatusCode, header: res.Header, body: string(body)}
	if loc, err := res.Location(); err == nil {
		p.location = loc.String()
	}
	return p
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// submit posts f, a form of the page from read at base, with its fields,
// as a click on the button whose value is decision would ("" for a form
// without named buttons), plus set.
func (b *browser) submit(base string, from page, f htmlForm, decision string, set url.Values) page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = slices.Clone(vs)
	}
	for k, vs := range set {
		v[k] = vs
	}
	if decision != "" {
		i := slices.IndexFunc(f.buttons, func(btn formField) bool { return btn.value == decision })
		if i < 0 {
			b.t.Fatalf("the form to %s has no button %q: %+v", f.action, decision, f.buttons)
		}
		v.Set(f.buttons[i].name, f.buttons[i].value)
	}
	target, err := url.Parse(base)
	if err != nil {
		b.t.Fatal(err)
	}
	if target, err = target.Parse(f.action); err != nil {
		b.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(v.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// As browsers do (Fetch, "append a request Origin header"): a page
	// that sends no referrer sends no origin either, but "null".
	origin := b.origin
	if strings.EqualFold(strings.TrimSpace(from.header.Get("Referrer-Policy")), "no-referrer") {
		origin = "null"
	}
	req.Header.Set("Origin", origin)
	return b.do(req)
}

// authorization is how one trip through the authorize endpoint ended:
// back at the application's redirect URI, with its query.
type authorization struct {
	callback *url.URL
	pages    []string // the account pages shown on the way
}

func (a authorization) code() string { return a.callback.Query().Get("code") }

// redact is a redirect's query for a failure's message: a code, however
// short-lived, is a credential, and stays out of the test log.
func redact(q url.Values) string {
	if q.Has("code") {
		q = maps.Clone(q)
		q.Set("code", "(redacted)")
	}
	return q.Encode()
}
func (a authorization) asked() string { return strings.Join(a.pages, ",") }

// authorize sends the browser to authURL and answers each account page on
// the way (signing in as the test user, approving or denying the consent
// page) until the server sends it back to redirectURI.
func (b *browser) authorize(authURL, redirectURI, decision string) authorization {
	b.t.Helper()
	var a authorization
	here := authURL
	p := b.get(here)
	for range 10 {
		switch {
		case p.status == http.StatusFound || p.status == http.StatusSeeOther:
			if strings.HasPrefix(p.location, redirectURI+"?") {
				u, err := url.Parse(p.location)
				if err != nil {
					b.t.Fatal(err)
				}
				a.callback = u
				return a
			}
			if !strings.HasPrefix(p.location, b.origin+"/") {
				b.t.Fatalf("sent to %s, neither the server nor %s", p.location, redirectURI)
			}
			here = p.location
			p = b.get(here)
		case p.status == http.StatusOK:
			forms := parseForms(p.body)
			if len(forms) != 1 {
				b.t.Fatalf("%s: want one form, got %d:\n%s", here, len(forms), p.body)
			}
			f := forms[0]
			path := f.action
			if u, err := url.Parse(f.action); err == nil {
				path = u.Path
			}
			a.pages = append(a.pages, strings.TrimPrefix(path, "/account/"))
			switch path {
			case "/account/login":
				p = b.submit(here, p, f, "", url.Values{"email": {oidcUserEmail}, "password": {oidcUserPassword}})
			case "/account/consent":
				p = b.submit(here, p, f, decision, nil)
			default:
				b.t.Fatalf("%s: an unexpected form to %s:\n%s", here, f.action, p.body)
			}
		default:
			b.t.Fatalf("%s: status %d:\n%.2000s", here, p.status, p.body)
		}
	}
	b.t.Fatalf("the authorization did not end within 10 steps; last at %s", here)
	return a
}

// htmlForm is one <form> of a page: its action, its input values and its
// submit buttons.
type htmlForm struct {
	action, method string
	fields         url.Values
	buttons        []formField
}

type formField struct{ name, value string }

// The account pages' markup is plain and server-rendered, so a few
// expressions read it: attribute values are quoted or bare, and entities
// are unescaped.
var (
	formRe  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	fieldRe = regexp.MustCompile(`(?is)<(input|button)\b([^>]*)>`)
	attrRe  = regexp.MustCompile(`([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+)))?`)
)

// attrs reads the attributes of a tag's inside.
func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(a[1])
		if _, dup := m[name]; !dup {
			m[name] = html.UnescapeString(a[2] + a[3] + a[4])
		}
	}
	return m
}

// parseForms returns the forms of a page, in order.
func parseForms(page string) []htmlForm {
	var forms []htmlForm
	for _, fm := range formRe.FindAllStringSubmatch(page, -1) {
		fa := attrs(fm[1])
		f := htmlForm{action: fa["action"], method: strings.ToUpper(fa["method"]), fields: url.Values{}}
		for _, in := range fieldRe.FindAllStringSubmatch(fm[2], -1) {
			a := attrs(in[2])
			name := a["name"]
			if name == "" {
				continue
			}
			kind := strings.ToLower(a["type"])
			switch {
			case strings.EqualFold(in[1], "button") && (kind == "" || kind == "submit"):
				f.buttons = append(f.buttons, formField{name, a["value"]})
			case kind == "submit":
				f.buttons = append(f.buttons, formField{name, a["value"]})
			case kind == "checkbox" || kind == "radio":
				if _, on := a["checked"]; on {
					f.fields.Add(name, a["value"])
				}
			case strings.EqualFold(in[1], "input"):
				f.fields.Add(name, a["value"])
			}
		}
		forms = append(forms, f)
	}
	return forms
}

func TestParseForms(t *testing.T) {
	const page = `<form method="post" action="/account/consent" class="actions">
<input type="hidden" name="csrf" value="a&amp;b">
<input type=hidden name=req value='x"y'>
<input id="email" name="email" type="email" required value="">
<input type="checkbox" name="keep" value="1">
<input type="checkbox" name="remember" value="yes" checked>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form><p>after</p><FORM ACTION="/two"><input name="q"></FORM>`
	forms := parseForms(page)
	if len(forms) != 2 {
		t.Fatalf("%d forms", len(forms))
	}
	f := forms[0]
	want := url.Values{"csrf": {"a&b"}, "req": {`x"y`}, "email": {""}, "remember": {"yes"}}
	if f.action != "/account/consent" || f.method != "POST" || fmt.Sprint(f.fields) != fmt.Sprint(want) {
		t.Errorf("form %+v", f)
	}
	if fmt.Sprint(f.buttons) != "[{decision approve} {decision deny}]" {
		t.Errorf("buttons %v", f.buttons)
	}
	if forms[1].action != "/two" || forms[1].fields.Get("q") != "" || len(forms[1].fields) != 1 {
		t.Errorf("second form %+v", forms[1])
	}
}

// authURL is what an application sends the browser to: x/oauth2's
// AuthCodeURL with PKCE and a nonce.
func authURL(cfg *oauth2.Config, state, nonce, verifier string, extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}, extra...)
	return cfg.AuthCodeURL(state, opts...)
}

// idClaims are the ID token claims the tests read beyond go-oidc's.
type idClaims struct {
	AuthTime int64  `json:"auth_time"`
	AtHash   string `json:"at_hash"`
	Azp      string `json:"azp"`
	Nonce    string `json:"nonce"`
}

// verifyIDToken checks tok's ID token as a relying party does, against
// discovery and the JWKS: signature, issuer, audience, expiry, the nonce
// it sent, and at_hash against the access token.
func verifyIDToken(t *testing.T, ctx context.Context, p *oidc.Provider, clientID, nonce string, tok *oauth2.Token) *oidc.IDToken {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatalf("no id_token in the token response (scope %v)", tok.Extra("scope"))
	}
	id, err := p.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refused the ID token: %v", err)
	}
	if id.Nonce != nonce {
		t.Errorf("ID token nonce %q, want the one sent", id.Nonce)
	}
	if id.AccessTokenHash == "" {
		t.Error("the ID token has no at_hash")
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if err := id.VerifyAccessToken(tok.AccessToken + "x"); err == nil {
		t.Error("at_hash matched another access token")
	}
	return id
}

// introspect asks the introspection endpoint, as the API, about tok.
func (site *oidcSite) introspect(t *testing.T, tok string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, site.issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(site.api.ID, site.api.Secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != 200 {
		t.Fatalf("introspect: %d %v", res.StatusCode, err)
	}
	return m
}

func (site *oidcSite) active(t *testing.T, tok string) bool {
	t.Helper()
	return site.introspect(t, tok)["active"] == true
}

// me calls /api/v1/me with an access token and returns the status.
func (site *oidcSite) me(t *testing.T, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, site.issuer+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// refresh runs a refresh through x/oauth2's TokenSource, as an
// application does when its access token has expired.
func refresh(ctx context.Context, cfg *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusBadRequest {
		t.Errorf("%s: %v, want 400 invalid_grant", what, err)
	}
}

// TestOIDCWithLibraries runs the authorization code flow of a
// confidential web application and of a public single-page application
// with golang.org/x/oauth2 and go-oidc against the real binary: on
// SQLite, and on PostgreSQL when LATCHKEY_TEST_POSTGRES_URL is set.
func TestOIDCWithLibraries(t *testing.T) { forEachBackend(t, testOIDCWithLibraries) }

func testOIDCWithLibraries(t *testing.T, db database) {
	site := newOIDCSite(t, db)
	ctx := context.Background()

	// Discovery passes the checks go-oidc makes at start-up (the issuer
	// matches; the algorithms are ones it supports), and advertises the
	// flow as it works.
	provider, err := oidc.NewProvider(ctx, site.issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	var meta struct {
		Algs                []string `json:"id_token_signing_alg_values_supported"`
		PKCE                []string `json:"code_challenge_methods_supported"`
		Iss                 bool     `json:"authorization_response_iss_parameter_supported"`
		EndSession          string   `json:"end_session_endpoint"`
		Userinfo            string   `json:"userinfo_endpoint"`
		ResponseTypes       []string `json:"response_types_supported"`
		TokenEndpointAuth   []string `json:"token_endpoint_auth_methods_supported"`
		SubjectTypes        []string `json:"subject_types_supported"`
		AuthorizationServer string   `json:"authorization_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(meta.Algs, "RS256") || fmt.Sprint(meta.PKCE) != "[S256]" || !meta.Iss ||
		meta.EndSession != site.issuer+"/oauth2/logout" || meta.Userinfo != site.issuer+"/userinfo" ||
		fmt.Sprint(meta.ResponseTypes) != "[code]" || !slices.Contains(meta.TokenEndpointAuth, "none") ||
		len(meta.SubjectTypes) == 0 || meta.AuthorizationServer != site.issuer+"/oauth2/authorize" {
		t.Errorf("discovery: %+v", meta)
	}
	if provider.Endpoint().TokenURL != site.issuer+"/oauth2/token" {
		t.Errorf("token endpoint %q", provider.Endpoint().TokenURL)
	}

	t.Run("web", func(t *testing.T) { testWebApp(t, ctx, site, provider) })
	t.Run("spa", func(t *testing.T) { testPublicApp(t, ctx, site, provider) })

	// Whatever happened, no credential reached the log.
	site.srv.stop(t)
	logs := strings.Join(site.srv.logs, "\n")
	for _, secret := range []string{site.web.Secret, site.api.Secret, oidcUserPassword} {
		if strings.Contains(logs, secret) {
			t.Error("a secret or password reached the log")
		}
	}
	for _, re := range []string{`lkac_[0-9A-Za-z_-]{20,}`, `lkrt_[0-9A-Za-z_-]{20,}`, `lks_[0-9A-Za-z]{20,}`} {
		if regexp.MustCompile(re).MatchString(logs) {
			t.Errorf("a code, refresh token or secret (%s) reached the log", re[:5])
		}
	}
}

// testWebApp is the confidential client, with a secret (HTTP Basic) and
// PKCE, which requires consent.
func testWebApp(t *testing.T, ctx context.Context, site *oidcSite, provider *oidc.Provider) {
	cfg := &oauth2.Config{ClientID: site.web.ID, ClientSecret: site.web.Secret, Endpoint: provider.Endpoint(),
		RedirectURL: webCallback, Scopes: []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}}
	b := newBrowser(t, site.issuer)

	// login flow: sign in and approve; the code comes back with state
	// and the issuer (RFC 9207).
	authorize := func(cfg *oauth2.Config, decision string) (authorization, *oauth2.Token, *oidc.IDToken) {
		t.Helper()
		state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		a := b.authorize(authURL(cfg, state, nonce, verifier), cfg.RedirectURL, decision)
		q := a.callback.Query()
		if q.Get("state") != state || q.Get("iss") != site.issuer {
			t.Fatalf("callback %s: want the state sent and iss %s", redact(a.callback.Query()), site.issuer)
		}
		if decision == "deny" {
			return a, nil, nil
		}
		if a.code() == "" {
			t.Fatalf("callback without a code: %s", redact(a.callback.Query()))
		}
		tok, err := cfg.Exchange(ctx, a.code(), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if tok.RefreshToken == "" {
			t.Fatalf("no refresh token for scope %v", tok.Extra("scope"))
		}
		// A code is single use.
		_, err = cfg.Exchange(ctx, a.code(), oauth2.VerifierOption(verifier))
		wantInvalidGrant(t, "a code exchanged twice", err)
		if at, rt := site.active(t, tok.AccessToken), site.active(t, tok.RefreshToken); at || rt {
			t.Fatalf("after a code's replay, its access token active: %t, refresh token active: %t", at, rt)
		}
		// So authorize again, as the first exchange was spoilt on purpose.
		state, nonce, verifier = oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		a2 := b.authorize(authURL(cfg, state, nonce, verifier), cfg.RedirectURL, decision)
		if a2.asked() != "" {
			t.Fatalf("re-authorizing the same scopes showed %s", a2.asked())
		}
		tok, err = cfg.Exchange(ctx, a2.code(), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		return a, tok, verifyIDToken(t, ctx, provider, cfg.ClientID, nonce, tok)
	}

	// Denied first: the application hears access_denied.
	a, _, _ := authorize(cfg, "deny")
	if a.asked() != "login,consent" || a.callback.Query().Get("error") != "access_denied" {
		t.Fatalf("deny: pages %s, callback %s", a.asked(), redact(a.callback.Query()))
	}

	a, tok, id := authorize(cfg, "approve")
	if a.asked() != "consent" {
		t.Errorf("a signed-in browser was shown %q, want only the consent page", a.asked())
	}
	if id.Subject != site.userID || id.Issuer != site.issuer || !slices.Equal(id.Audience, []string{site.web.ID}) {
		t.Errorf("ID token iss %q sub %q aud %v", id.Issuer, id.Subject, id.Audience)
	}
	var extra idClaims
	if err := id.Claims(&extra); err != nil || extra.AuthTime == 0 || time.Since(time.Unix(extra.AuthTime, 0)) > time.Hour {
		t.Errorf("auth_time %d (%v)", extra.AuthTime, err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() || tok.Extra("scope") != "openid profile offline_access" {
		t.Errorf("token response: type %q, refresh %t, expiry %v, scope %v", tok.TokenType, tok.RefreshToken != "", tok.Expiry, tok.Extra("scope"))
	}
	if in := site.introspect(t, tok.AccessToken); in["active"] != true || in["sub"] != site.userID || in["client_id"] != site.web.ID {
		t.Errorf("introspection of the access token: %v", in)
	}

	// userinfo: profile granted, email not asked for.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var profile struct {
		Name   string `json:"name"`
		Locale string `json:"locale"`
		Email  string `json:"email"`
	}
	if err := info.Claims(&profile); err != nil || info.Subject != site.userID || profile.Name != oidcUserName ||
		profile.Locale != "en" || profile.Email != "" {
		t.Errorf("userinfo with openid profile: sub %q %+v (%v)", info.Subject, profile, err)
	}

	// A new scope asks again; the consent then covers both.
	withEmail := *cfg
	withEmail.Scopes = append(slices.Clone(cfg.Scopes), "email")
	a, tok, _ = authorize(&withEmail, "approve")
	if a.asked() != "consent" {
		t.Errorf("asking for email too showed %q, want the consent page", a.asked())
	}
	if info, err = provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || info.Email != oidcUserEmail || info.EmailVerified {
		t.Errorf("userinfo with email: %+v %v (email_verified is false: nobody verified it)", info, err)
	}
	if a, _, _ = authorize(cfg, "approve"); a.asked() != "" {
		t.Errorf("fewer scopes than approved showed %q", a.asked())
	}

	// A refresh rotates the refresh token; the new access token's ID
	// token keeps the subject.
	old := tok.RefreshToken
	next, err := refresh(ctx, &withEmail, old)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == old || next.AccessToken == tok.AccessToken {
		t.Fatal("the refresh did not rotate the refresh token")
	}
	if !site.active(t, next.AccessToken) || !site.active(t, next.RefreshToken) || site.active(t, old) {
		t.Fatal("after a refresh: the new tokens must be active and the old refresh token not")
	}
	if raw, _ := next.Extra("id_token").(string); raw != "" {
		rid, err := provider.Verifier(&oidc.Config{ClientID: site.web.ID}).Verify(ctx, raw)
		if err != nil || rid.Subject != site.userID || rid.Nonce != "" {
			t.Errorf("the refreshed ID token: %v %+v", err, rid)
		}
	}
	// Reusing the old one is refused and ends the family.
	_, err = refresh(ctx, &withEmail, old)
	wantInvalidGrant(t, "a reused refresh token", err)
	if site.active(t, next.RefreshToken) || site.active(t, next.AccessToken) {
		t.Error("after the reuse of a rotated refresh token, its family is still active")
	}
	_, err = refresh(ctx, &withEmail, next.RefreshToken)
	wantInvalidGrant(t, "the refresh token of a revoked family", err)

	// Revoking the application on the Authorized applications page ends
	// its tokens at once and forgets the consent.
	_, tok, _ = authorize(&withEmail, "approve")
	if site.me(t, tok.AccessToken) != http.StatusOK || !site.active(t, tok.RefreshToken) {
		t.Fatal("fresh tokens refused")
	}
	p := b.get(site.issuer + "/account/apps")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Recipe Box") || !strings.Contains(p.body, "Keeps your recipes.") {
		t.Fatalf("apps page: %d\n%s", p.status, p.body)
	}
	forms := slices.DeleteFunc(parseForms(p.body), func(f htmlForm) bool { return f.fields.Get("client_id") != site.web.ID })
	if len(forms) != 1 {
		t.Fatalf("the apps page has %d revoke forms for the application:\n%s", len(forms), p.body)
	}
	p = b.submit(site.issuer+"/account/apps", p, forms[0], "", nil)
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	if p = b.get(p.location); !strings.Contains(p.body, "Access for Recipe Box was revoked.") {
		t.Errorf("after revoking, the page says:\n%s", p.body)
	}
	if site.active(t, tok.AccessToken) || site.active(t, tok.RefreshToken) {
		t.Error("the revoked application's tokens are still active on introspection")
	}
	if got := site.me(t, tok.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("/api/v1/me with the revoked application's token: %d", got)
	}
	_, err = refresh(ctx, &withEmail, tok.RefreshToken)
	wantInvalidGrant(t, "the refresh token of a revoked application", err)
	a, tok, _ = authorize(cfg, "approve")
	if a.asked() != "consent" {
		t.Errorf("after the revocation, the next authorization showed %q, want the consent page", a.asked())
	}

	// RP-initiated logout returns to the registered address with the
	// state, and the session is gone: the next authorization asks to
	// sign in.
	raw := tok.Extra("id_token").(string)
	q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {webSignedOut}, "state": {"bye"}}
	p = b.get(endSession(provider) + "?" + q.Encode())
	if (p.status != http.StatusFound && p.status != http.StatusSeeOther) || p.location != webSignedOut+"?state=bye" {
		t.Fatalf("logout: %d to %q", p.status, p.location)
	}
	if p = b.get(site.issuer + "/account/apps"); p.status != http.StatusSeeOther && p.status != http.StatusFound ||
		!strings.HasPrefix(p.location, site.issuer+"/account/login") {
		t.Errorf("after logout, /account/apps: %d to %q", p.status, p.location)
	}
	if a, _, _ = authorize(cfg, "approve"); a.asked() != "login" {
		t.Errorf("after logout, the authorization showed %q, want the login page", a.asked())
	}
	// An unregistered post_logout_redirect_uri is an error page, never a
	// redirect.
	q.Set("post_logout_redirect_uri", "https://evil.example/")
	if p = b.get(endSession(provider) + "?" + q.Encode()); p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("logout to an unregistered address: %d to %q", p.status, p.location)
	}
}

// endSession is the provider's end_session_endpoint, which go-oidc reads
// but does not expose.
func endSession(p *oidc.Provider) string {
	var m struct {
		EndSession string `json:"end_session_endpoint"`
	}
	p.Claims(&m)
	return m.EndSession
}

// testPublicApp is the single-page application: no secret
// (token_endpoint_auth_method none), PKCE required, and a consent page,
// as for every public client.
func testPublicApp(t *testing.T, ctx context.Context, site *oidcSite, provider *oidc.Provider) {
	ep := provider.Endpoint()
	// A public client sends its client_id in the body and no secret.
	ep.AuthStyle = oauth2.AuthStyleInParams
	cfg := &oauth2.Config{ClientID: site.spa, Endpoint: ep, RedirectURL: spaCallback,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
	b := newBrowser(t, site.issuer)
	state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()

	// Without PKCE the public client is refused, by a redirect with the
	// error (the client and redirect URI are known).
	p := b.get(cfg.AuthCodeURL(state))
	loc, _ := url.Parse(p.location)
	if p.status != http.StatusFound && p.status != http.StatusSeeOther || loc == nil ||
		!strings.HasPrefix(p.location, spaCallback+"?") || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != state {
		t.Errorf("a public client without PKCE: %d to %q", p.status, p.location)
	}
	// An unregistered redirect URI is an error page, never a redirect.
	evil := *cfg
	evil.RedirectURL = "https://evil.example/cb"
	if p = b.get(authURL(&evil, state, nonce, verifier)); p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("an unregistered redirect URI: %d to %q", p.status, p.location)
	}

	a := b.authorize(authURL(cfg, state, nonce, verifier), spaCallback, "approve")
	if a.asked() != "login,consent" || a.callback.Query().Get("state") != state || a.callback.Query().Get("iss") != site.issuer {
		t.Fatalf("public client: pages %q, callback %s", a.asked(), redact(a.callback.Query()))
	}
	// The wrong verifier is refused and leaves the code usable.
	_, err := cfg.Exchange(ctx, a.code(), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantInvalidGrant(t, "the wrong code_verifier", err)
	tok, err := cfg.Exchange(ctx, a.code(), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("public exchange: %v", err)
	}
	id := verifyIDToken(t, ctx, provider, site.spa, nonce, tok)
	if id.Subject != site.userID {
		t.Errorf("sub %q", id.Subject)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Email != oidcUserEmail || info.Subject != site.userID {
		t.Errorf("userinfo: %+v %v", info, err)
	}
	next, err := refresh(ctx, cfg, tok.RefreshToken)
	if err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("public refresh: %v", err)
	}
	_, err = refresh(ctx, cfg, tok.RefreshToken)
	wantInvalidGrant(t, "a public client's reused refresh token", err)
	if site.active(t, next.RefreshToken) {
		t.Error("the family of a reused public refresh token is still active")
	}
	// Another client cannot use the public client's code.
	state, nonce, verifier = oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	if a = b.authorize(authURL(cfg, state, nonce, verifier), spaCallback, "approve"); a.asked() != "" {
		t.Errorf("a second authorization of the same scopes showed %q", a.asked())
	}
	// (With x/oauth2's default AuthStyleAutoDetect, a first request that
	// fails with HTTP Basic is retried with the secret in the body, which
	// this client may not use, and that second error is the one returned.)
	webEP := provider.Endpoint()
	webEP.AuthStyle = oauth2.AuthStyleInHeader
	web := &oauth2.Config{ClientID: site.web.ID, ClientSecret: site.web.Secret, Endpoint: webEP, RedirectURL: spaCallback}
	_, err = web.Exchange(ctx, a.code(), oauth2.VerifierOption(verifier))
	wantInvalidGrant(t, "another client's code", err)
	if _, err = cfg.Exchange(ctx, a.code(), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("the code after another client tried it: %v", err)
	}
}
