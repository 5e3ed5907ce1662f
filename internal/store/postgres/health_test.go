package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/testpg"
)

// closedPort is a local port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// connectError is what pgx returns when no host of the URL answers.
func connectError(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:"+strconv.Itoa(closedPort(t))+"/x?sslmode=disable")
	if err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a closed port")
	}
	return err
}

func TestUnavailableSaysWhichErrorsMeanNotNow(t *testing.T) {
	cerr := connectError(t)
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"no rows", pgx.ErrNoRows, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"connection refused", cerr, true},
		{"wrapped connect error", fmt.Errorf("postgres: get client: %w", cerr), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"read-only standby", &pgconn.PgError{Code: "25006"}, true},
		{"closed conn", pgconn.ErrConnClosed, true},
		{"cut off", io.ErrUnexpectedEOF, true},
		{"already marked", errDown, true},
	} {
		if got := unavailable(c.err); got != c.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	h := newHealth(nil)
	if err := h.classify(pgx.ErrNoRows); err != pgx.ErrNoRows {
		t.Errorf("classify changed a refusal: %v", err)
	}
	if err := h.classify(&pgconn.PgError{Code: "57P01"}); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("classify(admin shutdown) = %v, want ErrUnavailable", err)
	}
	if h.ready() != nil {
		t.Error("a broken connection marked the database down: only a failed connection attempt may")
	}
}

// TestHealthRefusesToDialWhileDownAndReconnects: a failed connection
// attempt marks the database down; the pool may then not dial (its hook
// refuses at once), and the prober marks it up when it can connect.
func TestHealthRefusesToDialWhileDownAndReconnects(t *testing.T) {
	cfg, err := pgx.ParseConfig(testpg.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	h := newHealth(cfg)
	if err := h.beforeConnect(context.Background(), nil); err != nil {
		t.Fatalf("up: beforeConnect = %v", err)
	}
	err = h.classify(fmt.Errorf("postgres: get client: %w", connectError(t)))
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("classify(connect error) = %v", err)
	}
	if err := h.ready(); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("after a failed connection attempt ready() = %v, want ErrUnavailable", err)
	}
	if err := h.beforeConnect(context.Background(), nil); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("down: beforeConnect = %v, want a refusal without dialling", err)
	}
	// The prober runs on the configuration that reaches the database.
	h.run(func(context.Context) error { return nil })
	defer h.stop()
	deadline := time.Now().Add(10 * time.Second)
	for h.ready() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the prober did not mark the database up within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.beforeConnect(context.Background(), nil); err != nil {
		t.Fatalf("up again: beforeConnect = %v", err)
	}
}
