package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// loginView is the sign-in page.
type loginView struct {
	// Req is the sealed authorization request the sign-in continues, if any.
	Req string
	// Next is the local page to continue to after signing in (the
	// console sends its visitors here with it), if any.
	Next  string
	Email string
	// Error, when set, is announced and tied to both fields.
	Error string
	// Notice, when set, says why the browser was sent to sign in (the
	// console ended an idle session).
	Notice string
}

// msgBadCredentials is the one answer to a failed sign-in, whatever failed.
const msgBadCredentials = "The email or password is not right."

// loginForm shows the sign-in form, the email filled in from the
// request's login_hint. Without an authorization request, a browser
// already signed in goes to its applications instead.
func (p *Pages) loginForm(w http.ResponseWriter, r *http.Request, s *site) {
	v := loginView{Req: r.URL.Query().Get(authreq.Param), Next: s.localNext(r.URL.Query().Get(nextParam))}
	if r.URL.Query().Get(reasonParam) == reasonIdle {
		v.Notice = idleNotice(p.consoleIdle())
	}
	if v.Req != "" {
		req, ok := p.openRequest(w, r, s, v.Req)
		if !ok {
			return
		}
		v.Email = req.LoginHint
	} else {
		_, u, err := p.session(r, s)
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		if u != nil {
			redirect(w, r, s.afterSignIn(v.Next))
			return
		}
	}
	p.form(w, r, s, http.StatusOK, "login", view{Page: v})
}

// login checks a sign-in. Failures are counted per account and per
// source address; past either limit the password is not checked at all.
// On success the browser's previous session, if any, ends and a new one
// starts (a session ID never survives a sign-in), and the browser goes
// back to the authorization request or to its applications; a user with
// a second factor gets a pending sign-in instead, and the second-factor
// page (mfa.go), which starts the session. Sign-ins
// are audited: a success with its session, each checked failure as an
// event of its own, and those the limits refused counted per address and
// minute (Config.Refused).
func (p *Pages) login(w http.ResponseWriter, r *http.Request, s *site) {
	if !p.guard(w, r, s) {
		return
	}
	v := loginView{Req: r.PostForm.Get(authreq.Param), Next: s.localNext(r.PostForm.Get(nextParam)),
		Email: strings.TrimSpace(r.PostForm.Get("email"))}
	if v.Req != "" {
		if _, ok := p.openRequest(w, r, s, v.Req); !ok {
			return
		}
	}
	if len(v.Email) > account.MaxEmailLen {
		v.Email = v.Email[:account.MaxEmailLen] // shown back and counted, never found
	}
	password := r.PostForm.Get("password")
	if v.Email == "" || password == "" {
		v.Error = "Enter your email and your password."
		p.form(w, r, s, http.StatusBadRequest, "login", view{Page: v})
		return
	}

	addr := p.sourceAddr(r)
	lim, wait := p.attempt(s, v.Email, addr)
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		v.Error = "Too many failed sign-ins. Wait " + waitText(wait) + ", then try again."
		p.form(w, r, s, http.StatusTooManyRequests, "login", view{Page: v})
		return
	}

	u, err := p.cfg.Sessions.CheckPassword(r.Context(), s.tenant.ID, v.Email, password)
	if errors.Is(err, account.ErrBadCredentials) {
		p.auditFailure(r, s, v.Email, addr, err)
		if wait := lim.failed(r.Context()); wait > 0 {
			// Other instances had seen the rest of the failures.
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			v.Error = "Too many failed sign-ins. Wait " + waitText(wait) + ", then try again."
			p.form(w, r, s, http.StatusTooManyRequests, "login", view{Page: v})
			return
		}
		v.Error = msgBadCredentials
		p.form(w, r, s, http.StatusBadRequest, "login", view{Page: v})
		return
	}
	// From here on nothing the user typed failed: take the attempt back.
	lim.refund()
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	if p.cfg.MFA != nil {
		// A user with a second factor gets no session yet: a pending
		// sign-in, which the second-factor page alone reads.
		has, err := p.cfg.MFA.HasFactor(r.Context(), u.ID)
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		if has {
			p.startPending(w, r, s, u, v.Req, v.Next)
			return
		}
	}
	value, sess, err := p.cfg.Sessions.Start(r.Context(), u, cookieValue(r, SessionCookie(s.tenant.ID, s.secure)), addr)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	p.setSession(w, s, value, sess.ExpiresAt)
	if v.Req != "" {
		redirect(w, r, s.withReq(authreq.ResumePath, v.Req))
		return
	}
	redirect(w, r, s.afterSignIn(v.Next))
}

// afterSignIn is where a sign-in without an authorization request goes:
// the local page it was asked to continue to, else the user's
// applications.
func (s *site) afterSignIn(next string) string {
	if next != "" {
		return s.origin + next
	}
	return s.issuer + authreq.AppsPath
}

// auditFailure records a failed sign-in. A failure to record it is
// logged, and the answer stays the one every failure gets.
func (p *Pages) auditFailure(r *http.Request, s *site, email, addr string, err error) {
	var fail *account.LoginFailure
	if !errors.As(err, &fail) {
		return
	}
	if err := p.cfg.Sessions.LoginFailed(r.Context(), s.tenant.ID, email, addr, fail); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "auditing a failed sign-in", "tenant", s.tenant.ID, "err", err)
	}
}

// countRefused counts a sign-in the limits refused, for the audit trail:
// one event per tenant and source address (as the address limit counts
// it: an IPv6 address by its /64) and minute, however many arrive.
func (p *Pages) countRefused(s *site, addr, addrKey string) {
	if p.cfg.Refused == nil {
		return
	}
	p.cfg.Refused.Add(audit.TallyKey{TenantID: s.tenant.ID, Action: account.ActionLoginFailed, TargetType: "user",
		Reason: string(account.FailRateLimited), SourceAddr: strings.TrimPrefix(addrKey, "addr:")}, addr)
}

// waitText says a wait of secs seconds in words, rounded up to minutes
// past one.
func waitText(secs int) string {
	switch {
	case secs <= 1:
		return "a second"
	case secs < 60:
		return fmt.Sprintf("%d seconds", secs)
	case secs <= 60:
		return "a minute"
	default:
		return fmt.Sprintf("%d minutes", (secs+59)/60)
	}
}
