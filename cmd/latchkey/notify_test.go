package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/latchkey/latchkey/internal/notify/webhook"
)

// mailbox is an SMTP server in the test process that keeps every message.
type mailbox struct {
	mu   sync.Mutex
	msgs []string // RCPT TO, a newline, the message
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }

type mailSession struct {
	m  *mailbox
	to string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, s.to+"\n"+string(b))
	s.m.mu.Unlock()
	return err
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func (m *mailbox) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

// The notify and webhooks commands as an operator uses them: a client
// whose secret expires in three days, a sweep as of the day before, the
// mail over SMTP in its owner's language, the outbox listing it, and a
// signed webhook event when the client is revoked.
func TestBinaryNotify(t *testing.T) {
	s, _ := migrated(t)
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	r := s.run("", "users", "create", "--email", "kari@example.com", "--name", "Kari", "--locale", "nb", "--json")
	r.expect(t, "users create", 0)
	var user struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &user); err != nil || user.ID == "" {
		t.Fatalf("users create: %v %s", err, r.stdout)
	}
	r = s.run("", "clients", "create", "--name", "Nightly export", "--grant-type", "client_credentials",
		"--owner", user.ID, "--secret-expires", "3d", "--json")
	r.expect(t, "clients create", 0)
	var cl struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &cl); err != nil || cl.ClientID == "" {
		t.Fatalf("clients create: %v %s", err, r.stdout)
	}

	// Without a mail server the mail waits in the outbox.
	tomorrow := time.Now().Add(2*24*time.Hour + time.Hour).UTC().Format(time.RFC3339)
	s.run("", "notify", "run", "--now", tomorrow).expect(t, "notify run", 0,
		"1 warnings sent", "Queued 1 mails", "No SMTP server is configured")
	r = s.run("", "notify", "outbox", "--json")
	r.expect(t, "notify outbox", 0)
	var rows []struct {
		ID, Status, Recipient string
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 ||
		rows[0].Status != "pending" || rows[0].Recipient != "kari@example.com" {
		t.Fatalf("outbox: %v %s", err, r.stdout)
	}
	s.run("", "notify", "show", rows[0].ID).expect(t, "notify show", 0,
		"Hemmeligheten til OAuth-klienten din utløper snart", "Nightly export", "/console/clients/"+cl.ClientID)
	s.run("", "notify", "show", "dlv_nothing").expect(t, "notify show unknown", 1, "not found")

	// With one, the next run delivers it, once.
	s.env = append(s.env, "LATCHKEY_SMTP_URL=smtp://"+l.Addr().String()+"?starttls=off")
	s.run("", "notify", "run", "--now", tomorrow).expect(t, "notify run with SMTP", 0, "0 warnings sent", "Delivered 1")
	s.run("", "notify", "run", "--now", tomorrow).expect(t, "notify run again", 0, "Delivered 0")
	msgs := box.all()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "kari@example.com\n") || !strings.Contains(msgs[0], "Content-Language: nb") {
		t.Fatalf("mails: %q", msgs)
	}

	// A webhook receives the revocation, signed.
	var (
		mu     sync.Mutex
		bodies []string
		secret string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header, b, time.Now(), 10*time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		bodies = append(bodies, string(b))
	}))
	defer recv.Close()
	s.run("", "webhooks", "add", "http://example.com/hook", "--events", "client-revoked").
		expect(t, "webhooks add over plain http", 1, "https")
	r = s.run("", "webhooks", "add", recv.URL+"/hook", "--events", "client-revoked", "--json")
	r.expect(t, "webhooks add", 0)
	var hook struct{ ID, Secret string }
	if err := json.Unmarshal([]byte(r.stdout), &hook); err != nil || !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Fatalf("webhooks add: %v %s", err, r.stdout)
	}
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()
	r = s.run("", "webhooks", "list")
	r.expect(t, "webhooks list", 0, hook.ID, recv.URL+"/hook")
	if strings.Contains(r.stdout, hook.Secret) {
		t.Fatal("webhooks list shows the signing secret")
	}
	s.run("", "clients", "revoke", cl.ClientID).expect(t, "clients revoke", 0)
	s.run("", "notify", "run").expect(t, "notify run after revoke", 0, "Delivered 1")
	mu.Lock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"type":"client-revoked"`) || !strings.Contains(bodies[0], cl.ClientID) {
		t.Errorf("webhook bodies %q", bodies)
	}
	mu.Unlock()
	s.run("", "webhooks", "remove", hook.ID).expect(t, "webhooks remove", 0)
	s.run("", "webhooks", "remove", hook.ID).expect(t, "webhooks remove again", 1, "not found")
	s.run("", "notify", "run", "--now", "soon").expect(t, "notify run --now soon", 2, "RFC 3339")
}
