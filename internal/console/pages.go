package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

// ErrNoTenant is what Config.Tenant returns for a slug no tenant is
// served at; the pages answer it with 404.
var ErrNoTenant = errors.New("console: no tenant is served at this path")

// Defaults of Config's zero values.
const (
	DefaultLoginFailures   = 5
	DefaultAddressFailures = 20
	// AccountFactor is how many more failures one account takes, from
	// all addresses together, than from one.
	AccountFactor      = 20
	DefaultLoginWindow = 15 * time.Minute
)

// Config is what the pages are built from.
type Config struct {
	// Sessions checks passwords and keeps sessions and consents. Required.
	Sessions *account.Sessions
	// Accounts lists a user's consents and finds tenants by ID. Required.
	Accounts account.Repository
	// Requests opens the sealed authorization requests the authorize
	// endpoint sends and seals them again with the user's decision.
	// Required.
	Requests *authreq.Sealer
	// Client returns a client by ID, or an error matching
	// client.ErrNotFound. Required.
	Client func(ctx context.Context, id string) (*client.Client, error)
	// Tenant returns the tenant served at a slug ("" for the default
	// tenant at the root) and its issuer, or ErrNoTenant (account.ErrNotFound
	// is read the same). Required.
	Tenant func(ctx context.Context, slug string) (tenant *account.Tenant, issuer string, err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Random is the source of CSRF tokens; nil means crypto/rand.
	Random io.Reader
	// Logger receives errors the pages do not show; nil discards them.
	Logger *slog.Logger
	// LoginFailures failed sign-ins to one account (tenant and email)
	// from one source address within LoginWindow make the pages refuse
	// further tries of that account from that address until the window
	// ends; 0 means DefaultLoginFailures, a negative value no limit.
	// Counting per account and address means nobody can lock a user out
	// of their own account from elsewhere by failing on purpose; guessing
	// spread over many addresses meets the account-wide limit, which is
	// AccountFactor times higher.
	LoginFailures int
	// AddressFailures is the same limit per source address; 0 means
	// DefaultAddressFailures, a negative value no limit.
	AddressFailures int
	// LoginWindow is the window of both limits; 0 means DefaultLoginWindow.
	LoginWindow time.Duration
	// SharedFailures, when set, pools the sign-in failures with those of
	// every instance on the same database, so each limit holds in total
	// however the attempts are spread over the instances; nil counts in
	// this process alone. Should its store fail, the process's own count
	// is the limit.
	SharedFailures *ratelimit.Pool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for the source address; none by default.
	TrustedProxies []netip.Prefix
	// Refused counts the sign-ins the limits refused, per tenant and
	// source address, so that the audit trail gets one event for each
	// address a minute rather than one per attempt (its owner flushes it);
	// nil audits none of them. Every other failed sign-in is an event of
	// its own.
	Refused *audit.Tally
	// Admin, when set, serves the admin console under /console/ with
	// these domain services.
	Admin *Admin
	// ConsoleIdle ends a console session that made no console request
	// for this long (the account pages keep only the session's absolute
	// expiry); 0 means DefaultConsoleIdle. New refuses a limit under
	// MinConsoleIdle.
	ConsoleIdle time.Duration
	// MFA keeps users' second factors: a user with one is asked for it
	// after their password (/account/mfa) and manages them at
	// /account/security. nil offers no second factor at all.
	MFA *account.MFA

	// templates replaces the embedded templates (tests only).
	templates fs.FS
}

// Pages serves the end-user pages of every tenant. Build it with New; it
// is safe for concurrent use.
type Pages struct {
	cfg   Config
	pages map[string]*template.Template
	// consolePages are the admin console's templates (see parseConsole).
	consolePages map[string]*template.Template
	css          []byte
	byAccount    *ratelimit.Limiter // per account and address
	accountWide  *ratelimit.Limiter
	byAddr       *ratelimit.Limiter
	wrongCodes   *ratelimit.Limiter // per user: wrong second-factor codes (mfa.go)
	// sites remembers each tenant's issuer by tenant ID, for Current and
	// End, which are given only the ID. Tenants are never renamed or
	// removed, so an entry never goes stale.
	sites sync.Map // tenant ID → *site
	// own changes passwords when no console is served (passwordUsers).
	own ownUsers
	// chains remembers each tenant's last audit chain verification (see
	// console_audit.go).
	chains chainChecks
}

var _ oauth.Sessions = (*Pages)(nil)

//go:embed templates/*.html templates/console/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// pageNames are the templates, each parsed with layout.html; every one
// must exist and define "title" and "main".
var pageNames = []string{"login", "consent", "apps", "logout", "signedout", "message", "mfa", "security", "password"}

// New returns the pages, with their templates parsed. It fails when a
// required field is missing or a template is missing or does not parse.
func New(c Config) (*Pages, error) {
	switch {
	case c.Sessions == nil, c.Accounts == nil, c.Requests == nil, c.Client == nil, c.Tenant == nil:
		return nil, errors.New("console: Sessions, Accounts, Requests, Client and Tenant are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Random == nil {
		c.Random = rand.Reader
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LoginFailures == 0 {
		c.LoginFailures = DefaultLoginFailures
	}
	if c.AddressFailures == 0 {
		c.AddressFailures = DefaultAddressFailures
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = DefaultLoginWindow
	}
	if c.ConsoleIdle != 0 && c.ConsoleIdle < MinConsoleIdle {
		return nil, fmt.Errorf("console: the console idle timeout %v is under the least, %v", c.ConsoleIdle, MinConsoleIdle)
	}
	fsys := c.templates
	if fsys == nil {
		fsys = templateFS
	}
	pages, err := parsePages(fsys)
	if err != nil {
		return nil, err
	}
	consolePages, err := parseConsole(fsys)
	if err != nil {
		return nil, err
	}
	return &Pages{cfg: c, pages: pages, consolePages: consolePages, css: styleCSS,
		byAccount:   ratelimit.New(c.LoginFailures, c.LoginWindow).Share(c.SharedFailures, "sign_in_account_addr"),
		accountWide: ratelimit.New(c.LoginFailures*AccountFactor, c.LoginWindow).Share(c.SharedFailures, "sign_in_account"),
		wrongCodes:  ratelimit.New(MFACodeFailures, MFACodeWindow).Share(c.SharedFailures, "mfa_code"),
		byAddr:      ratelimit.New(c.AddressFailures, c.LoginWindow).Share(c.SharedFailures, "sign_in_addr")}, nil
}

// parsePages parses every page with the layout, failing on the first
// that is missing, broken, or lacks a part.
func parsePages(fsys fs.FS) (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := parseWithLayout(fsys, template.New(name+".html"), "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// parseWithLayout parses the page file with the layout into t, and
// refuses a page that is broken or lacks one of the parts the layout
// renders.
func parseWithLayout(fsys fs.FS, t *template.Template, layout, file string) (*template.Template, error) {
	t, err := t.ParseFS(fsys, layout, file)
	if err != nil {
		return nil, fmt.Errorf("console: template %s: %w", file, err)
	}
	for _, part := range []string{"layout", "title", "main"} {
		if t.Lookup(part) == nil {
			return nil, fmt.Errorf("console: template %s defines no %q", file, part)
		}
	}
	return t, nil
}

// Mount registers the pages on mux: the default tenant's under /account/,
// every other tenant's under /t/{tenant}/account/. A path asked with a
// method it does not serve is answered 405 with Allow.
func (p *Pages) Mount(mux *http.ServeMux) {
	for _, base := range []string{"", "/t/{tenant}"} {
		route := func(path, allow string, handlers map[string]siteHandler) {
			for method, h := range handlers {
				mux.Handle(method+" "+base+path, p.page(h))
			}
			mux.Handle(base+path, p.page(methodNotAllowed(p, allow)))
		}
		route("/account/login", "GET, HEAD, POST", map[string]siteHandler{"GET": p.loginForm, "POST": p.login})
		route("/account/logout", "GET, HEAD, POST", map[string]siteHandler{"GET": p.logoutForm, "POST": p.logout})
		route("/account/consent", "GET, HEAD, POST", map[string]siteHandler{"GET": p.consentForm, "POST": p.consent})
		route("/account/apps", "GET, HEAD", map[string]siteHandler{"GET": p.apps})
		route("/account/apps/revoke", "POST", map[string]siteHandler{"POST": p.revoke})
		route("/account/{$}", "GET, HEAD", map[string]siteHandler{"GET": p.index})
		route(MFAPath, "GET, HEAD, POST", map[string]siteHandler{"GET": p.mfaForm, "POST": p.mfa})
		route(SecurityPath, "GET, HEAD, POST", map[string]siteHandler{"GET": p.securityForm, "POST": p.security})
		route(PasswordPath, "GET, HEAD, POST", map[string]siteHandler{"GET": p.passwordForm, "POST": p.changePassword})
		mux.HandleFunc("GET "+base+"/account/static/style.css", p.style)
		mux.Handle(base+"/account/static/style.css", p.page(methodNotAllowed(p, "GET, HEAD")))
		mux.HandleFunc("GET "+base+"/account/static/passkey.js", p.script)
		mux.Handle(base+"/account/static/passkey.js", p.page(methodNotAllowed(p, "GET, HEAD")))
	}
	p.mountConsole(mux)
}

// site is one tenant as its pages see it.
type site struct {
	tenant account.Tenant
	// issuer is the tenant's issuer, the base of every redirect.
	issuer string
	// base is the issuer's path ("" or "/t/slug"), the base of links.
	base string
	// origin is the issuer's origin, which a POST's Origin must match.
	origin string
	// secure is an https issuer: cookies are Secure and __Host-.
	secure bool
}

// newSite describes a tenant served at issuer; an issuer that is not an
// http(s) URL is an error, as no cookie or origin could be right for it.
func newSite(t *account.Tenant, issuer string) (*site, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("console: tenant %s has an issuer that is not an http(s) URL: %q", t.ID, issuer)
	}
	host := strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil &&
		(u.Scheme == "https" && port == "443" || u.Scheme == "http" && port == "80") {
		host = h // browsers omit the default port from Origin
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return &site{tenant: *t, issuer: issuer, base: u.EscapedPath(), origin: u.Scheme + "://" + host, secure: u.Scheme == "https"}, nil
}

// siteByID returns the site of a tenant by its ID, or nil when the tenant
// is not served at any path.
func (p *Pages) siteByID(ctx context.Context, tenantID string) (*site, error) {
	if s, ok := p.sites.Load(tenantID); ok {
		return s.(*site), nil
	}
	t, err := p.cfg.Accounts.Tenant(ctx, tenantID)
	if errors.Is(err, account.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	slug := t.Slug
	if t.Default {
		slug = ""
	} else if slug == "" {
		return nil, nil // neither the default nor named: served nowhere
	}
	return p.siteBySlug(ctx, slug)
}

// siteBySlug returns the site served at a slug, or nil when there is
// none.
func (p *Pages) siteBySlug(ctx context.Context, slug string) (*site, error) {
	t, issuer, err := p.cfg.Tenant(ctx, slug)
	if errors.Is(err, ErrNoTenant) || errors.Is(err, account.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := newSite(t, issuer)
	if err != nil {
		return nil, err
	}
	if old, loaded := p.sites.LoadOrStore(t.ID, s); loaded {
		return old.(*site), nil
	}
	return s, nil
}

// siteHandler serves one page for the tenant the path names.
type siteHandler func(w http.ResponseWriter, r *http.Request, s *site)

// page wraps a page: it sets the headers every page sends, resolves the
// tenant (404 when there is none), and turns a panic into the 500 page.
func (p *Pages) page(h siteHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w.Header())
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				p.cfg.Logger.ErrorContext(r.Context(), "panic serving an account page", "method", r.Method, "path", r.URL.Path, "panic", v)
				p.message(w, r, &site{}, http.StatusInternalServerError, msgServerError)
			}
		}()
		s, err := p.siteBySlug(r.Context(), r.PathValue("tenant"))
		switch {
		case err != nil:
			p.serverError(w, r, &site{}, err)
		case s == nil:
			p.message(w, r, &site{}, http.StatusNotFound, msgNoTenant)
		default:
			h(w, r, s)
		}
	})
}

// csp allows the pages their own stylesheet, images and script (the
// passkey ceremonies') and nothing else: no inline script or style.
// It has no form-action: browsers apply it to the redirects after a form
// post, which would stop the way back to the application.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// setHeaders sets what every response of the pages carries.
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// style serves the stylesheet. It is no secret and changes only with the
// binary, so browsers may keep it for a while.
func (p *Pages) style(w http.ResponseWriter, r *http.Request) {
	setHeaders(w.Header())
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(p.css)
}

// view is what every template is given.
type view struct {
	// Base is the tenant's path prefix, for links and form actions.
	Base string
	// CSRF is the token of the page's forms.
	CSRF string
	// User is the signed-in user, for the header; nil when signed out.
	User *account.User
	Page any
}

// render writes a page. It renders into a buffer first, so a failing
// template becomes the 500 page rather than half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := p.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "rendering an account page", "page", name, "err", err)
		status, buf = http.StatusInternalServerError, bytes.Buffer{}
		if name == "message" || p.pages["message"].ExecuteTemplate(&buf, "layout", view{Base: v.Base, Page: msgServerError}) != nil {
			http.Error(w, msgServerError.Text, status)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// messageView is the page of a message: an error or a notice.
type messageView struct {
	Heading string
	Text    string
	// Link, when set, is a path under the tenant's base and its label.
	Link, LinkLabel string
}

var (
	msgInvalidRequest = messageView{Heading: "This sign-in link cannot be used",
		Text: "This sign-in link has expired or is not valid; go back to the application and start again."}
	msgNoTenant = messageView{Heading: "Page not found",
		Text: "There is no account page at this address. Check the address, or go back to the application and start again."}
	msgForbidden = messageView{Heading: "This form cannot be sent",
		Text: "The form has expired or was sent from another site. Go back, reload the page and try again."}
	msgBadForm = messageView{Heading: "This form cannot be read",
		Text: "The form was incomplete or too large. Go back, reload the page and try again."}
	msgMethod = messageView{Heading: "This page cannot be used that way",
		Text: "The page does not accept this kind of request.", Link: "/account/", LinkLabel: "Go to your account"}
	msgServerError = messageView{Heading: "Something went wrong",
		Text: "Something went wrong on our side. Try again in a moment."}
	msgUnavailable = messageView{Heading: "Briefly unavailable",
		Text: "The server cannot reach its database just now, and nothing was changed. Try again in a moment."}
)

// message shows a message page with status.
func (p *Pages) message(w http.ResponseWriter, r *http.Request, s *site, status int, m messageView) {
	p.render(w, r, status, "message", view{Base: s.base, Page: m})
}

// serverError logs err and shows the 500 page; its text is never shown.
// A database that cannot be reached is the 503 page instead (see
// unavailable).
func (p *Pages) serverError(w http.ResponseWriter, r *http.Request, s *site, err error) {
	if p.unavailable(w, r, err) {
		p.message(w, r, s, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	level := slog.LevelError
	if r.Context().Err() != nil {
		level = slog.LevelDebug // the browser went away, nothing broke
	}
	p.cfg.Logger.Log(r.Context(), level, "account page", "method", r.Method, "path", r.URL.Path, "err", err)
	p.message(w, r, s, http.StatusInternalServerError, msgServerError)
}

// unavailable reports whether err says the database cannot be reached;
// then it logs err at debug (the store logs the outage once) and sets
// Retry-After for the 503 the caller answers.
func (p *Pages) unavailable(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, errs.ErrUnavailable) {
		return false
	}
	p.cfg.Logger.Debug("database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", strconv.Itoa(errs.RetryAfter))
	return true
}

// methodNotAllowed answers 405 for a path that serves only allow.
func methodNotAllowed(p *Pages, allow string) siteHandler {
	return func(w http.ResponseWriter, r *http.Request, s *site) {
		w.Header().Set("Allow", allow)
		p.message(w, r, s, http.StatusMethodNotAllowed, msgMethod)
	}
}

// redirect sends the browser on with 303, so a POST becomes a GET.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// withReq is path (under the issuer) with a sealed request.
func (s *site) withReq(path, sealed string) string {
	if sealed == "" {
		return s.issuer + path
	}
	return s.issuer + path + "?" + authreq.Param + "=" + url.QueryEscape(sealed)
}

// maxForm bounds a form body: the largest form is a sealed request and a
// password.
const maxForm = 32 << 10

// parseForm reads a POST's form body; on failure it has answered.
func (p *Pages) parseForm(w http.ResponseWriter, r *http.Request, s *site) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		p.message(w, r, s, http.StatusBadRequest, msgBadForm)
		return false
	}
	return true
}

// openRequest returns the sealed request v when this server sealed it for
// the tenant and it has not expired; on failure it has answered with the
// "start again" page (never a redirect: the request's redirect URI is
// not to be trusted).
func (p *Pages) openRequest(w http.ResponseWriter, r *http.Request, s *site, v string) (*authreq.Request, bool) {
	req, err := p.cfg.Requests.Open(v)
	if err != nil || req.TenantID != s.tenant.ID {
		p.message(w, r, s, http.StatusBadRequest, msgInvalidRequest)
		return nil, false
	}
	return req, true
}

// appClient returns the tenant's client id, or nil when there is no such
// client in the tenant.
func (p *Pages) appClient(ctx context.Context, s *site, id string) (*client.Client, error) {
	c, err := p.cfg.Client(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.TenantID != s.tenant.ID {
		return nil, nil
	}
	return c, nil
}

func (p *Pages) now() time.Time { return p.cfg.Now().UTC() }

// sourceAddr is the address sign-in failures are counted against and
// audit events name: see ratelimit.SourceAddr.
func (p *Pages) sourceAddr(r *http.Request) string {
	return ratelimit.SourceAddr(r, p.cfg.TrustedProxies)
}
