package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The functions below are read at every scrape, on the scrape's
// goroutine: they must answer quickly and never wait long on the
// database. Each registers its metrics once; calling one twice on the same
// Metrics panics.

// PoolStats is a snapshot of a database connection pool: the figures of
// pgxpool.Stat's methods of the same names, kept apart from pgx so this
// package names no driver.
type PoolStats struct {
	AcquiredConns, IdleConns, TotalConns, MaxConns        int32
	AcquireCount, EmptyAcquireCount, CanceledAcquireCount int64
	// AcquireDuration is the total time successful acquires took.
	AcquireDuration time.Duration
}

// DBPool reports the connection pool stats returns at each scrape.
func (m *Metrics) DBPool(stats func() PoolStats) {
	if m == nil {
		return
	}
	m.reg.MustRegister(newPoolCollector(stats))
}

// DatabaseUp reports latchkey_database_up: 1 while up returns true, else
// 0. up should say what the store already knows (as store.Store's Ready
// does) rather than ask the database.
func (m *Metrics) DatabaseUp(up func() bool) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "database_up",
		Help: "Whether the database is reachable (1) or not (0), as this process last found it."},
		func() float64 {
			if up() {
				return 1
			}
			return 0
		}))
}

// OutboxDepth reports the outbox's pending deliveries per channel, as
// depth returns them at each scrape. When depth fails (the database is
// down) the scrape carries no depth rather than failing whole:
// latchkey_database_up says why.
func (m *Metrics) OutboxDepth(depth func() (map[string]int, error)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&outboxCollector{depth: depth, desc: prometheus.NewDesc(namespace+"_notify_outbox_pending",
		"Outbox deliveries waiting to be sent, by channel. Mails wait here by design when no SMTP server is configured.",
		[]string{"channel"}, nil)})
}

type outboxCollector struct {
	depth func() (map[string]int, error)
	desc  *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	depth, err := c.depth()
	if err != nil {
		return
	}
	for channel, n := range depth {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), channel)
	}
}

// poolCollector turns PoolStats into metrics: the pool's counts as
// gauges, its running totals as counters.
type poolCollector struct {
	stats                                    func() PoolStats
	acquired, idle, total, max               *prometheus.Desc
	acquires, acquireSeconds, empty, cancels *prometheus.Desc
}

func newPoolCollector(stats func() PoolStats) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		stats:          stats,
		acquired:       d("acquired_connections", "Connections in use."),
		idle:           d("idle_connections", "Connections open and idle."),
		total:          d("connections", "Connections open, in use, idle or being made."),
		max:            d("max_connections", "The most connections the pool opens."),
		acquires:       d("acquires_total", "Connections acquired from the pool."),
		acquireSeconds: d("acquire_duration_seconds_total", "Time spent acquiring connections, successful acquires only."),
		empty:          d("empty_acquires_total", "Acquires that had to wait because no connection was idle."),
		cancels:        d("canceled_acquires_total", "Acquires given up because their context ended."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.acquires, c.acquireSeconds, c.empty, c.cancels} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns))
	gauge(c.idle, float64(s.IdleConns))
	gauge(c.total, float64(s.TotalConns))
	gauge(c.max, float64(s.MaxConns))
	counter(c.acquires, float64(s.AcquireCount))
	counter(c.acquireSeconds, s.AcquireDuration.Seconds())
	counter(c.empty, float64(s.EmptyAcquireCount))
	counter(c.cancels, float64(s.CanceledAcquireCount))
}
