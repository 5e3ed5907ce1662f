package console

import "net/http"

// logoutForm asks a signed-in browser to confirm signing out: a link
// alone must not sign anyone out, or any page could. A browser not signed
// in, or sent back by the protocol's end_session endpoint after it signed
// the browser out itself (?done=1), sees the signed-out page.
func (p *Pages) logoutForm(w http.ResponseWriter, r *http.Request, s *site) {
	if r.URL.Query().Get("done") == "1" {
		p.signedOut(w, r, s)
		return
	}
	_, u, err := p.session(r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	if u == nil {
		p.signedOut(w, r, s)
		return
	}
	p.form(w, r, s, http.StatusOK, "logout", view{User: u})
}

// logout ends the browser's session in the tenant and clears its cookie.
func (p *Pages) logout(w http.ResponseWriter, r *http.Request, s *site) {
	if !p.guard(w, r, s) {
		return
	}
	if err := p.endSession(w, r, s); err != nil {
		p.serverError(w, r, s, err)
		return
	}
	p.signedOut(w, r, s)
}

// signedOut shows the signed-out page.
func (p *Pages) signedOut(w http.ResponseWriter, r *http.Request, s *site) {
	p.render(w, r, http.StatusOK, "signedout", view{Base: s.base})
}
