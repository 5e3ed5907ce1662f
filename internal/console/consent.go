package console

import (
	"net/http"
	"slices"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// consentView is the consent page.
type consentView struct {
	Req         string
	ClientName  string
	Description string
	Scopes      []string
}

// scopeWords are the scopes a user is asked about, in words.
var scopeWords = map[string]string{
	"openid":         "Confirm your identity (your account ID)",
	"profile":        "Your name and language",
	"email":          "Your email address",
	"offline_access": "Stay signed in to the app when you are not using it",
}

// ScopeText is how a scope is shown to a user: in words for the scopes
// Latchkey defines, "Access: <scope>" for any other.
func ScopeText(scope string) string {
	if w, ok := scopeWords[scope]; ok {
		return w
	}
	return "Access: " + scope
}

// scopeOrder ranks the scopes Latchkey defines, shown first, from who
// you are to what the app may keep doing.
var scopeOrder = map[string]int{"openid": 1, "profile": 2, "email": 3, "offline_access": 4}

// scopeTexts returns scopes in words, Latchkey's own first, the others
// after them in the order given.
func scopeTexts(scopes []string) []string {
	sorted := slices.Clone(scopes)
	slices.SortStableFunc(sorted, func(a, b string) int {
		ra, rb := scopeOrder[a], scopeOrder[b]
		if ra == 0 {
			ra = len(scopeOrder) + 1
		}
		if rb == 0 {
			rb = len(scopeOrder) + 1
		}
		return ra - rb
	})
	out := make([]string, len(sorted))
	for i, sc := range sorted {
		out[i] = ScopeText(sc)
	}
	return out
}

// decision is what the consent page needs for both its GET and its POST:
// the request, the signed-in user and the client. ok false means it has
// answered: the "start again" page, the login page, or an error.
func (p *Pages) decision(w http.ResponseWriter, r *http.Request, s *site, sealed string) (*authreq.Request, *account.User, *client.Client, bool) {
	req, ok := p.openRequest(w, r, s, sealed)
	if !ok {
		return nil, nil, nil, false
	}
	_, u, err := p.session(r, s)
	if err != nil {
		p.serverError(w, r, s, err)
		return nil, nil, nil, false
	}
	if u == nil {
		redirect(w, r, s.withReq(authreq.LoginPath, sealed))
		return nil, nil, nil, false
	}
	c, err := p.appClient(r.Context(), s, req.ClientID)
	if err != nil {
		p.serverError(w, r, s, err)
		return nil, nil, nil, false
	}
	if c == nil {
		// Deleted since the request was made: it cannot be finished.
		p.message(w, r, s, http.StatusBadRequest, msgInvalidRequest)
		return nil, nil, nil, false
	}
	return req, u, c, true
}

// consentForm asks the signed-in user whether the client may have the
// scopes it requested.
func (p *Pages) consentForm(w http.ResponseWriter, r *http.Request, s *site) {
	sealed := r.URL.Query().Get(authreq.Param)
	req, u, c, ok := p.decision(w, r, s, sealed)
	if !ok {
		return
	}
	p.form(w, r, s, http.StatusOK, "consent", view{User: u,
		Page: consentView{Req: sealed, ClientName: c.Name, Description: c.Description, Scopes: scopeTexts(req.Scopes)}})
}

// consent records the user's decision in the request, seals it again and
// sends the browser to the resume endpoint, which answers the
// application. An approval is remembered first.
func (p *Pages) consent(w http.ResponseWriter, r *http.Request, s *site) {
	if !p.guard(w, r, s) {
		return
	}
	req, u, _, ok := p.decision(w, r, s, r.PostForm.Get(authreq.Param))
	if !ok {
		return
	}
	var approved bool
	switch r.PostForm.Get("decision") {
	case "approve":
		approved = true
	case "deny":
	default:
		p.message(w, r, s, http.StatusBadRequest, msgBadForm)
		return
	}
	if approved {
		if _, err := p.cfg.Sessions.Approve(r.Context(), u, req.ClientID, req.Scopes, p.sourceAddr(r)); err != nil {
			p.serverError(w, r, s, err)
			return
		}
	}
	req.DecidedBy, req.Approved = u.ID, approved
	sealed, err := p.cfg.Requests.Seal(req)
	if err != nil {
		p.serverError(w, r, s, err)
		return
	}
	redirect(w, r, s.withReq(authreq.ResumePath, sealed))
}
