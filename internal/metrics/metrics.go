package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric Latchkey defines.
const namespace = "latchkey"

// Caches whose lookups and invalidations are counted.
const (
	// CacheClients is the authenticator's cache of clients and their
	// secrets' hashes (client.Authenticator). Its invalidations count the
	// entries of both its caches.
	CacheClients = "clients"
	// CacheUnknownClients is its cache of IDs found to name no client: a
	// hit there is a made-up or deleted ID answered without a read. Its
	// misses are counted as the clients cache's.
	CacheUnknownClients = "unknown_clients"
)

// Metrics holds Latchkey's metrics and the registry they are served from.
// Build it with New. A nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	tokens       *prometheus.CounterVec
	authFailures *prometheus.CounterVec

	cacheLookups       *prometheus.CounterVec
	cacheInvalidations *prometheus.CounterVec
	cacheDropped       *prometheus.CounterVec
	changeLag          prometheus.Histogram

	sweeps           *prometheus.CounterVec
	sweepSecrets     prometheus.Counter
	sweepStages      *prometheus.CounterVec
	sweepQueued      *prometheus.CounterVec
	sweepUnreachable prometheus.Counter
	deliveries       *prometheus.CounterVec
}

// New returns Metrics on a registry of their own, with the Go runtime's
// and the process's collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &Metrics{
		reg: reg,
		requests: f.counterVec("http_requests_total",
			"HTTP requests answered, by the ServeMux pattern that matched and status code.", "route", "code"),
		duration: f.histogramVec("http_request_duration_seconds",
			"Time to answer an HTTP request, by the ServeMux pattern that matched.", prometheus.DefBuckets, "route"),
		tokens: f.counterVec("tokens_issued_total",
			"Successful token responses, by grant type and client ID.", "grant_type", "client_id"),
		authFailures: f.counterVec("client_auth_failures_total",
			"Failed client authentications, by reason.", "reason"),
		cacheLookups: f.counterVec("cache_lookups_total",
			"Cache lookups, by cache and result (hit or miss).", "cache", "result"),
		cacheInvalidations: f.counterVec("cache_invalidations_total",
			"Invalidations of a cache, one entry or all of them, by cache.", "cache"),
		cacheDropped: f.counterVec("cache_invalidated_entries_total",
			"Entries dropped from a cache by invalidations, by cache.", "cache"),
		changeLag: f.histogram("change_lag_seconds",
			"Time from a change's commit, by the database's clock, to its being applied to this process's caches.",
			[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}),
		sweeps: f.counterVec("notify_sweeps_total",
			"Expiry sweeps run, by result (ok or failed).", "result"),
		sweepSecrets: f.counter("notify_sweep_secrets_total",
			"Secrets a sweep found with a warning stage due."),
		sweepStages: f.counterVec("notify_sweep_stages_total",
			"Warning stages a sweep recorded, by outcome: sent, or skipped (superseded, stale, client inactive).", "outcome"),
		sweepQueued: f.counterVec("notify_sweep_queued_total",
			"Outbox rows a sweep queued, by channel.", "channel"),
		sweepUnreachable: f.counter("notify_sweep_unreachable_recipients_total",
			"Recipients a sweep recorded as skipped for want of a valid address."),
		deliveries: f.counterVec("notify_deliveries_total",
			"Outbox delivery attempts, by channel and resulting status (sent, failed, or pending: retried later).",
			"channel", "status"),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series whose label values the code fixes start at zero, so a rate
	// over them is defined before the first event.
	m.cacheInvalidations.WithLabelValues(CacheClients)
	m.cacheDropped.WithLabelValues(CacheClients)
	for _, r := range []string{"hit", "miss"} {
		m.cacheLookups.WithLabelValues(CacheClients, r)
	}
	m.cacheLookups.WithLabelValues(CacheUnknownClients, "hit")
	for _, r := range []string{"ok", "failed"} {
		m.sweeps.WithLabelValues(r)
	}
	for _, o := range []string{"sent", "skipped"} {
		m.sweepStages.WithLabelValues(o)
	}
	for _, c := range []string{"email", "webhook"} {
		m.sweepQueued.WithLabelValues(c)
	}
	return m
}

// Handler serves the metrics in Prometheus's exposition formats. Serve it
// where only the monitoring system can reach it: it names clients and
// tells how busy each is. A nil *Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// TokenIssued counts a successful token response. clientID labels the
// series: client IDs are public, and bounded by the registered clients
// (the token endpoint issues only to clients that authenticated), so the
// label cannot be driven up by made-up IDs.
func (m *Metrics) TokenIssued(grant, clientID string) {
	if m == nil {
		return
	}
	m.tokens.WithLabelValues(grant, clientID).Inc()
}

// AuthFailed counts a failed client authentication. reason is one of the
// client.AuthFailureReason values, or a reason the caller adds of its own
// (such as a rate limit); never anything the request sent.
func (m *Metrics) AuthFailed(reason string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// CacheLookup counts a lookup in cache, served from it (hit) or not.
func (m *Metrics) CacheLookup(cache string, hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cacheLookups.WithLabelValues(cache, result).Inc()
}

// CacheInvalidated counts one invalidation of cache that dropped n
// entries: 0 or 1 when one key is forgotten, the cache's size when all
// are.
func (m *Metrics) CacheInvalidated(cache string, n int) {
	if m == nil {
		return
	}
	m.cacheInvalidations.WithLabelValues(cache).Inc()
	m.cacheDropped.WithLabelValues(cache).Add(float64(max(n, 0)))
}

// ChangeLag observes how long a change took from its commit to being
// applied here. The commit time is the database's clock and the end this
// process's: a skew between them shows as lag (or, when negative, as 0).
func (m *Metrics) ChangeLag(d time.Duration) {
	if m == nil {
		return
	}
	m.changeLag.Observe(max(d, 0).Seconds())
}

// Sweep is what one expiry sweep did (notify.SweepReport), for
// SweepResult.
type Sweep struct {
	// Secrets had a stage come due; of their stages, Warned were sent
	// and Skipped recorded as not sent.
	Secrets, Warned, Skipped int
	// Mails and Events are the outbox rows queued; NoAddress the
	// recipients skipped for want of a valid address.
	Mails, Events, NoAddress int
	// Failed is set when the sweep stopped on an error; the counts are
	// then what it committed before.
	Failed bool
}

// SweepResult counts one expiry sweep and what it did.
func (m *Metrics) SweepResult(s Sweep) {
	if m == nil {
		return
	}
	result := "ok"
	if s.Failed {
		result = "failed"
	}
	m.sweeps.WithLabelValues(result).Inc()
	m.sweepSecrets.Add(float64(s.Secrets))
	m.sweepStages.WithLabelValues("sent").Add(float64(s.Warned))
	m.sweepStages.WithLabelValues("skipped").Add(float64(s.Skipped))
	m.sweepQueued.WithLabelValues("email").Add(float64(s.Mails))
	m.sweepQueued.WithLabelValues("webhook").Add(float64(s.Events))
	m.sweepUnreachable.Add(float64(s.NoAddress))
}

// Delivered counts one attempt at an outbox delivery on channel, by the
// status it left the delivery in: "sent", "failed" (given up) or
// "pending" (to be retried).
func (m *Metrics) Delivered(channel, status string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(channel, status).Inc()
}

// factory makes metrics registered on one registry, named under
// namespace.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
