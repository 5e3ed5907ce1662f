package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The floor's user grants: the least an authorization server must do to
// answer an authorization request from a signed-in browser whose user
// approved the application before, to exchange the code, and to rotate a
// refresh token. Codes and refresh tokens live in memory, by digest, and
// are deleted when used; nothing is written anywhere.

// floorSessionCookie names the floor's session cookie.
const floorSessionCookie = "floor-session"

// floorCodeTTL is how long a floor code may be exchanged, Latchkey's.
const floorCodeTTL = time.Minute

// floorRefreshTTL is the lifetime of floor refresh tokens, Latchkey's
// default.
const floorRefreshTTL = 30 * 24 * time.Hour

// floorIDHeader is the JWS header of floor ID tokens: RS256, which
// Latchkey signs ID tokens with by default.
const floorIDHeader = `{"alg":"RS256","kid":"r","typ":"JWT"}`

// floorGrant is what a code or a refresh token stands for.
type floorGrant struct {
	scope     string
	nonce     string // a code's only
	challenge string // a code's only: PKCE S256
	authTime  int64
	expires   time.Time
}

// floorGrants holds codes or refresh tokens by the SHA-256 of their value.
type floorGrants struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]floorGrant
}

func (g *floorGrants) put(digest [sha256.Size]byte, v floorGrant) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[[sha256.Size]byte]floorGrant{}
	}
	g.m[digest] = v
}

// take removes and returns the grant of a value: each is used once.
func (g *floorGrants) take(value string) (floorGrant, bool) {
	d := sha256.Sum256([]byte(value))
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.m[d]
	delete(g.m, d)
	return v, ok
}

// floorUser is the floor's one signed-in user and one application, with
// what the floor keeps for them.
type floorUser struct {
	id            string
	app           floorClient // confidential, client_secret_basic
	redirectURI   string
	sessionDigest [sha256.Size]byte
	authTime      int64
	idKey         *rsa.PrivateKey
	idHeader      string // base64url of floorIDHeader
	codes         floorGrants
	refresh       floorGrants
}

// newFloorUser returns the user of cfg, signed in now, with a fresh
// RSA key of Latchkey's size for ID tokens; nil when cfg has none.
func newFloorUser(cfg floorConfig, now time.Time) (*floorUser, error) {
	if cfg.App.ID == "" {
		return nil, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &floorUser{id: cfg.UserID, app: newFloorClient(cfg.App), redirectURI: cfg.RedirectURI,
		sessionDigest: sha256.Sum256([]byte(cfg.Session)), authTime: now.Unix(), idKey: key,
		idHeader: base64.RawURLEncoding.EncodeToString([]byte(floorIDHeader))}, nil
}

// handleAuthorize answers GET /authorize for the signed-in user: check
// the session cookie by digest, the client and the exact redirect URI,
// require PKCE S256, store the code by its digest, and redirect with it.
func (f *floor) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	u := f.user
	c, err := r.Cookie(floorSessionCookie)
	if u == nil || err != nil {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	digest := sha256.Sum256([]byte(c.Value))
	if subtle.ConstantTimeCompare(digest[:], u.sessionDigest[:]) != 1 {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	if q.Get("client_id") != u.app.id || q.Get("redirect_uri") != u.redirectURI {
		http.Error(w, "unknown client or redirect URI", http.StatusBadRequest)
		return
	}
	back := url.Values{"iss": {f.issuer}}
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	challenge := q.Get("code_challenge")
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || len(challenge) != 43:
		back.Set("error", "invalid_request")
	default:
		code, d, err := newFloorOpaque("lkac_")
		if err != nil {
			http.Error(w, "server error", http.StatusInternalServerError)
			return
		}
		u.codes.put(d, floorGrant{scope: q.Get("scope"), nonce: q.Get("nonce"), challenge: challenge,
			authTime: u.authTime, expires: f.now().Add(floorCodeTTL)})
		back.Set("code", code)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", u.redirectURI+"?"+back.Encode())
	w.WriteHeader(http.StatusFound)
}

// handleCode exchanges a code: the one use, the redirect URI, the expiry
// and the PKCE verifier checked.
func (f *floor) handleCode(w http.ResponseWriter, r *http.Request) {
	u := f.user
	g, ok := u.codes.take(r.PostForm.Get("code"))
	if !ok || !f.now().Before(g.expires) || r.PostForm.Get("redirect_uri") != u.redirectURI {
		writeFloorError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		writeFloorError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	f.issueUser(w, g)
}

// handleRefresh rotates a refresh token.
func (f *floor) handleRefresh(w http.ResponseWriter, r *http.Request) {
	g, ok := f.user.refresh.take(r.PostForm.Get("refresh_token"))
	if !ok || !f.now().Before(g.expires) {
		writeFloorError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	g.nonce = "" // a refreshed ID token has none
	f.issueUser(w, g)
}

// userTokenResponse is a token response for a user.
type userTokenResponse struct {
	tokenResponse
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// floorIDClaims are the claims of a floor ID token.
type floorIDClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
	AtHash   string `json:"at_hash"`
}

// issueUser answers a user grant: an ES256 access token, with openid an
// RS256 ID token carrying at_hash, and with offline_access the next
// refresh token, stored by digest.
func (f *floor) issueUser(w http.ResponseWriter, g floorGrant) {
	u := f.user
	access, err := f.issueFor(u.id, u.app.id, g.scope)
	if err != nil {
		writeFloorError(w, http.StatusInternalServerError, "server_error")
		return
	}
	resp := userTokenResponse{tokenResponse: tokenResponse{AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int64(floorTTL / time.Second), Scope: g.scope}}
	scopes := strings.Fields(g.scope)
	if slices.Contains(scopes, "openid") {
		sum := sha256.Sum256([]byte(access))
		now := f.now().Unix()
		c := floorIDClaims{Iss: f.issuer, Sub: u.id, Aud: u.app.id, Iat: now, Exp: now + int64(time.Hour/time.Second),
			AuthTime: g.authTime, Nonce: g.nonce, AtHash: base64.RawURLEncoding.EncodeToString(sum[:16])}
		if resp.IDToken, err = u.signID(c); err != nil {
			writeFloorError(w, http.StatusInternalServerError, "server_error")
			return
		}
	}
	if slices.Contains(scopes, "offline_access") {
		value, d, err := newFloorOpaque("lkrt_")
		if err != nil {
			writeFloorError(w, http.StatusInternalServerError, "server_error")
			return
		}
		u.refresh.put(d, floorGrant{scope: g.scope, authTime: g.authTime, expires: f.now().Add(floorRefreshTTL)})
		resp.RefreshToken = value
	}
	writeFloorJSON(w, http.StatusOK, resp)
}

// signID encodes c as a compact JWS, RS256 (RFC 7518 §3.3).
func (u *floorUser) signID(c floorIDClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	tok := u.idHeader + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(tok))
	sig, err := rsa.SignPKCS1v15(nil, u.idKey, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return tok + "." + enc.EncodeToString(sig), nil
}

// newFloorOpaque returns prefix and 256 random bits, base64url, and the
// digest to keep in its place: Latchkey's codes' and refresh tokens'
// shape.
func newFloorOpaque(prefix string) (string, [sha256.Size]byte, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", [sha256.Size]byte{}, err
	}
	v := prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return v, sha256.Sum256([]byte(v)), nil
}
