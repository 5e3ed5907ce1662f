package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
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
// client of another tenant than tenantID fails as an unknown one.
func (s *Server) authenticate(ctx context.Context, r *http.Request, p url.Values, allowPublic bool, tenantID string) (*client.Client, *client.Secret, *oautherr.Error) {
	cred, oerr := readCredentials(r, p)
	if oerr != nil {
		return nil, nil, oerr
	}
	addr := s.sourceAddr(r)
	now := s.now()
	keys := []string{sourceKey(addr)}
	if client.ValidateClientID(cred.clientID) != nil {
		// Not an ID this server could have issued: no lookup, and no cache
		// entry or per-ID counter for an attacker to fill memory with.
		wait := s.limiter.attempt(now, keys...)
		return nil, nil, s.refuse(cred, addr, wait, &client.AuthFailure{Reason: client.FailUnknownClient})
	}
	keys = append(keys, "client:"+cred.clientID)
	wait := s.limiter.attempt(now, keys...)
	var (
		c   *client.Client
		sec *client.Secret
		err error
	)
	switch {
	case cred.method != "none":
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
	switch {
	case errors.As(err, &fail):
		return nil, nil, s.refuse(cred, addr, wait, fail)
	case errors.Is(err, client.ErrBusy):
		return nil, nil, oautherr.Busy(1)
	case err != nil && clientGone(r):
		s.Logger.Debug("client authentication cancelled", "err", err)
		return nil, nil, cancelled()
	case err != nil:
		s.Logger.Error("client authentication", "err", err)
		return nil, nil, oautherr.ServerError()
	}
	if wait == 0 {
		s.limiter.refund(now, keys...)
	}
	secretID := ""
	if sec != nil {
		secretID = sec.ID
	}
	s.Usage.Record(c.ID, secretID, now)
	return c, sec, nil
}

// refuse logs a failed client authentication and words the response: 429
// while the caller is over the limit, else invalid_client.
func (s *Server) refuse(cred credentials, addr string, wait int, fail *client.AuthFailure) *oautherr.Error {
	reason := string(fail.Reason)
	if wait > 0 {
		reason = "rate_limited" // over the limit: no costly check was made
	}
	s.Logger.Info("client authentication failed", "client_id", printable(cred.clientID),
		"reason", reason, "method", cred.method, "addr", addr)
	if s.OnAuthFailure != nil {
		s.OnAuthFailure(printable(cred.clientID), addr, reason)
	}
	if wait > 0 {
		return oautherr.TooManyRequests(wait)
	}
	if fail.Reason == client.FailNoSecret {
		return oautherr.InvalidClient("client authentication is required: send HTTP Basic credentials or client_id and client_secret")
	}
	return oautherr.InvalidClient("%s", fail.Error())
}

// sourceAddr is the address failures are counted against: the peer's IP,
// or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not one (a client can prepend anything to that
// header, so it is read from the right and only past trusted hops).
func (s *Server) sourceAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	ip, err := netip.ParseAddr(peer)
	if err != nil || !s.trusted(ip) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer // a malformed hop: count against the proxy
			}
			if !s.trusted(hop) {
				return hop.Unmap().String()
			}
		}
	}
	return peer
}

func (s *Server) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
