package oauth

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/latchkey/latchkey/internal/errs"
)

//go:embed templates/error.html
var templates embed.FS

// errorTemplate is parsed when the program starts, so a missing or broken
// template stops it there rather than on the first error.
var errorTemplate = template.Must(template.ParseFS(templates, "templates/error.html"))

// pageHeaders are sent with every HTML page and browser redirect of the
// protocol endpoints: nothing may frame, sniff, cache or refer them on.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// errorView is what the error page shows. Message never holds a secret.
type errorView struct {
	Title, Message, Advice string
}

// writePage answers a browser with the error page. It is the answer when
// the request cannot be trusted to name where the browser should go back
// to (RFC 6749 §4.1.2.1): it never redirects.
func writePage(w http.ResponseWriter, status int, message string) {
	v := errorView{Title: "This sign-in cannot continue", Message: message,
		Advice: "Go back to the application you came from and try again. If this keeps happening, tell the application's developers what this page says."}
	if status >= 500 {
		v.Title = "Something went wrong"
		v.Advice = "Try again in a moment."
	}
	var b bytes.Buffer
	if err := errorTemplate.Execute(&b, v); err != nil {
		// The template is fixed and its fields strings: only a write can
		// fail, and there is nothing left to tell the browser.
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString("internal error\n")
	}
	h := w.Header()
	pageHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// pageFailed logs a server failure behind a page and shows the generic
// error page.
func (s *Server) pageFailed(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r) {
		s.Logger.Debug("request cancelled", "path", r.URL.Path, "err", err)
		writePage(w, statusClientClosedRequest, "The request was cancelled.")
		return
	}
	if errors.Is(err, errs.ErrUnavailable) {
		s.Logger.Debug("database unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(errs.RetryAfter))
		writePage(w, http.StatusServiceUnavailable, "The server cannot reach its database just now.")
		return
	}
	s.Logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	writePage(w, http.StatusInternalServerError, "The server could not finish the request.")
}

// inTenantPage is inTenant for endpoints a browser visits: their errors
// are pages, not JSON.
func (s *Server) inTenantPage(h tenantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ts, err := s.scope(r.Context(), r.PathValue("tenant"))
		switch {
		case errors.Is(err, errNoTenant):
			writePage(w, http.StatusNotFound, "No organisation is served at this address.")
		case err != nil:
			s.pageFailed(w, r, err)
		default:
			h(w, r, ts)
		}
	}
}

// redirect sends the browser to target with params added to its query
// (RFC 6749 §3.1.2: a query the URI already has is kept). A POST is
// answered 303, so that the browser follows with a GET; a GET 302.
func redirect(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	if len(params) > 0 {
		sep := "?"
		if u, err := url.Parse(target); err == nil && (u.RawQuery != "" || u.ForceQuery) {
			sep = "&"
			if u.RawQuery == "" {
				sep = ""
			}
		}
		target += sep + params.Encode()
	}
	pageHeaders(w.Header())
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", target)
	w.WriteHeader(status)
}
