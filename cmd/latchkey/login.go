package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/admin/adminclient"
	"github.com/latchkey/latchkey/internal/provision"
)

const loginLong = `Sign in to a Latchkey server from this terminal, as a person, through the
browser: the authorization code flow with PKCE, through the server's
latchkey-cli client, with the browser sent back to a port this command
listens on at 127.0.0.1 (RFC 8252). The sign-in URL is always printed;
the browser opens at it unless --no-browser is given (then open it in a
browser on this machine).

The token carries the admin permissions your roles hold. The clients and
users commands given the same --endpoint (and --tenant) then act as you,
renewing the sign-in on every run. It is kept, as a refresh token, in
latchkey/credentials.json under your configuration directory
($XDG_CONFIG_HOME, else ~/.config), readable by you alone; "latchkey
logout" revokes it.

LATCHKEY_TOKEN, or LATCHKEY_CLIENT_ID with LATCHKEY_CLIENT_SECRET, take
the place of a sign-in where no one is at the terminal.`

func (a *app) loginCmd() *cobra.Command {
	var endpoint, tenant string
	var noBrowser bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "login --endpoint URL [--tenant SLUG]",
		Short: "Sign in to a server from the terminal, through the browser",
		Long:  loginLong,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if endpoint == "" {
				return usageError{msg: "--endpoint is required: the URL of the server to sign in to"}
			}
			r, err := newRemote(endpoint, tenant)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			// Whatever step the time ran out in, the time is what ended it.
			if err = a.login(ctx, r, noBrowser); err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the sign-in did not finish within %s: run %q again", timeout, r.loginCommand())
			}
			return err
		},
	}
	fs := cmd.Flags()
	endpointFlag(fs, &endpoint, "URL of the server to sign in to, like https://auth.example.com")
	stringSetting(fs, &tenant, "tenant", "LATCHKEY_TENANT", "", "tenant to sign in to, by slug (default: the default tenant)")
	fs.BoolVar(&noBrowser, "no-browser", false, "only print the sign-in URL; do not open a browser")
	durationVar(fs, &timeout, "timeout", 5*time.Minute, "how long to wait for the sign-in to finish")
	return cmd
}

// login runs the sign-in and stores it.
func (a *app) login(ctx context.Context, r *remote, noBrowser bool) error {
	md, err := r.discover(ctx)
	if err != nil {
		return err
	}
	if md.AuthorizationEndpoint == "" {
		return fmt.Errorf("%s does not serve the authorization code flow, which a sign-in from the terminal needs", r.base)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening on 127.0.0.1 for the browser's return: %w", err)
	}
	defer ln.Close()
	conf := &oauth2.Config{
		ClientID:    provision.CLIClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: md.AuthorizationEndpoint, TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: fmt.Sprintf("http://127.0.0.1:%d/callback", ln.Addr().(*net.TCPAddr).Port),
		Scopes:      append([]string{"openid", "offline_access"}, adminScopes()...),
	}
	state, verifier := rand.Text(), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
	fmt.Fprintf(a.stderr, "To sign in to %s, open this URL in a browser on this machine:\n\n  %s\n\n", r.base, authURL)
	if !noBrowser {
		if err := openBrowser(authURL); err != nil {
			fmt.Fprintf(a.stderr, "note: no browser opened (%v): open the URL yourself\n", err)
		}
	}
	fmt.Fprintln(a.stderr, "Waiting for the sign-in to finish...")
	code, err := awaitCallback(ctx, ln, state, md.Issuer)
	if err != nil {
		return err
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, r.hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return tokenError("the token endpoint refused the sign-in", err)
	}
	if tok.RefreshToken == "" {
		return fmt.Errorf("%s issued no refresh token: its %s client needs the refresh_token grant and the offline_access scope",
			r.base, provision.CLIClientID)
	}
	api := &adminclient.Client{BaseURL: r.base, HTTP: r.hc,
		Token: func(context.Context) (string, error) { return tok.AccessToken, nil }}
	me, err := api.Me(ctx)
	if err != nil {
		return fmt.Errorf("the admin API did not accept the new sign-in: %w", err)
	}
	path, err := a.credentialsPath()
	if err != nil {
		return err
	}
	var replaced string
	err = updateCredentials(path, func(c *credentials) (bool, error) {
		replaced = c.Logins[r.base].RefreshToken
		c.Logins[r.base] = storedLogin{Endpoint: r.endpoint, Tenant: r.tenant, Issuer: md.Issuer,
			ClientID: provision.CLIClientID, RefreshToken: tok.RefreshToken, Email: me.Name}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("storing the sign-in: %w", err)
	}
	if replaced != "" {
		// The sign-in this one replaces ends too; if that fails, it
		// ends when it expires.
		_ = r.revoke(ctx, md, provision.CLIClientID, replaced)
	}
	fmt.Fprintf(a.stdout, "Signed in to %s as %s.\n", r.base, me.Name)
	if len(me.Permissions) == 0 {
		fmt.Fprintln(a.stderr, "note: your roles hold no admin permission here, so the admin API will refuse the commands")
	}
	return nil
}

// awaitCallback serves the redirect URI on ln until the browser comes
// back with state, and returns the authorization code it brought. A
// request with another state is answered and ignored: it is not the
// sign-in this command started.
func awaitCallback(ctx context.Context, ln net.Listener, state, issuer string) (string, error) {
	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("state") != state {
			callbackPage(w, http.StatusBadRequest, "This sign-in was not started by latchkey login, or has ended. Run latchkey login again.")
			return
		}
		var res result
		switch {
		case q.Get("error") != "":
			res.err = fmt.Errorf("the sign-in was refused: %s", oauthError(q))
		case q.Has("iss") && q.Get("iss") != issuer:
			// RFC 9207: the answer comes from another server than the
			// one asked.
			res.err = fmt.Errorf("the browser came back from %q, not from %s", q.Get("iss"), issuer)
		case q.Get("code") == "":
			res.err = errors.New("the browser came back without an authorization code")
		default:
			res.code = q.Get("code")
		}
		if res.err != nil {
			callbackPage(w, http.StatusOK, "The sign-in failed: "+res.err.Error()+". You may close this tab.")
		} else {
			callbackPage(w, http.StatusOK, "Signed in to Latchkey. You may close this tab and return to the terminal.")
		}
		once.Do(func() { done <- res })
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(stop)
	}()
	select {
	case res := <-done:
		return res.code, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// oauthError is an error redirect's code and description (RFC 6749
// §4.1.2.1), cut to printable text of a sensible length.
func oauthError(q url.Values) string {
	s := q.Get("error")
	if d := q.Get("error_description"); d != "" {
		s += ": " + d
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}

// callbackPage is the page the browser shows when it comes back.
func callbackPage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The URL carries the authorization code: it goes nowhere else.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Latchkey</title></head>"+
		"<body><p>%s</p></body></html>\n", html.EscapeString(msg))
}

// openBrowser opens u in the desktop's browser, without waiting for it.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

const logoutLong = `Sign out of a server: revoke the sign-in "latchkey login" stored for it
(RFC 7009) and remove it from the credentials file. Without --endpoint,
the one server signed in to.

The local copy is removed even when the server cannot be reached; the
sign-in then stays valid there until it expires, and a warning says so.`

func (a *app) logoutCmd() *cobra.Command {
	var endpoint, tenant string
	cmd := &cobra.Command{
		Use:   "logout [--endpoint URL] [--tenant SLUG]",
		Short: "Sign out of a server: revoke the stored sign-in and forget it",
		Long:  logoutLong,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.logout(cmd.Context(), endpoint, tenant)
		},
	}
	fs := cmd.Flags()
	endpointFlag(fs, &endpoint, "URL of the server to sign out of (default: the one signed in to)")
	stringSetting(fs, &tenant, "tenant", "LATCHKEY_TENANT", "", "tenant signed in to, by slug (default: the default tenant)")
	return cmd
}

func (a *app) logout(ctx context.Context, endpoint, tenant string) error {
	key := ""
	if endpoint != "" {
		r, err := newRemote(endpoint, tenant)
		if err != nil {
			return err
		}
		key = r.base
	}
	path, err := a.credentialsPath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(a.stdout, "Not signed in to any server: nothing to do.")
		return nil
	}
	var l storedLogin
	var found bool
	err = updateCredentials(path, func(c *credentials) (bool, error) {
		if key == "" {
			keys := slices.Sorted(maps.Keys(c.Logins))
			switch len(keys) {
			case 0:
				return false, nil
			case 1:
				key = keys[0]
			default:
				return false, usageError{msg: "signed in to several servers; name one with --endpoint (and --tenant): " + strings.Join(keys, ", ")}
			}
		}
		if l, found = c.Logins[key]; !found {
			return false, nil
		}
		delete(c.Logins, key)
		return true, nil
	})
	if err != nil {
		return err
	}
	if !found {
		if key == "" {
			fmt.Fprintln(a.stdout, "Not signed in to any server: nothing to do.")
		} else {
			fmt.Fprintf(a.stdout, "Not signed in to %s: nothing to do.\n", key)
		}
		return nil
	}
	if err := a.revokeLogin(ctx, l); err != nil {
		fmt.Fprintf(a.stderr, "warning: the server did not revoke the sign-in (%v): it stays valid there until it expires\n", err)
	}
	fmt.Fprintf(a.stdout, "Signed out of %s (%s); the sign-in is removed from %s.\n", key, l.Email, path)
	return nil
}

// revokeLogin revokes a stored sign-in at its server.
func (a *app) revokeLogin(ctx context.Context, l storedLogin) error {
	r, err := newRemote(l.Endpoint, l.Tenant)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	md, err := r.discover(ctx)
	if err != nil {
		return err
	}
	return r.revoke(ctx, md, l.ClientID, l.RefreshToken)
}

// revoke revokes a refresh token, and with it the sign-in it belongs to,
// at the revocation endpoint (RFC 7009), as the public client id.
func (r *remote) revoke(ctx context.Context, md *serverMetadata, id, refreshToken string) error {
	if md.RevocationEndpoint == "" {
		return fmt.Errorf("%s advertises no revocation endpoint", r.base)
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {id}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, md.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("no answer from %s: %w", md.RevocationEndpoint, netErr(err))
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", md.RevocationEndpoint, res.Status)
	}
	return nil
}
