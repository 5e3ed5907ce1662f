package main

import (
	"cmp"
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
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
//
// A key file is made only when mayCreate is set: on a database that holds
// no signing key yet. Otherwise a missing file is an error,
// never a new key that would leave the stored keys unreadable.
func loadKEK(c *config, e env, log *slog.Logger, mayCreate bool) ([]byte, error) {
	if v := strings.TrimSpace(e.lookup("LATCHKEY_SECRET_KEY")); v != "" {
		return decodeKEK(v)
	}
	if store.IsPostgres(c.database) {
		return nil, errors.New("LATCHKEY_SECRET_KEY is required with PostgreSQL (32 random bytes, base64): every instance must seal signing keys with the same key")
	}
	path := kekPath(c)
	b, err := os.ReadFile(path)
	if err == nil {
		return decodeKEK(string(b))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if !mayCreate {
		abs, _ := filepath.Abs(path)
		return nil, fmt.Errorf("no key file at %q and no LATCHKEY_SECRET_KEY: the key that seals this database's signing keys "+
			"is needed; set LATCHKEY_SECRET_KEY or restore the key file (it is made only while the database holds no signing key)", abs)
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
		return loadKEK(c, e, log, false)
	} else if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	log.Info("generated the key that seals signing keys; back it up with the database", "path", path)
	return key, nil
}

// kekPath is where the SQLite default keeps the key-encryption key: a
// file beside the database.
func kekPath(c *config) string {
	dir := "." // an in-memory database: the working directory
	if p, ok := store.SQLiteFile(c.database); ok {
		dir = filepath.Dir(p)
	}
	return filepath.Join(dir, "latchkey.key")
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

// signingKeys returns every tenant's signing keys, unsealed with the
// key-encryption key: the access lineage of --signing-algorithm and the
// ID-token lineage of --id-token-signing-algorithm. It loads the default
// tenant's now (making its first keys on a new database), so a wrong
// key-encryption key fails at once. Other tenants' keys load on their
// first use. A zero rotateEvery takes the default.
//
// The key file is made only while the database holds no signing key: one
// made later could not open the stored keys, and would stand in the way
// of the right one.
//
// It also returns the key-encryption key, from which the key that seals
// authorization requests through the login pages is derived.
func signingKeys(ctx context.Context, c *config, e env, st store.Store, log *slog.Logger, rotateEvery time.Duration) (*token.TenantKeys, []byte, error) {
	if err := checkAlgorithm("--id-token-signing-algorithm", c.idTokenAlg); err != nil {
		return nil, nil, err
	}
	def, err := st.DefaultTenant(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("default tenant: %w", err)
	}
	stored, err := st.SigningKeys(ctx, def.ID)
	if err != nil {
		return nil, nil, err
	}
	kek, err := loadKEK(c, e, log, len(stored) == 0)
	if err != nil {
		return nil, nil, err
	}
	lineage := func(tenant string, use token.KeyUse, alg string) *token.Keys {
		// A retired key stays published longer than any token it signed
		// lives (ID tokens live no longer than access tokens).
		return &token.Keys{Tenant: tenant, Use: use, Store: st, KEK: kek, Logger: log, RotateEvery: rotateEvery, Algorithm: alg,
			Retain: client.MaxAccessTokenTTL + keyRetainMargin, PublishAhead: token.DefaultPublishAhead}
	}
	keys := &token.TenantKeys{
		New:   func(tenant string) *token.Keys { return lineage(tenant, token.UseAccess, c.signingAlg) },
		NewID: func(tenant string) *token.Keys { return lineage(tenant, token.UseID, c.idTokenAlg) },
	}
	if _, err := keys.Get(ctx, def.ID); err != nil {
		return nil, nil, err
	}
	return keys, kek, nil
}

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List and rotate signing keys; re-seal them under a new key-encryption key",
		Long: `List and rotate signing keys; re-seal them under a new key-encryption key.
Each tenant has two lineages of keys, rotated on their own and published in
one JWKS: access keys sign access tokens, ID keys sign ID tokens.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(a.keysListCmd(), a.keysRotateCmd(), a.keysRewrapCmd())
	return cmd
}

// keyJSON is a signing key as "keys list --json" prints it: never its
// private half.
type keyJSON struct {
	ID           string     `json:"id"`
	Use          string     `json:"use"`
	Algorithm    string     `json:"algorithm"`
	State        string     `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
	ActivatedAt  *time.Time `json:"activated_at,omitempty"`
	RetiredAt    *time.Time `json:"retired_at,omitempty"`
	PublishUntil *time.Time `json:"publish_until,omitempty"`
}

func (a *app) keysListCmd() *cobra.Command {
	var asJSON bool
	var tenantName string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's signing keys: access keys, then ID keys, newest first",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.keysList(cmd.Context(), tenantName, asJSON) },
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	tenantFlag(cmd.Flags(), &tenantName, "tenant whose keys to list")
	return cmd
}

// keysList reads the stored keys only: it needs no key-encryption key
// and makes no key.
func (a *app) keysList(ctx context.Context, tenantName string, asJSON bool) error {
	st, err := openExisting(ctx, &a.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tenant, err := resolveTenant(ctx, st, tenantName)
	if err != nil {
		return err
	}
	stored, err := st.SigningKeys(ctx, tenant.ID)
	if err != nil {
		return err
	}
	rows := make([]keyJSON, len(stored))
	for i, k := range stored {
		rows[i] = keyJSON{ID: k.ID, Use: string(keyUse(k.Use)), Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt.UTC(),
			ActivatedAt: optionalTime(k.ActivatedAt), RetiredAt: optionalTime(k.RetiredAt), PublishUntil: optionalTime(k.PublishUntil)}
	}
	// Stable: each lineage stays newest first, as the store returns it.
	slices.SortStableFunc(rows, func(x, y keyJSON) int { return cmp.Compare(useOrder(x.Use), useOrder(y.Use)) })
	if asJSON {
		return printJSON(a.stdout, rows)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USE\tKID\tALG\tSTATE\tCREATED\tSIGNED FROM\tPUBLISHED UNTIL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Use, r.ID, r.Algorithm, r.State,
			r.CreatedAt.Format(time.RFC3339), timeOrNone(r.ActivatedAt), timeOrNone(r.PublishUntil))
	}
	return tw.Flush()
}

// keyUse reads an empty use, as keys made before there were uses have
// it, as access.
func keyUse(u token.KeyUse) token.KeyUse {
	if u == "" {
		return token.UseAccess
	}
	return u
}

// useOrder puts access keys before ID keys, and any other use last.
func useOrder(use string) int {
	switch token.KeyUse(use) {
	case token.UseAccess:
		return 0
	case token.UseID:
		return 1
	}
	return 2
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func timeOrNone(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// keysRotateCmd publishes the next signing key of each lineage, which
// running servers start signing with once every JWKS cache has had time
// to fetch it; with --now, the next key signs at once.
func (a *app) keysRotateCmd() *cobra.Command {
	var now bool
	var tenantName string
	use := "both"
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Publish the next signing keys (--now: sign with them at once)",
		Long: `Publish the next signing key of the access lineage and of the ID-token
lineage (--use: one of them). Running servers start signing with it once
JWKS caches have had it for 10 minutes; --now signs with it at once (an
emergency: resource servers meet a kid they have not fetched).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.keysRotate(cmd.Context(), tenantName, use, now) },
	}
	fs := cmd.Flags()
	fs.BoolVar(&now, "now", false, "sign with the new key at once (emergency: resource servers meet a kid they have not fetched)")
	fs.Var(choiceValue{&use, []string{"both", string(token.UseAccess), string(token.UseID)}}, "use",
		"which lineage to rotate: access (access tokens), id (ID tokens) or both")
	signingAlgorithm(fs, &a.cfg)
	tenantFlag(fs, &tenantName, "tenant whose keys to rotate")
	completeValues(cmd, "signing-algorithm", token.ES256, token.EdDSA, token.RS256)
	completeValues(cmd, "id-token-signing-algorithm", token.RS256, token.ES256, token.EdDSA)
	completeValues(cmd, "use", "both", string(token.UseAccess), string(token.UseID))
	return cmd
}

func (a *app) keysRotate(ctx context.Context, tenantName, use string, now bool) error {
	c := &a.cfg
	if err := checkSigningAlgorithm(c.signingAlg); err != nil {
		return err
	}
	st, err := openExisting(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	tenant, err := resolveTenant(ctx, st, tenantName)
	if err != nil {
		return err
	}
	keys, _, err := signingKeys(ctx, c, a.env, st, a.log, 0)
	if err != nil {
		return err
	}
	access, err := keys.Get(ctx, tenant.ID)
	if err != nil {
		return err
	}
	id, err := keys.ID(ctx, tenant.ID)
	if err != nil {
		return err
	}
	lineages := []*token.Keys{access, id}
	switch token.KeyUse(use) {
	case token.UseAccess:
		lineages = lineages[:1]
	case token.UseID:
		lineages = lineages[1:]
	}
	for _, k := range lineages {
		if err := a.rotateLineage(ctx, k, now); err != nil {
			return err
		}
	}
	return nil
}

// rotateLineage rotates one lineage and says what happened.
func (a *app) rotateLineage(ctx context.Context, k *token.Keys, now bool) error {
	stdout := a.stdout
	what := "access tokens"
	if k.Use == token.UseID {
		what = "ID tokens"
	}
	old, _ := k.Current()
	if now {
		if err := k.RotateNow(ctx); err != nil {
			return err
		}
		kid, alg := k.Current()
		fmt.Fprintf(stdout, "Signing with key %s (%s, %s) from now; %s stays published until its tokens expire.\n", kid, alg, what, old)
		fmt.Fprintln(stdout, "Resource servers that have not fetched the new key must refetch the JWKS when they meet its kid.")
		return nil
	}
	before, _ := k.Next()
	if err := k.Rotate(ctx); err != nil {
		return err
	}
	kid, from := k.Next()
	if kid == before {
		fmt.Fprintf(stdout, "Key %s is already published as the next key for %s.\n", kid, what)
	} else {
		fmt.Fprintf(stdout, "Published the next signing key %s for %s.\n", kid, what)
	}
	fmt.Fprintf(stdout, "Running servers start signing with it from %s, once JWKS caches have had it for %s; %s signs until then.\n",
		from.UTC().Format(time.RFC3339), k.PublishAhead.String(), old)
	return nil
}

// keysRewrapCmd re-seals every stored signing key under the current
// key-encryption key (LATCHKEY_SECRET_KEY, or the key file), reading them
// with the old one (LATCHKEY_OLD_SECRET_KEY, or --old-key-file).
func (a *app) keysRewrapCmd() *cobra.Command {
	var oldFile string
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Re-seal every signing key under a new LATCHKEY_SECRET_KEY",
		Long: `Re-seal every stored signing key under the current key-encryption key
(LATCHKEY_SECRET_KEY, or the key file beside an SQLite database), reading
them with the old one (LATCHKEY_OLD_SECRET_KEY, or --old-key-file). One
transaction: every key, or none.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.keysRewrap(cmd.Context(), oldFile) },
	}
	cmd.Flags().StringVar(&oldFile, "old-key-file", "", "file holding the old key-encryption key (instead of LATCHKEY_OLD_SECRET_KEY)")
	return cmd
}

func (a *app) keysRewrap(ctx context.Context, oldFile string) error {
	c, stdout := &a.cfg, a.stdout
	var oldKEK []byte
	var err error
	switch v := strings.TrimSpace(a.env.lookup("LATCHKEY_OLD_SECRET_KEY")); {
	case oldFile != "":
		b, err := os.ReadFile(oldFile)
		if err != nil {
			return fmt.Errorf("read old key file: %w", err)
		}
		oldKEK, err = decodeKEK(string(b))
		if err != nil {
			return fmt.Errorf("old key file: %w", err)
		}
	case v != "":
		if oldKEK, err = decodeKEK(v); err != nil {
			return fmt.Errorf("LATCHKEY_OLD_SECRET_KEY: %w", err)
		}
	default:
		return usageError{msg: "name the old key-encryption key: LATCHKEY_OLD_SECRET_KEY or --old-key-file"}
	}
	newKEK, err := loadKEK(c, a.env, a.log, false)
	if err != nil {
		return fmt.Errorf("the new key-encryption key: %w", err)
	}
	st, err := openExisting(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	resealed, already, err := token.Rewrap(ctx, st, oldKEK, newKEK, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Re-sealed %d signing keys under the new key", resealed)
	if already > 0 {
		fmt.Fprintf(stdout, " (%d were sealed under it already)", already)
	}
	fmt.Fprintln(stdout, ". Restart every instance with the new key now; then destroy the old one.")
	return nil
}

// signingAlgorithm registers the flags that pick the JWS algorithms of
// new signing keys, of each lineage: serve's and keys rotate's, which
// must agree.
func signingAlgorithm(fs *pflag.FlagSet, c *config) {
	choiceSetting(fs, &c.signingAlg, "signing-algorithm", "LATCHKEY_SIGNING_ALGORITHM", token.ES256,
		"JWS algorithm of new signing keys: ES256, EdDSA or RS256 (a change takes over at the next rotation, published ahead)",
		token.ES256, token.EdDSA, token.RS256)
	// RS256 by default: the algorithm every OpenID Connect relying party
	// supports (OpenID Connect Core §15.1).
	choiceSetting(fs, &c.idTokenAlg, "id-token-signing-algorithm", "LATCHKEY_ID_TOKEN_SIGNING_ALGORITHM", token.RS256,
		"JWS algorithm of new ID-token signing keys: RS256, ES256 or EdDSA (a change takes over at the next rotation, published ahead)",
		token.RS256, token.ES256, token.EdDSA)
}

// checkSigningAlgorithm refuses an algorithm Keys would refuse at start.
func checkSigningAlgorithm(alg string) error { return checkAlgorithm("--signing-algorithm", alg) }

// checkAlgorithm refuses, as a usage error naming flag, an algorithm Keys
// would refuse at start.
func checkAlgorithm(flag, alg string) error {
	switch alg {
	case token.ES256, token.EdDSA, token.RS256:
		return nil
	}
	return usageError{msg: fmt.Sprintf("%s %q: use ES256, EdDSA or RS256", flag, alg)}
}
