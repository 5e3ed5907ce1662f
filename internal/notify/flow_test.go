package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/notify/event"
	"github.com/latchkey/latchkey/internal/notify/mail"
	"github.com/latchkey/latchkey/internal/notify/webhook"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testpg"
)

const day = 24 * time.Hour

var t0 = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

// received is one message the test's SMTP server accepted.
type received struct {
	From string
	To   []string
	Msg  *netmail.Message
	Text string
	HTML string
}

// inbox is an SMTP server in the test process: it accepts every message
// (except to addresses the test refuses) and keeps it.
type inbox struct {
	mu     sync.Mutex
	msgs   []received
	refuse map[string]*smtp.SMTPError // recipient -> the reply to RCPT TO
	url    string
}

func startSMTP(t *testing.T) *inbox {
	t.Helper()
	in := &inbox{refuse: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(in)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	in.url = "smtp://" + l.Addr().String() + "?starttls=off"
	return in
}

func (in *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{in: in}, nil }

func (in *inbox) all() []received {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.msgs)
}

type session struct {
	in   *inbox
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	if e := s.in.refuse[to]; e != nil {
		return e
	}
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	rc := received{From: s.from, To: s.to, Msg: m}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			rc.HTML = string(b)
		} else {
			rc.Text = string(b)
		}
	}
	s.in.mu.Lock()
	s.in.msgs = append(s.in.msgs, rc)
	s.in.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// world is one tenant with two users, a client service, the sweep and
// the dispatcher over one store, and an injected clock.
type world struct {
	t       *testing.T
	st      store.Store
	now     time.Time
	clients *client.Service
	sweep   *notify.Sweeper
	disp    *notify.Dispatcher
	inbox   *inbox
	admin   authz.Actor
	// secrets are the first secret of each client created.
	secrets map[string]string
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func openPostgres(t *testing.T, url string) store.Store {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func newWorld(t *testing.T, st store.Store) *world {
	t.Helper()
	ctx := t.Context()
	if err := st.CreateTenant(ctx, &account.Tenant{ID: "ten_a", Name: "Acme Nord", Slug: "acme", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []account.User{
		{ID: "usr_owner", Email: "kari@example.com", Name: "Kari Nordmann", Locale: "nb"},
		{ID: "usr_admin", Email: "claire@example.com", Name: "Claire Dubois", Locale: "fr-FR"},
		{ID: "usr_nomail", Email: "nobody", Name: "No Mail"},
	} {
		u.TenantID, u.CreatedAt, u.UpdatedAt, u.Roles = "ten_a", t0, t0, []string{authz.SuperAdmin}
		if err := st.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, st: st, now: t0, inbox: startSMTP(t), secrets: map[string]string{},
		admin: authz.Actor{Kind: authz.KindUser, ID: "usr_admin", Name: "claire@example.com", TenantID: "ten_a",
			Roles: []string{authz.SuperAdmin}}}
	clock := func() time.Time { return w.now }
	w.clients = &client.Service{Repo: st, Now: clock}
	w.sweep = &notify.Sweeper{Store: st}
	cfg, err := mail.ParseURL(w.inbox.url)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSender(cfg, mail.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	w.disp = &notify.Dispatcher{Store: st, Mail: sender, From: "Latchkey <latchkey@id.example.com>",
		MessageHost: "id.example.com",
		Link:        func(d notify.MailData) string { return "https://id.example.com/console/clients/" + d.ClientID }}
	return w
}

// create makes a client owned by owner, created by the admin, whose
// secret lives lifetime.
func (w *world) create(name, owner string, lifetime time.Duration) *client.Client {
	w.t.Helper()
	c, sec, err := w.clients.Create(w.t.Context(), w.admin, client.CreateParams{Name: name,
		GrantTypes: []client.GrantType{client.GrantClientCredentials}, OwnerUserID: owner, SecretLifetime: lifetime})
	if err != nil {
		w.t.Fatal(err)
	}
	w.secrets[c.ID] = sec.ID
	return c
}

// tick runs the sweep and the dispatcher at the world's clock.
func (w *world) tick() notify.SweepReport {
	w.t.Helper()
	rep, err := w.sweep.Run(w.t.Context(), w.now)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.disp.Run(w.t.Context(), w.now); err != nil {
		w.t.Fatal(err)
	}
	return rep
}

// daily advances the clock a day at a time up to until, ticking each day.
func (w *world) daily(until time.Time) {
	for !w.now.After(until) {
		w.tick()
		w.now = w.now.Add(day)
	}
}

// sent returns the stages of a client's warnings that went out, and those
// skipped with their reasons.
func (w *world) history(clientID string) (sent []notify.Stage, skipped map[notify.Stage]string) {
	w.t.Helper()
	ws, err := w.st.Warnings(w.t.Context(), clientID)
	if err != nil {
		w.t.Fatal(err)
	}
	skipped = map[notify.Stage]string{}
	for _, x := range ws {
		if x.Sent {
			sent = append(sent, x.Stage)
		} else {
			skipped[x.Stage] = x.Reason
		}
	}
	sort.Slice(sent, func(i, j int) bool { return sent[i] > sent[j] })
	return sent, skipped
}

func stages(s ...notify.Stage) []notify.Stage { return s }

// The whole schedule over real mail: a 60-day secret gets all five
// warnings, each to the owner (Norwegian) and the creator (French) once,
// with the headers and content the seed specifies.
func TestScheduleOverSMTP(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	c := w.create("Billing <API>", "usr_owner", 60*day)
	w.daily(t0.Add(70 * day))
	sent, skipped := w.history(c.ID)
	if !slices.Equal(sent, stages(30, 14, 7, 1, 0)) || len(skipped) != 0 {
		t.Fatalf("stages sent %v, skipped %v; want all five sent", sent, skipped)
	}
	msgs := w.inbox.all()
	if len(msgs) != 10 {
		t.Fatalf("%d mails, want 10 (five stages to two people)", len(msgs))
	}
	ids := map[string]bool{}
	langs := map[string]int{}
	for _, m := range msgs {
		h := m.Msg.Header
		if len(m.To) != 1 {
			t.Fatalf("RCPT TO %v: want one recipient a message", m.To)
		}
		to, err := netmail.ParseAddress(h.Get("To"))
		if err != nil || to.Address != m.To[0] {
			t.Errorf("To %q for RCPT %q", h.Get("To"), m.To[0])
		}
		if m.From != "latchkey@id.example.com" {
			t.Errorf("MAIL FROM %q", m.From)
		}
		id := h.Get("Message-Id")
		if !strings.HasPrefix(id, "<dlv_") || !strings.HasSuffix(id, "@id.example.com>") || ids[id] {
			t.Errorf("Message-ID %q (repeated: %v)", id, ids[id])
		}
		ids[id] = true
		if h.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("Auto-Submitted %q", h.Get("Auto-Submitted"))
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		lang := h.Get("Content-Language")
		langs[lang]++
		switch m.To[0] {
		case "kari@example.com":
			if lang != "nb" {
				t.Errorf("mail to the owner in %q, want nb", lang)
			}
		case "claire@example.com":
			if lang != "fr" {
				t.Errorf("mail to the creator in %q, want fr", lang)
			}
		default:
			t.Errorf("mail to %q", m.To[0])
		}
		if subject == "" || subject == "Your OAuth Client Secret is Expiring Soon" {
			t.Errorf("subject %q in %s: want the translation", subject, lang)
		}
		link := "https://id.example.com/console/clients/" + c.ID
		if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, link) {
			t.Errorf("the link %s is missing from a part", link)
		}
		if !strings.Contains(m.Text, "Billing <API>") || !strings.Contains(m.HTML, "Billing &lt;API&gt;") ||
			strings.Contains(m.HTML, "Billing <API>") {
			t.Errorf("client name not shown, or not escaped in HTML")
		}
		if !strings.Contains(m.Text, "Acme Nord") {
			t.Errorf("tenant name missing from the text part")
		}
	}
	if langs["nb"] != 5 || langs["fr"] != 5 {
		t.Fatalf("languages %v", langs)
	}
	// Nothing more comes, however long the sweep goes on.
	w.now = t0.Add(400 * day)
	w.tick()
	if n := len(w.inbox.all()); n != 10 {
		t.Fatalf("%d mails after the schedule ended", n)
	}
}

// The schedule's table over lifetimes: which stages go out, swept daily.
func TestScheduleLifetimes(t *testing.T) {
	for _, c := range []struct {
		days int
		want []notify.Stage
	}{
		{3, stages(1, 0)},
		{10, stages(7, 1, 0)},
		{29, stages(14, 7, 1, 0)},
		{31, stages(30, 14, 7, 1, 0)},
		{60, stages(30, 14, 7, 1, 0)},
		{180, stages(30, 14, 7, 1, 0)},
	} {
		t.Run(strconv.Itoa(c.days)+"d", func(t *testing.T) {
			w := newWorld(t, openSQLite(t))
			cl := w.create("Lifetime", "usr_admin", time.Duration(c.days)*day)
			// Sweep twice a day: a stage is sent once however often the sweep runs.
			for end := t0.Add(time.Duration(c.days+2) * day); !w.now.After(end); w.now = w.now.Add(12 * time.Hour) {
				w.tick()
			}
			sent, skipped := w.history(cl.ID)
			if !slices.Equal(sent, c.want) || len(skipped) != 0 {
				t.Fatalf("sent %v, skipped %v; want %v", sent, skipped, c.want)
			}
			// Owner and creator are the same person: one mail a stage.
			if n := len(w.inbox.all()); n != len(c.want) {
				t.Fatalf("%d mails, want %d", n, len(c.want))
			}
		})
	}
}

// A sweep down for a week sends only the most urgent stage come due and
// records the ones it skipped.
func TestScheduleMissedWeek(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	c := w.create("Missed", "usr_admin", 60*day)
	w.daily(t0.Add(20 * day)) // nothing due yet
	w.now = t0.Add(55 * day)  // down from day 21 to day 55: 30, 14 and 7 all came due
	w.tick()
	sent, skipped := w.history(c.ID)
	if !slices.Equal(sent, stages(7)) || skipped[30] != notify.ReasonSuperseded || skipped[14] != notify.ReasonSuperseded {
		t.Fatalf("sent %v, skipped %v; want 7 sent, 30 and 14 superseded", sent, skipped)
	}
	if n := len(w.inbox.all()); n != 1 {
		t.Fatalf("%d mails after the outage, want 1", n)
	}
	w.daily(t0.Add(61 * day))
	if sent, _ := w.history(c.ID); !slices.Equal(sent, stages(7, 1, 0)) {
		t.Fatalf("sent %v after the outage, want 7, 1, 0", sent)
	}
}

// A rotation mid-schedule ends the old secret's warnings and starts the
// new secret's schedule from its own lifetime.
func TestScheduleRotation(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	c := w.create("Rotated", "usr_admin", 60*day)
	w.daily(t0.Add(31 * day)) // the 30-day warning went out
	old := w.secrets[c.ID]
	issued, err := w.clients.RotateSecret(t.Context(), w.admin, c.ID, client.RotateParams{Lifetime: 10 * day})
	if err != nil {
		t.Fatal(err)
	}
	w.daily(t0.Add(80 * day))
	ws, err := w.st.Warnings(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	bySecret := map[string][]notify.Stage{}
	for _, x := range ws {
		if x.Sent {
			bySecret[x.SecretID] = append(bySecret[x.SecretID], x.Stage)
		}
	}
	for _, s := range bySecret {
		sort.Slice(s, func(i, j int) bool { return s[i] > s[j] })
	}
	if !slices.Equal(bySecret[old], stages(30)) || !slices.Equal(bySecret[issued.ID], stages(7, 1, 0)) {
		t.Fatalf("warnings by secret %v; want old %s: [30], new %s: [7 1 0]", bySecret, old, issued.ID)
	}
}

// Deactivating a client stops its warnings: the stages that fall due
// while it is inactive are recorded as skipped; reactivated, it gets the
// ones still ahead.
func TestScheduleDeactivation(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	c := w.create("Paused", "usr_admin", 60*day)
	w.daily(t0.Add(31 * day))
	if _, err := w.clients.SetStatus(t.Context(), w.admin, c.ID, client.StatusInactive, true); err != nil {
		t.Fatal(err)
	}
	w.daily(t0.Add(50 * day))
	sent, skipped := w.history(c.ID)
	if !slices.Equal(sent, stages(30)) || skipped[14] != notify.ReasonClientInactive {
		t.Fatalf("sent %v, skipped %v", sent, skipped)
	}
	if _, err := w.clients.SetStatus(t.Context(), w.admin, c.ID, client.StatusActive, true); err != nil {
		t.Fatal(err)
	}
	w.daily(t0.Add(61 * day))
	if sent, _ := w.history(c.ID); !slices.Equal(sent, stages(30, 7, 1, 0)) {
		t.Fatalf("sent %v after reactivation, want 30, 7, 1, 0", sent)
	}
	// Revoked: nothing more, and the schedule is cleared.
	c2 := w.create("Revoked", "usr_admin", 60*day)
	if _, err := w.clients.Revoke(t.Context(), w.admin, c2.ID); err != nil {
		t.Fatal(err)
	}
	w.daily(t0.Add(130 * day))
	if sent, skipped := w.history(c2.ID); len(sent) != 0 || len(skipped) != 0 {
		t.Fatalf("revoked client: sent %v, skipped %v", sent, skipped)
	}
}

// Recipients: the owner and the creator, once when the same, and a
// recipient with no valid address is recorded as skipped, not mailed.
func TestRecipients(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	c := w.create("No address", "usr_nomail", 3*day)
	w.now = t0.Add(2 * day)
	rep := w.tick()
	if rep.Mails != 1 || rep.NoAddress != 1 {
		t.Fatalf("report %+v: want one mail, one recipient without an address", rep)
	}
	ds, err := w.st.Deliveries(t.Context(), notify.DeliveryQuery{ClientID: c.ID, Channel: notify.ChannelEmail, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, string(d.Status)+":"+d.UserID+":"+d.LastError)
	}
	sort.Strings(got)
	want := []string{"sent:usr_admin:", "skipped:usr_nomail:no valid email address"}
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries %v, want %v", got, want)
	}
	if msgs := w.inbox.all(); len(msgs) != 1 || msgs[0].To[0] != "claire@example.com" {
		t.Fatalf("mails %v", msgs)
	}
}

// A mail server refusing a recipient for good fails the delivery at once;
// one refusing for now is retried on the backoff schedule.
func TestDeliveryRetries(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	w.inbox.refuse["kari@example.com"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	w.inbox.refuse["claire@example.com"] = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	c := w.create("Retried", "usr_owner", 3*day)
	w.now = t0.Add(2 * day)
	w.tick()
	ds, err := w.st.Deliveries(t.Context(), notify.DeliveryQuery{ClientID: c.ID, Channel: notify.ChannelEmail, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var later string
	for _, d := range ds {
		switch d.Recipient {
		case "kari@example.com":
			if d.Status != notify.Failed || d.Attempts != 1 {
				t.Errorf("refused for good: %s after %d attempts", d.Status, d.Attempts)
			}
		case "claire@example.com":
			if d.Status != notify.Pending || d.Attempts != 1 || !d.NextAttemptAt.Equal(w.now.Add(notify.Backoff[0])) {
				t.Errorf("refused for now: %s, %d attempts, next %v", d.Status, d.Attempts, d.NextAttemptAt)
			}
			later = d.ID
		}
	}
	// Not retried before its time; delivered once the server takes it.
	w.now = w.now.Add(30 * time.Second)
	w.tick()
	w.inbox.mu.Lock()
	delete(w.inbox.refuse, "claire@example.com")
	w.inbox.mu.Unlock()
	w.now = w.now.Add(notify.Backoff[0])
	w.tick()
	d, attempts, err := w.st.Delivery(t.Context(), later)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != notify.Sent || len(attempts) != 2 || attempts[0].OK || !attempts[1].OK {
		t.Fatalf("delivery %s with attempts %+v", d.Status, attempts)
	}
	if !strings.Contains(attempts[0].Detail, "451") {
		t.Errorf("first attempt's detail %q: want the server's reply", attempts[0].Detail)
	}
	if n := len(w.inbox.all()); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
}

// crashStore makes the sweep's transaction fail after it has recorded the
// stages and before it writes the outbox: a crash between the two.
type crashStore struct {
	store.Store
	crash bool
}

var errCrash = errors.New("killed")

func (s *crashStore) InNotifyTx(ctx context.Context, fn func(notify.Tx) error) error {
	return s.Store.InNotifyTx(ctx, func(tx notify.Tx) error {
		if s.crash {
			return fn(crashTx{tx})
		}
		return fn(tx)
	})
}

type crashTx struct{ notify.Tx }

func (crashTx) AddDeliveries(context.Context, []notify.Delivery) error { return errCrash }

// killingMailer stands for a process killed while it talks to the mail
// server: the send never completes, and the process never records it.
type killingMailer struct {
	calls int
	kill  context.CancelFunc
}

func (k *killingMailer) Send(ctx context.Context, _ mail.Envelope) error {
	k.calls++
	k.kill()
	return ctx.Err()
}

// A crash at any point sends the due mail exactly once after restart: one
// between recording the stage and writing the outbox rolls both back; one
// after the outbox is written but before the dispatcher finished leaves
// the claimed row to be retried when its lease runs out.
func TestCrashExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, db)
	c := w.create("Crashed", "usr_admin", 3*day)
	w.now = t0.Add(2 * day)

	// Killed between recording and writing the outbox.
	cs := &crashStore{Store: db, crash: true}
	if _, err := (&notify.Sweeper{Store: cs}).Run(t.Context(), w.now); !errors.Is(err, errCrash) {
		t.Fatalf("sweep = %v, want the crash", err)
	}
	if sent, skipped := w.history(c.ID); len(sent)+len(skipped) != 0 {
		t.Fatalf("a crashed sweep left stages recorded: %v %v", sent, skipped)
	}

	// Restarted: the sweep records and queues; the dispatcher is killed
	// mid-send, with its claim committed and its outcome not.
	if _, err := w.sweep.Run(t.Context(), w.now); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	killed := &killingMailer{kill: cancel}
	d := *w.disp
	d.Mail = killed
	d.Store = db
	if _, err := d.Run(ctx, w.now); err == nil {
		t.Fatal("a killed dispatcher reported success")
	}
	if killed.calls != 1 {
		t.Fatalf("killed dispatcher tried %d sends", killed.calls)
	}
	db.Close()

	// The process starts again on the same file.
	db2, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	w.st, w.sweep.Store, w.disp.Store = db2, db2, db2
	w.tick() // the claim's lease still holds: nothing sent, nothing swept again
	if n := len(w.inbox.all()); n != 0 {
		t.Fatalf("%d mails while the dead dispatcher's lease held", n)
	}
	w.now = w.now.Add(notify.Lease)
	w.tick()
	w.now = w.now.Add(time.Hour)
	w.tick()
	if n := len(w.inbox.all()); n != 1 {
		t.Fatalf("%d mails after restart, want exactly 1", n)
	}
	if sent, _ := w.history(c.ID); !slices.Equal(sent, stages(1)) {
		t.Fatalf("stages %v", sent)
	}
}

// Two instances on one PostgreSQL database sweeping and delivering at
// once: every stage is recorded once and every mail sent once.
func TestConcurrentSweepsPostgres(t *testing.T) {
	url := testpg.Database(t, "latchkey_notify_")
	a, b := openPostgres(t, url), openPostgres(t, url)
	w := newWorld(t, a)
	const n = 120
	for i := range n {
		w.create("Fleet "+strconv.Itoa(i), "usr_owner", time.Duration(20+i%60)*day)
	}
	w.now = t0.Add(25 * day)
	sweeps := []*notify.Sweeper{{Store: a, Batch: 7}, {Store: b, Batch: 7}}
	disps := []*notify.Dispatcher{w.disp, {Store: b, Mail: w.disp.Mail, From: w.disp.From, MessageHost: "id.example.com",
		Link: w.disp.Link, Batch: 5}}
	var wg sync.WaitGroup
	reports := make([]notify.SweepReport, 2)
	errs := make([]error, 4)
	for i := range 2 {
		wg.Go(func() { reports[i], errs[i] = sweeps[i].Run(context.Background(), w.now) })
	}
	wg.Wait()
	for i := range 2 {
		wg.Go(func() { _, errs[2+i] = disps[i].Run(context.Background(), w.now) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Count what the schedule says is due at day 25 of lifetimes from 20
	// to 79 days.
	want := 0
	for i := range n {
		lt := time.Duration(20+i%60) * day
		if p := notify.PlanAt(t0, t0.Add(lt), w.now, nil); p.Sends() {
			want++
		}
	}
	if got := reports[0].Warned + reports[1].Warned; got != want {
		t.Fatalf("warned %d (%d + %d), want %d", got, reports[0].Warned, reports[1].Warned, want)
	}
	if reports[0].Warned == 0 || reports[1].Warned == 0 {
		t.Logf("one instance did all the work: %+v %+v", reports[0], reports[1])
	}
	msgs := w.inbox.all()
	ids := map[string]int{}
	for _, m := range msgs {
		ids[m.Msg.Header.Get("Message-Id")]++
	}
	if len(msgs) != 2*want || len(ids) != len(msgs) {
		t.Fatalf("%d mails with %d distinct ids, want %d each sent once", len(msgs), len(ids), 2*want)
	}
}

// A tenant's webhook receives each event it subscribed to, signed, exactly
// once as a receiver counts them, although its first attempt failed.
func TestWebhookDeliveries(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	key := bytes.Repeat([]byte{7}, 32)
	sealer, err := notify.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	svc := &notify.Service{Store: w.st, Roles: w.st, Clients: w.clients, Seal: sealer.Seal, Now: func() time.Time { return w.now }}

	var (
		mu       sync.Mutex
		attempts int
		seen     = map[string]int{} // webhook-id -> accepted deliveries
		types    []string
		secret   string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header, body, w.now, 5*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(rw, "bad signature", http.StatusUnauthorized)
			return
		}
		if attempts == 1 {
			http.Error(rw, "not now", http.StatusServiceUnavailable)
			return
		}
		id := r.Header.Get(webhook.HeaderID)
		seen[id]++
		if seen[id] == 1 {
			var ev struct {
				Type string `json:"type"`
				Data struct {
					ClientID string `json:"client_id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Errorf("body %s: %v", body, err)
			}
			types = append(types, ev.Type)
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	hook, plain, err := svc.CreateWebhook(t.Context(), w.admin, recv.URL+"/latchkey",
		[]event.Type{event.SecretExpiring, event.ClientRevoked, event.SecretRotated})
	if err != nil {
		t.Fatal(err)
	}
	secret = plain
	if bytes.Contains(hook.SealedSecret, []byte(plain)) {
		t.Fatal("the webhook secret is stored in plain text")
	}
	if _, _, err := svc.CreateWebhook(t.Context(), w.admin, "http://example.com/hook", []event.Type{event.SecretExpiring}); len(errs.Fields(err)) != 1 || errs.Fields(err)[0].Field != "url" {
		t.Fatalf("plain http to a remote host: %v, want a field error", err)
	}
	w.disp.Hooks, w.disp.OpenSecret = webhook.NewPoster(), sealer.Open

	c := w.create("Hooked", "usr_admin", 60*day)
	w.now = t0.Add(30 * day)
	w.tick() // secret-expiring queued; the first post fails
	if _, err := w.clients.RotateSecret(t.Context(), w.admin, c.ID, client.RotateParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.clients.Revoke(t.Context(), w.admin, c.ID); err != nil {
		t.Fatal(err)
	}
	w.tick()
	w.now = w.now.Add(notify.Backoff[0])
	w.tick()
	w.now = w.now.Add(day)
	w.tick()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(types)
	if want := []string{"client-revoked", "secret-expiring", "secret-rotated"}; !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
	}
	if attempts != 4 {
		t.Errorf("%d posts, want 4 (one failed, three accepted)", attempts)
	}
	hooks, err := w.st.Deliveries(t.Context(), notify.DeliveryQuery{TenantID: "ten_a", Channel: notify.ChannelWebhook, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, d := range hooks {
		if d.Status != notify.Sent {
			t.Errorf("delivery %s %s", d.ID, d.Status)
		}
		_, as, err := w.st.Delivery(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(as) == 2 && !as[0].OK && as[0].Detail == "HTTP 503" && as[1].OK {
			retried++
		}
	}
	if len(hooks) != 3 || retried != 1 {
		t.Fatalf("%d deliveries, %d retried after HTTP 503; want 3 and 1", len(hooks), retried)
	}
	// Deleted, the webhook gets nothing more.
	if err := svc.DeleteWebhook(t.Context(), w.admin, hook.ID); err != nil {
		t.Fatal(err)
	}
	if hs, _ := svc.Webhooks(t.Context(), w.admin); len(hs) != 0 {
		t.Fatalf("webhooks after delete: %v", hs)
	}
}
