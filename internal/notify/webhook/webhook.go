// Package webhook posts signed events to tenants' HTTP endpoints.
//
// Deliveries are signed in the manner of the Standard Webhooks
// specification: three headers, webhook-id, webhook-timestamp (Unix
// seconds) and webhook-signature, the last "v1," followed by the base64
// HMAC-SHA256 of "id.timestamp.body" under the endpoint's secret. A
// receiver recomputes the MAC, compares in constant time, and refuses
// timestamps far from its clock, so a captured delivery cannot be replayed
// later; the id lets it drop the repeats that retries may bring.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed delivery.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// secretPrefix marks a webhook signing secret, so one is recognised where
// it turns up, and the base64 after it is the key.
const secretPrefix = "whsec_"

// MaxURL bounds an endpoint address.
const MaxURL = 2000

// CheckURL reports whether raw may be a webhook endpoint: an absolute
// https URL, or http to a loopback host (a receiver on the same machine),
// with no credentials and no fragment.
func CheckURL(raw string) error {
	if raw == "" {
		return errors.New("is required")
	}
	if len(raw) > MaxURL {
		return fmt.Errorf("must be at most %d characters", MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https (plain http only to a loopback address)")
	}
	return errors.New("must be an absolute https URL")
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewSecret returns a fresh signing secret: 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

func key(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(k) == 0 {
		return nil, errors.New("webhook: malformed signing secret")
	}
	return k, nil
}

// Sign returns the webhook-signature value of a delivery.
func Sign(secret, msgID string, at time.Time, body []byte) (string, error) {
	k, err := key(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(k, msgID, at.Unix(), body)), nil
}

func mac(k []byte, msgID string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	ErrTimestamp      = errors.New("webhook: timestamp outside the tolerance")
	ErrSignature      = errors.New("webhook: no matching signature")
)

// Verify checks a received delivery as a receiver would: the headers h
// carry a signature of body under secret, made within tolerance of now.
// The signature header may list several space-separated signatures (as
// during a secret's rotation); one match is enough.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	k, err := key(secret)
	if err != nil {
		return err
	}
	want := mac(k, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	URL    string
	Secret string
	// ID is the delivery's identifier, the same on every retry, so a
	// receiver can drop repeats.
	ID   string
	At   time.Time
	Body []byte
}

// Poster posts deliveries over HTTP.
type Poster struct {
	client *http.Client
}

// Option configures a Poster.
type Option func(*Poster)

// WithClient makes the poster use c (tests give one trusting their
// certificate). Redirects are refused whatever c says.
func WithClient(c *http.Client) Option {
	return func(p *Poster) {
		cc := *c
		p.client = &cc
	}
}

// Timeout bounds one post, the connection included.
const Timeout = 10 * time.Second

// maxResponse is how much of a response body is read (and dropped), so
// the connection can be reused and a receiver cannot stream forever.
const maxResponse = 64 << 10

// UserAgent names the poster to receivers.
const UserAgent = "Latchkey-Webhooks/1"

// NewPoster returns a poster with a 10-second timeout that does not follow
// redirects: a delivery goes to the address the tenant registered or
// nowhere.
func NewPoster(opts ...Option) *Poster {
	p := &Poster{client: &http.Client{Timeout: Timeout}}
	for _, o := range opts {
		o(p)
	}
	if p.client.Timeout == 0 {
		p.client.Timeout = Timeout
	}
	p.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return p
}

// Post sends d and returns the response status. Any status but 2xx is an
// error; errors are short, fit for an attempts list (no secret, no body).
func (p *Poster) Post(ctx context.Context, d Delivery) (int, error) {
	sig, err := Sign(d.Secret, d.ID, d.At, d.Body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, errors.New("invalid endpoint address")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, d.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(d.At.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, errors.New(describe(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// describe turns a transport error into a short phrase without the URL
// (which the attempts list shows already).
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ue != nil && ue.Timeout() {
		return "timed out"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + ": " + oe.Err.Error()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return "cannot resolve " + de.Name
	}
	s := err.Error()
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// Permanent reports whether a failed post should not be retried: only when
// the receiver answered 410 Gone, saying the endpoint is no more. Every
// other failure (timeouts, 5xx, even 4xx from a misconfigured receiver)
// may pass, and is retried on the backoff schedule.
func Permanent(status int, err error) bool {
	return err != nil && status == http.StatusGone
}
