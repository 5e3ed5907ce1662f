package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/authz"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/oauth/grant"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/token"
)

// decide takes a valid authorization request to its next step: the login
// page, the consent page, a refusal, or a code. It runs for a fresh
// request and again each time the pages send the browser back (resume),
// so each decision is made from what holds now:
//
//   - The user must sign in when no one is, when the sign-in is older
//     than max_age (checked at every step, in whole seconds), or when
//     prompt=login asked for a new sign-in and none was made since the
//     request began.
//   - The user must consent when prompt=consent asked for it, or when
//     needsConsent says so and what the user approved before does not
//     cover the scopes. A decision sealed into the request by the consent
//     page counts only when it is this user's and, for an approval, while
//     the stored consent still covers the scopes: an approval replayed
//     after the user revoked the application asks again.
//
// With prompt=none, a page needed is an error instead (login_required,
// consent_required).
func (s *Server) decide(w http.ResponseWriter, r *http.Request, ts *tenantScope, c *client.Client, req *authreq.Request, none bool) {
	now := s.now()
	sess, u, err := s.Sessions.Current(r, ts.tenant.ID)
	if err != nil {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	if needsLogin(req, sess, now) {
		if none {
			s.redirectError(w, r, ts, req.RedirectURI, req.State, oautherr.LoginRequired("the user must sign in"))
			return
		}
		s.toPage(w, r, ts, authreq.LoginPath, req)
		return
	}
	decided := req.DecidedBy != "" && req.DecidedBy == u.ID
	if decided && !req.Approved {
		s.redirectError(w, r, ts, req.RedirectURI, req.State, oautherr.AccessDenied("the user denied the request"))
		return
	}
	prior, err := s.Accounts.Consent(r.Context(), u.ID, c.ID)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	// An approval sealed into the request holds only while what it
	// approved stands: once the user revokes the application, replaying
	// the approved request (from the browser's history) asks again.
	decided = decided && account.Covers(prior, req.Scopes)
	if !decided {
		need := req.HasPrompt("consent")
		if !need && needsConsent(c, req) {
			need = !account.Covers(prior, req.Scopes)
		}
		if need {
			if none {
				s.redirectError(w, r, ts, req.RedirectURI, req.State, oautherr.ConsentRequired("the user must approve the request"))
				return
			}
			// A decision another user made does not carry over.
			req.DecidedBy, req.Approved = "", false
			s.toPage(w, r, ts, authreq.ConsentPath, req)
			return
		}
	}
	s.issueCode(w, r, ts, c, req, sess, u)
}

// needsConsent reports whether the user must approve the request unless
// they approved it before: when the client requires consent; always for
// a public client, since any program can claim its loopback redirect or
// URI scheme and present its client ID (RFC 8252 §8.6); and whenever
// offline access is asked for (OpenID Connect Core §11).
func needsConsent(c *client.Client, req *authreq.Request) bool {
	return c.RequireConsent || c.Type == client.Public || slices.Contains(req.Scopes, grant.ScopeOfflineAccess)
}

// needsLogin reports whether the request needs a (new) sign-in, given the
// browser's session (nil for none).
func needsLogin(req *authreq.Request, sess *account.Session, now time.Time) bool {
	switch {
	case sess == nil:
		return true
	case req.MaxAge >= 0 && int64(now.Sub(sess.AuthTime)/time.Second) > int64(req.MaxAge):
		// Checked at every step: a sign-in made for this request grows
		// older while the user reads the consent page. Whole seconds, so
		// max_age=0 is met by the sign-in just made.
		return true
	case !sess.AuthTime.Before(req.Started):
		return false // signed in since the request began
	}
	return req.HasPrompt("login")
}

// toPage sends the browser to one of the account pages with the request
// sealed, 303 so that a POSTed request is followed with a GET.
func (s *Server) toPage(w http.ResponseWriter, r *http.Request, ts *tenantScope, path string, req *authreq.Request) {
	sealed, err := s.Requests.Seal(req)
	if err != nil {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	if len(sealed) > authreq.MaxSealedLen {
		s.redirectError(w, r, ts, req.RedirectURI, req.State,
			oautherr.InvalidRequest("the authorization request is too large to carry through sign-in: ask for fewer scopes, or a shorter state or nonce"))
		return
	}
	pageHeaders(w.Header())
	w.Header().Set("Location", ts.issuer+path+"?"+url.Values{authreq.Param: {sealed}}.Encode())
	w.WriteHeader(http.StatusSeeOther)
}

// issueCode ends an authorization the user is entitled to: the consent
// records it, a code is
// stored by its hash alone, the client's last authorization is noted,
// and the browser goes back to the client with the code.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, ts *tenantScope, c *client.Client, req *authreq.Request,
	sess *account.Session, u *account.User) {
	ctx := r.Context()
	cat, err := s.catalog(ctx, u.TenantID)
	if err != nil {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	req.Scopes = userScopes(req.Scopes, func(p authz.Permission) bool { return cat.Reach(u.Roles, p).Any() })
	// Every authorization is recorded in the consent, so that whatever a
	// code grants shows on the Authorized applications page, where the
	// user can revoke it.
	if _, err := s.Consents.Authorized(ctx, u, c.ID, req.Scopes); err != nil {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	value, hash, err := grant.NewCode(s.Random)
	if err != nil {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	family, err := client.NewID(s.Random, "fam_")
	if err != nil {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	now := s.now()
	code := &token.Code{Hash: hash, TenantID: ts.tenant.ID, ClientID: c.ID, UserID: u.ID, SessionID: sess.ID,
		RedirectURI: req.RedirectURI, Scopes: req.Scopes, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		AuthTime: sess.AuthTime, IssuedAt: now, ExpiresAt: now.Add(grant.CodeLifetime), FamilyID: family}
	if err := s.GrantStore.InGrantTx(ctx, func(tx token.GrantTx) error { return tx.CreateCode(ctx, code) }); err != nil {
		s.serverFailed(w, r, ts, req, err)
		return
	}
	s.Usage.RecordAuthorization(c.ID, client.Authorization{At: now, UserID: u.ID, RedirectURI: req.RedirectURI})
	s.Logger.InfoContext(ctx, "authorization code issued", "client_id", c.ID, "user_id", u.ID, "scope", strings.Join(req.Scopes, " "))
	v := url.Values{"code": {value}, "iss": {ts.issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	redirect(w, r, req.RedirectURI, v)
}

// handleResume is GET /oauth2/authorize/resume: the pages send the
// browser back here with the sealed request once the user has signed in
// or decided. The request is checked again against the client as it is
// now, and decide runs again.
func (s *Server) handleResume(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	if !s.flowConfigured(w, r) {
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	sealed, dup := single(q, authreq.Param)
	if err != nil || dup || sealed == "" {
		writePage(w, http.StatusBadRequest, "The sign-in request is missing or malformed.")
		return
	}
	req, err := s.Requests.Open(sealed)
	if err != nil || req.TenantID != ts.tenant.ID {
		writePage(w, http.StatusBadRequest, "The sign-in request has expired or is not valid.")
		return
	}
	c, ok := s.pageClient(w, r, ts, req.ClientID)
	if !ok {
		return
	}
	if msg := matchTarget(c, req.RedirectURI); msg != "" {
		writePage(w, http.StatusBadRequest, msg)
		return
	}
	if oerr := recheck(c, req); oerr != nil {
		s.redirectError(w, r, ts, req.RedirectURI, req.State, oerr)
		return
	}
	s.decide(w, r, ts, c, req, false)
}

// recheck holds a resumed request to the client as it is now: it may have
// lost the grant or scopes since the request began (pageClient has
// already refused it if it was deactivated or revoked).
func recheck(c *client.Client, req *authreq.Request) *oautherr.Error {
	switch {
	case !c.HasGrant(client.GrantAuthorizationCode):
		return oautherr.UnauthorizedClient("this client is not allowed the authorization_code grant")
	case c.Type == client.Public && req.CodeChallenge == "":
		return oautherr.InvalidRequest("code_challenge is required: a public client must use PKCE (RFC 7636) with S256")
	case c.RequirePKCE && req.CodeChallenge == "":
		return oautherr.InvalidRequest("code_challenge is required: this client must use PKCE (RFC 7636) with S256")
	}
	if len(req.Scopes) > 0 {
		if _, oerr := authorizeScopes(c, strings.Join(req.Scopes, " ")); oerr != nil {
			return oerr
		}
	}
	return nil
}
