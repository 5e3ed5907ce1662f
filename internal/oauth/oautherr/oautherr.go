// Package oautherr is the protocol's error vocabulary: RFC 6749 §5.2 error
// responses, made fresh by constructors and sanitized before the wire.
// Admin and console errors are a different vocabulary and never use it.
package oautherr

import (
	"fmt"
	"net/http"
	"strings"
)

// Error is an OAuth 2.0 error response.
type Error struct {
	// Code is the RFC error code ("invalid_request", ...).
	Code string `json:"error"`
	// Description is a human explanation; it never contains a secret.
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status code.
	Status int `json:"-"`
	// Challenge, when set, is sent as WWW-Authenticate.
	Challenge string `json:"-"`
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func newErr(code string, status int, format string, args []any) *Error {
	return &Error{Code: code, Status: status, Description: sanitize(fmt.Sprintf(format, args...))}
}

// InvalidRequest: a parameter is missing, repeated, malformed or
// misplaced.
func InvalidRequest(format string, args ...any) *Error {
	return newErr("invalid_request", http.StatusBadRequest, format, args)
}

// InvalidClient: client authentication failed (401 with a challenge for the
// scheme the client used, RFC 6749 §5.2).
func InvalidClient(format string, args ...any) *Error {
	e := newErr("invalid_client", http.StatusUnauthorized, format, args)
	e.Challenge = `Basic realm="latchkey", charset="UTF-8"`
	return e
}

// InvalidGrant: the code, refresh token or credentials grant is not valid.
func InvalidGrant(format string, args ...any) *Error {
	return newErr("invalid_grant", http.StatusBadRequest, format, args)
}

// UnauthorizedClient: the client may not use this grant type.
func UnauthorizedClient(format string, args ...any) *Error {
	return newErr("unauthorized_client", http.StatusBadRequest, format, args)
}

// UnsupportedGrantType: the server does not offer this grant type.
func UnsupportedGrantType(format string, args ...any) *Error {
	return newErr("unsupported_grant_type", http.StatusBadRequest, format, args)
}

// InvalidScope: a requested scope is unknown or not allowed.
func InvalidScope(format string, args ...any) *Error {
	return newErr("invalid_scope", http.StatusBadRequest, format, args)
}

// InvalidToken: a bearer token is missing, expired or revoked (RFC 6750).
func InvalidToken(format string, args ...any) *Error {
	e := newErr("invalid_token", http.StatusUnauthorized, format, args)
	e.Challenge = `Bearer realm="latchkey", error="invalid_token", error_description=` + quote(e.Description)
	return e
}

// TooManyRequests: too many failed authentications from this client or
// address; retry after the given number of seconds.
func TooManyRequests(retryAfter int) *Error {
	e := newErr("temporarily_unavailable", http.StatusTooManyRequests, "too many failed client authentications; retry in %d s", []any{retryAfter})
	e.RetryAfter = retryAfter
	return e
}

// Unavailable: the database cannot be reached just now (RFC 6749 §4.1.2.1
// names temporarily_unavailable; the token endpoint answers it too, with
// 503 and Retry-After, so a client library retries rather than failing).
func Unavailable(retryAfter int) *Error {
	e := newErr("temporarily_unavailable", http.StatusServiceUnavailable, "the server cannot reach its database; retry in %d s", []any{retryAfter})
	e.RetryAfter = retryAfter
	return e
}

// Busy: too many costly secret checks are running; retry after the given
// number of seconds.
func Busy(retryAfter int) *Error {
	e := newErr("temporarily_unavailable", http.StatusTooManyRequests, "the server is busy checking client secrets; retry in %d s", []any{retryAfter})
	e.RetryAfter = retryAfter
	return e
}

// RequestTooLarge: the body is over the limit.
func RequestTooLarge(limit int) *Error {
	return newErr("invalid_request", http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", []any{limit})
}

// ServerError: the server failed (the cause is logged, never shown).
func ServerError() *Error {
	return &Error{Code: "server_error", Status: http.StatusInternalServerError, Description: "internal error"}
}

// sanitize keeps descriptions within RFC 6749's allowed characters
// (%x20-21 / %x23-5B / %x5D-7E), replacing the rest, and bounds their length.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 300 {
			b.WriteString("...")
			break
		}
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\'')
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// maxQuoted bounds how much of a value Quote shows.
const maxQuoted = 64

// Quote renders a request value for a description, between single quotes.
// A description may hold neither a double quote nor a backslash (RFC 6749
// §5.2), so each byte outside printable ASCII, and each of ' " \ and %, is
// written as %XX, the form encoding the client sent it in: a NUL reads
// '%00', a quote '%27', and a value can never seem to end early. A long
// value is cut, marked by "..." after the closing quote.
func Quote(v string) string {
	cut := len(v) > maxQuoted
	if cut {
		v = v[:maxQuoted]
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\'' || c == '"' || c == '\\' || c == '%' || c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

func quote(s string) string { return `"` + s + `"` }

// The errors below are those of the authorization endpoint (RFC 6749
// §4.1.2.1, OpenID Connect Core §3.1.2.6), sent to the client in the
// redirect rather than in a response body; Status is what a page showing
// one would use.

// UnsupportedResponseType: the response_type is not one this server
// offers (only "code").
func UnsupportedResponseType(format string, args ...any) *Error {
	return newErr("unsupported_response_type", http.StatusBadRequest, format, args)
}

// AccessDenied: the user denied the request.
func AccessDenied(format string, args ...any) *Error {
	return newErr("access_denied", http.StatusForbidden, format, args)
}

// LoginRequired: prompt=none was asked, but the user must sign in.
func LoginRequired(format string, args ...any) *Error {
	return newErr("login_required", http.StatusBadRequest, format, args)
}

// ConsentRequired: prompt=none was asked, but the user must consent.
func ConsentRequired(format string, args ...any) *Error {
	return newErr("consent_required", http.StatusBadRequest, format, args)
}

// RequestNotSupported: the request parameter (a request object) was
// sent; this server does not take request objects.
func RequestNotSupported(format string, args ...any) *Error {
	return newErr("request_not_supported", http.StatusBadRequest, format, args)
}

// RequestURINotSupported: the request_uri parameter was sent; this server
// does not take request objects by reference.
func RequestURINotSupported(format string, args ...any) *Error {
	return newErr("request_uri_not_supported", http.StatusBadRequest, format, args)
}

// InsufficientScope: the bearer token lacks a scope the resource needs
// (RFC 6750 §3.1): 403 with a challenge naming it.
func InsufficientScope(scope, format string, args ...any) *Error {
	e := newErr("insufficient_scope", http.StatusForbidden, format, args)
	e.Challenge = `Bearer realm="latchkey", error="insufficient_scope", scope=` + quote(scope) +
		`, error_description=` + quote(e.Description)
	return e
}
