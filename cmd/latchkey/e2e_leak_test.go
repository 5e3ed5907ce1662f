package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/client"
)

// TestLeakReport drives the leak endpoint of the running server as a
// secret scanner would: a real secret is revoked at once (the library
// then fails with it, the client's other secret still works), audited
// without the secret, and mailed to the owner over SMTP; a wrong secret
// with a valid checksum, another server's token, junk and the same report
// again change nothing and get the very same answer; malformed requests
// are refused with no change; a flood from one address meets 429.
func TestLeakReport(t *testing.T) { forEachBackend(t, testLeakReport) }

func testLeakReport(t *testing.T, db database) {
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	in := start(t, db, map[string]string{"LATCHKEY_SMTP_URL": "smtp://" + l.Addr().String() + "?starttls=off"})

	out, code := in.cli(t, "users", "create", "--email", "owner@example.com", "--name", "Olga Owner", "--json")
	var owner struct{ ID string }
	if code != 0 || json.NewDecoder(strings.NewReader(out)).Decode(&owner) != nil || owner.ID == "" {
		t.Fatalf("users create: %d %s", code, out)
	}
	id, leaked := in.createClient(t, "--name", "Payroll sync", "--grant-type", "client_credentials", "--owner", owner.ID)
	out, code = in.cli(t, "clients", "rotate-secret", id, "--grace", "24h", "--json")
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	if code != 0 || json.NewDecoder(strings.NewReader(out)).Decode(&rotated) != nil || rotated.ClientSecret == "" {
		t.Fatalf("rotate-secret: %d %s", code, out)
	}
	mustToken(t, in.url, id, leaked)

	wrong, err := client.NewSecretValue(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	report := func(token string) string {
		return fmt.Sprintf(`[{"token":%q,"type":"latchkey_client_secret","url":"https://github.com/acme/app/blob/main/.env","source":"content","extra":{"new":1}}]`, token)
	}
	post := func(ctype, body string) (int, string) {
		t.Helper()
		res, err := http.Post(in.url+"/leaks/report", ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	// The answer is the same for every well-formed report.
	st, want := post("application/json", report(leaked))
	if st != http.StatusAccepted || !strings.Contains(want, `"received":1`) {
		t.Fatalf("real secret: %d %s", st, want)
	}
	for what, token := range map[string]string{"wrong": wrong, "foreign": "ghp_" + strings.Repeat("a", 36),
		"junk": "lks_short", "again": leaked} {
		if st, body := post("application/json; charset=utf-8", report(token)); st != http.StatusAccepted || body != want {
			t.Errorf("%s secret: %d %s; want %d %s", what, st, body, http.StatusAccepted, want)
		}
	}

	// The leaked secret stops at once; the other keeps working.
	var re *oauth2.RetrieveError
	if _, err := fetchToken(in.url, id, leaked); !asRetrieveError(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("leaked secret at the token endpoint: %v", err)
	}
	mustToken(t, in.url, id, rotated.ClientSecret)

	out, code = in.cli(t, "clients", "show", id, "--json")
	if code != 0 || strings.Count(out, `"revoked"`) != 1 || strings.Count(out, `"leaked_at": "`) != 1 ||
		strings.Count(out, `"leaked_at": null`) != 1 {
		t.Errorf("clients show after the report: %d %s", code, out)
	}

	// One audit event, with where it was found and never the secret.
	out, code = in.cli(t, "audit", "export", "--since", "1h")
	if code != 0 || strings.Count(out, `"client.secret_leaked"`) != 1 || !strings.Contains(out, "github.com/acme/app") {
		t.Fatalf("audit export: %d %s", code, out)
	}
	for _, s := range []string{leaked, wrong, rotated.ClientSecret} {
		if strings.Contains(out, s) || strings.Contains(in.stderr.String(), s) {
			t.Fatal("a reported secret reached the audit trail or the log")
		}
	}

	// The owner is told, once: the outbox is delivered over SMTP (here
	// by "notify run" rather than the server's next half-minute poll).
	if out, code := in.cli(t, "notify", "run"); code != 0 || !strings.Contains(out, "Delivered 1") {
		t.Fatalf("notify run: %d %s", code, out)
	}
	msgs := box.all()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "owner@example.com\n") || !strings.Contains(msgs[0], "reported leaked") ||
		!strings.Contains(msgs[0], "Payroll sync") || strings.Contains(msgs[0], leaked) {
		t.Fatalf("mails: %q", msgs)
	}

	// Malformed requests are refused and change nothing.
	for _, tc := range []struct {
		name, ctype, body string
		status            int
	}{
		{"not JSON", "application/json", `[{"token":`, http.StatusBadRequest},
		{"an object", "application/json", `{"token":"x"}`, http.StatusBadRequest},
		{"duplicate member", "application/json", `[{"token":"a","token":"b"}]`, http.StatusBadRequest},
		{"wrong type", "application/json", `[{"token":1}]`, http.StatusBadRequest},
		{"form", "application/x-www-form-urlencoded", report(rotated.ClientSecret), http.StatusUnsupportedMediaType},
		{"too large", "application/json", `[{"token":"` + strings.Repeat("a", 300<<10) + `"}]`, http.StatusRequestEntityTooLarge},
	} {
		st, body := post(tc.ctype, tc.body)
		if st != tc.status || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s; want %d with an error", tc.name, st, body, tc.status)
		}
	}
	mustToken(t, in.url, id, rotated.ClientSecret)

	// A flood from one address is refused.
	limited := false
	for i := 0; i < 70 && !limited; i++ {
		st, _ := post("application/json", `[]`)
		limited = st == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("70 reports from one address were never refused")
	}
}
