package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the loader writes the SQLite file directly

	"github.com/latchkey/latchkey/internal/client"
)

// A fleet is the admin benchmark's tenant: many clients made up to look
// like a large organisation's. Its distributions are the ones the list's
// filters and sorts meet in practice: names from several word lists in
// two styles, 10% public clients, mixed grants, statuses 85/10/5, owners
// and creators spread over a few hundred people, secrets expiring up to
// 400 days either side of now (and some never), a third never used.

// fleetUsers is how many people own and create the clients.
const fleetUsers = 300

var (
	fleetOrgs = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
		"Soylent", "Tyrell", "Cyberdyne", "Aperture", "Wonka", "Oscorp", "Massive", "Dunder", "Nakatomi",
		"Gringotts", "Monarch", "Virtucon", "Zorg", "Blue Sun", "Ollivander", "Prestige", "Krusty"}
	fleetDomains = []string{"Billing", "Payments", "Inventory", "Shipping", "Analytics", "Reporting", "Search",
		"Identity", "Notifications", "Orders", "Catalog", "Pricing", "Fraud", "Ledger", "Support", "Marketing",
		"Warehouse", "Scheduler", "Metrics", "Audit", "Payroll", "Recruiting", "Loyalty", "Checkout", "Returns",
		"Invoicing", "Compliance", "Onboarding", "Forecasting", "Logistics", "Procurement", "Telemetry"}
	fleetKinds = []string{"API", "Worker", "Sync", "Portal", "Dashboard", "Mobile App", "CLI", "Gateway",
		"Exporter", "Importer", "Bot", "Webhook Relay", "Batch Job", "Integration", "Service", "Console",
		"Connector", "Agent"}
	fleetEnvs = []string{"", "", "", "prod", "staging", "dev", "test", "eu", "us-east", "apac"}
)

// fleetAge is how far back the fleet's clients were created.
const fleetAge = 3 * 365 * 24 * time.Hour

// fleet makes the n clients of one tenant, deterministically from a seed,
// in the order they were created: over fleetAge up to now, as a database
// that grew with them holds them.
type fleet struct {
	rng      *rand.Rand
	ids      *rand.ChaCha8
	tenantID string
	now      time.Time
	users    []string
	created  time.Time     // the last client's creation
	gap      time.Duration // the mean time between two creations
	n, made  int
	// middleID is the ID of the client made halfway, once it is made: a
	// needle for the benchmark's search by client ID.
	middleID string
}

func newFleet(seed uint64, tenantID string, now time.Time, n int) *fleet {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	now = now.UTC().Truncate(time.Microsecond)
	f := &fleet{rng: rand.New(rand.NewPCG(seed, 0x6c6b)), ids: rand.NewChaCha8(key), tenantID: tenantID,
		now: now, created: now.Add(-fleetAge), gap: fleetAge / time.Duration(max(n, 1)), n: n}
	for range fleetUsers {
		f.users = append(f.users, f.newID("usr_"))
	}
	return f
}

func (f *fleet) newID(prefix string) string {
	id, err := client.NewID(f.ids, prefix)
	if err != nil {
		panic(err) // ChaCha8 never fails to read
	}
	return id
}

func (f *fleet) pick(xs []string) string { return xs[f.rng.IntN(len(xs))] }

// between returns a time uniformly in [a, b).
func (f *fleet) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(f.rng.Int64N(int64(b.Sub(a))))).Truncate(time.Microsecond)
}

// name is "Acme Billing Worker (prod)" or "acme-billing-worker-prod",
// sometimes numbered.
func (f *fleet) name() string {
	parts := []string{f.pick(fleetOrgs), f.pick(fleetDomains), f.pick(fleetKinds)}
	env := f.pick(fleetEnvs)
	if f.rng.IntN(10) < 4 {
		if env != "" {
			parts = append(parts, env)
		}
		if f.rng.IntN(4) == 0 {
			parts = append(parts, fmt.Sprint(f.rng.IntN(100)))
		}
		return strings.ReplaceAll(strings.ToLower(strings.Join(parts, "-")), " ", "-")
	}
	n := strings.Join(parts, " ")
	if env != "" {
		n += " (" + env + ")"
	}
	if f.rng.IntN(4) == 0 {
		n += fmt.Sprintf(" #%d", f.rng.IntN(100))
	}
	return n
}

// next returns the fleet's next client.
func (f *fleet) next() *client.Client {
	r := f.rng
	c := &client.Client{
		ID: f.newID("lkc_"), TenantID: f.tenantID, Name: f.name(),
		Type: client.Confidential, TokenEndpointAuthMethod: client.AuthSecretBasic,
		Scopes: []string{"read"}, Roles: []string{}, PostLogoutRedirectURIs: []string{},
		AccessTokenTTL: client.DefaultAccessTTL, RefreshTokenTTL: client.DefaultRefreshTTL,
		TokenFormat: client.TokenJWT, Status: client.StatusActive,
		CreatedBy: f.pick(f.users), OwnerUserID: f.pick(f.users),
	}
	if f.made++; f.made == f.n/2+1 {
		f.middleID = c.ID
	}
	if r.IntN(20) == 0 {
		c.Description = "Registered for the " + strings.ToLower(f.pick(fleetDomains)) + " team."
	}
	if r.IntN(20) == 0 {
		c.CreatedBy = "system"
	}
	if r.IntN(10) == 0 {
		c.OwnerUserID = ""
	}
	cc, ac, rt := client.GrantClientCredentials, client.GrantAuthorizationCode, client.GrantRefreshToken
	switch g := r.IntN(100); {
	case r.IntN(10) == 0:
		c.Type, c.TokenEndpointAuthMethod = client.Public, client.AuthNone
		c.GrantTypes = []client.GrantType{ac, rt}
		if g < 30 {
			c.GrantTypes = []client.GrantType{ac}
		}
	case g < 60:
		c.GrantTypes = []client.GrantType{cc}
	case g < 85:
		c.GrantTypes = []client.GrantType{ac, rt}
	case g < 90:
		c.GrantTypes = []client.GrantType{ac}
	default:
		c.GrantTypes = []client.GrantType{cc, ac, rt}
	}
	if c.Type == client.Confidential && r.IntN(5) == 0 {
		c.TokenEndpointAuthMethod = client.AuthSecretPost
	}
	c.RedirectURIs = []string{}
	if c.HasGrant(ac) {
		slug := strings.ToLower(strings.ReplaceAll(c.Name, " ", "-"))
		c.RedirectURIs = []string{"https://" + strings.Trim(slug, "()#-") + ".example.com/callback"}
		c.Scopes = []string{"openid", "profile", "email"}
		c.RequireConsent = r.IntN(2) == 0
	}
	if r.IntN(10) == 0 {
		c.TokenFormat = client.TokenOpaque
	}
	switch s := r.IntN(100); {
	case s < 10:
		c.Status = client.StatusInactive
	case s < 15:
		c.Status = client.StatusRevoked
	}

	day := 24 * time.Hour
	f.created = f.created.Add(time.Duration(r.Int64N(int64(2*f.gap) + 1))).Truncate(time.Microsecond)
	c.CreatedAt = f.created
	if c.CreatedAt.After(f.now) {
		c.CreatedAt = f.now
	}
	c.UpdatedAt = f.between(c.CreatedAt, f.now)
	if r.IntN(10) >= 3 {
		c.LastUsedAt = f.between(c.CreatedAt, f.now)
		c.LastToken = client.Issue{At: c.LastUsedAt, Grant: c.GrantTypes[r.IntN(len(c.GrantTypes))]}
	}
	if c.Type == client.Confidential && r.IntN(8) != 0 {
		c.SecretExpiresAt = f.between(f.now.Add(-400*day), f.now.Add(400*day))
	}
	if c.HasGrant(ac) && !c.LastUsedAt.IsZero() && r.IntN(10) < 6 {
		c.LastAuthorization = client.Authorization{At: f.between(c.CreatedAt, c.LastUsedAt.Add(time.Microsecond)),
			UserID: f.pick(f.users), RedirectURI: c.RedirectURIs[0]}
	}
	return c
}

// loadBatch is how many clients one transaction of a loader writes.
const loadBatch = 20000

// loadColumns are the clients columns the loaders write, in order.
var loadColumns = []string{"id", "tenant_id", "name", "description", "type", "grant_types", "redirect_uris",
	"scopes", "roles", "owner_user_id", "access_token_ttl", "refresh_token_ttl", "token_format",
	"require_consent", "status", "protected", "created_at", "created_by", "updated_at", "last_used_at",
	"secret_expires_at", "token_endpoint_auth_method", "id_token_alg", "post_logout_redirect_uris",
	"last_authorized_at", "last_authorized_user", "last_authorized_redirect_uri", "last_token_at",
	"last_token_grant"}

// rowValues returns c's values in loadColumns order, with times and lists
// converted by the backend's functions.
func rowValues(c *client.Client, at func(time.Time) any, list func([]string) any, boolean func(bool) any) []any {
	grants := make([]string, len(c.GrantTypes))
	for i, g := range c.GrantTypes {
		grants[i] = string(g)
	}
	return []any{c.ID, c.TenantID, c.Name, c.Description, string(c.Type), list(grants), list(c.RedirectURIs),
		list(c.Scopes), list(c.Roles), c.OwnerUserID, int64(c.AccessTokenTTL / time.Second),
		int64(c.RefreshTokenTTL / time.Second), string(c.TokenFormat), boolean(c.RequireConsent),
		string(c.Status), boolean(c.Protected), at(c.CreatedAt), c.CreatedBy, at(c.UpdatedAt), at(c.LastUsedAt),
		at(c.SecretExpiresAt), string(c.TokenEndpointAuthMethod), c.IDTokenAlg, list(c.PostLogoutRedirectURIs),
		at(c.LastAuthorization.At), c.LastAuthorization.UserID, c.LastAuthorization.RedirectURI,
		at(c.LastToken.At), string(c.LastToken.Grant)}
}

// loadSQLite writes n clients of f into the migrated SQLite file at path
// with multi-row INSERTs, loadBatch to a transaction. The schema's
// triggers fill the trigram index and the change log as the rows arrive,
// as they do for clients the API creates; the change log's rows are
// deleted at the end, so the server under test does not start by reading
// a million changes.
func loadSQLite(ctx context.Context, path string, f *fleet, n int, progress func(int)) error {
	// A large page cache: the indexes of a million clients take random
	// writes everywhere.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)&_pragma=cache_size(-524288)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	micros := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UnixMicro()
	}
	jsonList := func(xs []string) any {
		b, _ := json.Marshal(xs)
		return string(b)
	}
	boolInt := func(b bool) any {
		if b {
			return 1
		}
		return 0
	}
	// 29 columns × 500 rows stays under SQLite's 32,766 parameters.
	const perStatement = 500
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(loadColumns)), ", ") + ")"
	insert := "INSERT INTO clients (" + strings.Join(loadColumns, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", perStatement), ", ")
	for done := 0; done < n; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			tx.Rollback()
			return err
		}
		for end := min(done+loadBatch, n); done < end; {
			k := min(perStatement, end-done)
			args := make([]any, 0, k*len(loadColumns))
			for range k {
				args = append(args, rowValues(f.next(), micros, jsonList, boolInt)...)
			}
			if k == perStatement {
				_, err = stmt.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, "INSERT INTO clients ("+strings.Join(loadColumns, ", ")+") VALUES "+
					strings.TrimSuffix(strings.Repeat(row+", ", k), ", "), args...)
			}
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("insert clients: %w", err)
			}
			done += k
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
		progress(done)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM change_log`); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// loadPostgres writes n clients of f into the migrated database at url
// with COPY, loadBatch to a transaction. As on SQLite, the triggers run
// and the change log is emptied at the end; then ANALYZE gives the
// planner the statistics autovacuum would gather soon after such a load.
func loadPostgres(ctx context.Context, url string, f *fleet, n int, progress func(int)) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	at := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t
	}
	list := func(xs []string) any { return xs }
	boolean := func(b bool) any { return b }
	for done := 0; done < n; {
		k := min(loadBatch, n-done)
		rows := make([][]any, k)
		for i := range rows {
			rows[i] = rowValues(f.next(), at, list, boolean)
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"clients"}, loadColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy clients: %w", err)
		}
		done += k
		progress(done)
	}
	for _, q := range []string{`TRUNCATE change_log`, `VACUUM ANALYZE clients`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
