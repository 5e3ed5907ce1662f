package console

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// SecurityPath is the page where a user manages their second factors.
const SecurityPath = "/account/security"

//go:embed static/passkey.js
var passkeyJS []byte

// script serves the passkey script, the pages' only one. Like the
// stylesheet it is no secret and changes only with the binary.
func (p *Pages) script(w http.ResponseWriter, r *http.Request) {
	setHeaders(w.Header())
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(passkeyJS)
}

// securityView is the security page.
type securityView struct {
	Next string
	// Required says the tenant requires a second factor for the console
	// and this user has none yet.
	Required bool
	// Codes, when set, are new recovery codes, shown this once.
	Codes []string
	// TOTP is the enrolled authenticator app, if any; Setup the one
	// waiting for its first code.
	TOTP  *totpView
	Setup *setupView
	// Passkeys are the user's; Ceremony a registration begun.
	Passkeys          []passkeyView
	PasskeysAvailable bool
	Ceremony          *ceremonyView
	CeremonyName      string
	// RecoveryLeft counts unused recovery codes; Any says the user has a
	// second factor, without which there are no codes.
	RecoveryLeft int
	Any          bool
	// Notice says what was just done; Error what failed, in the form
	// named by ErrorFor.
	Notice, Error, ErrorFor string
	PasskeyName             string
}

// totpView is an enrolled authenticator app.
type totpView struct{ Since dateView }

// setupView is an authenticator app being set up.
type setupView struct {
	QR template.HTML
	// Secret is the seed in groups of four, for typing in.
	Secret string
}

// passkeyView is one passkey.
type passkeyView struct {
	ID, Name string
	Created  dateView
	LastUsed dateView
	Used     bool
}

// notices of the security page, by the done parameter that names them:
// only these texts can be shown, whatever a link says.
var securityNotices = map[string]string{
	"totp":            "Your authenticator app is set up.",
	"totp-removed":    "Your authenticator app was removed.",
	"passkey":         "Your passkey was added.",
	"passkey-removed": "The passkey was removed.",
}

// securityUser returns the signed-in user and session for the security
// page, to come back to next, as accountUser does.
func (p *Pages) securityUser(w http.ResponseWriter, r *http.Request, s *site, next string) (*account.User, *account.Session, bool) {
	if p.cfg.MFA == nil {
		p.message(w, r, s, http.StatusNotFound, msgNoTenant)
		return nil, nil, false
	}
	return p.accountUser(w, r, s, securityBack(s, next))
}

// securityBack is the security page, to go on to next when set: where a
// detour from it comes back to.
func securityBack(s *site, next string) string {
	if next == "" {
		return s.base + SecurityPath
	}
	return s.base + SecurityPath + "?" + nextParam + "=" + url.QueryEscape(next)
}

// accountUser returns the signed-in user and session for a page that
// changes how the user signs in (the security and password pages), back
// being that page, to come back to after a detour. Without a session it
// has sent the browser to sign in. A session of a user who may use the
// console is held to the console's idle limit here too: an admin's
// session the console would end must not change the admin's sign-in
// instead. A user who has a second factor this session did not prove is
// sent to prove it first, so that a session that is only a password's
// cannot change how they sign in. On refusal it has answered.
func (p *Pages) accountUser(w http.ResponseWriter, r *http.Request, s *site, back string) (*account.User, *account.Session, bool) {
	sess, u, err := p.session(r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return nil, nil, false
	}
	if u == nil {
		redirect(w, r, s.withFlow(authreq.LoginPath, "", back))
		return nil, nil, false
	}
	admin, err := p.consoleUser(r, u)
	if err != nil {
		p.serverError(w, r, s, err)
		return nil, nil, false
	}
	if admin && !p.keepActive(w, r, s, sess, back) {
		return nil, nil, false
	}
	if p.cfg.MFA != nil && !hasMethod(sess, account.MethodMFA) {
		has, err := p.cfg.MFA.HasFactor(r.Context(), u.ID)
		if err != nil {
			p.serverError(w, r, s, err)
			return nil, nil, false
		}
		if has {
			redirect(w, r, s.withFlow(MFAPath, "", back))
			return nil, nil, false
		}
	}
	return u, sess, true
}

// consoleUser reports whether u may use the console, when one is served.
func (p *Pages) consoleUser(r *http.Request, u *account.User) (bool, error) {
	if p.cfg.Admin == nil {
		return false, nil
	}
	actor, err := p.consoleActor(r.Context(), u, p.sourceAddr(r))
	if err != nil {
		return false, fmt.Errorf("console: the permissions of %s: %w", u.ID, err)
	}
	return mayUseConsole(actor), nil
}

// RecentSignIn is how long after signing in a session may take a second
// factor away or replace the recovery codes: past it, the user signs in
// again first, so a session left open or stolen cannot strip the account
// of its second factor.
const RecentSignIn = 15 * time.Minute

// needsRecentSignIn reports whether action takes away or replaces a way
// of proving who the user is: removing a passkey or the enrolled
// authenticator app, or making new recovery codes. Cancelling a setup
// that was never confirmed takes nothing away.
func (p *Pages) needsRecentSignIn(ctx context.Context, u *account.User, action string) (bool, error) {
	switch action {
	case "passkey-remove", "codes-regenerate":
		return true, nil
	case "totp-remove":
		f, err := p.cfg.MFA.Factors(ctx, u.ID)
		if err != nil {
			return false, err
		}
		return f.TOTP.Active(), nil
	}
	return false, nil
}

// msgSignInAgain answers an action that needs a recent sign-in on a
// session that began too long ago.
var msgSignInAgain = messageView{Heading: "Sign in again to go on",
	Text: fmt.Sprintf("Removing a second factor or making new recovery codes needs a sign-in less than %d minutes old. "+
		"You were signed out of this browser: sign in again, then try once more.", int(RecentSignIn/time.Minute)),
	LinkLabel: "Sign in again"}

// askSignIn ends the session and says why, with a link to sign in again
// and come back to the security page. The session must end: the sign-in
// page sends a browser still signed in straight on, without a new
// sign-in.
func (p *Pages) askSignIn(w http.ResponseWriter, r *http.Request, s *site, next string) {
	if err := p.endSession(w, r, s); err != nil {
		p.serverError(w, r, s, err)
		return
	}
	m := msgSignInAgain
	m.Link = authreq.LoginPath + "?" + url.Values{nextParam: {securityBack(s, next)}}.Encode()
	p.message(w, r, s, http.StatusForbidden, m)
}

// securityForm shows the user's second factors and what can be done with
// them.
func (p *Pages) securityForm(w http.ResponseWriter, r *http.Request, s *site) {
	next := s.localNext(r.URL.Query().Get(nextParam))
	u, sess, ok := p.securityUser(w, r, s, next)
	if !ok {
		return
	}
	v := securityView{Next: next, Notice: securityNotices[r.URL.Query().Get("done")]}
	p.showSecurity(w, r, s, u, sess, http.StatusOK, v)
}

// showSecurity fills in the user's factors and renders the page.
func (p *Pages) showSecurity(w http.ResponseWriter, r *http.Request, s *site, u *account.User, sess *account.Session, status int, v securityView) {
	ctx := r.Context()
	f, err := p.cfg.MFA.Factors(ctx, u.ID)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	v.Any, v.RecoveryLeft = f.Any(), f.RecoveryCodesLeft
	if f.TOTP.Active() {
		v.TOTP = &totpView{Since: dateOf(f.TOTP.ConfirmedAt)}
	} else if f.TOTP != nil {
		setup, err := p.cfg.MFA.PendingTOTP(ctx, u, totpIssuer(s))
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		if setup != nil {
			qr, err := qrSVG(setup.URI)
			if err != nil {
				p.serverError(w, r, s, err)
				return
			}
			v.Setup = &setupView{QR: qr, Secret: grouped(setup.Secret, 4)}
		}
	}
	for _, pk := range f.Passkeys {
		v.Passkeys = append(v.Passkeys, passkeyView{ID: pk.ID, Name: pk.Name, Created: dateOf(pk.CreatedAt),
			LastUsed: dateOf(pk.LastUsedAt), Used: !pk.LastUsedAt.IsZero()})
	}
	v.PasskeysAvailable = p.cfg.MFA.PasskeysAvailable(s.relyingParty())
	if !v.Any && v.Codes == nil {
		step, err := p.cfg.MFA.ConsoleStep(ctx, u, sess)
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		v.Required = step == account.StepEnrol
	}
	p.form(w, r, s, status, "security", view{User: u, Page: v})
}

// totpIssuer names the service in a user's authenticator app: Latchkey,
// and the tenant when it is not the default one.
func totpIssuer(s *site) string {
	if s.tenant.Slug != "" && !s.tenant.Default {
		return "Latchkey " + s.tenant.Slug
	}
	return "Latchkey"
}

// grouped is s in groups of n, for reading.
func grouped(s string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%n == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// security carries out one action on the user's second factors, named by
// the form's "action".
func (p *Pages) security(w http.ResponseWriter, r *http.Request, s *site) {
	if !p.guard(w, r, s) {
		return
	}
	next := s.localNext(r.PostForm.Get(nextParam))
	u, sess, ok := p.securityUser(w, r, s, next)
	if !ok {
		return
	}
	ctx := r.Context()
	action := r.PostForm.Get("action")
	if needs, err := p.needsRecentSignIn(ctx, u, action); err != nil {
		p.serverError(w, r, s, err)
		return
	} else if needs && !p.cfg.Sessions.SignedInWithin(sess, RecentSignIn) {
		p.askSignIn(w, r, s, next)
		return
	}
	addr := p.sourceAddr(r)
	v := securityView{Next: next}
	done := func(what string) {
		to := s.issuer + SecurityPath + "?done=" + what
		if next != "" {
			to += "&" + nextParam + "=" + url.QueryEscape(next)
		}
		redirect(w, r, to)
	}
	// enrolled finishes an enrolment of the factor (what names it in the
	// page's notices): the session is marked as having proved it. A first
	// factor (the one that brought recovery codes) ends the user's other
	// sessions, all begun on the password alone, and its codes are shown,
	// once.
	enrolled := func(method, what string, codes []string) {
		if err := p.cfg.Sessions.AddMethods(ctx, sess, method, account.MethodMFA); err != nil {
			p.serverError(w, r, s, err)
			return
		}
		if codes == nil {
			done(what)
			return
		}
		if err := p.cfg.Sessions.EndOthers(ctx, sess); err != nil {
			p.serverError(w, r, s, err)
			return
		}
		v.Codes, v.Notice = codes, securityNotices[what]
		p.showSecurity(w, r, s, u, sess, http.StatusOK, v)
	}
	switch action {
	case "totp-begin":
		_, err := p.cfg.MFA.BeginTOTP(ctx, u, totpIssuer(s))
		if err != nil && !errors.Is(err, account.ErrFactorExists) {
			p.serverError(w, r, s, err)
			return
		}
		redirect(w, r, s.withFlow(SecurityPath, "", next))
	case "totp-confirm":
		codes, err := p.cfg.MFA.ConfirmTOTP(ctx, u, trimCode(r.PostForm.Get("code")), addr)
		switch {
		case errors.Is(err, account.ErrBadCode):
			v.Error, v.ErrorFor = msgWrongCode, "totp"
			p.showSecurity(w, r, s, u, sess, http.StatusBadRequest, v)
			return
		case errors.Is(err, account.ErrNoFactor), errors.Is(err, account.ErrFactorExists):
			redirect(w, r, s.withFlow(SecurityPath, "", next)) // another tab got there first
			return
		case err != nil:
			p.serverError(w, r, s, err)
			return
		}
		enrolled(account.MethodOTP, "totp", codes)
	case "totp-remove":
		if err := p.cfg.MFA.RemoveTOTP(ctx, u, addr); err != nil && !errors.Is(err, account.ErrNoFactor) {
			p.serverError(w, r, s, err)
			return
		}
		done("totp-removed")
	case "codes-regenerate":
		codes, err := p.cfg.MFA.RegenerateRecoveryCodes(ctx, u, addr)
		if errors.Is(err, account.ErrNoFactor) {
			redirect(w, r, s.withFlow(SecurityPath, "", next))
			return
		}
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		v.Codes = codes
		p.showSecurity(w, r, s, u, sess, http.StatusOK, v)
	case "passkey-begin":
		rp := s.relyingParty()
		c, err := p.cfg.MFA.BeginPasskey(ctx, rp, u, r.PostForm.Get("name"))
		if fs := errs.Fields(err); fs != nil {
			v.Error, v.ErrorFor, v.PasskeyName = "The name "+fs[0].Message+".", "passkey", r.PostForm.Get("name")
			p.showSecurity(w, r, s, u, sess, http.StatusBadRequest, v)
			return
		}
		if errors.Is(err, account.ErrPasskeysUnavailable) {
			p.message(w, r, s, http.StatusBadRequest, msgBadForm)
			return
		}
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		p.setShortCookie(w, s, PasskeyCookie(s.tenant.ID, s.secure), c.Handle, c.ExpiresAt)
		v.Ceremony, v.CeremonyName = &ceremonyView{Options: string(c.Options)}, strings.TrimSpace(r.PostForm.Get("name"))
		p.showSecurity(w, r, s, u, sess, http.StatusOK, v)
	case "passkey-finish":
		handle := cookieValue(r, PasskeyCookie(s.tenant.ID, s.secure))
		clearCookie(w, s, PasskeyCookie(s.tenant.ID, s.secure))
		credential := r.PostForm.Get("credential")
		if len(credential) > maxCredential {
			credential = ""
		}
		_, codes, err := p.cfg.MFA.FinishPasskey(ctx, s.relyingParty(), u, handle, []byte(credential), addr)
		if errors.Is(err, account.ErrPasskeyRefused) || errs.Fields(err) != nil {
			p.cfg.Logger.InfoContext(ctx, "passkey registration refused", "tenant", s.tenant.ID, "user", u.ID, "err", err)
			v.Error, v.ErrorFor = "The passkey could not be added. Try again.", "passkey"
			p.showSecurity(w, r, s, u, sess, http.StatusBadRequest, v)
			return
		}
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		enrolled(account.MethodHardKey, "passkey", codes)
	case "passkey-remove":
		id := r.PostForm.Get("id")
		if id == "" || len(id) > 1400 {
			p.message(w, r, s, http.StatusBadRequest, msgBadForm)
			return
		}
		if err := p.cfg.MFA.RemovePasskey(ctx, u, id, addr); err != nil && !errors.Is(err, account.ErrNotFound) {
			p.serverError(w, r, s, err)
			return
		}
		done("passkey-removed")
	default:
		p.message(w, r, s, http.StatusBadRequest, msgBadForm)
	}
}

// qrSVG draws the QR code of text as inline SVG: one square per dark
// module, runs along a row merged into one rect, on a white ground with
// the quiet zone around it. Drawn here, it needs no image the CSP would
// have to allow.
func qrSVG(text string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("console: a QR code: %w", err)
	}
	bits := q.Bitmap()
	n := len(bits)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 %d %d" width="%d" height="%d" `+
		`role="img" aria-label="QR code for your authenticator app" shape-rendering="crispEdges">`, n, n, n*5, n*5)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`, n, n)
	for y, row := range bits {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="1" fill="#000000"/>`, start, y, x-start)
		}
	}
	b.WriteString(`</svg>`)
	// Only numbers and fixed text were written: nothing of text itself.
	return template.HTML(b.String()), nil
}
