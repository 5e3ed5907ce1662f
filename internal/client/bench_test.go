package client_test

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
)

// BenchmarkRotateSecret is one admin write end to end on a real SQLite
// file: lock, retire the old secret, store the new one, update the client,
// append the audit event, commit (synchronous=FULL).
func BenchmarkRotateSecret(b *testing.B) {
	f := newFixtureTB(b)
	ctx := context.Background()
	c, _, err := f.svc.Create(ctx, f.sys, cc("bench"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.svc.RotateSecret(ctx, f.sys, c.ID, client.RotateParams{}); err != nil {
			b.Fatal(err)
		}
	}
}
