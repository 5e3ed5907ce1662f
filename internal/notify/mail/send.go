package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Config is an SMTP relay.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS is TLS from the first byte (smtps://); otherwise the
	// connection is upgraded with STARTTLS, which is then required unless
	// StartTLS is false (allowed only to a loopback relay).
	ImplicitTLS bool
	StartTLS    bool
}

// String is the relay as a URL with the password masked.
func (c Config) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if c.Username != "" {
		if c.Password != "" {
			u.User = url.UserPassword(c.Username, "xxxxx")
		} else {
			u.User = url.User(c.Username)
		}
	}
	if !c.ImplicitTLS && !c.StartTLS {
		u.RawQuery = "starttls=off"
	}
	return u.String()
}

// ParseURL reads an SMTP URL: smtp://[user[:pass]@]host[:port] (STARTTLS
// required, port 587 by default), smtps://… (implicit TLS, port 465), or
// smtp://host:port?starttls=off to a loopback relay. Its errors never
// repeat the password.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, errors.New("not a URL (smtp://user:pass@host:587 or smtps://user:pass@host:465)")
	}
	var c Config
	switch u.Scheme {
	case "smtp":
		c.Port, c.StartTLS = 587, true
	case "smtps":
		c.Port, c.ImplicitTLS = 465, true
	default:
		return Config{}, fmt.Errorf("scheme %q: use smtp:// (STARTTLS) or smtps:// (TLS)", u.Scheme)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return Config{}, errors.New("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("port %q is not a port number", p)
		}
		c.Port = n
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" || u.Opaque != "" {
		return Config{}, errors.New("an SMTP URL has no path or fragment")
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	for k, vs := range u.Query() {
		if k != "starttls" || len(vs) != 1 {
			return Config{}, fmt.Errorf("unknown parameter %q (only starttls=off)", k)
		}
		switch vs[0] {
		case "off":
			if c.ImplicitTLS {
				return Config{}, errors.New("starttls=off is for smtp://, not smtps://")
			}
			if !loopback(c.Host) {
				return Config{}, errors.New("starttls=off sends mail (and any password) in the clear: only to a loopback relay")
			}
			c.StartTLS = false
		case "on":
		default:
			return Config{}, fmt.Errorf("starttls=%q: use off or on", vs[0])
		}
	}
	return c, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Envelope is one message to one recipient.
type Envelope struct {
	// From is "Name <address>" or an address.
	From   string
	To     string
	ToName string
	// MessageID is the Message-ID without its angle brackets.
	MessageID string
	Message   Message
}

// Sender sends mail through one relay, a connection per message.
type Sender struct {
	cfg     Config
	tls     *tls.Config
	timeout time.Duration
}

// Option configures a Sender.
type Option func(*Sender)

// WithTLSConfig sets the TLS configuration (tests trust their own
// certificate with it). Its ServerName defaults to the relay's host.
func WithTLSConfig(c *tls.Config) Option { return func(s *Sender) { s.tls = c } }

// WithTimeout bounds a connection and each SMTP exchange; 30 s by
// default.
func WithTimeout(d time.Duration) Option { return func(s *Sender) { s.timeout = d } }

// NewSender returns a sender through the relay c.
func NewSender(c Config, opts ...Option) (*Sender, error) {
	if c.Host == "" || c.Port == 0 {
		return nil, errors.New("mail: no SMTP relay")
	}
	s := &Sender{cfg: c, timeout: 30 * time.Second}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Send delivers e: a multipart/alternative message, plain text and HTML,
// marked as automatically generated.
func (s *Sender) Send(ctx context.Context, e Envelope) error {
	m := gomail.NewMsg()
	if err := m.From(e.From); err != nil {
		return fmt.Errorf("mail: from address: %w", err)
	}
	if err := m.AddToFormat(e.ToName, e.To); err != nil {
		return fmt.Errorf("mail: to address: %w", err)
	}
	m.Subject(e.Message.Subject)
	m.SetMessageIDWithValue(e.MessageID)
	m.SetDate()
	m.SetGenHeader(gomail.HeaderContentLang, e.Message.Lang)
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(gomail.Header("X-Auto-Response-Suppress"), "All")
	m.SetBodyString(gomail.TypeTextPlain, e.Message.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, e.Message.HTML)

	tc := s.tls
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = s.cfg.Host
	}
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.timeout), gomail.WithTLSConfig(tc)}
	switch {
	case s.cfg.ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.cfg.StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		auth := gomail.SMTPAuthPlain
		if !s.cfg.ImplicitTLS && !s.cfg.StartTLS {
			auth = gomail.SMTPAuthPlainNoEnc // loopback only (ParseURL)
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return sendError{err: err, code: replyCode(err)}
	}
	return nil
}

// sendError is a failed send: the relay's reply code, when it gave one.
type sendError struct {
	err  error
	code int
}

func (e sendError) Error() string {
	msg := e.err.Error()
	if e.code != 0 && !strings.Contains(msg, strconv.Itoa(e.code)) {
		msg = strconv.Itoa(e.code) + " " + msg
	}
	return "mail: " + msg
}

func (e sendError) Unwrap() error { return e.err }

// replyCode finds the SMTP reply code in a go-mail error, 0 for none.
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode()
	}
	return 0
}

// Permanent reports whether the relay refused for good (a 5xx reply):
// the same mail will be refused again.
func Permanent(err error) bool {
	var se sendError
	if errors.As(err, &se) {
		return se.code >= 500 && se.code < 600
	}
	return false
}

// ValidAddress reports whether s is one plain address a mail can go to:
// local@domain, no display name, at most 254 characters.
func ValidAddress(s string) bool {
	if s == "" || len(s) > 254 {
		return false
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1
}
