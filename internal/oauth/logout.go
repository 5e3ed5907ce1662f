package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/token"
)

// handleLogout is GET and POST /oauth2/logout, the end_session_endpoint
// (OpenID Connect RP-Initiated Logout 1.0), with its parameters read as
// the authorize endpoint reads them.
//
// With a valid id_token_hint (an expired one will do, §2) whose user is
// the one signed in, or with nobody signed in, the browser is signed out
// and sent to post_logout_redirect_uri, with state, or to the account
// pages' "signed out" page. Without a valid hint, or when another user is
// signed in, nobody is signed out: any site could otherwise sign a user
// out by linking here (logout CSRF). The browser goes to the account
// pages' logout page, which asks the user to confirm, and a
// post_logout_redirect_uri is not honoured, as the request did not prove
// which application sent it.
//
// A post_logout_redirect_uri must be registered for the application the
// hint was issued to (or client_id names); any other is answered with the
// error page, never followed.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, ts *tenantScope) {
	if !s.flowConfigured(w, r) {
		return
	}
	p, msg := readAuthorize(w, r)
	if msg != "" {
		writePage(w, http.StatusBadRequest, msg)
		return
	}
	for _, vs := range p {
		if len(vs) > 1 {
			writePage(w, http.StatusBadRequest, "The sign-out request repeats a parameter.")
			return
		}
	}
	hint, clientID, target, state := p.Get("id_token_hint"), p.Get("client_id"), p.Get("post_logout_redirect_uri"), p.Get("state")
	var claims *token.IDClaims
	if hint != "" {
		var err error
		if claims, err = s.verifyHint(r.Context(), ts, hint); err != nil {
			s.pageFailed(w, r, err)
			return
		}
	}
	if claims != nil && clientID != "" && claims.Audience != clientID {
		writePage(w, http.StatusBadRequest, "The sign-out request's client_id is not the application its id_token_hint was issued to.")
		return
	}
	if claims != nil {
		clientID = claims.Audience
	}
	if target != "" {
		if clientID == "" {
			writePage(w, http.StatusBadRequest, "The sign-out request asks to return to an address (post_logout_redirect_uri) without saying which application registered it: send id_token_hint or client_id.")
			return
		}
		c, ok := s.pageClient(w, r, ts, clientID)
		if !ok {
			return
		}
		if _, ok := c.MatchPostLogoutURI(target); !ok {
			writePage(w, http.StatusBadRequest, "The address to return to after signing out (post_logout_redirect_uri) is not registered for this application.")
			return
		}
	}
	confirm := ts.issuer + authreq.LogoutPath
	if claims == nil {
		redirect(w, r, confirm, nil)
		return
	}
	sess, u, err := s.Sessions.Current(r, ts.tenant.ID)
	if err != nil {
		s.pageFailed(w, r, err)
		return
	}
	if sess != nil && u.ID != claims.Subject {
		redirect(w, r, confirm, nil)
		return
	}
	if err := s.Sessions.End(w, r, ts.tenant.ID); err != nil {
		s.pageFailed(w, r, err)
		return
	}
	if target == "" {
		redirect(w, r, confirm, url.Values{"done": {"1"}})
		return
	}
	var v url.Values
	if state != "" {
		v = url.Values{"state": {state}}
	}
	redirect(w, r, target, v)
}

// verifyHint returns the claims of an id_token_hint the tenant signed,
// expired or not, or nil when it is not one. It is verified for the
// audience it names, which the caller then compares with client_id. An
// error means the server failed.
func (s *Server) verifyHint(ctx context.Context, ts *tenantScope, hint string) (*token.IDClaims, error) {
	aud := hintAudience(hint)
	if aud == "" || len(hint) > token.MaxTokenSize {
		return nil, nil
	}
	c, err := s.Keys.VerifyIDHint(ctx, ts.tenant.ID, hint, s.now(), token.Expect{Issuer: ts.issuer, Audience: []string{aud}})
	if errors.Is(err, token.ErrInvalidToken) {
		return nil, nil
	}
	return c, err
}

// hintAudience reads, unverified, the single audience an ID token names:
// only to know what to verify it for. "" when there is none.
func hintAudience(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(tok) > token.MaxTokenSize {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &c) != nil || len(c.Aud) == 0 {
		return ""
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return one
	}
	var list []string
	if json.Unmarshal(c.Aud, &list) == nil && len(list) == 1 {
		return list[0]
	}
	return ""
}
