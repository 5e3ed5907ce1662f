package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	good := []string{
		"https://hooks.example.com/latchkey",
		"https://example.com:8443/a?b=c",
		"http://127.0.0.1:8080/hook",
		"http://localhost/hook",
		"http://[::1]:9000/",
	}
	for _, u := range good {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
	bad := map[string]string{
		"":                             "required",
		"hooks.example.com/x":          "absolute",
		"ftp://example.com/":           "absolute https",
		"http://example.com/hook":      "plain http only to a loopback",
		"http://10.0.0.1/hook":         "plain http only to a loopback",
		"https://user:pw@example.com/": "credentials",
		"https://example.com/#frag":    "fragment",
		"https:example.com":            "absolute",
		"https://example.com/" + strings.Repeat("a", MaxURL): "at most",
	}
	for u, want := range bad {
		err := CheckURL(u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckURL(%q) = %v, want an error with %q", u, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("CheckURL(%q) error repeats the password: %v", u, err)
		}
	}
}

func TestSignVerify(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
		t.Fatalf("secret %q: want whsec_ and 32 base64 bytes", secret)
	}
	other, _ := NewSecret()
	if other == secret {
		t.Fatal("two secrets are equal")
	}
	at := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"secret-expiring"}`)
	sig, err := Sign(secret, "dlv_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, "v1,") {
		t.Fatalf("signature %q: want v1, prefix", sig)
	}
	h := http.Header{}
	h.Set(HeaderID, "dlv_1")
	h.Set(HeaderTimestamp, "1800000000")
	h.Set(HeaderSignature, "v1,AAAA "+sig)
	if err := Verify(secret, h, body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	cases := []struct {
		name   string
		secret string
		edit   func(http.Header)
		body   string
		now    time.Time
		want   error
	}{
		{"other secret", other, nil, string(body), at, ErrSignature},
		{"changed body", secret, nil, `{"type":"secret-expired"}`, at, ErrSignature},
		{"changed id", secret, func(h http.Header) { h.Set(HeaderID, "dlv_2") }, string(body), at, ErrSignature},
		{"changed timestamp", secret, func(h http.Header) { h.Set(HeaderTimestamp, "1800000001") }, string(body), at, ErrSignature},
		{"late", secret, nil, string(body), at.Add(6 * time.Minute), ErrTimestamp},
		{"early", secret, nil, string(body), at.Add(-6 * time.Minute), ErrTimestamp},
		{"bad timestamp", secret, func(h http.Header) { h.Set(HeaderTimestamp, "soon") }, string(body), at, ErrTimestamp},
		{"no signature", secret, func(h http.Header) { h.Del(HeaderSignature) }, string(body), at, ErrMissingHeaders},
		{"other version", secret, func(h http.Header) { h.Set(HeaderSignature, "v2,"+strings.TrimPrefix(sig, "v1,")) }, string(body), at, ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(HeaderID, "dlv_1")
			h.Set(HeaderTimestamp, "1800000000")
			h.Set(HeaderSignature, sig)
			if c.edit != nil {
				c.edit(h)
			}
			if err := Verify(c.secret, h, []byte(c.body), c.now, 5*time.Minute); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := Sign("whsec_!!", "x", at, body); err == nil {
		t.Fatal("Sign with a malformed secret succeeded")
	}
}

// A known vector, so the construction is pinned and a receiver written
// from the Standard Webhooks documents agrees with it.
func TestSignKnownVector(t *testing.T) {
	sig, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Fatalf("Sign = %q, want %q", sig, want)
	}
}

func TestPost(t *testing.T) {
	secret, _ := NewSecret()
	at := time.Now()
	var mu sync.Mutex
	var got []http.Header
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := Verify(secret, r.Header, body, at, time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	p := NewPoster(WithClient(srv.Client()))
	d := Delivery{URL: srv.URL + "/ok", Secret: secret, ID: "dlv_abc", At: at, Body: []byte(`{"a":1}`)}
	status, err := p.Post(context.Background(), d)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("Post = %d, %v", status, err)
	}
	if h := got[0]; h.Get("User-Agent") != UserAgent || h.Get("Content-Type") != "application/json" || h.Get(HeaderID) != "dlv_abc" {
		t.Fatalf("headers %v", h)
	}

	for path, want := range map[string]struct {
		status    int
		permanent bool
	}{"/gone": {410, true}, "/fail": {500, false}, "/redirect": {302, false}} {
		d.URL = srv.URL + path
		status, err := p.Post(context.Background(), d)
		if err == nil || status != want.status || err.Error() != "HTTP "+strconv.Itoa(want.status) {
			t.Errorf("%s: Post = %d, %v", path, status, err)
		}
		if Permanent(status, err) != want.permanent {
			t.Errorf("%s: Permanent = %v, want %v", path, !want.permanent, want.permanent)
		}
	}
	if n := len(got); n != 4 {
		t.Fatalf("receiver saw %d posts, want 4 (a redirect is not followed)", n)
	}

	// A receiver that is not there: a short error naming no secret.
	srv.Close()
	d.URL = srv.URL + "/ok"
	status, err = p.Post(context.Background(), d)
	if err == nil || status != 0 || Permanent(status, err) {
		t.Fatalf("Post to a closed server = %d, %v", status, err)
	}
	if strings.Contains(err.Error(), secret) || len(err.Error()) > 200 {
		t.Fatalf("error %q", err)
	}
	if _, err := p.Post(context.Background(), Delivery{URL: "https://x", Secret: "whsec_!!"}); err == nil {
		t.Fatal("Post with a malformed secret succeeded")
	}
	if _, err := p.Post(context.Background(), Delivery{URL: "://bad", Secret: secret}); err == nil {
		t.Fatal("Post to a malformed URL succeeded")
	}
	if Permanent(http.StatusGone, nil) {
		t.Fatal("a success is permanent failure")
	}
}

func TestPostTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	secret, _ := NewSecret()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed: the post gives up without waiting
	_, err := NewPoster().Post(ctx, Delivery{URL: srv.URL, Secret: secret, ID: "d", At: time.Now()})
	if err == nil {
		t.Fatal("Post with a done context succeeded")
	}
}
