package console

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// appsView is the "Authorized applications" page.
type appsView struct {
	Apps []appView
	// Notice, when set, says what was just done.
	Notice string
}

// appView is one application the user approved.
type appView struct {
	ClientID    string
	Name        string
	Description string
	Scopes      []string
	First, Last dateView
}

// dateView is a time as the pages show it: plainly, in UTC, and
// machine-readable for the <time> element.
type dateView struct{ Text, ISO string }

// dateOf is t as the pages show it.
func dateOf(t time.Time) dateView {
	t = t.UTC()
	return dateView{Text: t.Format("2 January 2006, 15:04 UTC"), ISO: t.Format(time.RFC3339)}
}

// revokedParam names, on the way back from a revocation, the client whose
// access was revoked.
const revokedParam = "revoked"

// signedIn returns the request's user; without one it has sent the
// browser to sign in (or answered an error) and returns nil.
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request, s *site) *account.User {
	_, u, err := p.session(r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return nil
	}
	if u == nil {
		redirect(w, r, s.issuer+authreq.LoginPath)
		return nil
	}
	return u
}

// index sends the browser to its applications, or to sign in.
func (p *Pages) index(w http.ResponseWriter, r *http.Request, s *site) {
	if u := p.signedIn(w, r, s); u != nil {
		redirect(w, r, s.issuer+authreq.AppsPath)
	}
}

// apps lists the applications the user approved, latest authorization
// first. Consents of clients deleted since are not shown.
func (p *Pages) apps(w http.ResponseWriter, r *http.Request, s *site) {
	u := p.signedIn(w, r, s)
	if u == nil {
		return
	}
	consents, err := p.cfg.Accounts.Consents(r.Context(), u.ID)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	var v appsView
	for _, c := range consents {
		cl, err := p.appClient(r.Context(), s, c.ClientID)
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		if cl == nil {
			continue
		}
		v.Apps = append(v.Apps, appView{ClientID: cl.ID, Name: cl.Name, Description: cl.Description,
			Scopes: scopeTexts(c.Scopes), First: dateOf(c.FirstAt), Last: dateOf(c.LastAt)})
	}
	if id := r.URL.Query().Get(revokedParam); id != "" {
		// The notice is believed only when true: the client exists and the
		// user no longer authorizes it, so a crafted link cannot claim a
		// revocation that did not happen.
		listed := false
		for _, a := range v.Apps {
			listed = listed || a.ClientID == id
		}
		cl, err := p.appClient(r.Context(), s, id)
		if err != nil {
			p.serverError(w, r, s, err)
			return
		}
		if cl != nil && !listed {
			v.Notice = "Access for " + cl.Name + " was revoked."
		}
	}
	p.form(w, r, s, http.StatusOK, "apps", view{User: u, Page: v})
}

// maxClientID bounds a client ID worth looking up.
const maxClientID = 128

// revoke forgets what the user approved for an application and ends its
// access at once, then goes back to the list with a notice.
func (p *Pages) revoke(w http.ResponseWriter, r *http.Request, s *site) {
	if !p.guard(w, r, s) {
		return
	}
	u := p.signedIn(w, r, s)
	if u == nil {
		return
	}
	id := r.PostForm.Get("client_id")
	if id == "" || len(id) > maxClientID {
		p.message(w, r, s, http.StatusBadRequest, msgBadForm)
		return
	}
	// Only what was approved is revoked: a made-up ID (or a second click)
	// leaves no audit event or cut-off behind.
	_, err := p.cfg.Accounts.Consent(r.Context(), u.ID, id)
	switch {
	case errors.Is(err, account.ErrNotFound):
	case err != nil:
		p.serverError(w, r, s, err)
		return
	default:
		if err := p.cfg.Sessions.Revoke(r.Context(), u, id, p.sourceAddr(r)); err != nil {
			p.serverError(w, r, s, err)
			return
		}
	}
	redirect(w, r, s.issuer+authreq.AppsPath+"?"+revokedParam+"="+url.QueryEscape(id))
}
