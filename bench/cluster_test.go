package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseClusterOptions(t *testing.T) {
	var out bytes.Buffer
	pg := []string{"-postgres", "postgres://postgres@127.0.0.1:5432/postgres"}
	o, err := parseClusterOptions(pg, &out)
	if err != nil || o.duration != 10*time.Second || o.warmup != 2*time.Second || o.concurrency != 32 ||
		o.rounds != 1 || !o.floor || !o.introspection {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	o, err = parseClusterOptions(append(pg, "-duration", "3s", "-concurrency", "2", "-floor=false", "-introspection=false"), &out)
	if err != nil || o.duration != 3*time.Second || o.concurrency != 2 || o.floor || o.introspection {
		t.Fatalf("flags: %+v %v", o, err)
	}
	for _, args := range [][]string{
		{"-postgres", ""}, {"-postgres", "latchkey.db"}, append(pg, "-duration", "0s"), append(pg, "-duration", "11m"),
		append(pg, "-warmup", "-1s"), append(pg, "-concurrency", "1"), append(pg, "-rounds", "0"), append(pg, "x"),
	} {
		if _, err := parseClusterOptions(args, &out); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestSpreadSplitsWorkersEvenly(t *testing.T) {
	var counts [2]atomic.Int64
	var srvs [2]*httptest.Server
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			counts[i].Add(1)
			w.Write([]byte(`{"access_token":"x"}`))
		}))
		defer srvs[i].Close()
	}
	c := credentials{ID: "id", Secret: "secret"}
	sp := spread(tokenTarget(srvs[0].URL, c), tokenTarget(srvs[1].URL, c))
	// Four workers set up, one request each: two on each server.
	ctx := context.Background()
	w := &worker{hc: &http.Client{Transport: &http.Transport{Proxy: nil}}}
	for range 4 {
		st, err := sp.flow(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if err := st(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if counts[0].Load() != 2 || counts[1].Load() != 2 {
		t.Fatalf("requests per server: %d, %d; want 2, 2", counts[0].Load(), counts[1].Load())
	}
	// Under load as well, each answering good responses.
	if res := runLoad(ctx, sp, 4, 0, 100*time.Millisecond); res.errors > 0 || res.requests == 0 ||
		counts[0].Load() == 2 || counts[1].Load() == 2 {
		t.Fatalf("load: %d requests, %d errors; per server %d, %d", res.requests, res.errors, counts[0].Load(), counts[1].Load())
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (latch key (x)) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0 100 1000000 5000 18446744073709551615\n"
	if d, err := parseProcStat([]byte(stat)); err != nil || d != 325*clockTick {
		t.Fatalf("parseProcStat = %s, %v", d, err)
	}
	for _, bad := range []string{"", "4242 (x) S 1 2", "4242 (x) S 1 4242 4242 0 -1 4194560 900 0 0 0 x 75 0"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) passed", bad)
		}
	}
	machine := "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n"
	if d, err := parseMachineStat([]byte(machine)); err != nil || d != 161*clockTick {
		t.Fatalf("parseMachineStat = %s, %v", d, err)
	}
	if _, err := parseMachineStat([]byte("intr 1 2 3\n")); err == nil {
		t.Error("parseMachineStat without a cpu line passed")
	}
}
