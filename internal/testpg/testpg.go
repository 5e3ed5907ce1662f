// Package testpg gives tests a PostgreSQL database of their own on the
// server LATCHKEY_TEST_POSTGRES_URL names. Without the variable a test
// skips, except in CI (CI set to anything), where it fails: CI must test
// PostgreSQL. Only tests import it.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the server the tests may create databases on.
const EnvVar = "LATCHKEY_TEST_POSTGRES_URL"

// AdminURL returns the server's URL from EnvVar, or skips the test (fails
// it in CI) when the variable is unset.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(EnvVar + " is not set: CI must run the PostgreSQL tests " +
				"(e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
		}
		t.Skip(EnvVar + " is not set")
	}
	return u
}

// Database creates an empty database named prefix plus random hex on the
// server, drops it when the test ends (after the test's later cleanups,
// such as servers still connected to it), and returns its URL.
func Database(t testing.TB, prefix string) string {
	t.Helper()
	admin := AdminURL(t)
	ctx := context.Background()
	b := make([]byte, 8)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	u.Path = "/" + name
	return u.String()
}
