package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/argon2id"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth/authreq"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	password  = "correct horse battery staple"
	anaEmail  = "ana@example.com"
	anaID     = "usr_ana"
	disEmail  = "dis@example.com"
	bettyID   = "usr_betty" // of tenant ten_b
	bettyMail = "betty@example.com"
)

// cheap is an argon2id cost for tests; the timing equaliser of unknown
// users still pays the default.
var cheap = argon2id.Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32}

// countingRepo counts password lookups, to show when a sign-in was not
// checked at all, and fails what a test asks it to.
type countingRepo struct {
	account.Repository
	mu      sync.Mutex
	lookups int
	// fail names the methods that fail: "tx", "consent", "consents".
	fail map[string]bool
}

var errStore = errors.New("store: disk on fire")

func (c *countingRepo) failing(method string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fail[method]
}

func (c *countingRepo) InAccountTx(ctx context.Context, fn func(account.Tx) error) error {
	if c.failing("tx") {
		return errStore
	}
	return c.Repository.InAccountTx(ctx, fn)
}

func (c *countingRepo) Consent(ctx context.Context, userID, clientID string) (*account.Consent, error) {
	if c.failing("consent") {
		return nil, errStore
	}
	return c.Repository.Consent(ctx, userID, clientID)
}

func (c *countingRepo) Consents(ctx context.Context, userID string) ([]account.Consent, error) {
	if c.failing("consents") {
		return nil, errStore
	}
	return c.Repository.Consents(ctx, userID)
}

func (c *countingRepo) UserByEmail(ctx context.Context, tenantID, email string) (*account.User, error) {
	c.mu.Lock()
	c.lookups++
	c.mu.Unlock()
	return c.Repository.UserByEmail(ctx, tenantID, email)
}

func (c *countingRepo) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookups
}

// syncBuffer is a log sink safe for the handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	t        *testing.T
	db       *sqlite.DB
	repo     *countingRepo
	now      time.Time
	issuer   string
	sessions *account.Sessions
	sealer   *authreq.Sealer
	clients  map[string]*client.Client
	pages    *Pages
	mux      *http.ServeMux
	logs     *syncBuffer
	// clientErr and tenantErr, when set, are what the lookups return.
	clientErr, tenantErr error
}

// newFixture serves the pages of tenant ten_a (the default, at issuer)
// and ten_b (at issuer/t/beta) over a real SQLite store.
func newFixture(t *testing.T, issuer string, tweak ...func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, repo: &countingRepo{Repository: db, fail: map[string]bool{}}, now: t0, issuer: issuer, logs: &syncBuffer{},
		clients: map[string]*client.Client{
			"app": {ID: "app", TenantID: "ten_a", Name: "Project Manager Pro", Description: "Plans your projects"},
			"cal": {ID: "cal", TenantID: "ten_a", Name: "Calendar <Sync>"},
			"bee": {ID: "bee", TenantID: "ten_b", Name: "Beta App"},
		}}
	for _, tn := range []account.Tenant{{ID: "ten_a", Name: "A", Default: true, CreatedAt: t0}, {ID: "ten_b", Name: "B", Slug: "beta", CreatedAt: t0}} {
		if err := db.CreateTenant(ctx, &tn); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := argon2id.Hash(rand.Reader, password, cheap)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []account.User{
		{ID: anaID, TenantID: "ten_a", Email: anaEmail, Name: "Ana", Status: account.UserActive},
		{ID: "usr_dis", TenantID: "ten_a", Email: disEmail, Name: "Dis", Status: account.UserDisabled},
		{ID: bettyID, TenantID: "ten_b", Email: bettyMail, Name: "Betty", Status: account.UserActive},
	} {
		u.PasswordHash, u.Locale, u.CreatedAt, u.UpdatedAt = hash, "en", t0, t0
		if err := db.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	clock := func() time.Time { return f.now }
	f.sessions = &account.Sessions{Repo: f.repo, Now: clock}
	if f.sealer, err = authreq.NewSealer(bytes.Repeat([]byte{9}, 32), clock, nil); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Sessions: f.sessions, Accounts: f.repo, Requests: f.sealer, Now: clock,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Client: func(ctx context.Context, id string) (*client.Client, error) {
			if f.clientErr != nil {
				return nil, f.clientErr
			}
			if c, ok := f.clients[id]; ok {
				return c, nil
			}
			return nil, client.ErrNotFound
		},
		Tenant: func(ctx context.Context, slug string) (*account.Tenant, string, error) {
			if f.tenantErr != nil {
				return nil, "", f.tenantErr
			}
			switch slug {
			case "":
				return &account.Tenant{ID: "ten_a", Default: true}, f.issuer, nil
			case "beta":
				return &account.Tenant{ID: "ten_b", Slug: "beta"}, f.issuer + "/t/beta", nil
			}
			return nil, "", ErrNoTenant
		},
	}
	for _, fn := range tweak {
		fn(&cfg)
	}
	if f.pages, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	f.mux = http.NewServeMux()
	f.pages.Mount(f.mux)
	return f
}

// failing makes the named store methods fail from now on.
func (f *fixture) failing(methods ...string) {
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	for _, m := range methods {
		f.repo.fail[m] = true
	}
}

// request seals an authorization request of tenant ten_a for client.
func (f *fixture) request(clientID string, scopes ...string) string {
	f.t.Helper()
	return f.requestIn("ten_a", clientID, scopes...)
}

func (f *fixture) requestIn(tenantID, clientID string, scopes ...string) string {
	f.t.Helper()
	v, err := f.sealer.Seal(&authreq.Request{TenantID: tenantID, ClientID: clientID, RedirectURI: "https://app.example/cb",
		Scopes: scopes, State: "st", MaxAge: -1, LoginHint: anaEmail, Started: f.now})
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// response is one answer as a test reads it.
type response struct {
	Code    int
	Header  http.Header
	Body    string
	Cookies []*http.Cookie
}

func (r *response) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// browser keeps cookies across requests, like one browser with one
// cookie jar (every cookie of the pages has Path=/).
type browser struct {
	f      *fixture
	jar    map[string]string
	addr   string
	header http.Header // sent with every request
}

func (f *fixture) browser() *browser {
	return &browser{f: f, jar: map[string]string{}, addr: "192.0.2.10:4711", header: http.Header{}}
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) *response {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, b.f.issuer+path, body)
	req.RemoteAddr = b.addr
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	for name, v := range b.jar {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	rec := httptest.NewRecorder()
	b.f.mux.ServeHTTP(rec, req)
	res := rec.Result()
	out := &response{Code: res.StatusCode, Header: res.Header, Body: rec.Body.String(), Cookies: res.Cookies()}
	for _, c := range out.Cookies {
		if c.MaxAge < 0 {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	return out
}

func (b *browser) get(path string, hdr ...string) *response {
	return b.do(http.MethodGet, path, nil, hdr...)
}

func (b *browser) csrfName() string { return CSRFCookie(strings.HasPrefix(b.f.issuer, "https:")) }

func (b *browser) sessionName(tenantID string) string {
	return SessionCookie(tenantID, strings.HasPrefix(b.f.issuer, "https:"))
}

// token returns the browser's CSRF token, fetching a form first when it
// has none.
func (b *browser) token() string {
	b.f.t.Helper()
	if v := b.jar[b.csrfName()]; v != "" {
		return v
	}
	// The sign-in form for a browser signed out; a signed-in one is sent
	// on from it, and the sign-out confirmation is its form.
	b.get("/account/login?email=x")
	if r := b.get("/account/logout"); b.jar[b.csrfName()] == "" {
		b.f.t.Fatalf("no CSRF cookie from the login or the logout page: %d %s", r.Code, r.Body)
	}
	return b.jar[b.csrfName()]
}

// submit posts form with the browser's CSRF token, as its own form would.
func (b *browser) submit(path string, form url.Values, hdr ...string) *response {
	b.f.t.Helper()
	form.Set(csrfField, b.token())
	return b.do(http.MethodPost, path, form, hdr...)
}

// signIn signs in at the root and checks it worked.
func (b *browser) signIn(email string) {
	b.f.t.Helper()
	r := b.submit("/account/login", url.Values{"email": {email}, "password": {password}})
	if r.Code != http.StatusSeeOther {
		b.f.t.Fatalf("sign-in of %s: %d %s", email, r.Code, r.Body)
	}
}

func wantCode(t *testing.T, r *response, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("status = %d, want %d; body:\n%s", r.Code, code, r.Body)
	}
}

func wantBody(t *testing.T, r *response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(r.Body, p) {
			t.Errorf("body lacks %q:\n%s", p, r.Body)
		}
	}
}

func wantRedirect(t *testing.T, r *response, to string) {
	t.Helper()
	wantCode(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != to {
		t.Fatalf("Location = %q, want %q", got, to)
	}
}

// element is a start tag of a rendered page.
type element struct {
	name  string
	attrs map[string]string
}

// parseHTML returns a page's start tags.
func parseHTML(body string) ([]element, error) {
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var out []element
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			e := element{name: strings.ToLower(se.Name.Local), attrs: map[string]string{}}
			for _, a := range se.Attr {
				e.attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			out = append(out, e)
		}
	}
}

// accessibilityProblems holds a page to the rules the pages promise: a
// language, one h1, a label bound to every visible input, unique IDs,
// references that point at something, and no tabindex (the tab order is
// the page's order).
func accessibilityProblems(body string) []string {
	els, err := parseHTML(body)
	if err != nil {
		return []string{"the page does not parse: " + err.Error()}
	}
	var out []string
	ids := map[string]int{}
	labels := map[string]bool{}
	h1, lang := 0, false
	for _, e := range els {
		if id, ok := e.attrs["id"]; ok {
			ids[id]++
		}
		switch e.name {
		case "html":
			lang = e.attrs["lang"] != ""
		case "h1":
			h1++
		case "label":
			labels[e.attrs["for"]] = true
		}
	}
	if !lang {
		out = append(out, "html has no lang")
	}
	if h1 != 1 {
		out = append(out, fmt.Sprintf("%d h1 elements, want 1", h1))
	}
	for id, n := range ids {
		if n > 1 {
			out = append(out, fmt.Sprintf("id %q used %d times", id, n))
		}
	}
	for _, e := range els {
		if e.name == "input" && e.attrs["type"] != "hidden" {
			if id := e.attrs["id"]; id == "" || !labels[id] {
				out = append(out, fmt.Sprintf("input %q has no label bound to it", e.attrs["name"]))
			}
		}
		if _, ok := e.attrs["tabindex"]; ok {
			out = append(out, e.name+" has a tabindex")
		}
		for _, ref := range strings.Fields(e.attrs["aria-describedby"] + " " + e.attrs["aria-labelledby"]) {
			if ids[ref] == 0 {
				out = append(out, fmt.Sprintf("%s refers to missing id %q", e.name, ref))
			}
		}
	}
	return out
}

func checkAccessible(t *testing.T, body string) {
	t.Helper()
	for _, p := range accessibilityProblems(body) {
		t.Errorf("accessibility: %s\n%s", p, body)
	}
}
