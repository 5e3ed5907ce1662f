package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
)

// The user grants under load: the authorization code flow of a user who
// is signed in and approved the application before (authorize with the
// session cookie, then exchange the code), and the rotation of refresh
// tokens. Both sides are driven by the same code; only the URLs, the
// credentials and the cookie differ.

// Both sides' application asks for an ID token and a refresh token, so
// each exchange signs an ES256 access token and an RS256 ID token and
// stores a refresh token.
const (
	userScope       = "openid offline_access"
	userRedirectURI = "http://127.0.0.1/cb"
)

// userFlow is what a signed-in browser and its application send to one
// side.
type userFlow struct {
	authorizeURL string
	tokenURL     string
	app          credentials // confidential, HTTP Basic
	cookie       string      // the browser's Cookie header
}

// newPKCE returns a code verifier and its S256 challenge (RFC 7636).
func newPKCE() (verifier, challenge string) {
	var b [32]byte
	rand.Read(b[:])
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize asks for a code as the signed-in browser would, and returns
// it with its verifier.
func (f userFlow) authorize(ctx context.Context, w *worker) (code, verifier string, err error) {
	verifier, challenge := newPKCE()
	q := url.Values{"response_type": {"code"}, "client_id": {f.app.ID}, "redirect_uri": {userRedirectURI},
		"scope": {userScope}, "state": {"bench"}, "nonce": {"bench"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.authorizeURL+"?"+q.Encode(), nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Cookie", f.cookie)
	status, body, err := w.send(req)
	if err != nil {
		return "", "", err
	}
	if status != http.StatusFound && status != http.StatusSeeOther {
		return "", "", fmt.Errorf("authorize: status %d: %.200s", status, bytes.TrimSpace(body))
	}
	loc, err := url.Parse(w.lastLocation)
	if err != nil || !strings.HasPrefix(w.lastLocation, userRedirectURI+"?") {
		return "", "", fmt.Errorf("authorize: redirected to %.200s, not back to the application", w.lastLocation)
	}
	if code = loc.Query().Get("code"); code == "" {
		return "", "", fmt.Errorf("authorize: no code: %.200s", loc.RawQuery)
	}
	return code, verifier, nil
}

// exchange trades a code for tokens and returns the response body.
func (f userFlow) exchange(ctx context.Context, w *worker, code, verifier string) ([]byte, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {userRedirectURI}, "code_verifier": {verifier}}
	return w.post(ctx, f.tokenURL, form.Encode(), basicAuth(f.app), `"id_token"`)
}

// codeTarget runs the authorization code flow: one authorize and one
// exchange per measured request.
func codeTarget(f userFlow) target {
	return target{flow: func(context.Context, *worker) (step, error) {
		return func(ctx context.Context, w *worker) error {
			code, verifier, err := f.authorize(ctx, w)
			if err != nil {
				return err
			}
			_, err = f.exchange(ctx, w, code, verifier)
			return err
		}, nil
	}}
}

// refreshTarget rotates refresh tokens: each worker gets a grant of its
// own with one code flow, then refreshes it, each time with the refresh
// token the last refresh returned.
func refreshTarget(f userFlow) target {
	return target{flow: func(ctx context.Context, w *worker) (step, error) {
		code, verifier, err := f.authorize(ctx, w)
		if err != nil {
			return nil, err
		}
		body, err := f.exchange(ctx, w, code, verifier)
		if err != nil {
			return nil, err
		}
		rt, err := refreshTokenOf(body)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, w *worker) error {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			body, err := w.post(ctx, f.tokenURL, form.Encode(), basicAuth(f.app), `"refresh_token"`)
			if err != nil {
				return err
			}
			rt, err = refreshTokenOf(body)
			return err
		}, nil
	}}
}

// refreshTokenOf reads the refresh token of a token response.
func refreshTokenOf(body []byte) (string, error) {
	var tr struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.RefreshToken == "" {
		return "", fmt.Errorf("no refresh token in %.200s", body)
	}
	return tr.RefreshToken, nil
}

// The user who signs in on Latchkey's side. The password is the
// benchmark's own, for a scratch database removed at the end.
const (
	benchUserEmail    = "bench@example.com"
	benchUserPassword = "bench-user-password-of-a-fair-length"
)

// userFlowOn prepares Latchkey's side of the user grants through the real
// CLI and pages: a user with a password, a confidential application with
// the authorization_code and refresh_token grants, a browser signed in as
// the user, and the application approved once on the consent page
// (offline_access is always asked for).
func (s *latchkeyServer) userFlowOn(ctx context.Context) (userFlow, error) {
	if err := s.cli(ctx, benchUserPassword+"\n", nil, "users", "create", "--email", benchUserEmail,
		"--password-file", "-"); err != nil {
		return userFlow{}, err
	}
	var app credentials
	if err := s.cli(ctx, "", &app, "clients", "create", "--name", "bench-web", "--json",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", userRedirectURI, "--scope", "openid"); err != nil {
		return userFlow{}, err
	}
	if app.ID == "" || app.Secret == "" {
		return userFlow{}, errors.New("clients create printed no credentials")
	}
	f := userFlow{authorizeURL: s.base + "/oauth2/authorize", tokenURL: s.base + "/oauth2/token", app: app}
	b, err := newPageBrowser(s.base)
	if err != nil {
		return userFlow{}, err
	}
	defer b.hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()

	// Sign in.
	login, err := b.get(ctx, s.base+"/account/login")
	if err != nil {
		return userFlow{}, err
	}
	if _, err := b.post(ctx, s.base+"/account/login", url.Values{"csrf": {hiddenValue(login, "csrf")},
		"email": {benchUserEmail}, "password": {benchUserPassword}}); err != nil {
		return userFlow{}, fmt.Errorf("sign in: %w", err)
	}
	// Approve the application once: authorize, consent, resume.
	_, challenge := newPKCE()
	q := url.Values{"response_type": {"code"}, "client_id": {app.ID}, "redirect_uri": {userRedirectURI},
		"scope": {userScope}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	to, err := b.follow(ctx, f.authorizeURL+"?"+q.Encode())
	if err != nil {
		return userFlow{}, err
	}
	if !strings.HasPrefix(to, s.base+"/account/consent?") {
		return userFlow{}, fmt.Errorf("authorize sent the browser to %.200s, not the consent page", to)
	}
	consent, err := b.get(ctx, to)
	if err != nil {
		return userFlow{}, err
	}
	to, err = b.post(ctx, s.base+"/account/consent", url.Values{"csrf": {hiddenValue(consent, "csrf")},
		"req": {hiddenValue(consent, "req")}, "decision": {"approve"}})
	if err != nil {
		return userFlow{}, fmt.Errorf("consent: %w", err)
	}
	if to, err = b.follow(ctx, to); err != nil {
		return userFlow{}, err
	}
	if back, err := url.Parse(to); err != nil || !strings.HasPrefix(to, userRedirectURI+"?") || back.Query().Get("code") == "" {
		return userFlow{}, fmt.Errorf("after consent the browser went to %.200s, not back with a code", to)
	}
	base, _ := url.Parse(s.base)
	var cookies []string
	for _, c := range b.hc.Jar.Cookies(base) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	f.cookie = strings.Join(cookies, "; ")
	return f, nil
}

// cli runs a latchkey command against the server's database with stdin,
// decoding its standard output as JSON into out when out is not nil.
func (s *latchkeyServer) cli(ctx context.Context, stdin string, out any, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("latchkey %s: %w\n%s", args[0]+" "+args[1], err, stderr.Bytes())
	}
	if out != nil {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			return fmt.Errorf("latchkey %s printed %.200s: %w", args[0]+" "+args[1], stdout.Bytes(), err)
		}
	}
	return nil
}

// pageBrowser is a browser without JavaScript for the set-up: a cookie
// jar, and redirects followed by hand.
type pageBrowser struct {
	hc *http.Client
}

func newPageBrowser(base string) (*pageBrowser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &pageBrowser{hc: &http.Client{Jar: jar, Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// get returns a page that must answer 200.
func (b *pageBrowser) get(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	status, _, body, err := b.do(req)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET %s: status %d: %.300s", u, status, body)
	}
	return body, err
}

// post submits a form that must answer with a redirect, and returns where.
func (b *pageBrowser) post(ctx context.Context, u string, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, loc, body, err := b.do(req)
	if err == nil && status != http.StatusSeeOther && status != http.StatusFound {
		err = fmt.Errorf("POST %s: status %d: %.300s", u, status, body)
	}
	return loc, err
}

// follow GETs u and the redirects after it within its origin, and returns
// the first address outside it or the page that answered 200 with no
// redirect.
func (b *pageBrowser) follow(ctx context.Context, u string) (string, error) {
	start, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	for range 10 {
		next, err := url.Parse(u)
		if err != nil || next.Host != start.Host {
			return u, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		status, loc, body, err := b.do(req)
		switch {
		case err != nil:
			return "", err
		case status == http.StatusFound || status == http.StatusSeeOther:
			u = loc
		case status == http.StatusOK:
			return u, nil
		default:
			return "", fmt.Errorf("GET %s: status %d: %.300s", u, status, body)
		}
	}
	return "", fmt.Errorf("more than 10 redirects from %s", start)
}

func (b *pageBrowser) do(req *http.Request) (status int, location, body string, err error) {
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if loc, lerr := resp.Location(); lerr == nil {
		location = loc.String()
	}
	return resp.StatusCode, location, string(raw), err
}

// hiddenValue returns the value of the hidden input named name in page,
// "" when there is none. The pages write name before value.
func hiddenValue(page, name string) string {
	re := regexp.MustCompile(`<input[^>]*\bname="` + regexp.QuoteMeta(name) + `"[^>]*\bvalue="([^"]*)"`)
	if m := re.FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// floorUserFlow is the floor's side: its application, its user and a
// session cookie the floor knows by digest.
func floorUserFlow() (userFlow, floorConfig, error) {
	app, err := randomCredentials()
	if err != nil {
		return userFlow{}, floorConfig{}, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return userFlow{}, floorConfig{}, err
	}
	session := base64.RawURLEncoding.EncodeToString(raw[:])
	cfg := floorConfig{App: app, RedirectURI: userRedirectURI, UserID: "usr_floor", Session: session}
	return userFlow{app: app, cookie: floorSessionCookie + "=" + session}, cfg, nil
}

// floorUserFlowAt completes f with the floor's URLs.
func floorUserFlowAt(f userFlow, base string) userFlow {
	f.authorizeURL, f.tokenURL = base+"/authorize", base+"/token"
	return f
}
