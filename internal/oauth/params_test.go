package oauth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func post(ctype, body, query string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token"+query, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return r
}

const form = "application/x-www-form-urlencoded"

func TestReadParams(t *testing.T) {
	tests := []struct {
		name, ctype, body, query string
		want                     url.Values
		code                     string
		status                   int
	}{
		{"form", form, "grant_type=client_credentials&scope=a+b", "", url.Values{"grant_type": {"client_credentials"}, "scope": {"a b"}}, "", 0},
		{"form charset", form + "; charset=UTF-8", "grant_type=x", "", url.Values{"grant_type": {"x"}}, "", 0},
		{"empty value is omitted", form, "grant_type=x&scope=", "", url.Values{"grant_type": {"x"}}, "", 0},
		{"json", "application/json", `{"grant_type":"client_credentials","client_id":"a"}`, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"a"}}, "", 0},
		{"repeated form param", form, "grant_type=a&grant_type=b", "", nil, "invalid_request", 400},
		{"repeated json key", "application/json", `{"grant_type":"a","grant_type":"a"}`, "", nil, "invalid_request", 400},
		{"json number", "application/json", `{"grant_type":1}`, "", nil, "invalid_request", 400},
		{"json array", "application/json", `["grant_type"]`, "", nil, "invalid_request", 400},
		{"json nested", "application/json", `{"a":{"b":"c"}}`, "", nil, "invalid_request", 400},
		{"json trailing", "application/json", `{"a":"b"} {}`, "", nil, "invalid_request", 400},
		{"json truncated", "application/json", `{"a":"b"`, "", nil, "invalid_request", 400},
		{"query on POST", form, "grant_type=x", "?client_secret=leak", nil, "invalid_request", 400},
		{"no content type", "", "grant_type=x", "", nil, "invalid_request", 400},
		{"text/plain", "text/plain", "grant_type=x", "", nil, "invalid_request", 400},
		{"bad escape", form, "grant_type=%zz", "", nil, "invalid_request", 400},
		{"invalid utf-8", form, "grant_type=%ff", "", nil, "invalid_request", 400},
		{"too large", form, "a=" + strings.Repeat("x", MaxBodyBytes), "", nil, "invalid_request", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readParams(httptest.NewRecorder(), post(tt.ctype, tt.body, tt.query))
			if tt.code != "" {
				if err == nil || err.Code != tt.code || err.Status != tt.status {
					t.Fatalf("got %v, %+v; want %s %d", got, err, tt.code, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected %+v", err)
			}
			if got.Encode() != tt.want.Encode() {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestReadCredentials(t *testing.T) {
	tests := []struct {
		name   string
		auth   []string
		body   url.Values
		want   credentials
		code   string
		status int
	}{
		{"basic", []string{basic("lkc_a", "s3cr:et")}, nil, credentials{"lkc_a", "s3cr:et", "client_secret_basic"}, "", 0},
		{"basic form-encoded", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("a%2Bb:c%25d"))}, nil, credentials{"a+b", "c%d", "client_secret_basic"}, "", 0},
		{"basic lower-case scheme", []string{"basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))}, nil, credentials{"a", "b", "client_secret_basic"}, "", 0},
		{"basic with same body id", []string{basic("a", "b")}, url.Values{"client_id": {"a"}}, credentials{"a", "b", "client_secret_basic"}, "", 0},
		{"post", nil, url.Values{"client_id": {"a"}, "client_secret": {"b"}}, credentials{"a", "b", "client_secret_post"}, "", 0},
		{"none", nil, url.Values{"client_id": {"a"}}, credentials{"a", "", "none"}, "", 0},
		{"both methods", []string{basic("a", "b")}, url.Values{"client_secret": {"b"}}, credentials{}, "invalid_request", 400},
		{"mismatched ids", []string{basic("a", "b")}, url.Values{"client_id": {"c"}}, credentials{}, "invalid_request", 400},
		{"two headers", []string{basic("a", "b"), basic("a", "b")}, nil, credentials{}, "invalid_request", 400},
		{"secret without id", nil, url.Values{"client_secret": {"b"}}, credentials{}, "invalid_request", 400},
		{"nothing", nil, nil, credentials{}, "invalid_client", 401},
		{"bearer scheme", []string{"Bearer x"}, nil, credentials{}, "invalid_client", 401},
		{"bad base64", []string{"Basic !!!"}, nil, credentials{}, "invalid_client", 401},
		{"no colon", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("ab"))}, nil, credentials{}, "invalid_client", 401},
		{"bad escape", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("a%zz:b"))}, nil, credentials{}, "invalid_client", 401},
		{"empty id", []string{basic("", "b")}, nil, credentials{}, "invalid_client", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			for _, h := range tt.auth {
				r.Header.Add("Authorization", h)
			}
			if tt.body == nil {
				tt.body = url.Values{}
			}
			got, err := readCredentials(r, tt.body)
			if tt.code != "" {
				if err == nil || err.Code != tt.code || err.Status != tt.status {
					t.Fatalf("got %+v, %+v; want %s", got, err, tt.code)
				}
				if tt.status == 401 && !strings.HasPrefix(err.Challenge, "Basic") {
					t.Errorf("401 without a Basic challenge: %q", err.Challenge)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %+v; want %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzReadParams(f *testing.F) {
	f.Add(form, "grant_type=client_credentials&scope=a+b")
	f.Add("application/json", `{"grant_type":"client_credentials"}`)
	f.Add("application/json", `{"a":"b","a":"c"}`)
	f.Add(form, "a=%zz&b=%ff")
	f.Add("application/json", `{"a":[1,{"b":null}]}`)
	f.Fuzz(func(t *testing.T, ctype, body string) {
		v, err := readParams(httptest.NewRecorder(), post(ctype, body, ""))
		if err == nil {
			for k, vals := range v {
				if len(vals) != 1 || vals[0] == "" {
					t.Fatalf("param %q has values %q", k, vals)
				}
			}
		} else if err.Status < 400 || err.Code == "" {
			t.Fatalf("bad error %+v", err)
		}
	})
}

func FuzzReadCredentials(f *testing.F) {
	f.Add(basic("lkc_a", "b"), "", "")
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("%zz:%")), "x", "")
	f.Add("", "lkc_a", "secret")
	f.Add("Bearer abc", "", "")
	f.Fuzz(func(t *testing.T, auth, id, secret string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		p := url.Values{}
		if id != "" {
			p.Set("client_id", id)
		}
		if secret != "" {
			p.Set("client_secret", secret)
		}
		c, err := readCredentials(r, p)
		if err == nil && c.clientID == "" {
			t.Fatal("accepted credentials without a client ID")
		}
		if err != nil && (err.Code != "invalid_request" && err.Code != "invalid_client") {
			t.Fatalf("unexpected code %q", err.Code)
		}
	})
}

func TestSourceAddr(t *testing.T) {
	s := &Server{Config: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.5:4000", nil, "203.0.113.5"},
		{"203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"}, // untrusted peer: header ignored
		{"10.1.2.3:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.7, 10.9.9.9"}, "198.51.100.7"}, // spoofed prefix skipped
		{"10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"10.1.2.3:4000", []string{"10.4.4.4"}, "10.1.2.3"},
		{"10.1.2.3:4000", []string{"garbage"}, "10.1.2.3"},
		{"10.1.2.3:4000", nil, "10.1.2.3"},
		{"[::1]:4000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"[2001:db8::2]:4000", nil, "2001:db8::2"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = tt.remote
		for _, h := range tt.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := s.sourceAddr(r); got != tt.want {
			t.Errorf("sourceAddr(%s, %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}
