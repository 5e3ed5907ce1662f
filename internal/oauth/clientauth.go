package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

// credentials are what a request presented to authenticate its client.
type credentials struct {
	clientID string
	secret   string
	method   string // client_secret_basic, client_secret_post or none
}

// readCredentials finds the client's credentials in the Authorization
// header (client_secret_basic, with RFC 6749 §2.3.1's form-encoding inside
// Basic) or in the body (client_secret_post, or client_id alone for a
// public client). Using both methods at once is refused.
func readCredentials(r *http.Request, p url.Values) (credentials, *oautherr.Error) {
	h := r.Header.Values("Authorization")
	bodyID, bodySecret := p.Get("client_id"), p.Get("client_secret")
	if len(h) > 1 {
		return credentials{}, oautherr.InvalidRequest("the Authorization header is repeated")
	}
	if len(h) == 1 {
		scheme, rest, _ := strings.Cut(h[0], " ")
		if !strings.EqualFold(scheme, "Basic") {
			return credentials{}, oautherr.InvalidClient("use HTTP Basic or client_secret_post to authenticate the client")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return credentials{}, oautherr.InvalidClient("the Basic credentials are not valid base64")
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return credentials{}, oautherr.InvalidClient("the Basic credentials lack a ':'")
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return credentials{}, oautherr.InvalidClient("the Basic credentials are not form-encoded (RFC 6749 section 2.3.1)")
		}
		if bodySecret != "" {
			return credentials{}, oautherr.InvalidRequest("use one client authentication method: HTTP Basic or client_secret in the body, not both")
		}
		if bodyID != "" && bodyID != id {
			return credentials{}, oautherr.InvalidRequest("client_id in the body differs from the one in the Authorization header")
		}
		if id == "" {
			return credentials{}, oautherr.InvalidClient("client authentication failed")
		}
		return credentials{clientID: id, secret: secret, method: "client_secret_basic"}, nil
	}
	switch {
	case bodyID == "" && bodySecret != "":
		return credentials{}, oautherr.InvalidRequest("client_secret was sent without client_id")
	case bodyID == "":
		return credentials{}, oautherr.InvalidClient("client authentication is required: send HTTP Basic credentials or client_id and client_secret")
	case bodySecret == "":
		return credentials{clientID: bodyID, method: "none"}, nil
	}
	return credentials{clientID: bodyID, secret: bodySecret, method: "client_secret_post"}, nil
}

// authenticate checks the request's client credentials. Each attempt is
// counted per client ID and source address before any secret is checked,
// so concurrent requests cannot slip past the limit together; a success
// takes its count back. Past the limit, only checks that cost microseconds
// still run: a 256-bit generated secret cannot be guessed, so its owner is
// not locked out, while guessable admin-supplied secrets get 429.
// allowPublic admits public clients identified by client_id alone. A
// client of another tenant than tenantID fails as an unknown one. A client
// is held to its token_endpoint_auth_method: any other method fails, with
// a description naming the client's.
func (s *Server) authenticate(ctx context.Context, r *http.Request, p url.Values, allowPublic bool, tenantID string) (*client.Client, *client.Secret, *oautherr.Error) {
	cred, oerr := readCredentials(r, p)
	if oerr != nil {
		return nil, nil, oerr
	}
	addr := s.sourceAddr(r)
	now := s.now()
	keys := []string{ratelimit.SourceKey(addr)}
	if client.ValidateClientID(cred.clientID) != nil {
		// Not an ID this server could have issued: no lookup, and no cache
		// entry or per-ID counter for an attacker to fill memory with.
		wait := s.limiter.Attempt(now, keys...)
		return nil, nil, s.refuse(ctx, now, keys, tenantID, cred, addr, wait, &client.AuthFailure{Reason: client.FailUnknownClient}, "")
	}
	keys = append(keys, "client:"+cred.clientID)
	wait := s.limiter.Attempt(now, keys...)
	var (
		c   *client.Client
		sec *client.Secret
		err error
	)
	switch {
	case cred.method != string(client.AuthNone):
		c, sec, err = s.Auth.Authenticate(ctx, cred.clientID, cred.secret, wait == 0)
	case allowPublic:
		c, err = s.Auth.AuthenticatePublic(ctx, cred.clientID)
	default:
		err = &client.AuthFailure{Reason: client.FailNoSecret}
	}
	if c != nil && c.TenantID != tenantID {
		c, sec, err = nil, nil, &client.AuthFailure{Reason: client.FailUnknownClient}
	}
	var fail *client.AuthFailure
	if err == nil || errors.As(err, &fail) && (fail.Reason == client.FailPublicSecret || cred.method == string(client.AuthNone)) {
		// The client may exist and use another method: say which.
		want, lerr := s.methodOf(ctx, c, cred.clientID, tenantID)
		if lerr != nil {
			err = lerr
		} else if want != "" && string(want) != cred.method {
			return nil, nil, s.refuse(ctx, now, keys, tenantID, cred, addr, wait, &client.AuthFailure{Reason: reasonWrongMethod}, want)
		}
	}
	switch {
	case errors.As(err, &fail):
		return nil, nil, s.refuse(ctx, now, keys, tenantID, cred, addr, wait, fail, "")
	case errors.Is(err, client.ErrBusy):
		return nil, nil, oautherr.Busy(1)
	case err != nil:
		return nil, nil, failure(s.Logger, r, fmt.Errorf("client authentication: %w", err))
	}
	if wait == 0 {
		s.limiter.Refund(now, keys...)
	}
	secretID := ""
	if sec != nil {
		secretID = sec.ID
	}
	s.Usage.Record(c.ID, secretID, addr, now)
	if _, err := s.RetiringUse.Observe(ctx, c, sec, addr, now); err != nil {
		// The warning is told on the next use; the request goes on.
		s.Logger.WarnContext(ctx, "retiring secret warning failed", "client_id", c.ID, "err", err)
	}
	return c, sec, nil
}

// reasonWrongMethod is the failure of a client that used a method other
// than its own.
const reasonWrongMethod client.AuthFailureReason = "wrong_auth_method"

// methodOf returns the authentication method of the client c, or, when c
// is nil, of the tenant's client with this ID; "" when there is none.
func (s *Server) methodOf(ctx context.Context, c *client.Client, id, tenantID string) (client.AuthMethod, error) {
	if c == nil {
		found, _, err := s.Auth.Current(ctx, id)
		if errors.Is(err, client.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if found.TenantID != tenantID {
			return "", nil
		}
		c = found
	}
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod, nil
	case c.Type == client.Public:
		return client.AuthNone, nil
	}
	return client.AuthSecretBasic, nil // RFC 7591 §2's default
}

// methodHints say how to use each method, for a client that used another.
var methodHints = map[client.AuthMethod]string{
	client.AuthSecretBasic: "client_secret_basic: send its client ID and secret as HTTP Basic credentials",
	client.AuthSecretPost:  "client_secret_post: send client_id and client_secret in the request body",
	client.AuthNone:        "none: send client_id alone in the request body, with PKCE",
}

// refuse logs a failed client authentication in the tenant, counts it for
// the audit trail, and words the response: 429 while the caller is over
// the limit, else invalid_client, naming the client's own method when
// want is set (the caller used another). wait is what the limiter's
// Attempt answered for keys; when it let the attempt through, the failure
// is counted with every instance's (Limiter.Failed), and is answered 429
// too when the others had already used up the limit.
func (s *Server) refuse(ctx context.Context, now time.Time, keys []string, tenantID string, cred credentials, addr string,
	wait int, fail *client.AuthFailure, want client.AuthMethod) *oautherr.Error {
	reason := string(fail.Reason)
	if wait > 0 {
		reason = "rate_limited" // over the limit: no costly check was made
	} else {
		wait = s.limiter.Failed(ctx, now, keys...)
	}
	s.Logger.InfoContext(ctx, "client authentication failed", "client_id", presentedClientID(cred.clientID),
		"reason", reason, "method", cred.method, "addr", addr)
	if s.OnAuthFailure != nil {
		s.OnAuthFailure(presentedClientID(cred.clientID), addr, reason)
	}
	s.countAuthFailure(tenantID, cred.clientID, reason, addr)
	s.Metrics.AuthFailed(reason)
	switch {
	case wait > 0:
		return oautherr.TooManyRequests(wait)
	case want != "":
		return oautherr.InvalidClient("this client's token_endpoint_auth_method is %s; %s was used", methodHints[want], cred.method)
	case fail.Reason == client.FailNoSecret:
		return oautherr.InvalidClient("client authentication is required: send HTTP Basic credentials or client_id and client_secret")
	}
	return oautherr.InvalidClient("%s", fail.Error())
}

// sourceAddr is the address failures are counted against: see
// ratelimit.SourceAddr.
func (s *Server) sourceAddr(r *http.Request) string { return ratelimit.SourceAddr(r, s.TrustedProxies) }
