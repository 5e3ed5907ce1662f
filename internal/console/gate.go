package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// gate lets a console request through only for a signed-in admin: a
// browser without a session goes to the sign-in page, which brings it
// back to the page it asked for; a session idle longer than
// Config.ConsoleIdle ends there, and the sign-in page says why; a user
// whose password someone else chose changes it first, then proves a
// second factor when the tenant requires one; a user who holds no
// console permission is told so. A request let through counts as the
// session's activity (Sessions.Touch). On refusal it has answered.
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
	if !p.keepActive(w, r, s, sess, s.returnPath(r)) {
		return nil, false
	}
	if u.PasswordChangeRequired {
		redirect(w, r, s.issuer+PasswordPath+"?"+url.Values{nextParam: {s.returnPath(r)}}.Encode())
		return nil, false
	}
	// A second factor the tenant requires of admins comes next (mfa.go).
	if to, err := p.mfaRequired(r.Context(), s, u, sess, s.returnPath(r)); err != nil {
		p.serverError(w, r, s, err)
		return nil, false
	} else if to != "" {
		redirect(w, r, to)
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

// keepActive holds sess to the console's idle limit: a session idle
// longer than Config.ConsoleIdle ends, and the browser goes to sign in
// again, to come back to next, the sign-in page saying why; any other
// counts this request as its activity (Sessions.Touch). On refusal it
// has answered.
func (p *Pages) keepActive(w http.ResponseWriter, r *http.Request, s *site, sess *account.Session, next string) bool {
	if p.cfg.Sessions.Idle(sess, p.consoleIdle()) {
		if err := p.endSession(w, r, s); err != nil {
			p.serverError(w, r, s, err)
			return false
		}
		redirect(w, r, s.issuer+authreq.LoginPath+"?"+url.Values{nextParam: {next}, reasonParam: {reasonIdle}}.Encode())
		return false
	}
	if err := p.cfg.Sessions.Touch(r.Context(), sess); err != nil {
		p.serverError(w, r, s, err)
		return false
	}
	return true
}

// toLogin sends the browser to the sign-in page, to come back to the
// console page it asked for (a GET's own path; after a POST, the page the
// form was on is not known, so the console's start).
func (p *Pages) toLogin(w http.ResponseWriter, r *http.Request, s *site) {
	redirect(w, r, s.issuer+authreq.LoginPath+"?"+url.Values{nextParam: {s.returnPath(r)}}.Encode())
}

// returnPath is the console page to come back to after a detour (the
// sign-in, a password change): a GET's own path and query; after a POST,
// the page the form was on is not known, so the console's start.
func (s *site) returnPath(r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return s.base + consolePrefix + "/"
	}
	next := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		next += "?" + r.URL.RawQuery
	}
	return next
}

// The sign-in page's parameter saying why the browser was sent there:
// reasonIdle when the console ended an idle session.
const (
	reasonParam = "reason"
	reasonIdle  = "idle"
)

// DefaultConsoleIdle is how long a console session may go without a
// request before it ends, when Config.ConsoleIdle is zero: seed Genesys's
// HIPAA requirement.
const DefaultConsoleIdle = 15 * time.Minute

// MinConsoleIdle is the shortest idle limit New accepts: a session's
// activity is recorded to within account.TouchEvery, so a shorter limit
// could end a session in use.
const MinConsoleIdle = 2 * account.TouchEvery

// consoleIdle is the console's idle limit.
func (p *Pages) consoleIdle() time.Duration {
	if p.cfg.ConsoleIdle == 0 {
		return DefaultConsoleIdle
	}
	return p.cfg.ConsoleIdle
}

// idleNotice is what the sign-in page says after the console ended an
// idle session.
func idleNotice(limit time.Duration) string {
	mins := int((limit + time.Minute - 1) / time.Minute)
	unit := "minutes"
	if mins == 1 {
		unit = "minute"
	}
	return fmt.Sprintf("You were signed out after %d %s without activity.", mins, unit)
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
