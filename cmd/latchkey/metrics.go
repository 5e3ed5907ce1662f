package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
)

// metricsOff is the --metrics-addr that serves no metrics at all.
const metricsOff = "off"

// newMetrics returns the process's metrics with the collectors that read
// the store at each scrape: whether the database is up, the outbox's
// depth, and on PostgreSQL the connection pool.
func newMetrics(st store.Store) *metrics.Metrics {
	m := metrics.New()
	m.DatabaseUp(func() bool {
		if h, ok := st.(store.Health); ok {
			// What the store already knows: a scrape never dials.
			return h.Ready() == nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return st.Ping(ctx) == nil
	})
	m.OutboxDepth(func() (map[string]int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		pending, err := st.PendingDeliveries(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]int, len(pending))
		for ch, n := range pending {
			out[string(ch)] = n
		}
		return out, nil
	})
	if db, ok := st.(*postgres.DB); ok {
		m.DBPool(func() metrics.PoolStats {
			s := db.PoolStat()
			return metrics.PoolStats{
				AcquiredConns: s.AcquiredConns(), IdleConns: s.IdleConns(), TotalConns: s.TotalConns(), MaxConns: s.MaxConns(),
				AcquireCount: s.AcquireCount(), EmptyAcquireCount: s.EmptyAcquireCount(),
				CanceledAcquireCount: s.CanceledAcquireCount(), AcquireDuration: s.AcquireDuration(),
			}
		})
	}
	return m
}

// metricsListener serves /metrics on an address of its own, where only the
// monitoring system should reach it. It returns the server, already
// serving, for serve to shut down with the main one.
func metricsListener(addr string, m *metrics.Metrics, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics (--metrics-addr or LATCHKEY_METRICS_ADDR): %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("serving metrics", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Warn("metrics listener stopped", "err", err)
		}
	}()
	return srv, nil
}
