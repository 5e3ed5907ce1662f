package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
)

// credentials are a client's ID and secret, as HTTP Basic presents them.
type credentials struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// randomCredentials makes credentials of the same shape and length as
// Latchkey's generated ones (lkc_ + 22 characters, lks_ + 49), so Basic
// headers and hashing cost the same on both sides.
func randomCredentials() (credentials, error) {
	var b [54]byte
	if _, err := rand.Read(b[:]); err != nil {
		return credentials{}, err
	}
	enc := base64.RawURLEncoding.EncodeToString(b[:]) // 72 characters
	return credentials{ID: "lkc_" + enc[:22], Secret: "lks_" + enc[22:71]}, nil
}

// floorClient is a client the floor knows: its ID and the SHA-256 digest
// of its secret, which is all a server need keep.
type floorClient struct {
	id     string
	digest [sha256.Size]byte
}

func newFloorClient(c credentials) floorClient {
	return floorClient{id: c.ID, digest: sha256.Sum256([]byte(c.Secret))}
}

// floorHeader is the JWS header of every floor token, fixed like
// Latchkey's: RFC 9068 access tokens signed with ES256.
const floorHeader = `{"alg":"ES256","kid":"k","typ":"at+jwt"}`

// floorTTL is the lifetime of floor tokens, Latchkey's default.
const floorTTL = time.Hour

// floor is the least an authorization server can do to answer the two
// benchmarked requests, written with the standard library only: parse the
// form, authenticate the client by one SHA-256 and a constant-time compare,
// and sign or verify one ES256 JWT. There is no storage, no cache, no
// logging and no policy beyond that. Its throughput is the ceiling Latchkey
// is compared to on the same machine, with the same client.
//
// The token endpoint serves client_credentials only to client, and the
// user grants (flooruser.go) only to the user's application; the
// introspection endpoint serves only resourceServer.
type floor struct {
	issuer         string
	client         floorClient
	resourceServer floorClient
	user           *floorUser // nil without the user grants
	key            *ecdsa.PrivateKey
	header         string // base64url of floorHeader
	now            func() time.Time
}

// newFloor returns a floor with a fresh P-256 signing key, and the user
// grants when cfg has an application for them.
func newFloor(cfg floorConfig) (*floor, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	user, err := newFloorUser(cfg, time.Now())
	if err != nil {
		return nil, err
	}
	return &floor{
		issuer:         cfg.Issuer,
		client:         newFloorClient(cfg.Client),
		resourceServer: newFloorClient(cfg.ResourceServer),
		user:           user,
		key:            key,
		header:         base64.RawURLEncoding.EncodeToString([]byte(floorHeader)),
		now:            time.Now,
	}, nil
}

// Handler returns the floor's routes: POST /token, POST /introspect and
// GET /authorize.
func (f *floor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.handleToken)
	mux.HandleFunc("POST /introspect", f.handleIntrospect)
	mux.HandleFunc("GET /authorize", f.handleAuthorize)
	return mux
}

// serveFloor serves f on a free loopback port. It returns the base URL and
// a function that shuts the server down within timeout.
func serveFloor(f *floor) (base string, shutdown func(timeout time.Duration) error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	// The same limits as Latchkey's server, so neither side gets a
	// different connection policy.
	srv := &http.Server{
		Handler:           f.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go srv.Serve(ln)
	shutdown = func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), shutdown, nil
}

// floorClaims are the claims of a floor token.
type floorClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Jti      string `json:"jti"`
	Iat      int64  `json:"iat"`
	Exp      int64  `json:"exp"`
}

// tokenResponse is an RFC 6749 §5.1 response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// introspection is an RFC 7662 §2.2 response for an active token.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	TokenType string `json:"token_type"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	Sub       string `json:"sub"`
	Aud       string `json:"aud"`
	Iss       string `json:"iss"`
	Jti       string `json:"jti"`
}

// maxBody bounds a request body, as Latchkey does.
const maxBody = 64 << 10

// handleToken issues tokens for grant_type=client_credentials, and for
// authorization_code and refresh_token when the floor has a user.
func (f *floor) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeFloorError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	grant := r.PostForm.Get("grant_type")
	if f.user != nil && (grant == "authorization_code" || grant == "refresh_token") {
		if !authenticate(r, f.user.app) {
			writeFloorError(w, http.StatusUnauthorized, "invalid_client")
			return
		}
		if grant == "authorization_code" {
			f.handleCode(w, r)
		} else {
			f.handleRefresh(w, r)
		}
		return
	}
	if !authenticate(r, f.client) {
		writeFloorError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if grant != "client_credentials" {
		writeFloorError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	tok, err := f.issueFor(f.client.id, f.client.id, r.PostForm.Get("scope"))
	if err != nil {
		writeFloorError(w, http.StatusInternalServerError, "server_error")
		return
	}
	writeFloorJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(floorTTL / time.Second), Scope: r.PostForm.Get("scope")})
}

// handleIntrospect answers whether a floor token is active.
func (f *floor) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeFloorError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if !authenticate(r, f.resourceServer) {
		writeFloorError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	c, err := f.verify(r.PostForm.Get("token"), f.now())
	if err != nil {
		writeFloorJSON(w, http.StatusOK, struct {
			Active bool `json:"active"`
		}{})
		return
	}
	writeFloorJSON(w, http.StatusOK, introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID,
		TokenType: "Bearer", Exp: c.Exp, Iat: c.Iat, Sub: c.Sub, Aud: c.Aud, Iss: c.Iss, Jti: c.Jti})
}

// authenticate reports whether r carries want's credentials in HTTP Basic.
// The secret is compared by digest, in constant time.
func authenticate(r *http.Request, want floorClient) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	match := subtle.ConstantTimeCompare(got[:], want.digest[:]) == 1
	return match && id == want.id
}

// issueFor signs an access token for subject (the client itself, or a
// user) issued to clientID, with scope.
func (f *floor) issueFor(subject, clientID, scope string) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := f.now().Unix()
	return f.sign(floorClaims{Iss: f.issuer, Sub: subject, Aud: f.issuer, ClientID: clientID, Scope: scope,
		Jti: base64.RawURLEncoding.EncodeToString(jti[:]), Iat: now, Exp: now + int64(floorTTL/time.Second)})
}

// sign encodes c as a compact JWS under the fixed header, with the
// 64-byte r||s signature JWS requires for ES256 (RFC 7518 §3.4).
func (f *floor) sign(c floorClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	tok := make([]byte, 0, len(f.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(64))
	tok = append(tok, f.header...)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, payload)
	digest := sha256.Sum256(tok)
	r, s, err := ecdsa.Sign(rand.Reader, f.key, digest[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig[:])
	return string(tok), nil
}

var errFloorToken = errors.New("floor: token refused")

// verify checks tok's header, ES256 signature and expiry at now, and
// returns its claims.
func (f *floor) verify(tok string, now time.Time) (*floorClaims, error) {
	h, rest, ok := strings.Cut(tok, ".")
	if !ok || h != f.header {
		return nil, errFloorToken
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, errFloorToken
	}
	enc := base64.RawURLEncoding
	sig, err := enc.DecodeString(s)
	if err != nil || len(sig) != 64 {
		return nil, errFloorToken
	}
	digest := sha256.Sum256([]byte(tok[:len(h)+1+len(p)]))
	r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&f.key.PublicKey, digest[:], r, ss) {
		return nil, errFloorToken
	}
	payload, err := enc.DecodeString(p)
	if err != nil {
		return nil, errFloorToken
	}
	var c floorClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errFloorToken
	}
	if now.Unix() >= c.Exp {
		return nil, fmt.Errorf("%w: expired", errFloorToken)
	}
	return &c, nil
}

// writeFloorJSON sends v with the headers RFC 6749 §5.1 requires of
// token responses.
func writeFloorJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// writeFloorError sends an RFC 6749 §5.2 error.
func writeFloorError(w http.ResponseWriter, status int, code string) {
	writeFloorJSON(w, status, struct {
		Error string `json:"error"`
	}{code})
}
