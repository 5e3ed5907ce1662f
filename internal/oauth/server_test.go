package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/token"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// harness is the protocol server over a real SQLite store, with a client
// service sharing its clock and invalidating its cache.
type harness struct {
	t      testing.TB
	clock  *clock
	db     *sqlite.DB
	svc    *client.Service
	actor  client.Actor
	srv    *oauth.Server
	ts     *httptest.Server
	issuer string
	kek    []byte
	keys   *token.TenantKeys

	revoked  *token.Revocations
	sessions *account.Sessions
	users    *account.Users
	usage    *client.UsageRecorder
}

// tenantKeys returns a tenant's signing keys as the server holds them.
func (h *harness) tenantKeys(tenantID string) *token.Keys {
	h.t.Helper()
	k, err := h.keys.Get(context.Background(), tenantID)
	if err != nil {
		h.t.Fatal(err)
	}
	return k
}

// secretID returns the ID of a client's newest secret.
func (h *harness) secretID(clientID string) string {
	h.t.Helper()
	secrets, err := h.db.Secrets(context.Background(), clientID)
	if err != nil || len(secrets) == 0 {
		h.t.Fatalf("secrets of %s: %v", clientID, err)
	}
	return secrets[0].ID
}

func newHarness(t testing.TB, threshold int) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	if err := db.CreateTenant(ctx, &account.Tenant{ID: "ten_1", Name: "Acme", Slug: "acme", Default: true, CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	keys := &token.TenantKeys{
		New: func(tenant string) *token.Keys {
			return &token.Keys{Tenant: tenant, Store: db, KEK: kek, Now: clk.Now, Retain: 49 * time.Hour}
		},
		NewID: func(tenant string) *token.Keys {
			return &token.Keys{Tenant: tenant, Use: token.UseID, Algorithm: token.RS256, Store: db, KEK: kek,
				Now: clk.Now, Retain: 49 * time.Hour}
		},
	}
	auth := &client.Authenticator{Repo: db, Now: clk.Now}
	revoked := &token.Revocations{}
	onRevoke := func(revs []token.Revocation) {
		for _, rv := range revs {
			revoked.Add(rv)
		}
	}
	h := &harness{t: t, clock: clk, db: db, actor: client.SystemActor("ten_1"), kek: kek, keys: keys, revoked: revoked}
	h.svc = &client.Service{Repo: db, Now: clk.Now, OnChange: auth.Invalidate}
	h.sessions = &account.Sessions{Repo: db, Now: clk.Now, OnRevoke: onRevoke}
	h.users = &account.Users{Repo: db, Now: clk.Now, OnRevoke: onRevoke}
	h.usage = &client.UsageRecorder{Repo: db}
	sealer, err := authreq.NewSealer(kek, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.ts = httptest.NewServer(mux)
	t.Cleanup(h.ts.Close)
	h.issuer = h.ts.URL
	h.srv = oauth.New(oauth.Config{
		Issuer: h.issuer, Auth: auth, Usage: h.usage, Keys: keys, Tokens: db,
		Revoked: revoked, Accounts: db, Now: clk.Now, FailureThreshold: threshold,
		Sessions: testSessions{h.sessions}, Requests: sealer, GrantStore: db, Consents: h.sessions,
	})
	h.srv.Mount(mux)
	return h
}

// testCookie carries a session's value in these tests. The account pages
// own the real cookie; this package sees sessions only through Sessions.
const testCookie = "test_session"

// testSessions is the Sessions the account pages implement, over the real
// account.Sessions, with a cookie of its own.
type testSessions struct{ s *account.Sessions }

func (t testSessions) Current(r *http.Request, tenantID string) (*account.Session, *account.User, error) {
	c, err := r.Cookie(testCookie)
	if err != nil {
		return nil, nil, nil
	}
	return t.s.Find(r.Context(), tenantID, c.Value)
}

func (t testSessions) End(w http.ResponseWriter, r *http.Request, tenantID string) error {
	c, err := r.Cookie(testCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: testCookie, Path: "/", MaxAge: -1})
	return t.s.End(r.Context(), c.Value)
}

// create registers a client and returns its ID and secret.
func (h *harness) create(p client.CreateParams) (string, string) {
	h.t.Helper()
	if p.Name == "" {
		p.Name = "Test client"
	}
	if p.GrantTypes == nil {
		p.GrantTypes = []client.GrantType{client.GrantClientCredentials}
	}
	c, sec, err := h.svc.Create(context.Background(), h.actor, p)
	if err != nil {
		h.t.Fatal(err)
	}
	if sec == nil {
		return c.ID, ""
	}
	return c.ID, sec.Plaintext
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (h *harness) do(method, path, ctype, body string, hdr ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func (h *harness) token(id, secret string, extra url.Values) response {
	h.t.Helper()
	v := url.Values{"grant_type": {"client_credentials"}}
	for k, vals := range extra {
		v[k] = vals
	}
	return h.do("POST", "/oauth2/token", form, v.Encode(), "Authorization", basicAuth(id, secret))
}

const form = "application/x-www-form-urlencoded"

func basicAuth(id, secret string) string {
	return "Basic " + b64(url.QueryEscape(id)+":"+url.QueryEscape(secret))
}
