package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSoakJudge(t *testing.T) {
	series := func(v ...float64) *soakMeasure {
		m := &soakMeasure{name: "rss", unit: "MiB", slack: slackRSS}
		for i, x := range v {
			m.points = append(m.points, x)
			m.times = append(m.times, time.Duration(i)*10*time.Second)
		}
		return m
	}
	// Ten minutes sampled every 10 s: the first and last minutes are
	// seven samples each (both ends included).
	flat := make([]float64, 61)
	for i := range flat {
		flat[i] = 40
	}
	v := series(flat...).judge(time.Minute, 0.25)
	if v.grew || v.firstCount != 7 || v.lastCount != 7 || v.allowed != 40*1.25+slackRSS {
		t.Fatalf("flat: %+v", v)
	}
	// A warm-up bump that settles is not growth; a steady climb is.
	settle := append([]float64{60, 55, 50}, flat[3:]...)
	if v := series(settle...).judge(time.Minute, 0.25); v.grew || v.max != 60 || v.first != 60 {
		t.Fatalf("settling: %+v", v)
	}
	climb := make([]float64, 61)
	for i := range climb {
		climb[i] = 30 + float64(i)
	}
	if v := series(climb...).judge(time.Minute, 0.25); !v.grew || v.last != 90 {
		t.Fatalf("climbing: %+v", v)
	}
	// The slack keeps a small series from failing on noise: 6 → 8
	// connections is within 25% plus 2.
	conns := &soakMeasure{name: "conns", slack: slackConns, points: []float64{6, 6, 8, 8},
		times: []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second}}
	if v := conns.judge(10*time.Second, 0.25); v.grew {
		t.Fatalf("6 to 8 connections: %+v", v)
	}
}

func TestParseGoroutineCounts(t *testing.T) {
	if n, err := parsePprofGoroutines([]byte("goroutine profile: total 57\n12 @ 0x1 0x2\n")); err != nil || n != 57 {
		t.Fatalf("pprof: %d %v", n, err)
	}
	if _, err := parsePprofGoroutines([]byte("<html>not found</html>")); err == nil {
		t.Fatal("an HTML page read as a profile")
	}
	metrics := "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_threads 9\n"
	if n, err := parseGoGoroutines([]byte(metrics)); err != nil || n != 42 {
		t.Fatalf("metrics: %d %v", n, err)
	}
	if _, err := parseGoGoroutines([]byte("go_threads 9\n")); err == nil {
		t.Fatal("no go_goroutines read as a count")
	}
}

func TestParseSoakOptions(t *testing.T) {
	var out bytes.Buffer
	pg := []string{"-postgres", "postgres://postgres@127.0.0.1:5432/postgres"}
	o, err := parseSoakOptions(pg, &out)
	if err != nil || o.duration != 10*time.Minute || o.warmup != time.Minute || o.window() != time.Minute {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	o, err = parseSoakOptions(append(pg, "-duration", "30s"), &out)
	if err != nil || o.warmup != 5*time.Second || o.window() != 10*time.Second {
		t.Fatalf("-duration 30s: %+v %v", o, err)
	}
	for _, args := range [][]string{
		{"-postgres", ""}, append(pg, "-duration", "5s"), append(pg, "-rate", "0"), append(pg, "-workers", "0"),
		append(pg, "-tolerance", "-1"), append(pg, "x"),
	} {
		if _, err := parseSoakOptions(args, &out); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestPrintSoakFailsOnGrowth(t *testing.T) {
	o := soakOptions{duration: 30 * time.Second, interval: 10 * time.Second, tolerance: 0.25, rate: 40, workers: 8}
	l := newSoakLoad(nil, nil, credentials{}, credentials{}, "")
	grow := &soakMeasure{name: "a RSS", unit: "MiB", slack: slackRSS, points: []float64{30, 30, 60, 60},
		times: []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second}}
	var out bytes.Buffer
	if err := printSoak(&out, o, nil, l, []*soakMeasure{grow}); err == nil || !strings.Contains(out.String(), "GREW") {
		t.Fatalf("30 → 60 MiB passed: %v\n%s", err, out.String())
	}
}
