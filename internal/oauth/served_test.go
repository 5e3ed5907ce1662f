package oauth_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/oauth"
)

func TestServedGrants(t *testing.T) {
	want := []client.GrantType{client.GrantClientCredentials}
	if got := oauth.ServedGrants(); !slices.Equal(got, want) {
		t.Fatalf("ServedGrants() = %v, want %v", got, want)
	}
}

func TestDiscoveryAdvertisesWhatIsServed(t *testing.T) {
	h := newHarness(t, 0)
	r := h.do("GET", "/.well-known/oauth-authorization-server", "", "")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if _, ok := r.body["response_types_supported"]; ok {
		t.Errorf("response_types_supported advertised without an authorization endpoint: %s", r.raw)
	}
	var got []string
	for _, g := range r.body["grant_types_supported"].([]any) {
		got = append(got, g.(string))
	}
	var want []string
	for _, g := range oauth.ServedGrants() {
		want = append(want, string(g))
	}
	if !slices.Equal(got, want) {
		t.Errorf("grant_types_supported = %v, want ServedGrants() %v", got, want)
	}
}

func TestUnsupportedGrantNamesOnlyServedGrants(t *testing.T) {
	h := newHarness(t, 0)
	id, secret := h.create(client.CreateParams{})
	tests := []struct{ grant, desc string }{
		{"password", "the password grant is not supported: the client would handle the user's password (RFC 9700); this server offers: client_credentials"},
		{"implicit", "the implicit grant is not supported: it exposes tokens in the browser (RFC 9700); this server offers: client_credentials"},
		{"urn:x", "grant_type 'urn:x' is not supported; this server offers: client_credentials"},
		{"authorization_code", "the authorization_code grant is not offered by this server"},
		{"refresh_token", "the refresh_token grant is not offered by this server"},
	}
	for _, tt := range tests {
		t.Run(tt.grant, func(t *testing.T) {
			r := h.do("POST", "/oauth2/token", form, url.Values{"grant_type": {tt.grant}}.Encode(),
				"Authorization", basicAuth(id, secret))
			if r.status != 400 || r.body["error"] != "unsupported_grant_type" || r.body["error_description"] != tt.desc {
				t.Fatalf("%d %s; want 400 unsupported_grant_type %q", r.status, r.raw, tt.desc)
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

// Request values in log attributes are escaped by the log handler.
func TestValuesInLogsAreEscaped(t *testing.T) {
	h := newHarness(t, 0)
	var buf bytes.Buffer
	h.srv.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	for _, id := range []string{"a\x00", "a\"", "a\n"} {
		buf.Reset()
		h.token(id, "x", nil)
		want := "client_id=" + `"` + strings.NewReplacer("\x00", `\x00`, `"`, `\"`, "\n", `\n`).Replace(id) + `"`
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %s", buf.String(), want)
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
