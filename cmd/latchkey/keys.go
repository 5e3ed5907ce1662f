package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// kekSize is the key-encryption key's length: AES-256.
const kekSize = 32

// loadKEK returns the key that seals signing keys: LATCHKEY_SECRET_KEY
// (32 bytes as base64 or hex), or, on the embedded SQLite default, a key
// generated once into a 0600 file beside the database. Several instances
// share a PostgreSQL database, so there the variable is required.
func loadKEK(c *config, e env, log *slog.Logger) ([]byte, error) {
	if v := strings.TrimSpace(e.lookup("LATCHKEY_SECRET_KEY")); v != "" {
		return decodeKEK(v)
	}
	if isPostgres(c.database) {
		return nil, errors.New("LATCHKEY_SECRET_KEY is required with PostgreSQL (32 random bytes, base64): every instance must seal signing keys with the same key")
	}
	path := filepath.Join(filepath.Dir(sqlitePath(c.database)), "latchkey.key")
	b, err := os.ReadFile(path)
	if err == nil {
		return decodeKEK(string(b))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key := make([]byte, kekSize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, err
	}
	// Write the whole key to a temporary file, then link it into place:
	// another process starting at the same moment either wins the link
	// (and we read its key) or finds nothing half-written.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".latchkey.key-*")
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("write key file: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadKEK(c, e, log)
	} else if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	log.Info("generated the key that seals signing keys; back it up with the database", "path", path)
	return key, nil
}

func decodeKEK(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(v); err == nil && len(b) == kekSize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("the secret key must be %d bytes, base64- or hex-encoded (e.g. openssl rand -base64 32)", kekSize)
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// sqlitePath is the file path within an SQLite database setting.
func sqlitePath(db string) string {
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		db = strings.TrimPrefix(db, p)
	}
	if i := strings.IndexByte(db, '?'); i >= 0 {
		db = db[:i]
	}
	return db
}

// signingKeys returns every tenant's signing keys, unsealed with the
// key-encryption key, and loads the default tenant's now (making its first
// key on a new database), so a wrong key-encryption key fails at once.
// Other tenants' keys load on their first use. A zero rotateEvery takes
// the default.
func signingKeys(ctx context.Context, c *config, e env, st store.Store, log *slog.Logger, rotateEvery time.Duration) (*token.TenantKeys, *token.Keys, error) {
	kek, err := loadKEK(c, e, log)
	if err != nil {
		return nil, nil, err
	}
	keys := &token.TenantKeys{New: func(tenant string) *token.Keys {
		// A retired key stays published longer than any token it signed lives.
		return &token.Keys{Tenant: tenant, Store: st, KEK: kek, Logger: log, RotateEvery: rotateEvery,
			Retain: client.MaxAccessTokenTTL + keyRetainMargin}
	}}
	def, err := st.DefaultTenant(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("default tenant: %w", err)
	}
	k, err := keys.Get(ctx, def.ID)
	if err != nil {
		return nil, nil, err
	}
	return keys, k, nil
}

// keys runs "latchkey keys rotate": sign with a new key from now on; the
// old key stays published until the tokens it signed have expired.
func keys(ctx context.Context, args []string, e env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(stdout, "usage: latchkey keys rotate [flags]")
		return usageError{"expects: rotate"}
	}
	var c config
	f := newFlags("keys rotate", e, stdout)
	f.common(&c)
	if _, err := f.parseArgs(args[1:]); err != nil {
		return err
	}
	log, err := c.setup(stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, &c, e, stderr, log)
	if err != nil {
		return err
	}
	defer st.Close()
	_, k, err := signingKeys(ctx, &c, e, st, log, 0)
	if err != nil {
		return err
	}
	old, _ := k.Current()
	if err := k.Rotate(ctx); err != nil {
		return err
	}
	kid, alg := k.Current()
	fmt.Fprintf(stdout, "Signing with new key %s (%s); %s stays published until its tokens expire.\n", kid, alg, old)
	return nil
}
