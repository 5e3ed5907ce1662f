package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/authz"
)

// The admin API through the real server, with a token the real token
// endpoint issued to the provisioned admin client: a client created over
// the API obtains tokens, one rotated over the API stops using its old
// secret, and a token without the permission is refused.
func TestAdminAPIEndToEnd(t *testing.T) { forEachBackend(t, testAdminAPIEndToEnd) }

func testAdminAPIEndToEnd(t *testing.T, db database) {
	const adminSecret = "an-operator-chosen-admin-secret-0123456789"
	in := start(t, db, map[string]string{"LATCHKEY_ADMIN_CLIENT_SECRET": adminSecret})
	ctx := context.Background()
	var scopes []string
	for _, p := range authz.AllPermissions() {
		scopes = append(scopes, string(p))
	}
	adminCfg := clientcredentials.Config{ClientID: "latchkey-admin", ClientSecret: adminSecret,
		TokenURL: in.url + "/oauth2/token", Scopes: scopes}
	api := adminCfg.Client(ctx)
	call := func(c *http.Client, method, path string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, in.url+"/admin/v1"+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}

	status, body := call(api, "POST", "/clients", map[string]any{"name": "Made over the API",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"read"}})
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(body, &created); status != 201 || err != nil {
		t.Fatalf("create: %d %s", status, body)
	}
	cfg := clientcredentials.Config{ClientID: created.ClientID, ClientSecret: created.ClientSecret, TokenURL: in.url + "/oauth2/token"}
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("the new client's token: %v", err)
	}

	// The CLI sees what the API made, and the API what the CLI made.
	if out, code := in.cli(t, "clients", "show", created.ClientID); code != 0 || !strings.Contains(out, "Made over the API") {
		t.Fatalf("clients show: %d %s", code, out)
	}
	cliID, _ := in.createClient(t, "--name", "Made at the CLI", "--grant-type", "client_credentials")
	if status, body := call(api, "GET", "/clients?q=at+the+cli", nil); status != 200 || !strings.Contains(string(body), cliID) {
		t.Fatalf("list: %d %s", status, body)
	}

	status, body = call(api, "POST", "/clients/"+created.ClientID+"/rotate-secret", nil)
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(body, &rotated); status != 200 || err != nil || rotated.ClientSecret == "" {
		t.Fatalf("rotate: %d %s", status, body)
	}
	if _, err := cfg.Token(ctx); err == nil {
		t.Error("the rotated-out secret still obtains tokens")
	}
	// A token issued with the old secret ends with it.
	old := &http.Client{Transport: bearerTransport(tok.AccessToken)}
	if status, _ := call(old, "GET", "/me", nil); status != 401 {
		t.Errorf("a token of the rotated-out secret: %d", status)
	}

	// The client's own token carries no admin permission.
	cfg.ClientSecret = rotated.ClientSecret
	tok, err = cfg.Token(ctx)
	if err != nil {
		t.Fatalf("the new secret: %v", err)
	}
	narrow := &http.Client{Transport: bearerTransport(tok.AccessToken)}
	if status, body := call(narrow, "GET", "/clients", nil); status != 403 || !strings.Contains(string(body), "oauth:client:view") {
		t.Fatalf("a token without the permission: %d %s", status, body)
	}
	if status, _ := call(http.DefaultClient, "GET", "/clients", nil); status != 401 {
		t.Fatalf("no token: %d", status)
	}
	// Every change above is in the audit log, none with a secret.
	status, body = call(api, "GET", "/audit/events?target_id="+created.ClientID, nil)
	if status != 200 || !strings.Contains(string(body), "client.secret_rotated") || strings.Contains(string(body), created.ClientSecret) {
		t.Fatalf("audit: %d %s", status, body)
	}
}

// bearerTransport sends a fixed bearer token.
type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}
