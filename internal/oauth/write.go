package oauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// writeJSON sends v with the headers every protocol response carries:
// tokens and token metadata must never be cached (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error can get here: every response type
		// marshals.
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error","error_description":"internal error"}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeError sends an RFC 6749 §5.2 error response.
func writeError(w http.ResponseWriter, e *oautherr.Error) {
	if e.Challenge != "" {
		w.Header().Set("WWW-Authenticate", e.Challenge)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, e)
}

// serverError logs the cause of a failure and sends a generic 500, unless
// the request's client went away first: then the failure (a store read cut
// short, most likely) is the client's doing, logged at debug only. A
// database that cannot be reached is answered 503 with Retry-After and
// logged at debug: the store logs the outage once.
func serverError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	writeError(w, failure(log, r, err))
}

// failure logs err as serverError does and returns the error to answer.
func failure(log *slog.Logger, r *http.Request, err error) *oautherr.Error {
	switch {
	case clientGone(r):
		log.Debug("request cancelled", "path", r.URL.Path, "err", err)
		return cancelled()
	case errors.Is(err, errs.ErrUnavailable):
		log.Debug("database unavailable", "path", r.URL.Path, "err", err)
		return oautherr.Unavailable(errs.RetryAfter)
	}
	log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	return oautherr.ServerError()
}

// clientGone reports whether r's client closed the connection (or, over
// HTTP/2, reset the stream) before it was answered: net/http then ends the
// request's context.
func clientGone(r *http.Request) bool { return r.Context().Err() != nil }

// statusClientClosedRequest answers a request whose client went away. No
// one reads it; it keeps such requests out of the 5xx a server is paged
// for, as the status nginx made common for the case does.
const statusClientClosedRequest = 499

// cancelled is the response to a request whose client went away.
func cancelled() *oautherr.Error {
	return &oautherr.Error{Code: "invalid_request", Status: statusClientClosedRequest,
		Description: "the client closed the request"}
}

// methodNotAllowed answers a wrong method with 405 and Allow.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, &oautherr.Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed,
			Description: "use " + allow})
	}
}

// writeBody encodes v as the response body; headers are the caller's.
func writeBody(w http.ResponseWriter, v any) {
	json.NewEncoder(w).Encode(v)
}
