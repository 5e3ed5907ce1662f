package console

import (
	"net/http"
	"net/url"
	"strings"
)

// gate lets a console request through only for a signed-in admin: a
// browser without a session goes to the sign-in page, which brings it
// back to the page it asked for; a user who holds no console permission
// is told so. On refusal it has answered.
func (p *Pages) gate(w http.ResponseWriter, r *http.Request, s *site) (*desk, bool) {
	sess, u, err := p.session(r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return nil, false
	}
	if u == nil {
		p.toLogin(w, r, s)
		return nil, false
	}
	actor, err := p.consoleActor(r.Context(), u, p.sourceAddr(r))
	if err != nil {
		p.serverError(w, r, s, err)
		return nil, false
	}
	d := &desk{site: s, sess: sess, user: u, actor: actor}
	if !mayUseConsole(actor) {
		p.consoleMessage(w, r, d, http.StatusForbidden, msgNoConsole)
		return nil, false
	}
	return d, true
}

// toLogin sends the browser to the sign-in page, to come back to the
// console page it asked for (a GET's own path; after a POST, the page the
// form was on is not known, so the console's start).
func (p *Pages) toLogin(w http.ResponseWriter, r *http.Request, s *site) {
	next := s.base + consolePrefix + "/"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		next = r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
	}
	redirect(w, r, s.issuer+"/account/login?"+url.Values{nextParam: {next}}.Encode())
}

// nextParam is the sign-in page's parameter naming where to go after.
const nextParam = "next"

// localNext returns next when it is a path the sign-in may continue to:
// under the tenant's base, in the console or the account pages, and
// nothing that a browser could read as another origin. Anything else is
// "".
func (s *site) localNext(next string) string {
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(u.Path, s.base)
	if !ok || !(strings.HasPrefix(rest, consolePrefix+"/") || rest == consolePrefix ||
		strings.HasPrefix(rest, "/account/")) {
		return ""
	}
	if strings.Contains(rest, "/../") || strings.HasSuffix(rest, "/..") {
		return ""
	}
	return next
}
