package leak

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/ratelimit"
)

// Path is where reports are posted: under the root, and under each
// tenant's issuer path (/t/{slug}) as the protocol endpoints are.
const Path = "/leaks/report"

// Reporter acts on one report; *client.Service is the one.
type Reporter interface {
	ReportLeak(ctx context.Context, r client.LeakReport) (*client.Leaked, error)
}

// Handler serves Path.
//
// Its zero value is not usable: Reporter is required. Limit, when set,
// counts every request per source address and refuses with 429 past its
// threshold; nil limits nothing.
type Handler struct {
	Reporter Reporter
	Limit    *ratelimit.Limiter
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// source address.
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	Logger         *slog.Logger
}

// Received is the answer to every well-formed report, whatever it held.
type Received struct {
	// Received is how many entries the report listed.
	Received int `json:"received"`
}

// Mount registers the endpoint on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	for _, base := range []string{"", "/t/{tenant}"} {
		mux.Handle("POST "+base+Path, h)
	}
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	key := ratelimit.SourceKey(ratelimit.SourceAddr(r, h.TrustedProxies))
	if h.Limit != nil {
		if wait := h.Limit.Attempt(now, key); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			writeError(w, http.StatusTooManyRequests, "too_many_requests", "too many reports from this address; retry later")
			return
		}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the report must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the report is larger than "+strconv.Itoa(MaxBody)+" bytes")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_request", "the report could not be read")
		return
	}
	reports, err := Parse(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	credible := false
	for _, rep := range reports {
		if !client.IsGeneratedSecret(rep.Token) {
			continue // junk costs nothing more
		}
		credible = true
		if _, err := h.Reporter.ReportLeak(r.Context(), rep); err != nil && h.Logger != nil {
			// The report is answered as received all the same: a failure
			// must not tell a real secret from a wrong one.
			h.Logger.Error("leak report", "err", err)
		}
	}
	if credible && h.Limit != nil {
		// Reports that reached the database count on every instance.
		h.Limit.Failed(r.Context(), now, key)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(Received{Received: len(reports)})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, msg})
}
