package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// PasswordPath is the page where a signed-in user changes their own
// password; the console sends a user whose password someone else chose
// here first (User.PasswordChangeRequired).
const PasswordPath = "/account/password"

// The password form's fields.
const (
	fieldCurrent = "current_password"
	fieldNew     = "new_password"
	fieldConfirm = "confirm_password"
)

// passwordView is the password page.
type passwordView struct {
	// Next is the local page to continue to after the change, if any.
	Next string
	// Required says the user must choose their own password before going
	// on: someone else chose the one they have.
	Required bool
	// Errors are the field errors, by field name; a password typed is
	// never shown back.
	Errors map[string]string
	// Error, when set, is the form's own error (too many tries, a change
	// made meanwhile).
	Error string
	// MinLen is the shortest password accepted, for the hint.
	MinLen int
}

// passwordUser returns the signed-in user and session for the password
// page, to come back to next, as accountUser does: a session that has not
// proved the user's second factor proves it first, since a change of
// password ends every other session of the user. On refusal it has
// answered and returns nils.
func (p *Pages) passwordUser(w http.ResponseWriter, r *http.Request, s *site, next string) (*account.Session, *account.User) {
	back := s.base + PasswordPath
	if next != "" {
		back += "?" + url.Values{nextParam: {next}}.Encode()
	}
	u, sess, ok := p.accountUser(w, r, s, back)
	if !ok {
		return nil, nil
	}
	return sess, u
}

// passwordForm shows the form to change one's password.
func (p *Pages) passwordForm(w http.ResponseWriter, r *http.Request, s *site) {
	next := s.localNext(r.URL.Query().Get(nextParam))
	_, u := p.passwordUser(w, r, s, next)
	if u == nil {
		return
	}
	p.form(w, r, s, http.StatusOK, "password", view{User: u, Page: passwordView{Next: next,
		Required: u.PasswordChangeRequired, MinLen: account.MinPasswordLen}})
}

// changePassword changes the signed-in user's password (see
// account.Users.ChangeOwnPassword): the browser that changed it stays
// signed in, every other session of the user ends. A wrong current
// password counts as a failed sign-in of the account from the address,
// against the sign-in's own limits, so this form is no way around them.
// On success the browser goes on to the local page it was sent from, or
// the console's start.
func (p *Pages) changePassword(w http.ResponseWriter, r *http.Request, s *site) {
	if !p.guard(w, r, s) {
		return
	}
	next := s.localNext(r.PostForm.Get(nextParam))
	sess, u := p.passwordUser(w, r, s, next)
	if u == nil {
		return
	}
	v := passwordView{Next: next, Required: u.PasswordChangeRequired, Errors: map[string]string{}, MinLen: account.MinPasswordLen}
	current, fresh, confirm := r.PostForm.Get(fieldCurrent), r.PostForm.Get(fieldNew), r.PostForm.Get(fieldConfirm)
	if current == "" {
		v.Errors[fieldCurrent] = "Enter your current password."
	}
	switch msg := account.CheckPassword(fresh); {
	case fresh == "":
		v.Errors[fieldNew] = "Enter a new password."
	case msg != "":
		v.Errors[fieldNew] = "The new password " + msg + "."
	}
	if fresh != "" && confirm != fresh {
		v.Errors[fieldConfirm] = "The two new passwords differ: type the same one twice."
	}
	if len(v.Errors) > 0 {
		p.form(w, r, s, http.StatusBadRequest, "password", view{User: u, Page: v})
		return
	}

	lim, wait := p.attempt(s, u.Email, p.sourceAddr(r))
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		v.Error = "Too many wrong passwords. Wait " + waitText(wait) + ", then try again."
		p.form(w, r, s, http.StatusTooManyRequests, "password", view{User: u, Page: v})
		return
	}
	err := p.passwordUsers().ChangeOwnPassword(r.Context(), u, sess, p.sourceAddr(r), current, fresh)
	if fields := errs.Fields(err); len(fields) > 0 {
		wrongCurrent := false
		for _, f := range fields {
			switch f.Field {
			case fieldCurrent:
				wrongCurrent = true
				v.Errors[fieldCurrent] = "This is not your current password."
			case fieldNew:
				v.Errors[fieldNew] = "The new password " + f.Message + "."
			}
		}
		if !wrongCurrent {
			lim.refund() // the password typed was right
		} else if wait := lim.failed(r.Context()); wait > 0 {
			// Other instances had seen the rest of the failures.
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			v.Error = "Too many wrong passwords. Wait " + waitText(wait) + ", then try again."
			p.form(w, r, s, http.StatusTooManyRequests, "password", view{User: u, Page: v})
			return
		}
		p.form(w, r, s, http.StatusBadRequest, "password", view{User: u, Page: v})
		return
	}
	lim.refund() // the current password was right, or never checked
	switch {
	case errors.Is(err, account.ErrPasswordChanged):
		v.Error = "Your password was changed while you typed. Enter the current one again."
		p.form(w, r, s, http.StatusConflict, "password", view{User: u, Page: v})
	case errors.Is(err, account.ErrNotFound):
		// The user was disabled or removed meanwhile: no session is theirs.
		redirect(w, r, s.issuer+authreq.LoginPath)
	case err != nil:
		p.serverError(w, r, s, err)
	default:
		redirect(w, r, s.afterPasswordChange(next, p.cfg.Admin != nil))
	}
}

// afterPasswordChange is where a password change goes on to: the local
// page it was sent from, else the console's start (the account's
// applications when no console is served).
func (s *site) afterPasswordChange(next string, console bool) string {
	switch {
	case next != "":
		return s.origin + next
	case console:
		return s.issuer + consolePrefix + "/"
	}
	return s.issuer + authreq.AppsPath
}

// passwordUsers is the user service that changes passwords: the console's
// when it is served, else one over the pages' repository with the
// default hash cost.
func (p *Pages) passwordUsers() *account.Users {
	if p.cfg.Admin != nil && p.cfg.Admin.Users != nil {
		return p.cfg.Admin.Users
	}
	p.own.once.Do(func() { p.own.users = &account.Users{Repo: p.cfg.Accounts, Now: p.cfg.Now} })
	return p.own.users
}

// ownUsers is the user service of passwordUsers when no console is
// served: one for the pages, so its bound on hashes at once holds.
type ownUsers struct {
	once  sync.Once
	users *account.Users
}
