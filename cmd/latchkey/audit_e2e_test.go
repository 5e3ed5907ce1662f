package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

func TestSignInAndClientFailuresAudited(t *testing.T) {
	forEachBackend(t, testSignInAndClientFailuresAudited)
}

// The real binary audits sign-ins through the account pages as they
// happen, and failed client authentications at the token endpoint as one
// event per client and reason, written at the latest when it stops.
func testSignInAndClientFailuresAudited(t *testing.T, db database) {
	site := newOIDCSite(t, db)
	const wrongPassword = "not the horse battery staple"
	const wrongSecret = "lks_not-the-secret-of-this-client"

	b := newBrowser(t, site.issuer)
	login := site.issuer + "/account/login"
	signIn := func(password string, status int) {
		t.Helper()
		p := b.get(login)
		i := slices.IndexFunc(parseForms(p.body), func(f htmlForm) bool { return strings.HasSuffix(f.action, "/account/login") })
		if i < 0 {
			t.Fatalf("no sign-in form: %s", p.body)
		}
		r := b.submit(login, p, parseForms(p.body)[i], "", url.Values{"email": {oidcUserEmail}, "password": {password}})
		if r.status != status {
			t.Fatalf("sign-in: %d, want %d: %s", r.status, status, r.body)
		}
	}
	signIn(wrongPassword, http.StatusBadRequest)
	signIn(oidcUserPassword, http.StatusSeeOther)
	for range 2 {
		status, err := httpPostForm(site.issuer+"/oauth2/token", site.api.ID, wrongSecret, url.Values{"grant_type": {"client_credentials"}})
		if err != nil || status != http.StatusUnauthorized {
			t.Fatalf("token with a wrong secret: %d %v", status, err)
		}
	}
	// Stopping flushes the count of failures.
	site.srv.stop(t)

	ctx := context.Background()
	st, err := store.OpenExisting(ctx, db.env["LATCHKEY_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tenant, err := st.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es, err := st.AuditEvents(ctx, tenant.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(es, 0, ""); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(es)
	for _, secret := range []string{wrongPassword, oidcUserPassword, wrongSecret, site.api.Secret} {
		if strings.Contains(string(raw), secret) {
			t.Fatal("a password or secret reached the audit trail")
		}
	}
	find := func(action string) []audit.Event {
		var out []audit.Event
		for _, e := range es {
			if e.Action == action {
				out = append(out, e)
			}
		}
		return out
	}
	if f := find("user.login_failed"); len(f) != 1 || f[0].TargetID != site.userID || f[0].Result != "failure" ||
		f[0].Details["reason"] != "bad_password" || f[0].SourceAddr != "127.0.0.1" {
		t.Errorf("failed sign-ins: %+v", f)
	}
	if s := find("user.login"); len(s) != 1 || s[0].TargetID != site.userID || s[0].ActorID != site.userID ||
		s[0].Result != "success" || s[0].SourceAddr != "127.0.0.1" || !strings.HasPrefix(s[0].Details["session_id"], "ses_") {
		t.Errorf("sign-ins: %+v", s)
	}
	if c := find("client.auth_failed"); len(c) != 1 || c[0].TargetType != "client" || c[0].TargetID != site.api.ID ||
		c[0].Result != "failure" || c[0].Details["count"] != "2" || c[0].Details["reason"] != "wrong_secret" ||
		c[0].Details["source_addrs"] != "127.0.0.1" || c[0].Details["window_start"] == "" {
		t.Errorf("failed client authentications: %+v", c)
	}
}
