package main

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"time"

	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

// bulkSealer seals bulk rotations' new secrets with a key derived from
// the KEK, like the webhooks' secrets.
func bulkSealer(kek []byte) (*bulk.Sealer, error) {
	key, err := hkdf.Key(sha256.New, kek, nil, "latchkey bulk rotation results", 32)
	if err != nil {
		return nil, err
	}
	return bulk.NewSealer(key)
}

// bulkLease is how long a server holds a bulk job between renewals (it
// renews every few clients): a job whose server died is resumed by
// another, or by the same one restarted, within it.
const bulkLease = 10 * time.Second

// newBulk wires the bulk service and this process's runner.
func newBulk(st store.Store, kek []byte, clients *client.Service) (*bulk.Service, *bulk.Runner, error) {
	sealer, err := bulkSealer(kek)
	if err != nil {
		return nil, nil, err
	}
	bs, ok := st.(bulk.Store)
	if !ok {
		return nil, nil, nil
	}
	host, _ := os.Hostname()
	b := make([]byte, 6)
	rand.Read(b)
	owner := host + "/" + hex.EncodeToString(b)
	return &bulk.Service{Store: bs, Clients: clients, Sealer: sealer},
		&bulk.Runner{Store: bs, Clients: clients, Sealer: sealer, Owner: owner, Lease: bulkLease}, nil
}
