package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/store"
)

// signInJSON is the sign-in part of a client as --json prints it.
type signInJSON struct {
	ClientID          string   `json:"client_id"`
	Type              string   `json:"type"`
	RedirectURIs      []string `json:"redirect_uris"`
	AuthMethod        string   `json:"token_endpoint_auth_method"`
	IDTokenAlg        string   `json:"id_token_signed_response_alg"`
	PostLogout        []string `json:"post_logout_redirect_uris"`
	LastAuthorization *struct {
		At          time.Time `json:"at"`
		UserID      string    `json:"user_id"`
		RedirectURI string    `json:"redirect_uri"`
	} `json:"last_authorization"`
	LastToken *struct {
		At    time.Time `json:"at"`
		Grant string    `json:"grant"`
	} `json:"last_token"`
}

func clientOut(t *testing.T, s *sandbox, args ...string) signInJSON {
	t.Helper()
	r := s.run("", append(args, "--json")...)
	r.expect(t, strings.Join(args, " "), 0)
	var v signInJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v printed %q: %v", args, r.stdout, err)
	}
	return v
}

func TestBinaryClientsSignInFields(t *testing.T) {
	s, _ := migrated(t)
	web := clientOut(t, s, "clients", "create", "--name", "Web", "--grant-type", "authorization_code",
		"--redirect-uri", "https://app.example/cb", "--post-logout-redirect-uri", "https://app.example/bye",
		"--post-logout-redirect-uri", "https://app.example/", "--token-endpoint-auth-method", "client_secret_post",
		"--id-token-alg", "ES256")
	if web.Type != "confidential" || web.AuthMethod != "client_secret_post" || web.IDTokenAlg != "ES256" ||
		!slices.Equal(web.PostLogout, []string{"https://app.example/bye", "https://app.example/"}) ||
		web.LastAuthorization != nil || web.LastToken != nil {
		t.Fatalf("created %+v", web)
	}
	// The defaults follow the client's type.
	if c := clientOut(t, s, "clients", "create", "--name", "Sync", "--grant-type", "client_credentials"); c.AuthMethod != "client_secret_basic" ||
		c.IDTokenAlg != "RS256" || c.PostLogout == nil || len(c.PostLogout) != 0 {
		t.Errorf("a confidential client's defaults: %+v", c)
	}
	spa := clientOut(t, s, "clients", "create", "--name", "SPA", "--public", "--grant-type", "authorization_code",
		"--redirect-uri", "http://127.0.0.1/cb", "--post-logout-redirect-uri", "com.example.app:/bye")
	if spa.AuthMethod != "none" || spa.IDTokenAlg != "RS256" || !slices.Equal(spa.PostLogout, []string{"com.example.app:/bye"}) {
		t.Errorf("a public client's defaults: %+v", spa)
	}

	// Update replaces what it is given; "" alone clears a list.
	u := clientOut(t, s, "clients", "update", web.ClientID, "--token-endpoint-auth-method", "client_secret_basic",
		"--id-token-alg", "RS256", "--post-logout-redirect-uri", "https://app.example/signed-out")
	if u.AuthMethod != "client_secret_basic" || u.IDTokenAlg != "RS256" || !slices.Equal(u.PostLogout, []string{"https://app.example/signed-out"}) {
		t.Errorf("update: %+v", u)
	}
	if u := clientOut(t, s, "clients", "update", web.ClientID, "--post-logout-redirect-uri", ""); len(u.PostLogout) != 0 || u.AuthMethod != "client_secret_basic" {
		t.Errorf("clearing the post-logout URIs: %+v", u)
	}
	// A client that stops signing users in clears its URIs with the grant.
	sw := clientOut(t, s, "clients", "create", "--name", "Switch", "--grant-type", "authorization_code",
		"--redirect-uri", "https://sw.example/cb", "--post-logout-redirect-uri", "https://sw.example/bye")
	if u := clientOut(t, s, "clients", "update", sw.ClientID, "--grant-type", "client_credentials", "--redirect-uri", "",
		"--post-logout-redirect-uri", ""); u.RedirectURIs == nil || len(u.RedirectURIs) != 0 || len(u.PostLogout) != 0 {
		t.Errorf("clearing the redirect URIs: %+v", u)
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"clients", "update", web.ClientID, "--post-logout-redirect-uri", "https://a.example/", "--post-logout-redirect-uri", ""}, 2,
			`--post-logout-redirect-uri "": an empty value clears the list; give it alone`},
		{[]string{"clients", "update", web.ClientID, "--redirect-uri", "", "--redirect-uri", "https://a.example/cb"}, 2, `--redirect-uri ""`},
		{[]string{"clients", "update", web.ClientID, "--redirect-uri", ""}, 1,
			"redirect_uris (--redirect-uri): at least one redirect URI is required for authorization_code"},
		{[]string{"clients", "update", web.ClientID, "--token-endpoint-auth-method", "none"}, 1,
			"token_endpoint_auth_method (--token-endpoint-auth-method): a confidential client authenticates with its secret"},
		{[]string{"clients", "update", web.ClientID, "--token-endpoint-auth-method", "private_key_jwt"}, 1,
			"token_endpoint_auth_method (--token-endpoint-auth-method): must be"},
		{[]string{"clients", "create", "--name", "x", "--public", "--grant-type", "authorization_code", "--redirect-uri", "http://127.0.0.1/cb",
			"--token-endpoint-auth-method", "client_secret_basic"}, 1, `token_endpoint_auth_method (--token-endpoint-auth-method): a public client has no secret`},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "authorization_code", "--redirect-uri", "https://a.example/cb",
			"--id-token-alg", "HS256"}, 1, `id_token_signed_response_alg (--id-token-alg): must be "RS256" or "ES256"`},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "client_credentials", "--post-logout-redirect-uri", "https://a.example/"}, 1,
			"post_logout_redirect_uris (--post-logout-redirect-uri): post-logout redirect URIs are for clients that sign users in"},
		{[]string{"clients", "create", "--name", "x", "--grant-type", "authorization_code", "--redirect-uri", "https://a.example/cb",
			"--post-logout-redirect-uri", "javascript:alert(1)"}, 1, "post_logout_redirect_uris[0] (--post-logout-redirect-uri)"},
	} {
		s.run("", tt.args...).expect(t, strings.Join(tt.args, " "), tt.code, tt.want)
	}

	r := s.run("", "clients", "show", web.ClientID)
	for _, re := range []string{`Token endpoint auth:\s+client_secret_basic`, `ID token algorithm:\s+RS256`,
		`Last authorized:\s+Never`, `Last token:\s+Never`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("show lacks %s:\n%s", re, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Post-logout") {
		t.Errorf("show prints post-logout URIs the client does not have:\n%s", r.stdout)
	}
	s.run("", "clients", "update", web.ClientID, "--post-logout-redirect-uri", "https://app.example/bye").expect(t, "set a post-logout URI", 0)
	if r := s.run("", "clients", "show", web.ClientID); !regexp.MustCompile(`Post-logout URIs:\s+https://app.example/bye\n`).MatchString(r.stdout) {
		t.Errorf("show:\n%s", r.stdout)
	}
}

// The latest authorization and token, as the server records them, are
// shown, filtered and sorted by.
func TestBinaryClientsLastActivity(t *testing.T) {
	s, db := migrated(t)
	admin := userOut(t, s, "", "users", "show", "admin@localhost")
	web := clientOut(t, s, "clients", "create", "--name", "Web", "--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", "https://app.example/cb")
	other := clientOut(t, s, "clients", "create", "--name", "Other", "--grant-type", "authorization_code",
		"--redirect-uri", "https://other.example/cb")
	sync := clientOut(t, s, "clients", "create", "--name", "Sync", "--grant-type", "client_credentials")

	authorized := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	issued := authorized.Add(time.Hour)
	record(t, db,
		client.Activity{ClientID: web.ClientID, Authorization: &client.Authorization{At: authorized, UserID: admin.ID, RedirectURI: "https://app.example/cb"},
			Token: &client.Issue{At: issued, Grant: client.GrantRefreshToken}},
		client.Activity{ClientID: other.ClientID, Authorization: &client.Authorization{At: authorized.Add(-time.Hour), UserID: "usr_someoneelse", RedirectURI: "https://other.example/cb"},
			Token: &client.Issue{At: authorized.Add(-time.Hour), Grant: client.GrantAuthorizationCode}},
		client.Activity{ClientID: sync.ClientID, Token: &client.Issue{At: issued.Add(time.Hour), Grant: client.GrantClientCredentials}})

	r := s.run("", "clients", "show", web.ClientID)
	r.expect(t, "show", 0)
	if !regexp.MustCompile(`Last authorized:\s+2026-03-01T09:30:00Z by `+admin.ID+`, redirected to https://app.example/cb\n`).MatchString(r.stdout) ||
		!regexp.MustCompile(`Last token:\s+2026-03-01T10:30:00Z by refresh_token\n`).MatchString(r.stdout) {
		t.Errorf("show:\n%s", r.stdout)
	}
	v := clientOut(t, s, "clients", "show", web.ClientID)
	if a := v.LastAuthorization; a == nil || !a.At.Equal(authorized) || a.UserID != admin.ID || a.RedirectURI != "https://app.example/cb" {
		t.Errorf("show --json last_authorization: %+v", a)
	}
	if l := v.LastToken; l == nil || !l.At.Equal(issued) || l.Grant != "refresh_token" {
		t.Errorf("show --json last_token: %+v", l)
	}
	if v := clientOut(t, s, "clients", "show", sync.ClientID); v.LastAuthorization != nil || v.LastToken == nil {
		t.Errorf("a client never authorized: %+v", v)
	}

	ids := func(args ...string) []string {
		t.Helper()
		var list struct{ Clients []signInJSON }
		r := s.run("", append(append([]string{"clients", "list"}, args...), "--json")...)
		r.expect(t, strings.Join(args, " "), 0)
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range list.Clients {
			out = append(out, c.ClientID)
		}
		return out
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--last-grant", "refresh_token"}, []string{web.ClientID}},
		{[]string{"--last-grant", "client_credentials"}, []string{sync.ClientID}},
		{[]string{"--authorized-by", "ADMIN@localhost"}, []string{web.ClientID}},
		{[]string{"--authorized-by", admin.ID}, []string{web.ClientID}},
		{[]string{"--authorized-by", "usr_nobody"}, nil},
		{[]string{"--sort", "-last_authorized_at", "--limit", "2"}, []string{web.ClientID, other.ClientID}},
		{[]string{"--sort", "-last_token_at", "--limit", "3"}, []string{sync.ClientID, web.ClientID, other.ClientID}},
	} {
		if got := ids(tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("list %v: %v, want %v", tt.args, got, tt.want)
		}
	}
	// Ascending, the clients never authorized come first.
	if got := ids("--sort", "last_authorized_at"); len(got) != 6 || got[4] != other.ClientID || got[5] != web.ClientID {
		t.Errorf("list --sort last_authorized_at: %v", got)
	}

	r = s.run("", "clients", "list", "--search", "Web")
	r.expect(t, "list", 0)
	if !regexp.MustCompile(`LAST USED\s+LAST AUTHORIZED\s+LAST GRANT\s+EXPIRES`).MatchString(r.stdout) ||
		!regexp.MustCompile(web.ClientID+`\s+active\s+\S+\s+Never used\s+2026-03-01\s+refresh_token\s`).MatchString(r.stdout) {
		t.Errorf("list:\n%s", r.stdout)
	}
	if r := s.run("", "clients", "list", "--search", "Sync"); !regexp.MustCompile(`Never used\s+Never\s+client_credentials\s`).MatchString(r.stdout) {
		t.Errorf("list of a client never authorized:\n%s", r.stdout)
	}

	s.run("", "clients", "list", "--authorized-by", "nobody@example.com").expect(t, "an unknown email", 1, `no user "nobody@example.com"`)
	s.run("", "clients", "list", "--last-grant", "magic").expect(t, "an unknown grant", 1, "last_grant (--last-grant): must be")
	s.run("", "clients", "list", "--authorized-by", "a b").expect(t, "a malformed user ID", 1, "authorized_by (--authorized-by): must be a user ID")
	s.run("", "clients", "list", "--sort", "last_seen").expect(t, "an unknown sort", 1, "last_authorized_at, last_token_at")
}

// record stores clients' activity as the server's coalescer would.
func record(t *testing.T, db string, acts ...client.Activity) {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.RecordActivity(context.Background(), acts); err != nil {
		t.Fatal(err)
	}
}

// A client holding a grant the token endpoint does not serve is told so,
// on stderr, naming only that grant.
func TestWarnUnserved(t *testing.T) {
	var errOut strings.Builder
	cc := &clientsCmd{a: &app{stderr: &errOut}}
	cc.warnUnserved(&client.Client{GrantTypes: []client.GrantType{client.GrantAuthorizationCode, "urn:example:device_code"}})
	if got := errOut.String(); !strings.Contains(got, "does not serve the urn:example:device_code grant yet") ||
		strings.Contains(got, "authorization_code grant") || strings.Count(got, "note:") != 1 {
		t.Errorf("warnUnserved wrote %q", got)
	}
}
