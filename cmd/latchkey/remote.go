package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/admin/adminclient"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/errs"
)

// A command given --endpoint runs against a server's admin API instead of
// the database: the same command, through the same interface (clientOps,
// userOps), authenticated by the first of LATCHKEY_TOKEN,
// LATCHKEY_CLIENT_ID with LATCHKEY_CLIENT_SECRET, and the sign-in "latchkey
// login" stored.

// endpointFlag registers --endpoint, a setting.
func endpointFlag(fs *pflag.FlagSet, p *string, usage string) {
	stringSetting(fs, p, "endpoint", "LATCHKEY_ENDPOINT", "", usage)
}

const endpointHelp = "URL of a running server, like https://auth.example.com: use its admin API instead of the database (--tenant then names a tenant by slug)"

// remote is a tenant of a server the command line talks to.
type remote struct {
	// endpoint is the server's URL as given, without a trailing slash.
	endpoint string
	tenant   string // slug, "" for the default tenant
	// base is the tenant's issuer: endpoint, or endpoint/t/{slug}. Stored
	// sign-ins are kept by it.
	base string
	hc   *http.Client
}

// newRemote checks the endpoint: an absolute URL without query or
// fragment, https unless on loopback, since a bearer token travels to it.
func newRemote(endpoint, tenant string) (*remote, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, usageError{msg: fmt.Sprintf("--endpoint %q: give the server's URL, like https://auth.example.com", endpoint)}
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return nil, usageError{msg: fmt.Sprintf("--endpoint %q must use https (http only on localhost)", endpoint)}
	}
	r := &remote{endpoint: strings.TrimSuffix(endpoint, "/"), tenant: tenant, hc: &http.Client{Timeout: 30 * time.Second}}
	r.base = r.endpoint
	if tenant != "" {
		r.base += "/t/" + url.PathEscape(tenant)
	}
	return r, nil
}

// loginCommand is the command line that signs in to r.
func (r *remote) loginCommand() string {
	s := "latchkey login --endpoint " + r.endpoint
	if r.tenant != "" {
		s += " --tenant " + r.tenant
	}
	return s
}

// credentialsHint says how to give a remote command credentials.
func (r *remote) credentialsHint() string {
	return fmt.Sprintf("Run %q, or set LATCHKEY_TOKEN, or LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET", r.loginCommand())
}

// netErr is a failed request's cause, without the method and URL a
// *url.Error repeats.
func netErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// serverMetadata is what the commands read of the tenant's discovery
// document.
type serverMetadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
}

// discover reads the tenant's OpenID Connect discovery document.
func (r *remote) discover(ctx context.Context) (*serverMetadata, error) {
	u := r.base + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no server answers at %s (is --endpoint right?): %w", r.endpoint, netErr(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s: is --endpoint (or --tenant) right?", u, res.Status)
	}
	var m serverMetadata
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&m); err != nil || m.TokenEndpoint == "" {
		return nil, fmt.Errorf("%s is not an OpenID Connect discovery document", u)
	}
	return &m, nil
}

// adminScopes are the scopes that carry admin permissions: a token gets
// those its principal's roles hold.
func adminScopes() []string {
	var out []string
	for _, p := range authz.AllPermissions() {
		out = append(out, string(p))
	}
	return out
}

// connect returns the tenant of a server a remote command acts in, and
// its admin API's client.
func (a *app) connect(endpoint, tenant string) (*remote, *adminclient.Client, error) {
	r, err := newRemote(endpoint, tenant)
	if err != nil {
		return nil, nil, err
	}
	api, err := a.adminClient(r)
	if err != nil {
		return nil, nil, err
	}
	return r, api, nil
}

// adminClient returns the admin API client of r, with the first
// credentials that apply.
func (a *app) adminClient(r *remote) (*adminclient.Client, error) {
	c := &adminclient.Client{BaseURL: r.base, HTTP: r.hc}
	id, secret := a.env.lookup("LATCHKEY_CLIENT_ID"), a.env.lookup("LATCHKEY_CLIENT_SECRET")
	switch tok := a.env.lookup("LATCHKEY_TOKEN"); {
	case tok != "":
		c.Token = func(context.Context) (string, error) { return tok, nil }
	case id != "" && secret != "":
		c.Token = cachedToken(func(ctx context.Context) (*oauth2.Token, error) { return r.clientCredentials(ctx, id, secret) })
	case id != "" || secret != "":
		return nil, usageError{msg: "LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET go together: set both, or neither"}
	default:
		c.Token = cachedToken(func(ctx context.Context) (*oauth2.Token, error) { return a.refreshLogin(ctx, r) })
	}
	return c, nil
}

// cachedToken returns the access token fetch obtains, fetching again only
// once it has expired: one command's requests share one token.
func cachedToken(fetch func(context.Context) (*oauth2.Token, error)) func(context.Context) (string, error) {
	var mu sync.Mutex
	var tok *oauth2.Token
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if !tok.Valid() {
			t, err := fetch(ctx)
			if err != nil {
				return "", err
			}
			tok = t
		}
		return tok.AccessToken, nil
	}
}

// clientCredentials obtains a token for a client at the tenant's token
// endpoint. It asks for no scope in particular: the server then grants
// the client's scopes, admin permissions among them as far as the
// client's roles hold them, where naming one it does not hold would
// refuse the whole request.
func (r *remote) clientCredentials(ctx context.Context, id, secret string) (*oauth2.Token, error) {
	md, err := r.discover(ctx)
	if err != nil {
		return nil, err
	}
	conf := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := conf.Token(context.WithValue(ctx, oauth2.HTTPClient, r.hc))
	if err != nil {
		return nil, tokenError("the token endpoint refused LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET", err)
	}
	return tok, nil
}

// tokenError words a token endpoint's refusal by its RFC 6749 error
// code and description only: the library's own text quotes the whole
// response.
func tokenError(what string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", what, err)
	}
	msg := re.ErrorCode
	if msg == "" && re.Response != nil {
		msg = re.Response.Status
	}
	if re.ErrorDescription != "" {
		msg += ": " + re.ErrorDescription
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// remoteErr adds to a refusal of the credentials how to give others.
func (r *remote) remoteErr(err error) error {
	if errors.Is(err, adminclient.ErrUnauthorized) {
		return fmt.Errorf("%w\n  %s", err, r.credentialsHint())
	}
	return err
}

// domainFields renames the API's names of fields in a validation error
// to the domain's, which the local commands report and fieldFlags maps to
// flags; other errors pass unchanged.
func domainFields(err error, names map[string]string) error { return errs.Rename(err, names) }

// notRemote refuses a command that needs the database.
func notRemote(command, why string) error {
	return usageError{msg: fmt.Sprintf("%q cannot run against --endpoint: %s; run it where the database is, without --endpoint", command, why)}
}
