package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

// MFAPath is the page of a sign-in's second factor.
const MFAPath = "/account/mfa"

// PendingCookie names the cookie holding a tenant's pending sign-in: a
// password proved, the second factor not yet. It is sealed, HttpOnly and
// lives PendingLifetime; it is no session, and only the second-factor
// page reads it.
func PendingCookie(tenantID string, secure bool) string {
	if secure {
		return "__Host-latchkey-mfa-" + tenantID
	}
	return "latchkey-mfa-" + tenantID
}

// PasskeyCookie names the cookie holding the handle of a tenant's passkey
// ceremony; the challenge itself stays on the server, used at most once.
func PasskeyCookie(tenantID string, secure bool) string {
	if secure {
		return "__Host-latchkey-passkey-" + tenantID
	}
	return "latchkey-passkey-" + tenantID
}

// maxPendingCookie bounds a pending sign-in worth opening.
const maxPendingCookie = 1024

// setShortCookie gives the browser a cookie of the pages' that lives
// until expires; SameSite=Strict, as only the pages' own forms send it.
func (p *Pages) setShortCookie(w http.ResponseWriter, s *site, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: max(1, int(expires.Sub(p.now())/time.Second)),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// clearCookie tells the browser to forget a cookie of the pages'.
func clearCookie(w http.ResponseWriter, s *site, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode})
}

// relyingParty is the WebAuthn relying party of a site: its issuer's host
// and origin.
func (s *site) relyingParty() account.RelyingParty {
	host := ""
	if u, err := url.Parse(s.issuer); err == nil {
		host = u.Hostname()
	}
	return account.RelyingParty{ID: host, Origin: s.origin, Name: "Latchkey"}
}

// withFlow is path (under the issuer) with the sealed request and the
// next page a sign-in carries along, those that are set.
func (s *site) withFlow(path, req, next string) string {
	q := url.Values{}
	if req != "" {
		q.Set(authreq.Param, req)
	}
	if next != "" {
		q.Set(nextParam, next)
	}
	if len(q) == 0 {
		return s.issuer + path
	}
	return s.issuer + path + "?" + q.Encode()
}

// startPending answers a right password of a user with a second factor:
// no session yet, but a pending sign-in, and the second-factor page.
func (p *Pages) startPending(w http.ResponseWriter, r *http.Request, s *site, u *account.User, req, next string) {
	value, pending, err := p.cfg.MFA.SealPending(u, []string{account.MethodPassword})
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	p.setShortCookie(w, s, PendingCookie(s.tenant.ID, s.secure), value, pending.ExpiresAt)
	redirect(w, r, s.withFlow(MFAPath, req, next))
}

// secondStep is who the second-factor page is for: a pending sign-in, or
// a signed-in session that has not proved the user's second factor (a
// step-up the console may ask for).
type secondStep struct {
	user    *account.User
	pending *account.PendingSignIn
	// sess is the session of a step-up; nil for a pending sign-in.
	sess *account.Session
}

// stepFor returns who the second-factor page is for, or nil when nobody:
// the pending sign-in is missing, expired or of a user since disabled,
// and there is no session that needs the step.
func (p *Pages) stepFor(r *http.Request, s *site) (*secondStep, error) {
	ctx := r.Context()
	if c, err := r.Cookie(PendingCookie(s.tenant.ID, s.secure)); err == nil && len(c.Value) <= maxPendingCookie {
		pending, err := p.cfg.MFA.OpenPending(s.tenant.ID, c.Value)
		switch {
		case errors.Is(err, account.ErrPendingInvalid):
		case err != nil:
			return nil, err
		default:
			u, err := p.cfg.Accounts.User(ctx, pending.UserID)
			if errors.Is(err, account.ErrNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
			if u.Active() && u.TenantID == s.tenant.ID {
				return &secondStep{user: u, pending: pending}, nil
			}
		}
	}
	sess, u, err := p.session(r, s)
	if err != nil || u == nil || slices.Contains(sess.Methods, account.MethodMFA) {
		return nil, err
	}
	has, err := p.cfg.MFA.HasFactor(ctx, u.ID)
	if err != nil || !has {
		return nil, err
	}
	return &secondStep{user: u, sess: sess}, nil
}

// mfaView is the second-factor page.
type mfaView struct {
	Req, Next string
	// StepUp: the user is signed in, and asked again.
	StepUp bool
	TOTP   bool
	// Passkey holds the options of a passkey sign-in, when the user has a
	// passkey and the site can use one.
	Passkey *ceremonyView
	// Recovery: the user has recovery codes left.
	Recovery bool
	// Error, when set, is announced; Method is the form it belongs to.
	Error, Method string
	// codesWait, when positive, is the seconds until the user's codes are
	// checked again (MFACodeFailures): showMFA says so in Error.
	codesWait int
}

// ceremonyView is a passkey ceremony as a form carries it to the script.
type ceremonyView struct{ Options string }

// Messages of the second-factor page.
const (
	msgWrongCode     = "That code is not right. Check your authenticator app and try again."
	msgReplayedCode  = "That code was already used. Wait for the next one, then enter it."
	msgWrongRecovery = "That recovery code is not right, or it was already used."
	msgPasskeyFailed = "Your passkey was not accepted. Try again, or use another way."
	msgPendingGone   = "Your sign-in took too long. Enter your password again."
)

// mfaForm shows the second-factor page: the ways the user can prove it,
// each its own form. Nobody to ask goes to the sign-in page.
func (p *Pages) mfaForm(w http.ResponseWriter, r *http.Request, s *site) {
	q := r.URL.Query()
	v := mfaView{Req: q.Get(authreq.Param), Next: s.localNext(q.Get(nextParam))}
	if !p.mfaFlow(w, r, s, v.Req) {
		return
	}
	step, err := p.stepFor(r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	if step == nil {
		redirect(w, r, s.withFlow(authreq.LoginPath, v.Req, v.Next))
		return
	}
	p.showMFA(w, r, s, step, http.StatusOK, v)
}

// mfaFlow checks the sealed request a second-factor page carries, if
// any; on failure it has answered.
func (p *Pages) mfaFlow(w http.ResponseWriter, r *http.Request, s *site, req string) bool {
	if p.cfg.MFA == nil {
		p.message(w, r, s, http.StatusNotFound, msgNoTenant)
		return false
	}
	if req == "" {
		return true
	}
	_, ok := p.openRequest(w, r, s, req)
	return ok
}

// showMFA renders the second-factor page for step, beginning a passkey
// sign-in when the user has a passkey (a new challenge each time: one
// answer was used, right or wrong).
func (p *Pages) showMFA(w http.ResponseWriter, r *http.Request, s *site, step *secondStep, status int, v mfaView) {
	ctx := r.Context()
	f, err := p.cfg.MFA.Factors(ctx, step.user.ID)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	v.StepUp, v.TOTP, v.Recovery = step.sess != nil, f.TOTP.Active(), f.RecoveryCodesLeft > 0
	if rp := s.relyingParty(); len(f.Passkeys) > 0 && p.cfg.MFA.PasskeysAvailable(rp) {
		c, err := p.cfg.MFA.BeginPasskeySignIn(ctx, rp, step.user)
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		p.setShortCookie(w, s, PasskeyCookie(s.tenant.ID, s.secure), c.Handle, c.ExpiresAt)
		v.Passkey = &ceremonyView{Options: string(c.Options)}
	}
	if v.codesWait > 0 {
		v.Error = codesLockedText(v.codesWait, v.Passkey != nil)
	}
	var who *account.User
	if step.sess != nil {
		who = step.user
	}
	p.form(w, r, s, status, "mfa", view{User: who, Page: v})
}

// maxCredential bounds a passkey answer in a form.
const maxCredential = 16 << 10

// mfa checks a second factor: a code of the authenticator app, a
// recovery code, or a passkey's answer. Failures count against the
// sign-in limits of the account, as wrong passwords do, and are audited
// by the domain; wrong codes count against the user's own limit too
// (MFACodeFailures). On success the browser gets a new session, begun
// with every method proved, and its previous one ends: a pending sign-in
// becomes a session, and a step-up's session is replaced, so that a
// cookie copied before the second factor does not gain what it proved.
// Then it goes on to the authorization request, the page it was to
// continue to, or the applications.
func (p *Pages) mfa(w http.ResponseWriter, r *http.Request, s *site) {
	if !p.guard(w, r, s) {
		return
	}
	v := mfaView{Req: r.PostForm.Get(authreq.Param), Next: s.localNext(r.PostForm.Get(nextParam)),
		Method: r.PostForm.Get("method")}
	if !p.mfaFlow(w, r, s, v.Req) {
		return
	}
	ctx := r.Context()
	step, err := p.stepFor(r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	if step == nil {
		clearCookie(w, s, PendingCookie(s.tenant.ID, s.secure))
		p.form(w, r, s, http.StatusBadRequest, "login", view{Page: loginView{Req: v.Req, Next: v.Next, Error: msgPendingGone}})
		return
	}
	u, addr := step.user, p.sourceAddr(r)
	code := trimCode(r.PostForm.Get("code"))
	var method string
	var kind account.CodeKind // of a typed code; "" for a passkey
	switch v.Method {
	case "totp":
		method, kind = account.MethodOTP, account.CodeTOTP
	case "recovery":
		// A one-time code too: RFC 8176 has no value of its own for it.
		method, kind = account.MethodOTP, account.CodeRecovery
	case "passkey":
		method = account.MethodHardKey
	default:
		p.message(w, r, s, http.StatusBadRequest, msgBadForm)
		return
	}
	lim, wait := p.attempt(s, u.Email, addr)
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		v.Error = "Too many failed sign-ins. Wait " + waitText(wait) + ", then try again."
		p.showMFA(w, r, s, step, http.StatusTooManyRequests, v)
		return
	}
	codes, wait := p.codeAttempt(s, u, kind)
	if wait > 0 {
		// Counted against the sign-in limits as a failure, which bounds
		// the refusals, and their events, per address.
		if err := p.cfg.MFA.CodeRefused(ctx, u, kind, addr); err != nil {
			lim.refund()
			p.serverError(w, r, s, err)
			return
		}
		lim.failed(ctx)
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		v.codesWait = wait
		p.showMFA(w, r, s, step, http.StatusTooManyRequests, v)
		return
	}
	switch v.Method {
	case "totp":
		err = p.cfg.MFA.VerifyTOTP(ctx, u, code, addr)
	case "recovery":
		_, err = p.cfg.MFA.UseRecoveryCode(ctx, u, code, addr)
	case "passkey":
		handle := cookieValue(r, PasskeyCookie(s.tenant.ID, s.secure))
		clearCookie(w, s, PasskeyCookie(s.tenant.ID, s.secure))
		credential := r.PostForm.Get("credential")
		if len(credential) > maxCredential {
			credential = ""
		}
		err = p.cfg.MFA.FinishPasskeySignIn(ctx, s.relyingParty(), u, handle, []byte(credential), addr)
	}
	switch {
	case errors.Is(err, account.ErrBadCode) && v.Method == "recovery":
		v.Error = msgWrongRecovery
	case errors.Is(err, account.ErrBadCode):
		v.Error = msgWrongCode
	case errors.Is(err, account.ErrCodeReplayed):
		v.Error = msgReplayedCode
	case errors.Is(err, account.ErrPasskeyRefused):
		p.cfg.Logger.InfoContext(ctx, "passkey refused", "tenant", s.tenant.ID, "user", u.ID, "err", err)
		v.Error = msgPasskeyFailed
	case err != nil:
		lim.refund()
		codes.refund()
		p.serverError(w, r, s, err)
		return
	}
	if v.Error != "" {
		if wait := codes.failed(ctx); wait > 0 {
			lim.failed(ctx)
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			v.codesWait = wait
			p.showMFA(w, r, s, step, http.StatusTooManyRequests, v)
			return
		}
		if wait := lim.failed(ctx); wait > 0 {
			// Other instances had seen the rest of the failures.
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			v.Error = "Too many failed sign-ins. Wait " + waitText(wait) + ", then try again."
			p.showMFA(w, r, s, step, http.StatusTooManyRequests, v)
			return
		}
		p.showMFA(w, r, s, step, http.StatusBadRequest, v)
		return
	}
	lim.refund()
	codes.clear()
	if v.Method != "passkey" {
		clearCookie(w, s, PasskeyCookie(s.tenant.ID, s.secure)) // a ceremony offered and not used
	}
	if !p.startProved(w, r, s, step, method) {
		return
	}
	if v.Req != "" {
		redirect(w, r, s.withReq(authreq.ResumePath, v.Req))
		return
	}
	redirect(w, r, s.afterSignIn(v.Next))
}

// startProved begins the session of a second factor step proved with
// method: every method of the pending sign-in or the step-up's session,
// and this one, in a new session that replaces the browser's. On failure
// it has answered.
func (p *Pages) startProved(w http.ResponseWriter, r *http.Request, s *site, step *secondStep, method string) bool {
	var before []string
	if step.sess != nil {
		before = step.sess.Methods
	} else {
		before = step.pending.Methods
	}
	methods := append(slices.Clone(before), method, account.MethodMFA)
	previous := cookieValue(r, SessionCookie(s.tenant.ID, s.secure))
	value, sess, err := p.cfg.Sessions.StartWith(r.Context(), step.user, previous, p.sourceAddr(r), methods)
	if err != nil {
		p.serverError(w, r, s, err)
		return false
	}
	p.setSession(w, s, value, sess.ExpiresAt)
	clearCookie(w, s, PendingCookie(s.tenant.ID, s.secure))
	return true
}

// Limits of the wrong codes (of the authenticator app, or recovery
// codes) one user may enter, from every address together, on top of the
// sign-in limits: someone who knows the password but has not the second
// factor gets MFACodeFailures guesses per MFACodeWindow, well under the
// 100 consecutive failures NIST SP 800-63B §5.2.2 allows. A right code
// clears the count. Passkeys are not counted: nobody guesses one, so the
// user keeps theirs while an attacker has used up the codes.
const (
	MFACodeFailures = 10
	MFACodeWindow   = 24 * time.Hour
)

// codeLimit is one typed code counted against its user's limit of wrong
// codes. A passkey's has no key and counts nothing.
type codeLimit struct {
	p   *Pages
	now time.Time
	key string
}

// codeAttempt counts a code of kind entered for u against
// MFACodeFailures; kind "" (a passkey) counts nothing. wait > 0 means it
// is refused, and not counted, for wait seconds.
func (p *Pages) codeAttempt(s *site, u *account.User, kind account.CodeKind) (codeLimit, int) {
	if kind == "" {
		return codeLimit{}, 0
	}
	c := codeLimit{p: p, now: p.now(), key: "mfa-code:" + s.tenant.ID + ":" + u.ID}
	return c, p.wrongCodes.Attempt(c.now, c.key)
}

// refund takes the code back: it was not checked.
func (c codeLimit) refund() {
	if c.key != "" {
		c.p.wrongCodes.Refund(c.now, c.key)
	}
}

// failed counts the wrong code with every instance's (Limiter.Failed):
// a guess of six digits must not get a fresh allowance per instance. It
// returns the seconds to wait when the others had already used up the
// user's limit.
func (c codeLimit) failed(ctx context.Context) int {
	if c.key == "" {
		return 0
	}
	return c.p.wrongCodes.Failed(ctx, c.now, c.key)
}

// clear forgets the user's wrong codes: the right one came.
func (c codeLimit) clear() {
	if c.key != "" {
		c.p.wrongCodes.Reset(c.now, c.key)
	}
}

// codesLockedText is what the second-factor page says while the user's
// codes are refused, for wait more seconds.
func codesLockedText(wait int, passkey bool) string {
	if passkey {
		return "Too many wrong codes were entered for your account. Use your passkey, or wait " +
			longWaitText(wait) + " before entering a code again."
	}
	return "Too many wrong codes were entered for your account. Wait " + longWaitText(wait) +
		" before entering a code again."
}

// longWaitText is waitText for a wait that may last hours: past one, in
// whole hours, rounded up.
func longWaitText(secs int) string {
	if secs <= 3600 {
		return waitText(secs)
	}
	return fmt.Sprintf("%d hours", (secs+3599)/3600)
}

// limited is one counted sign-in attempt, to be taken back when nothing
// the user typed failed.
type limited struct {
	p                              *Pages
	now                            time.Time
	addrKey, fromHere, accountWide string
}

// attempt counts a sign-in attempt to the tenant's account of email from
// addr against every limit: per source address, per account and address,
// and per account. wait > 0 means it was refused (and counted for the
// audit trail), to be tried again after wait seconds; the attempt was
// then not counted against the limits it did not reach.
func (p *Pages) attempt(s *site, email, addr string) (limited, int) {
	now := p.now()
	accountKey := "login:" + s.tenant.ID + ":" + account.NormalizeEmail(email)
	addrKey := ratelimit.SourceKey(addr)
	l := limited{p: p, now: now, addrKey: addrKey, fromHere: accountKey + "@" + addrKey, accountWide: accountKey}
	wait := p.byAddr.Attempt(now, addrKey)
	if wait == 0 {
		if wait = p.byAccount.Attempt(now, l.fromHere); wait > 0 {
			p.byAddr.Refund(now, addrKey) // not tried: the account is locked here
		}
	}
	if wait == 0 {
		if wait = p.accountWide.Attempt(now, accountKey); wait > 0 {
			p.byAddr.Refund(now, addrKey)
			p.byAccount.Refund(now, l.fromHere)
		}
	}
	if wait > 0 {
		p.cfg.Logger.Info("sign-in refused: too many failures", "tenant", s.tenant.ID, "addr", addr)
		p.countRefused(s, addr, addrKey)
	}
	return l, wait
}

// failed counts the attempt's failure with every instance's (see
// ratelimit.Limiter.Failed) and returns the seconds to wait when the
// others had already used up a limit: the attempt is then to be answered
// as a refused one.
func (l limited) failed(ctx context.Context) int {
	return max(l.p.byAddr.Failed(ctx, l.now, l.addrKey),
		l.p.byAccount.Failed(ctx, l.now, l.fromHere),
		l.p.accountWide.Failed(ctx, l.now, l.accountWide))
}

// refund takes the attempt back from every limit.
func (l limited) refund() {
	l.p.byAddr.Refund(l.now, l.addrKey)
	l.p.byAccount.Refund(l.now, l.fromHere)
	l.p.accountWide.Refund(l.now, l.accountWide)
}

// mfaRequired says where the console must send a signed-in user before
// serving them, when their tenant requires a second factor of admins and
// the session has not proved one: to set one up (the security page),
// or, when they have one, to prove it (the second-factor page); "" when
// nowhere. next is the local page to come back to. After either, the
// browser's session holds "mfa", so no new sign-in is needed.
func (p *Pages) mfaRequired(ctx context.Context, s *site, u *account.User, sess *account.Session, next string) (string, error) {
	if p.cfg.MFA == nil {
		return "", nil
	}
	step, err := p.cfg.MFA.ConsoleStep(ctx, u, sess)
	if err != nil {
		return "", err
	}
	next = s.localNext(next)
	switch step {
	case account.StepEnrol:
		return s.withFlow(SecurityPath, "", next), nil
	case account.StepVerify:
		return s.withFlow(MFAPath, "", next), nil
	}
	return "", nil
}

// hasMethod reports whether sess proved method; a nil session proved
// nothing.
func hasMethod(sess *account.Session, method string) bool {
	return sess != nil && slices.Contains(sess.Methods, method)
}

// trimCode is a code as typed, bounded: no code is longer.
func trimCode(c string) string {
	c = strings.TrimSpace(c)
	if len(c) > 64 {
		return ""
	}
	return c
}
