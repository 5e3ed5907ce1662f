package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
)

// Consent is asked, unless a remembered consent covers the scopes, when
// the client requires it, when the client is public, and when
// offline_access is asked for.
func TestConsentNeeded(t *testing.T) {
	f := newFlow(t)
	ask := func(cookie, id, redirectURI string, extra url.Values) page {
		t.Helper()
		return f.browse(http.MethodGet, "/oauth2/authorize", cookie, authParams(id, redirectURI, extra))
	}
	other := f.newUser("grace@example.com")
	otherCookie := f.signIn(other)

	t.Run("a confidential client that does not require it: none", func(t *testing.T) {
		f.authorize(f.cookie, f.web, webCB, nil)
	})
	t.Run("a public client: the first time only", func(t *testing.T) {
		f.authorizeApproving(f.user, f.cookie, f.spa, spaCB, nil)
		f.authorize(f.cookie, f.spa, spaCB, nil)
		f.authorize(f.cookie, f.spa, nativeCB, nil)
		// A scope not approved yet is asked.
		f.sealedReq(ask(f.cookie, f.spa, spaCB, url.Values{"scope": {"openid read profile"}}), authreq.ConsentPath)
		// Another user's approval is not this user's.
		f.sealedReq(ask(otherCookie, f.spa, spaCB, nil), authreq.ConsentPath)
	})
	t.Run("offline_access: the first time only", func(t *testing.T) {
		// The web app's authorization above recorded openid and read: that
		// does not cover offline_access.
		f.authorizeApproving(f.user, f.cookie, f.web, webCB, url.Values{"scope": {offlineScope}})
		f.authorize(f.cookie, f.web, webCB, url.Values{"scope": {offlineScope}})
	})
	t.Run("offline_access without openid", func(t *testing.T) {
		f.sealedReq(ask(f.cookie, f.noRefresh, webCB, url.Values{"scope": {"read offline_access"}, "nonce": {""}}), authreq.ConsentPath)
	})
}

// An approval sealed into a request counts only while the user's consent
// still covers the request: replaying the approved resume URL, from the
// browser's history, after the user revoked the application leads to the
// consent page again, with no decision, and issues no code.
func TestApprovalReplayedAfterRevoke(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// app picks the client and its redirect URI.
		app   func(f *signedInFlow) (string, string)
		extra url.Values
	}{
		{"a client that requires consent", func(f *signedInFlow) (string, string) { return f.strict, webCB }, nil},
		{"a public client", func(f *signedInFlow) (string, string) { return f.spa, spaCB }, nil},
		{"offline_access", func(f *signedInFlow) (string, string) { return f.web, webCB }, url.Values{"scope": {offlineScope}}},
		{"prompt=consent", func(f *signedInFlow) (string, string) { return f.web, webCB }, url.Values{"prompt": {"consent"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t)
			id, redirectURI := tc.app(f)
			p := f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, authParams(id, redirectURI, tc.extra))
			approved := f.decideAs(f.user, f.sealedReq(p, authreq.ConsentPath), true)
			f.codeFrom(f.resume(f.cookie, approved), redirectURI, "st-1")
			if err := f.usage.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			issuedAt := f.clock.Now()

			if err := f.sessions.Revoke(ctx, f.user, id, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Second)
			again := f.sealedReq(f.resume(f.cookie, approved), authreq.ConsentPath)
			req, err := f.sealer().Open(again)
			if err != nil {
				t.Fatal(err)
			}
			if req.DecidedBy != "" || req.Approved {
				t.Errorf("the consent page was sent the old decision: %+v", req)
			}
			// No code: its issue would have recorded the authorization in
			// the consent and as the client's last.
			if c, err := f.db.Consent(ctx, f.user.ID, id); !errors.Is(err, account.ErrNotFound) {
				t.Errorf("the replay recorded an authorization: %+v %v", c, err)
			}
			if err := f.usage.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			c, err := f.db.Client(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !c.LastAuthorization.At.Equal(issuedAt) {
				t.Errorf("last authorization at %v, want %v (before the replay)", c.LastAuthorization.At, issuedAt)
			}
		})
	}
}

// The authorization that follows an approval is recorded in the consent
// too: its last authorization is when the code was issued.
func TestApprovalRecordsTheAuthorization(t *testing.T) {
	f := newFlow(t)
	ctx := context.Background()
	p := f.browse(http.MethodGet, "/oauth2/authorize", f.cookie, authParams(f.strict, webCB, nil))
	approvedAt := f.clock.Now()
	approved := f.decideAs(f.user, f.sealedReq(p, authreq.ConsentPath), true)
	f.clock.Advance(time.Minute)
	f.codeFrom(f.resume(f.cookie, approved), webCB, "st-1")
	c, err := f.db.Consent(ctx, f.user.ID, f.strict)
	if err != nil || !c.FirstAt.Equal(approvedAt) || !c.LastAt.Equal(f.clock.Now()) {
		t.Fatalf("consent %+v %v: want first at %v, last at %v", c, err, approvedAt, f.clock.Now())
	}
}
