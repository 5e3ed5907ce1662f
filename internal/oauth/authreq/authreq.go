// Package authreq carries a validated authorization request from the
// authorize endpoint through the login and consent pages and back, sealed
// so that nothing a browser holds can alter it.
//
// Latchkey keeps no server-side record of a pending authorization: the
// authorize endpoint checks the request once, seals it (AES-256-GCM under
// a key derived from the key-encryption key, so every instance opens what
// any instance sealed), and the pages pass the sealed form along in a
// "req" parameter. The consent page adds the user's decision and seals it
// again; the resume endpoint opens it and finishes the flow. A request
// lives for Lifetime: long enough to type a password, short enough that a
// leaked URL is soon worthless.
package authreq

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/latchkey/latchkey/internal/token"
)

// Lifetime is how long a sealed request may be resumed.
const Lifetime = 15 * time.Minute

// MaxSealedLen bounds the sealed form accepted from a browser.
const MaxSealedLen = 8192

// ErrInvalid means a sealed request is not one this server sealed, was
// altered, or has expired. The pages answer it with "start again from the
// application", never with a redirect.
var ErrInvalid = errors.New("authreq: the authorization request is invalid or expired")

// Request is an authorization request that has passed every check of the
// authorize endpoint. The fields are what the rest of the flow needs.
type Request struct {
	TenantID    string   `json:"t"`
	ClientID    string   `json:"c"`
	RedirectURI string   `json:"r"`
	Scopes      []string `json:"s,omitempty"`
	State       string   `json:"st,omitempty"`
	Nonce       string   `json:"n,omitempty"`
	// CodeChallenge is the PKCE S256 challenge, when one was sent.
	CodeChallenge string `json:"cc,omitempty"`
	// Prompt holds the prompt values asked for: "login", "consent".
	// ("none" never reaches the pages.)
	Prompt []string `json:"p,omitempty"`
	// MaxAge is the max_age asked for, in seconds; -1 when absent.
	MaxAge    int    `json:"ma"`
	LoginHint string `json:"lh,omitempty"`
	// Started is when the authorize endpoint accepted the request: a
	// prompt=login is satisfied by a sign-in at or after it.
	Started time.Time `json:"at"`

	// Decision is set by the consent page: the user who decided and
	// whether they approved. Empty before.
	DecidedBy string `json:"du,omitempty"`
	Approved  bool   `json:"ok,omitempty"`
}

// HasPrompt reports whether the request asked for prompt value p.
func (r *Request) HasPrompt(p string) bool {
	for _, v := range r.Prompt {
		if v == p {
			return true
		}
	}
	return false
}

// Sealer seals and opens requests. Build it with NewSealer; it is safe
// for concurrent use.
type Sealer struct {
	aead *token.Sealer
	now  func() time.Time
}

// sealLabel binds the derived key and every sealed request to their use.
const sealLabel = "latchkey authorization request v1"

// NewSealer derives the request-sealing key from the key-encryption key.
// now is the clock (nil means time.Now); random the nonce source (nil
// means crypto/rand).
func NewSealer(kek []byte, now func() time.Time, random io.Reader) (*Sealer, error) {
	if len(kek) != token.KEKSize {
		return nil, fmt.Errorf("authreq: key-encryption key must be %d bytes, got %d", token.KEKSize, len(kek))
	}
	key, err := hkdf.Key(sha256.New, kek, nil, sealLabel, token.KEKSize)
	if err != nil {
		return nil, err
	}
	s, err := token.NewSealer(key, random)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Sealer{aead: s, now: now}, nil
}

// Seal returns r's sealed form, URL-safe.
func (s *Sealer) Seal(r *Request) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	out, err := s.aead.Seal(sealLabel, b)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the request sealed in v, or ErrInvalid when v was not
// sealed by this server, was altered, or is older than Lifetime.
func (s *Sealer) Open(v string) (*Request, error) {
	if v == "" || len(v) > MaxSealedLen {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, ErrInvalid
	}
	b, err := s.aead.Open(sealLabel, raw)
	if err != nil {
		return nil, ErrInvalid
	}
	var r Request
	if err := json.Unmarshal(b, &r); err != nil || r.TenantID == "" || r.ClientID == "" || r.RedirectURI == "" {
		return nil, ErrInvalid
	}
	now := s.now()
	if now.Before(r.Started.Add(-time.Minute)) || !now.Before(r.Started.Add(Lifetime)) {
		return nil, ErrInvalid
	}
	return &r, nil
}

// Paths of the flow, under a tenant's issuer. The authorize endpoint
// sends the browser to LoginPath or ConsentPath with the sealed request
// in the "req" parameter; the pages send it back to ResumePath.
const (
	LoginPath   = "/account/login"
	ConsentPath = "/account/consent"
	LogoutPath  = "/account/logout"
	AppsPath    = "/account/apps"
	ResumePath  = "/oauth2/authorize/resume"
	// Param is the query parameter and form field carrying a sealed
	// request.
	Param = "req"
)
