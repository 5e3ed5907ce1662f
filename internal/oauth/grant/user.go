package grant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/token"
)

// Prefixes of the opaque values the user grants hand out, so that secret
// scanners and people can tell what a leaked string is.
const (
	CodePrefix    = "lkac_"
	RefreshPrefix = "lkrt_"
)

// CodeLifetime is how long an authorization code may be exchanged (RFC
// 6749 §4.1.2 recommends at most ten minutes; a minute is plenty for a
// redirect).
const CodeLifetime = 60 * time.Second

// IDTokenLifetime is how long an ID token is valid. A relying party
// checks it once, on receipt; an expired one still serves as an
// id_token_hint.
const IDTokenLifetime = time.Hour

// OIDCScopes are the OpenID Connect scopes every authorization_code client
// may ask for, registered or not: they speak of the user, who consents to
// them, not of what the client may do.
var OIDCScopes = []string{ScopeOpenID, "profile", "email", ScopeOfflineAccess}

// Scopes the grants give a meaning to.
const (
	ScopeOpenID = "openid"
	// ScopeOfflineAccess asks for a refresh token in an OpenID Connect
	// request (OpenID Connect Core §11): without it, a sign-in gets none.
	ScopeOfflineAccess = "offline_access"
)

// UserGrants is what the grants acting for a signed-in user share: the
// authorization_code grant and the refresh_token grant. Every field but
// Random is required; a handler whose Store is nil fails every request
// with a server error rather than serve half-configured.
type UserGrants struct {
	// Store keeps authorization codes and refresh tokens.
	Store token.Grants
	// Tokens mints the access tokens.
	Tokens TokenIssuer
	// IDTokens signs ID tokens with the tenant's keys.
	IDTokens IDSigner
	// User returns a user by ID, or an error wrapping account.ErrNotFound.
	User func(ctx context.Context, id string) (*account.User, error)
	// Random is the entropy of refresh tokens and token IDs; nil means
	// crypto/rand.
	Random io.Reader
	// OnRevoke, when set, receives after commit the revocations a
	// replayed code or a reused refresh token made, so that this
	// process's revocation list holds them at once.
	OnRevoke func([]token.Revocation)
}

// IDSigner signs a tenant's ID tokens: *token.TenantKeys.
type IDSigner interface {
	// SignID signs c with the tenant's key of algorithm alg, or the ID
	// lineage's key when alg is empty or no key has it.
	SignID(ctx context.Context, tenantID, alg string, c token.IDClaims) (string, error)
	// IDAlgorithms lists the algorithms SignID can sign with now, the
	// default first.
	IDAlgorithms(ctx context.Context, tenantID string) ([]string, error)
}

var errNotConfigured = errors.New("grant: the user grants are not configured (UserGrants.Store is nil)")

func (g *UserGrants) configured() error {
	if g.Store == nil || g.Tokens == nil || g.IDTokens == nil || g.User == nil {
		return errNotConfigured
	}
	return nil
}

func (g *UserGrants) random() io.Reader {
	if g.Random != nil {
		return g.Random
	}
	return rand.Reader
}

// newOpaque returns prefix followed by 256 random bits, base64url, and
// the hash to store in its place.
func newOpaque(r io.Reader, prefix string) (value, hash string, err error) {
	var raw [32]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return "", "", fmt.Errorf("grant: reading randomness: %w", err)
	}
	value = prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return value, token.HashOpaque(value), nil
}

// NewCode returns a new authorization code and the hash to store in its
// place. r is the entropy source; nil means crypto/rand.
func NewCode(r io.Reader) (value, hash string, err error) {
	if r == nil {
		r = rand.Reader
	}
	return newOpaque(r, CodePrefix)
}

// ValidPKCE reports whether v has the form RFC 7636 §4.1 gives a code
// verifier, and §4.2 the S256 challenge's base64url too: 43 to 128
// unreserved characters.
func ValidPKCE(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// S256 is the PKCE S256 challenge of a verifier (RFC 7636 §4.2).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkPKCE holds a code exchange to the challenge its authorization
// request sent: a verifier must match it, compared in constant time, and
// there must be a verifier exactly when there was a challenge.
func checkPKCE(challenge, verifier string) *oautherr.Error {
	switch {
	case challenge == "" && verifier == "":
		return nil
	case challenge == "":
		return oautherr.InvalidGrant("code_verifier was sent, but the authorization request had no code_challenge")
	case verifier == "":
		return oautherr.InvalidGrant("code_verifier is required: the authorization request sent a code_challenge")
	case subtle.ConstantTimeCompare([]byte(S256(verifier)), []byte(challenge)) != 1:
		return oautherr.InvalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// userActive checks, in the grant's transaction, that the user a code or
// refresh token speaks for still exists in the tenant and is active: a
// user disabled concurrently either commits first (and this refuses) or
// after (and the disable revokes what this issues).
func userActive(ctx context.Context, tx token.GrantTx, id, tenantID string) error {
	ok, err := tx.UserActive(ctx, id, tenantID)
	if err != nil {
		return err
	}
	if !ok {
		return oautherr.InvalidGrant("the user is disabled or no longer exists")
	}
	return nil
}

// activeUser reads, after the grant's transaction, the user the tokens
// are for (their claims need the whole record).
func (g *UserGrants) activeUser(ctx context.Context, id, tenantID string) (*account.User, error) {
	u, err := g.User(ctx, id)
	if errors.Is(err, account.ErrNotFound) {
		return nil, oautherr.InvalidGrant("the user no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if !u.Active() || u.TenantID != tenantID {
		return nil, oautherr.InvalidGrant("the user is disabled")
	}
	return u, nil
}

// grantRevoke revokes, in tx, a refresh token family and the access
// tokens recorded on it, plus extra (the access token a code's exchange
// issued), storing each revocation once. It returns what it stored.
func grantRevoke(ctx context.Context, tx token.GrantTx, familyID string, now time.Time, extra ...token.Revocation) ([]token.Revocation, error) {
	revs, err := tx.RevokeRefreshTokens(ctx, token.RefreshFilter{FamilyID: familyID}, now)
	if err != nil {
		return nil, err
	}
	for _, rv := range extra {
		if rv.TokenID != "" && rv.ExpiresAt.After(now) &&
			!slices.ContainsFunc(revs, func(o token.Revocation) bool { return o.TokenID == rv.TokenID }) {
			revs = append(revs, rv)
		}
	}
	for _, rv := range revs {
		if err := tx.AddRevocation(ctx, rv); err != nil {
			return nil, err
		}
	}
	return revs, nil
}

// userIssue is what one successful user grant issues.
type userIssue struct {
	userID   string // set once the grant's transaction has succeeded
	user     *account.User
	scopes   []string
	authTime time.Time
	nonce    string // the code flow's only
	jti      string // chosen in the grant's transaction
	refresh  string // the new refresh token, if any
}

// respond mints the access token (and, with openid, the ID token) of a
// committed grant and words the token response.
func (g *UserGrants) respond(ctx context.Context, r *Request, is userIssue) (*Response, error) {
	u, err := g.activeUser(ctx, is.userID, r.Tenant.ID)
	if err != nil {
		return nil, err
	}
	is.user = u
	req := AccessRequest{Tenant: r.Tenant, Client: r.Client, Subject: is.user.ID, Scopes: is.scopes, Now: r.Now, ID: is.jti}
	if r.Secret != nil {
		req.SecretID = r.Secret.ID
	}
	tok, err := g.Tokens.IssueAccess(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := &Response{AccessToken: tok.Token, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresIn.Seconds()),
		RefreshToken: is.refresh, Scope: strings.Join(is.scopes, " ")}
	if slices.Contains(is.scopes, "openid") {
		if resp.IDToken, err = g.idToken(ctx, r, is, tok.Token); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// idToken signs the ID token of a grant (OpenID Connect Core §2, §3.1.3.6
// for at_hash, §12.2 for a refresh: same iss, sub and auth_time, no
// nonce).
func (g *UserGrants) idToken(ctx context.Context, r *Request, is userIssue, accessToken string) (string, error) {
	algs, err := g.IDTokens.IDAlgorithms(ctx, r.Tenant.ID)
	if err != nil {
		return "", err
	}
	alg := signingAlg(r.Client.IDTokenAlg, algs)
	h := atHash(alg)
	if h == nil {
		return "", fmt.Errorf("grant: no at_hash is defined for ID token algorithm %q", alg)
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	now := r.Now.Truncate(time.Second)
	c := token.IDClaims{
		Issuer: r.Tenant.Issuer, Subject: is.user.ID, Audience: r.Client.ID,
		IssuedAt: now, ExpiresAt: now.Add(IDTokenLifetime), AuthTime: is.authTime, Nonce: is.nonce,
		AccessTokenHash: base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	}
	return g.IDTokens.SignID(ctx, r.Tenant.ID, r.Client.IDTokenAlg, c)
}

// signingAlg is the algorithm SignID will use for a client that asked for
// want, given the tenant's algorithms, default first.
func signingAlg(want string, algs []string) string {
	if want != "" && slices.Contains(algs, want) {
		return want
	}
	if len(algs) > 0 {
		return algs[0]
	}
	return ""
}

// atHash returns the hash at_hash uses for a JWS algorithm: the one the
// algorithm itself uses (OpenID Connect Core §3.1.3.6), SHA-512 for
// EdDSA over Ed25519.
func atHash(alg string) hash.Hash {
	switch alg {
	case "RS256", "ES256", "PS256":
		return sha256.New()
	case "RS384", "ES384", "PS384":
		return sha512.New384()
	case "RS512", "ES512", "PS512", "EdDSA":
		return sha512.New()
	}
	return nil
}

// newRefresh makes the refresh token a grant hands out with its access
// token jti, of family, for the client's refresh lifetime.
func (g *UserGrants) newRefresh(c *client.Client, tenantID, familyID, userID string, scopes []string,
	authTime, now time.Time, jti string, accessExp time.Time) (string, *token.RefreshToken, error) {
	value, hash, err := newOpaque(g.random(), RefreshPrefix)
	if err != nil {
		return "", nil, err
	}
	id, err := client.NewID(g.random(), "rt_")
	if err != nil {
		return "", nil, err
	}
	ttl := c.RefreshTokenTTL
	if ttl <= 0 {
		ttl = client.DefaultRefreshTTL
	}
	return value, &token.RefreshToken{ID: id, Hash: hash, FamilyID: familyID, TenantID: tenantID, ClientID: c.ID,
		UserID: userID, Scopes: scopes, AuthTime: authTime, AccessTokenID: jti, AccessExpiresAt: accessExp,
		IssuedAt: now, ExpiresAt: now.Add(ttl)}, nil
}
