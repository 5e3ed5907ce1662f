package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDurationFlags(t *testing.T) {
	tests := []struct {
		arg     string
		want    time.Duration
		wantErr string
	}{
		{"5s", 5 * time.Second, ""},
		{"2d", 48 * time.Hour, ""},
		{"-1", -1, ""},
		{"-1s", -1, ""},
		{"-2d", 0, "days"},
		{"0", -1, ""},
		{"off", -1, ""},
		{"5", 0, "needs a unit"},
		{"soon", 0, "not a duration"},
	}
	for _, tt := range tests {
		f := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var d time.Duration
		durationOrOffVar(f, &d, "ttl", time.Second, "ttl (0, off or negative: none)")
		err := f.Parse([]string{"--ttl", tt.arg})
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("--ttl %s: error %v, want one saying %q", tt.arg, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || d != tt.want):
			t.Errorf("--ttl %s = %s, %v; want %s", tt.arg, d, err, tt.want)
		}
	}
	for _, arg := range []string{"0", "-1s", "1"} {
		f := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var d time.Duration
		durationVar(f, &d, "every", time.Second, "how often")
		if err := f.Parse([]string{"--every", arg}); err == nil {
			t.Errorf("--every %s accepted as %s; a positive duration is required", arg, d)
		}
	}
}

func TestServeFlagsAgreeWithTheirHelp(t *testing.T) {
	dir := t.TempDir()
	base := map[string]string{"LATCHKEY_DATABASE_URL": filepath.Join(dir, "latchkey.db")}
	var out, help bytes.Buffer
	if code := run(context.Background(), []string{"serve", "-h"}, testEnv(base), &help, &out, nil); code != 0 {
		t.Fatalf("serve -h: %d", code)
	}
	if !strings.Contains(help.String(), "0, off or negative: no cache") {
		t.Fatalf("the help of --client-cache-ttl no longer says what it accepts:\n%s", help.String())
	}
	refused := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--usage-flush", "0"}, nil, "usage-flush"},
		{[]string{"--change-poll", "-1s"}, nil, "change-poll"},
		{[]string{"--client-cache-ttl", "5"}, nil, "needs a unit"},
		{nil, map[string]string{"LATCHKEY_CLIENT_CACHE_TTL": "soon"}, "LATCHKEY_CLIENT_CACHE_TTL"},
		{nil, map[string]string{"LATCHKEY_AUTH_FAILURE_LIMIT": "many"}, "LATCHKEY_AUTH_FAILURE_LIMIT"},
	}
	for _, tt := range refused {
		kv := map[string]string{}
		for k, v := range base {
			kv[k] = v
		}
		for k, v := range tt.env {
			kv[k] = v
		}
		var o, e bytes.Buffer
		code := run(context.Background(), append([]string{"serve"}, tt.args...), testEnv(kv), &o, &e, nil)
		if code != 2 || !strings.Contains(e.String(), tt.want) {
			t.Errorf("serve %v with %v: exit %d %q, want 2 naming %s", tt.args, tt.env, code, e.String(), tt.want)
		}
	}
}

func TestServeWithoutClientCache(t *testing.T) {
	dir := t.TempDir()
	kv := map[string]string{"LATCHKEY_DATABASE_URL": filepath.Join(dir, "latchkey.db")}
	e := testEnv(kv)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	// No change polling worth the name: only the absent cache can make a
	// change from the CLI reach the server at once.
	args := []string{"serve", "--addr", "127.0.0.1:0", "--client-cache-ttl", "-1", "--change-poll", "1h", "--usage-flush", "1h"}
	go func() { done <- run(ctx, args, e, stdout, stderr, ready) }()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case code := <-done:
		cancel()
		t.Fatalf("serve %v exited with %d: %s", args, code, stderr)
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d: %s", code, stderr)
		}
	}()
	in := &instance{url: base, dir: dir, env: e, stdout: stdout, stderr: stderr}
	id, secret := in.createClient(t, "--name", "No cache", "--grant-type", "client_credentials")
	tokenStatus := func() int {
		res, err := httpPostForm(base+"/oauth2/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if s := tokenStatus(); s != 200 {
		t.Fatalf("token: %d", s)
	}
	if out, code := in.cli(t, "clients", "deactivate", id); code != 0 {
		t.Fatalf("deactivate: %d %s", code, out)
	}
	if s := tokenStatus(); s != 401 {
		t.Fatalf("token right after the CLI deactivated the client: %d, want 401 with no cache", s)
	}
}

// httpPostForm posts v with HTTP Basic credentials and returns the status.
func httpPostForm(u, id, secret string, v url.Values) (int, error) {
	req, err := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
