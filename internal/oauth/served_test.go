package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/token"
)

func TestServedGrants(t *testing.T) {
	want := []client.GrantType{client.GrantClientCredentials, client.GrantAuthorizationCode, client.GrantRefreshToken}
	if got := oauth.ServedGrants(); !slices.Equal(got, want) {
		t.Fatalf("ServedGrants() = %v, want %v", got, want)
	}
}

// bare serves the harness's store and clients with a server built without
// the authorization code flow (no Sessions, Requests, GrantStore or
// Consents), and returns its base URL.
func (h *harness) bare() string { return h.serverWith(nil) }

// serverWith serves the harness's store and clients with a server of its
// own, whose config mutate completes, and returns its base URL.
func (h *harness) serverWith(mutate func(*oauth.Config)) string {
	h.t.Helper()
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	h.t.Cleanup(ts.Close)
	c := oauth.Config{Issuer: ts.URL, Auth: &client.Authenticator{Repo: h.db, Now: h.clock.Now},
		Usage: &client.UsageRecorder{Repo: h.db}, Keys: h.keys, Tokens: h.db, Revoked: &token.Revocations{},
		Accounts: h.db, Now: h.clock.Now}
	if mutate != nil {
		mutate(&c)
	}
	oauth.New(c).Mount(mux)
	return ts.URL
}

func TestDiscoveryAdvertisesWhatIsServed(t *testing.T) {
	h := newHarness(t, 0)
	all := []string{"client_credentials", "authorization_code", "refresh_token"}
	tests := []struct {
		name   string
		url    string
		grants []string
		flow   bool
	}{
		{"full", h.ts.URL, all, true},
		{"without the code flow", h.bare(), []string{"client_credentials"}, false},
	}
	flowFields := []string{"authorization_endpoint", "userinfo_endpoint", "end_session_endpoint",
		"response_types_supported", "code_challenge_methods_supported", "id_token_signing_alg_values_supported",
		"authorization_response_iss_parameter_supported"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := getJSON(t, tt.url+"/.well-known/oauth-authorization-server")
			var got []string
			for _, g := range r["grant_types_supported"].([]any) {
				got = append(got, g.(string))
			}
			if !slices.Equal(got, tt.grants) {
				t.Errorf("grant_types_supported = %v, want %v", got, tt.grants)
			}
			for _, f := range flowFields {
				if _, ok := r[f]; ok != tt.flow {
					t.Errorf("%s advertised: %v, want %v", f, ok, tt.flow)
				}
			}
		})
	}
}

// getJSON fetches a JSON document.
func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != 200 {
		t.Fatalf("%s: %d %v", url, res.StatusCode, err)
	}
	return m
}

func TestUnsupportedGrantNamesOnlyServedGrants(t *testing.T) {
	h := newHarness(t, 0)
	bare := h.bare()
	id, secret := h.create(client.CreateParams{})
	all := "this server offers: client_credentials, authorization_code, refresh_token"
	tests := []struct{ base, grant, desc string }{
		{h.ts.URL, "password", "the password grant is not supported: the client would handle the user's password (RFC 9700); " + all},
		{h.ts.URL, "implicit", "the implicit grant is not supported: it exposes tokens in the browser (RFC 9700); " + all},
		{h.ts.URL, "urn:x", "grant_type 'urn:x' is not supported; " + all},
		{bare, "urn:x", "grant_type 'urn:x' is not supported; this server offers: client_credentials"},
		{bare, "authorization_code", "the authorization_code grant is not offered by this server"},
		{bare, "refresh_token", "the refresh_token grant is not offered by this server"},
	}
	for _, tt := range tests {
		t.Run(tt.grant, func(t *testing.T) {
			req, _ := http.NewRequest("POST", tt.base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {tt.grant}}.Encode()))
			req.Header.Set("Content-Type", form)
			req.Header.Set("Authorization", basicAuth(id, secret))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != 400 || body["error"] != "unsupported_grant_type" || body["error_description"] != tt.desc {
				t.Fatalf("%d %v; want 400 unsupported_grant_type %q", res.StatusCode, body, tt.desc)
			}
		})
	}
}

// Request values in descriptions are escaped, so none can seem to end
// early: a NUL, a quote or a newline reads as its form encoding.
func TestValuesInDescriptionsAreUnambiguous(t *testing.T) {
	h := newHarness(t, 0)
	id, secret := h.create(client.CreateParams{Scopes: []string{"read"}})
	auth := []string{"Authorization", basicAuth(id, secret)}
	tests := []struct{ name, body, desc string }{
		{"NUL grant", "grant_type=%00", "grant_type '%00' is not supported"},
		{"quote grant", "grant_type=%22", "grant_type '%22' is not supported"},
		{"newline grant", "grant_type=a%0Ab", "grant_type 'a%0Ab' is not supported"},
		{"apostrophe grant", "grant_type=a'b", "grant_type 'a%27b' is not supported"},
		{"backslash grant", "grant_type=a%5Cb", "grant_type 'a%5Cb' is not supported"},
		{"NUL scope", "grant_type=client_credentials&scope=%00", "'%00' is not a valid scope"},
		{"quote scope", "grant_type=client_credentials&scope=%22", "'%22' is not a valid scope"},
		{"newline scope", "grant_type=client_credentials&scope=a%0A", "'a%0A' is not a valid scope"},
		{"repeated NUL parameter", "grant_type=client_credentials&a%00=1&a%00=2", "parameter 'a%00' is repeated"},
		{"repeated quote parameter", "grant_type=client_credentials&%22=1&%22=2", "parameter '%22' is repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/oauth2/token", form, tt.body, auth...)
			desc, _ := r.body["error_description"].(string)
			if r.status != 400 || !strings.Contains(desc, tt.desc) {
				t.Fatalf("%d %s; want a description containing %q", r.status, r.raw, tt.desc)
			}
		})
	}
}

// A client ID that is no client ID (control characters, quotes, markup)
// is not logged at all: the log says "(invalid)", so nothing a caller
// sends can forge or break a log line.
func TestValuesInLogsAreEscaped(t *testing.T) {
	h := newHarness(t, 0)
	var buf bytes.Buffer
	h.srv.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	for _, id := range []string{"a\x00", "a\"", "a\n"} {
		buf.Reset()
		h.token(id, "x", nil)
		if !strings.Contains(buf.String(), "client_id=(invalid)") || strings.Count(buf.String(), "\n") != 1 {
			t.Errorf("log %q: want one line with client_id=(invalid)", buf.String())
		}
	}
}

func TestRevokedClientFailureReason(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	var reasons []string
	h.srv.OnAuthFailure = func(_, _, reason string) { reasons = append(reasons, reason) }
	logs := &logRecorder{}
	h.srv.Logger = slog.New(logs)

	activeID, activeSecret := h.create(client.CreateParams{})
	revokedID, revokedSecret := h.create(client.CreateParams{})
	if _, err := h.svc.Revoke(ctx, h.actor, revokedID); err != nil {
		t.Fatal(err)
	}
	inactiveID, inactiveSecret := h.create(client.CreateParams{Status: client.StatusInactive})

	wrong := h.token(activeID, activeSecret+"x", nil)
	tests := []struct {
		name, id, secret, reason string
	}{
		{"wrong secret", activeID, activeSecret + "x", "wrong_secret"},
		{"revoked, its old secret", revokedID, revokedSecret, "client_revoked"},
		{"revoked, another secret", revokedID, "guess", "client_revoked"},
		{"inactive", inactiveID, inactiveSecret, "client_inactive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reasons, logs.records = nil, nil
			r := h.token(tt.id, tt.secret, nil)
			if len(reasons) != 1 || reasons[0] != tt.reason {
				t.Errorf("reasons %v, want [%s]", reasons, tt.reason)
			}
			if got := loggedReason(logs); got != tt.reason {
				t.Errorf("logged reason %q, want %q", got, tt.reason)
			}
			if r.status != 401 || r.body["error"] != "invalid_client" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if tt.reason != "client_inactive" && (r.raw != wrong.raw ||
				r.header.Get("WWW-Authenticate") != wrong.header.Get("WWW-Authenticate")) {
				t.Errorf("answer %s differs from a wrong secret's %s", r.raw, wrong.raw)
			}
		})
	}
}

// loggedReason returns the reason of the one failed authentication logged.
func loggedReason(l *logRecorder) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	reason := ""
	for _, r := range l.records {
		if r.Message != "client authentication failed" {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" {
				reason = a.Value.String()
			}
			return true
		})
	}
	return reason
}
