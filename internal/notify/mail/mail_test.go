package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// Every catalogue has exactly the English keys, none empty, each with the
// English text's placeholders.
func TestCataloguesComplete(t *testing.T) {
	if got := Languages(); !slices.Equal(got, []string{"da", "en", "fi", "fr", "nb", "sv"}) {
		t.Fatalf("languages %v", got)
	}
	en := catalogs["en"]
	for _, lang := range Languages() {
		c := catalogs[lang]
		for k, v := range en {
			tr, ok := c[k]
			if !ok || strings.TrimSpace(tr) == "" {
				t.Errorf("%s: %q is missing", lang, k)
				continue
			}
			want, got := placeholder.FindAllString(v, -1), placeholder.FindAllString(tr, -1)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("%s: %q has placeholders %v, want %v", lang, k, got, want)
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s: %q is no English key", lang, k)
			}
		}
		if lang != "en" && c["subject"] == en["subject"] {
			t.Errorf("%s: the subject is not translated", lang)
		}
	}
	if en["subject"] != "Your OAuth Client Secret is Expiring Soon" {
		t.Errorf("English subject %q", en["subject"])
	}
}

func TestLoadCatalogsErrors(t *testing.T) {
	if _, err := loadCatalogs(fstest.MapFS{"catalog/en.json": {Data: []byte("{")}}); err == nil {
		t.Error("a malformed catalogue loaded")
	}
	if _, err := loadCatalogs(fstest.MapFS{"catalog/fr.json": {Data: []byte("{}")}}); err == nil {
		t.Error("catalogues without English loaded")
	}
}

var expires = time.Date(2027, 3, 3, 14, 30, 0, 0, time.UTC)

func warning(locale string, days int) Warning {
	return Warning{Locale: locale, RecipientName: "Kari", ClientID: "lkc_1", ClientName: "Billing <script>",
		TenantName: "Acme & Co", ExpiresAt: expires, DaysLeft: days, ConsoleURL: "https://id.example.com/console/clients/lkc_1"}
}

func TestRender(t *testing.T) {
	cases := []struct {
		locale, lang, date string
	}{
		{"", "en", "March 3, 2027"},
		{"en-GB", "en", "March 3, 2027"},
		{"nb-NO", "nb", "3. mars 2027"},
		{"no", "nb", "3. mars 2027"},
		{"nn", "nb", "3. mars 2027"},
		{"sv_SE", "sv", "3 mars 2027"},
		{"fr-CA", "fr", "3 mars 2027"},
		{"fi", "fi", "3. maaliskuuta 2027"},
		{"da", "da", "3. marts 2027"},
		{"de-DE", "en", "March 3, 2027"},
		{"x-unknown", "en", "March 3, 2027"},
	}
	for _, c := range cases {
		m, err := Render(warning(c.locale, 14))
		if err != nil {
			t.Fatal(err)
		}
		if m.Lang != c.lang {
			t.Errorf("%q: language %s, want %s", c.locale, m.Lang, c.lang)
		}
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			if !strings.Contains(body, c.date) || !strings.Contains(body, "14") ||
				!strings.Contains(body, "https://id.example.com/console/clients/lkc_1") || !strings.Contains(body, "lkc_1") {
				t.Errorf("%q %s part lacks the date %q, the days or the link:\n%s", c.locale, part, c.date, body)
			}
		}
		if !strings.Contains(m.Text, "Billing <script>") || !strings.Contains(m.Text, "Acme & Co") {
			t.Errorf("%q: text part lacks the names", c.locale)
		}
		if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "Billing &lt;script&gt;") ||
			!strings.Contains(m.HTML, "Acme &amp; Co") {
			t.Errorf("%q: HTML part does not escape the names:\n%s", c.locale, m.HTML)
		}
		if m.Subject != catalogs[c.lang]["subject"] {
			t.Errorf("%q: subject %q", c.locale, m.Subject)
		}
	}

	one, _ := Render(warning("en", 1))
	if !strings.Contains(one.Text, "expires tomorrow") {
		t.Errorf("1 day left:\n%s", one.Text)
	}
	gone, _ := Render(warning("en", 0))
	if !strings.Contains(gone.Text, "has expired") || !strings.Contains(gone.Text, "Days remaining: expired") {
		t.Errorf("expiry day:\n%s", gone.Text)
	}
	fr, _ := Render(warning("fr", 0))
	if !strings.Contains(fr.Text, "a expiré") || !strings.Contains(fr.HTML, `lang="fr"`) {
		t.Errorf("French expiry day:\n%s", fr.Text)
	}
	anon := warning("en", 7)
	anon.RecipientName = ""
	m, _ := Render(anon)
	if !strings.HasPrefix(m.Text, "Hello,\n") {
		t.Errorf("greeting without a name: %q", m.Text[:20])
	}
	named, _ := Render(warning("sv", 7))
	if !strings.HasPrefix(named.Text, "Hej Kari,\n") {
		t.Errorf("Swedish greeting: %q", named.Text[:20])
	}
}

func TestParseURL(t *testing.T) {
	good := map[string]Config{
		"smtp://mail.example.com":                   {Host: "mail.example.com", Port: 587, StartTLS: true},
		"smtp://u%40x:p%3Ass@mail.example.com:2525": {Host: "mail.example.com", Port: 2525, Username: "u@x", Password: "p:ss", StartTLS: true},
		"smtps://u:secretpw@mail.example.com":       {Host: "mail.example.com", Port: 465, Username: "u", Password: "secretpw", ImplicitTLS: true},
		"smtp://localhost:25?starttls=off":          {Host: "localhost", Port: 25},
		"smtp://127.0.0.1:1025?starttls=off":        {Host: "127.0.0.1", Port: 1025},
		"smtp://[::1]:25?starttls=off":              {Host: "::1", Port: 25},
		"smtp://mail.example.com:587?starttls=on":   {Host: "mail.example.com", Port: 587, StartTLS: true},
	}
	for raw, want := range good {
		got, err := ParseURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
		if strings.Contains(got.String(), "secretpw") || strings.Contains(got.String(), "p:ss") {
			t.Errorf("String() shows the password: %s", got)
		}
		back, err := ParseURL(got.String())
		if err != nil || back.Host != got.Host || back.Port != got.Port || back.ImplicitTLS != got.ImplicitTLS {
			t.Errorf("String() %q does not read back: %+v %v", got, back, err)
		}
	}
	bad := map[string]string{
		"http://mail.example.com":                 "scheme",
		"smtp://":                                 "no host",
		"smtp://mail.example.com:0":               "port",
		"smtp://mail.example.com:99999":           "port",
		"smtp://u:secretpw@mail.example.com/path": "no path",
		"smtp://mail.example.com?starttls=off":    "loopback",
		"smtps://localhost?starttls=off":          "smtps",
		"smtp://localhost?starttls=maybe":         "use off or on",
		"smtp://localhost?tls=off":                "unknown parameter",
		"smtp://u:secretpw@mail.example.com#frag": "no path",
		"smtp://u:secretpw@mail.example.com:port": "URL",
		"smtp://u:secretpw@[::1":                  "URL",
	}
	for raw, want := range bad {
		_, err := ParseURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v, want an error with %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("ParseURL(%q) error shows the password: %v", raw, err)
		}
	}
}

func TestValidAddress(t *testing.T) {
	for s, want := range map[string]bool{
		"kari@example.com": true, "a.b+c@sub.example.no": true,
		"": false, "nobody": false, "Kari <kari@example.com>": false, "kari@": false, "@example.com": false,
		"kari@example.com, ola@example.com": false, strings.Repeat("a", 250) + "@x.no": false,
	} {
		if ValidAddress(s) != want {
			t.Errorf("ValidAddress(%q) = %v", s, !want)
		}
	}
}

// server is an SMTP server in the test: it keeps what it receives and
// answers RCPT TO as told.
type server struct {
	mu       sync.Mutex
	got      []delivered
	refuse   *smtp.SMTPError
	user     string // AUTH PLAIN is required when set
	password string
}

type delivered struct {
	from string
	to   []string
	data []byte
}

func (s *server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s      *server
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.user || pass != x.s.password {
			return errors.New("invalid credentials")
		}
		x.authed = true
		return nil
	}), nil
}
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.user != "" && !x.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.refuse != nil {
		return x.s.refuse
	}
	x.to = append(x.to, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.got = append(x.s.got, delivered{from: x.from, to: x.to, data: b})
	x.s.mu.Unlock()
	return nil
}
func (x *session) Reset()        {}
func (x *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// start serves s on a loopback port: with STARTTLS offered when cert is
// set, or TLS from the first byte when implicit.
func start(t *testing.T, s *server, cert *tls.Certificate, implicit bool) int {
	t.Helper()
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = cert == nil
	var l net.Listener
	var err error
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func envelope(t *testing.T) Envelope {
	m, err := Render(warning("nb", 7))
	if err != nil {
		t.Fatal(err)
	}
	return Envelope{From: "Latchkey <latchkey@id.example.com>", To: "kari@example.com", ToName: "Kari Nordmann",
		MessageID: "dlv_abc@id.example.com", Message: m}
}

// check parses what the server received and asserts on its headers and
// parts.
func check(t *testing.T, s *server, e Envelope) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(s.got))
	}
	d := s.got[0]
	if d.from != "latchkey@id.example.com" || !slices.Equal(d.to, []string{"kari@example.com"}) {
		t.Errorf("envelope from %q to %v", d.from, d.to)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(d.data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	to, _ := netmail.ParseAddress(h.Get("To"))
	from, _ := netmail.ParseAddress(h.Get("From"))
	switch {
	case subject != e.Message.Subject:
		t.Errorf("Subject %q, want %q", subject, e.Message.Subject)
	case h.Get("Message-Id") != "<dlv_abc@id.example.com>":
		t.Errorf("Message-ID %q", h.Get("Message-Id"))
	case h.Get("Content-Language") != "nb":
		t.Errorf("Content-Language %q", h.Get("Content-Language"))
	case h.Get("Auto-Submitted") != "auto-generated":
		t.Errorf("Auto-Submitted %q", h.Get("Auto-Submitted"))
	case to == nil || to.Address != "kari@example.com" || to.Name != "Kari Nordmann":
		t.Errorf("To %q", h.Get("To"))
	case from == nil || from.Address != "latchkey@id.example.com" || from.Name != "Latchkey":
		t.Errorf("From %q", h.Get("From"))
	case h.Get("Date") == "":
		t.Error("no Date")
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: want multipart/alternative", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct+";"+strings.ToLower(cp["charset"]))
	}
	if !slices.Equal(types, []string{"text/plain;utf-8", "text/html;utf-8"}) {
		t.Errorf("parts %v", types)
	}
}

func TestSendSTARTTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s := &server{user: "latchkey", password: "s3cret-pass"}
	port := start(t, s, &cert, false)
	cfg, err := ParseURL("smtp://latchkey:s3cret-pass@127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	sender, err := NewSender(cfg, WithTLSConfig(&tls.Config{RootCAs: pool}), WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	e := envelope(t)
	if err := sender.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	check(t, s, e)

	// A certificate the sender does not trust is refused: no mail, no
	// password sent.
	untrusting, _ := NewSender(cfg, WithTimeout(5*time.Second))
	if err := untrusting.Send(context.Background(), e); err == nil || Permanent(err) {
		t.Fatalf("send to an untrusted certificate: %v", err)
	} else if strings.Contains(err.Error(), "s3cret-pass") {
		t.Fatalf("error shows the password: %v", err)
	}
	// The wrong password is the server's refusal.
	cfg.Password = "wrong"
	wrong, _ := NewSender(cfg, WithTLSConfig(&tls.Config{RootCAs: pool}), WithTimeout(5*time.Second))
	if err := wrong.Send(context.Background(), e); err == nil {
		t.Fatal("send with the wrong password succeeded")
	}
}

func TestSendImplicitTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s := &server{}
	port := start(t, s, &cert, true)
	cfg, err := ParseURL("smtps://127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	sender, _ := NewSender(cfg, WithTLSConfig(&tls.Config{RootCAs: pool}), WithTimeout(5*time.Second))
	e := envelope(t)
	if err := sender.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	check(t, s, e)
}

func TestSendPlainToLoopback(t *testing.T) {
	s := &server{}
	port := start(t, s, nil, false)
	cfg, err := ParseURL("smtp://127.0.0.1:" + strconv.Itoa(port) + "?starttls=off")
	if err != nil {
		t.Fatal(err)
	}
	sender, _ := NewSender(cfg, WithTimeout(5*time.Second))
	e := envelope(t)
	if err := sender.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	check(t, s, e)
}

// smtp:// requires STARTTLS: a server that does not offer it gets no mail.
func TestSendRequiresSTARTTLS(t *testing.T) {
	s := &server{}
	port := start(t, s, nil, false)
	cfg, _ := ParseURL("smtp://127.0.0.1:" + strconv.Itoa(port))
	sender, _ := NewSender(cfg, WithTimeout(5*time.Second))
	if err := sender.Send(context.Background(), envelope(t)); err == nil {
		t.Fatal("sent in the clear to a server without STARTTLS")
	}
	if len(s.got) != 0 {
		t.Fatal("the server received a mail")
	}
}

func TestSendRefusals(t *testing.T) {
	for _, c := range []struct {
		code      int
		permanent bool
	}{{550, true}, {553, true}, {451, false}, {452, false}} {
		s := &server{refuse: &smtp.SMTPError{Code: c.code, EnhancedCode: smtp.EnhancedCode{c.code / 100, 1, 1}, Message: "refused"}}
		port := start(t, s, nil, false)
		cfg, _ := ParseURL("smtp://127.0.0.1:" + strconv.Itoa(port) + "?starttls=off")
		sender, _ := NewSender(cfg, WithTimeout(5*time.Second))
		err := sender.Send(context.Background(), envelope(t))
		if err == nil {
			t.Fatalf("%d: send succeeded", c.code)
		}
		if Permanent(err) != c.permanent {
			t.Errorf("%d: Permanent = %v, want %v (%v)", c.code, !c.permanent, c.permanent, err)
		}
		if !strings.Contains(err.Error(), strconv.Itoa(c.code)) {
			t.Errorf("%d: error %q does not name the reply", c.code, err)
		}
	}
	// No server at all: retried later, not given up.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg, _ := ParseURL("smtp://" + addr + "?starttls=off")
	sender, _ := NewSender(cfg, WithTimeout(2*time.Second))
	if err := sender.Send(context.Background(), envelope(t)); err == nil || Permanent(err) {
		t.Fatalf("send to nobody: %v", err)
	}
	if Permanent(nil) || Permanent(errors.New("550 looks permanent")) {
		t.Fatal("Permanent of an error that is no refusal")
	}
	if _, err := NewSender(Config{}); err == nil {
		t.Fatal("NewSender without a relay")
	}
	bad := envelope(t)
	bad.To = "not an address"
	if err := sender.Send(context.Background(), bad); err == nil {
		t.Fatal("send to a malformed address")
	}
}
