package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/admin/idempotency"
)

// IdempotencyStore keeps the records of Idempotency-Key requests.
type IdempotencyStore = idempotency.Store

// Idempotency lifetimes: a reservation frees its key a minute after a
// request that never finished; a response is replayed for a day.
const (
	idempotencyRunning = time.Minute
	idempotencyKept    = 24 * time.Hour
	maxIdempotencyKey  = 255
)

// idempotent runs a create at most once per Idempotency-Key: the first
// request runs create and stores its response; a retry with the same key
// and the same request gets that response again (with the header
// Idempotent-Replayed: true, and without any secret, which is shown once);
// the same key with another request is 422; a retry while the first still
// runs is 409. Without the header create simply runs.
//
// create returns the status, the body to answer with now, and the body to
// keep for replays.
func (a *API) idempotent(w http.ResponseWriter, r *http.Request, c *call, body []byte,
	create func() (status int, shown, kept any, err error)) error {
	keys := r.Header.Values("Idempotency-Key")
	if len(keys) == 0 {
		status, shown, _, err := create()
		if err != nil {
			return err
		}
		writeJSON(w, status, shown)
		return nil
	}
	key := keys[0]
	if len(keys) > 1 || key == "" || len(key) > maxIdempotencyKey || !printableASCII(key) {
		p := NewProblem(http.StatusBadRequest, "invalid_idempotency_key",
			"send one Idempotency-Key header of 1 to 255 printable ASCII characters")
		return &p
	}
	// Keyed, so the stored hash of a body holding a password or an
	// admin-chosen secret cannot be used to test guesses.
	mac := hmac.New(sha256.New, a.requestKey())
	mac.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	mac.Write(body)
	sum := mac.Sum(nil)
	now := a.now()
	rec := &idempotency.Record{TenantID: c.actor.TenantID, ActorID: c.actor.ID, Key: key,
		RequestHash: hex.EncodeToString(sum), CreatedAt: now, ExpiresAt: now.Add(idempotencyRunning)}
	prev, err := a.Idempotency.ReserveIdempotency(r.Context(), rec)
	if err != nil {
		return err
	}
	if prev != nil {
		switch {
		case prev.RequestHash != rec.RequestHash:
			p := NewProblem(http.StatusUnprocessableEntity, "idempotency_key_reused",
				"this Idempotency-Key was used with a different request")
			return &p
		case prev.Status == 0:
			p := NewProblem(http.StatusConflict, "idempotency_key_in_use",
				"a request with this Idempotency-Key is still running; retry shortly")
			return &p
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(prev.Status)
		w.Write(prev.Body)
		return nil
	}
	status, shown, kept, err := create()
	if err != nil {
		// Nothing was created: the key may be retried. The request's own
		// context may be gone; the release must still happen.
		if rerr := a.Idempotency.ReleaseIdempotency(context.WithoutCancel(r.Context()), rec.TenantID, rec.ActorID, key); rerr != nil {
			a.log().Warn("admin API: releasing an idempotency key", "request_id", c.requestID, "err", rerr)
		}
		return err
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	rec.Status, rec.Body, rec.ExpiresAt = status, append(b, '\n'), now.Add(idempotencyKept)
	if err := a.Idempotency.CompleteIdempotency(context.WithoutCancel(r.Context()), rec); err != nil {
		// The create happened: answer it. A retry within the minute the
		// reservation lasts is refused as running; the log line says why
		// a later one could create again.
		a.log().Warn("admin API: storing an idempotent response", "request_id", c.requestID, "err", err)
	}
	writeJSON(w, status, shown)
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestKey is the key of the requests' hashes: RequestKey, or, when the
// API was built without one, a random key of this process (retries then
// match only within it).
func (a *API) requestKey() []byte {
	a.keyOnce.Do(func() {
		if len(a.RequestKey) > 0 {
			a.key = a.RequestKey
			return
		}
		a.key = make([]byte, 32)
		rand.Read(a.key)
	})
	return a.key
}
