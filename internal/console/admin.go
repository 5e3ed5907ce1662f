package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/reqid"
)

// Admin is what the admin console is built from: the domain services the
// admin API calls, so that the console holds no rule of its own. A nil
// Config.Admin serves no console.
type Admin struct {
	Clients   *client.Service
	Users     *account.Users
	Roles     *account.Roles
	Divisions *account.Divisions
	// Catalogs resolves custom roles for the signed-in admin; nil reads
	// them through Users' repository on each request.
	Catalogs *authz.Catalogs
	// Audit lists the audit trail; Chain reads it for verification.
	Audit audit.Lister
	Chain audit.Reader
	// Notify reads expiry warnings and the outbox; nil hides them.
	Notify *notify.Service
	// MailLink is the console address a warning mail links to.
	MailLink func(notify.MailData) string
}

// consolePrefix is where the console is served under a tenant's base.
const consolePrefix = "/console"

// desk is one console request: the tenant, the signed-in admin and the
// actor every domain call is made as.
type desk struct {
	*site
	sess  *account.Session
	user  *account.User
	actor authz.Actor
	// csrf is the token of the page's forms.
	csrf string
}

// consoleHandler serves one console page.
type consoleHandler func(w http.ResponseWriter, r *http.Request, d *desk)

// consoleRoute is one console path: its pattern after /console and the
// handler of each method it serves.
type consoleRoute struct {
	path     string
	handlers map[string]consoleHandler
}

// consoleRoutes lists every console page, area by area.
func (p *Pages) consoleRoutes() []consoleRoute {
	var rs []consoleRoute
	for _, area := range [][]consoleRoute{
		p.dashboardRoutes(), p.clientListRoutes(), p.clientRoutes(), p.userRoutes(), p.auditRoutes(), p.outboxRoutes(),
	} {
		rs = append(rs, area...)
	}
	return rs
}

// mountConsole registers the console for the default tenant under
// /console/ and for every other under /t/{tenant}/console/.
func (p *Pages) mountConsole(mux *http.ServeMux) {
	if p.cfg.Admin == nil {
		return
	}
	for _, base := range []string{"", "/t/{tenant}"} {
		for _, rt := range p.consoleRoutes() {
			allow := make([]string, 0, len(rt.handlers)+1)
			for method, h := range rt.handlers {
				mux.Handle(method+" "+base+consolePrefix+rt.path, p.page(p.console(h)))
				allow = append(allow, method)
				if method == http.MethodGet {
					allow = append(allow, http.MethodHead)
				}
			}
			// The 405 answers name their methods: a pattern without one
			// would conflict with a sibling's (GET /users/{id} and
			// /users/new match some paths alike, neither more specific).
			na := p.page(methodNotAllowed(p, strings.Join(sortedMethods(allow), ", ")))
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				if rt.handlers[m] == nil {
					mux.Handle(m+" "+base+consolePrefix+rt.path, na)
				}
			}
		}
		mux.HandleFunc("GET "+base+consolePrefix+"/static/{file}", p.static)
		// Any other path under the console is the console's own 404,
		// behind its sign-in and with its headers; the bare prefix is
		// the start page's address without its slash.
		mux.Handle(base+consolePrefix+"/", p.page(p.console(func(w http.ResponseWriter, r *http.Request, d *desk) {
			p.consoleMessage(w, r, d, http.StatusNotFound, msgConsoleNotFound)
		})))
		mux.HandleFunc("GET "+base+consolePrefix, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		})
	}
}

// sortedMethods orders methods as Allow headers usually list them.
func sortedMethods(ms []string) []string {
	order := map[string]int{"GET": 0, "HEAD": 1, "POST": 2}
	out := append([]string(nil), ms...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && order[out[j]] < order[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

//go:embed static
var staticFS embed.FS

// static serves the console's stylesheets and scripts. They are no secret
// and change only with the binary.
func (p *Pages) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil || strings.ContainsAny(name, "/\\") {
		setConsoleHeaders(w.Header())
		http.NotFound(w, r)
		return
	}
	setConsoleHeaders(w.Header())
	w.Header().Set("Cache-Control", "public, max-age=3600")
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Write(b)
}

// consoleCSP allows the console its own scripts, stylesheets and images,
// its own origin for the live search, and nothing inline: every script
// and style is an embedded file.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// setConsoleHeaders sets what every console response carries: the
// account pages' headers with the console's policy.
func setConsoleHeaders(h http.Header) {
	setHeaders(h)
	h.Set("Content-Security-Policy", consoleCSP)
}

// console wraps a console page: it sets the console's headers and lets
// only a signed-in admin through (see gate), with the actor the domain
// calls are made as.
func (p *Pages) console(h consoleHandler) siteHandler {
	return func(w http.ResponseWriter, r *http.Request, s *site) {
		setConsoleHeaders(w.Header())
		d, ok := p.gate(w, r, s)
		if !ok {
			return
		}
		tok, err := p.csrfToken(w, r, s)
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		d.csrf = tok
		if r.Method == http.MethodPost {
			if !p.parseForm(w, r, s) {
				return
			}
			if !p.checkCSRF(r, s) {
				p.consoleMessage(w, r, d, http.StatusForbidden, msgForbidden)
				return
			}
		}
		h(w, r, d)
	}
}

// consoleActor is the signed-in user as the domain sees them: their
// current roles, with the tenant's catalog when they hold a custom role.
// A session is the user's own authority, so nothing caps it further.
func (p *Pages) consoleActor(ctx context.Context, u *account.User, addr string) (authz.Actor, error) {
	a := authz.Actor{Kind: authz.KindUser, ID: u.ID, Name: u.Email, TenantID: u.TenantID, Roles: u.Roles,
		SourceAddr: addr, RequestID: reqid.From(ctx)}
	if !authz.NamesCustomRole(u.Roles) {
		return a, nil
	}
	if c := p.cfg.Admin.Catalogs; c != nil {
		cat, err := c.Catalog(ctx, u.TenantID)
		if err != nil {
			return a, err
		}
		a.Catalog = cat
		return a, nil
	}
	return a, authz.Resolve(ctx, p.cfg.Accounts, &a, nil)
}

// mayUseConsole reports whether the actor holds any console permission,
// in any division: the domain's rule (account.MayUseConsole), the one the
// tenant's second-factor requirement for admins follows too.
func mayUseConsole(a authz.Actor) bool { return account.MayUseConsole(a) }

// consoleView is what every console template is given.
type consoleView struct {
	// Base is the tenant's path prefix; Console is Base + "/console".
	Base, Console string
	CSRF          string
	User          *account.User
	Tenant        account.Tenant
	// Nav is the section the page belongs to, for the navigation's
	// aria-current.
	Nav string
	// Can says which sections the admin may open, for the navigation.
	Can  navRights
	Page any
}

// navRights are the sections of the navigation the admin may see.
type navRights struct{ Clients, Users, Audit bool }

func (d *desk) view(nav string, page any) consoleView {
	return consoleView{Base: d.base, Console: d.base + consolePrefix, CSRF: d.csrf, User: d.user, Tenant: d.tenant,
		Nav: nav, Page: page, Can: navRights{
			Clients: d.actor.RequireSome(authz.ClientView) == nil,
			Users:   d.actor.RequireSome(authz.UsersManage) == nil,
			Audit:   d.actor.RequireSome(authz.AuditView) == nil,
		}}
}

// consoleFuncs are the helpers every console template may call.
func consoleFuncs() template.FuncMap {
	return template.FuncMap{
		"date":     func(t time.Time) string { return fmtDate(t) },
		"datetime": func(t time.Time) string { return fmtDateTime(t) },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"truncate": truncateID,
		"join":     strings.Join,
		"query":    func(v url.Values) template.URL { return template.URL(v.Encode()) },
		"fieldErr": func(fe map[string]string, name string) string { return fe[name] },
		"has":      func(set []string, v string) bool { return contains(set, v) },
	}
}

func contains(set []string, v string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// fmtDate and fmtDateTime are how the console shows times: in UTC, with
// the zone said, so every admin reads the same instant.
func fmtDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006")
}

func fmtDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// truncateID shortens a long identifier for a list: its start and end,
// enough to tell clients apart at a glance; the full one is a click away.
func truncateID(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:10] + "…" + id[len(id)-4:]
}

// consolePages are the console's templates, each parsed with the console
// layout: every file in templates/console but the layout is a page, named
// by its file name without .html.
func parseConsole(fsys fs.FS) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, "templates/console/*.html")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*template.Template, len(names))
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" {
			continue
		}
		t, err := parseWithLayout(fsys, template.New(name).Funcs(consoleFuncs()), "templates/console/layout.html", file)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	for _, need := range []string{"message"} {
		if out[need] == nil {
			return nil, fmt.Errorf("console: template %s is missing", need)
		}
	}
	return out, nil
}

// renderConsole writes a console page, rendered into a buffer first so a
// failing template becomes the 500 page rather than half a page.
func (p *Pages) renderConsole(w http.ResponseWriter, r *http.Request, status int, name string, v consoleView) {
	var buf bytes.Buffer
	t := p.consolePages[name]
	if t == nil {
		p.cfg.Logger.ErrorContext(r.Context(), "no console template", "page", name)
		http.Error(w, msgServerError.Text, http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "rendering a console page", "page", name, "err", err)
		buf.Reset()
		v.Page = msgServerError
		status = http.StatusInternalServerError
		if name == "message" || p.consolePages["message"].ExecuteTemplate(&buf, "layout", v) != nil {
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

// consoleMessage shows a message inside the console's frame.
func (p *Pages) consoleMessage(w http.ResponseWriter, r *http.Request, d *desk, status int, m messageView) {
	p.renderConsole(w, r, status, "message", d.view("", m))
}

var (
	msgConsoleForbidden = messageView{Heading: "You do not have access to this page",
		Text: "Your roles do not include the permission this page needs. Ask a super admin if you need it."}
	msgNoConsole = messageView{Heading: "You do not have access to the console",
		Text: "Your account holds no admin role. Ask a super admin if you need one.",
		Link: "/account/", LinkLabel: "Go to your account"}
	msgConsoleNotFound = messageView{Heading: "Not found",
		Text: "There is nothing here, or it is not yours to see."}
)

// fail answers a domain error on a page: field errors are the caller's
// to show on its form, so fail is for the rest — 403, 404, 409, 412 with
// the domain's own words, and anything unknown as the 500 page, logged.
// It uses the admin API's one table of domain errors.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, d *desk, err error) {
	prob, known := admin.Classify(err)
	switch {
	case p.unavailable(w, r, err):
		p.consoleMessage(w, r, d, http.StatusServiceUnavailable, msgUnavailable)
	case !known:
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelDebug
		}
		p.cfg.Logger.Log(r.Context(), level, "console page", "method", r.Method, "path", r.URL.Path, "err", err)
		p.consoleMessage(w, r, d, http.StatusInternalServerError, msgServerError)
	case prob.Status == http.StatusForbidden:
		m := msgConsoleForbidden
		m.Text = "You may not do this: " + prob.Message + "."
		p.consoleMessage(w, r, d, prob.Status, m)
	case prob.Status == http.StatusNotFound:
		p.consoleMessage(w, r, d, prob.Status, msgConsoleNotFound)
	default:
		p.consoleMessage(w, r, d, prob.Status, messageView{Heading: "This cannot be done", Text: upperFirst(prob.Message) + "."})
	}
}

// fieldErrors returns err's field errors keyed by field, or nil when err
// is not a validation error.
func fieldErrors(err error) map[string]string {
	fs := errs.Fields(err)
	if fs == nil {
		return nil
	}
	out := make(map[string]string, len(fs))
	for _, f := range fs {
		if _, dup := out[f.Field]; !dup {
			out[f.Field] = upperFirst(f.Message) + "."
		}
	}
	return out
}

func upperFirst(s string) string {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// isNotFound reports whether err says the record is not there (or not
// the actor's to see).
func isNotFound(err error) bool { return errors.Is(err, errs.ErrNotFound) }

// consoleURL is a console path under the desk's tenant, with a query.
func (d *desk) url(p string, q url.Values) string {
	u := d.base + consolePrefix + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}
