package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tlatchkey\nVmPeak:\t 1300000 kB\nVmHWM:\t   68104 kB\nVmRSS:\t   35512 kB\nRssAnon:\t 14000 kB\n"
	rss, hwm, err := parseProcStatus([]byte(status))
	if err != nil || rss != 35512<<10 || hwm != 68104<<10 {
		t.Fatalf("parseProcStatus = %d, %d, %v", rss, hwm, err)
	}
	for _, bad := range []string{"", "VmRSS:\t 1 kB\n", "VmRSS:\t x kB\nVmHWM:\t 2 kB\n", "VmRSS:\t 1 MB\nVmHWM:\t 2 kB\n"} {
		if _, _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("parseProcStatus(%q) passed", bad)
		}
	}
}

func TestParseGCTrace(t *testing.T) {
	log := `time=... level=WARN msg="something else, 1->2->3 MB, 4 MB goal"
gc 1 @0.012s 2%: 0.010+1.2+0.003 ms clock, 0.02+0.1/0.5/0+0.006 ms cpu, 4->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 2 @0.500s 3%: 0.010+1.2+0.003 ms clock, 0.02+0.1/0.5/0+0.006 ms cpu, 20->21->19 MB, 21 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 3 @0.900s 3%: 0.010+1.2+0.003 ms clock, 0.02+0.1/0.5/0+0.006 ms cpu, 21->21->2 MB, 39 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
`
	s := parseGCTrace(strings.NewReader(log))
	if s.n != 3 || s.lastLive != 2<<20 || s.maxLive != 19<<20 || s.maxGoal != 39<<20 {
		t.Fatalf("parseGCTrace = %+v", s)
	}
}

func TestPrintMemory(t *testing.T) {
	o := memoryOptions{concurrency: 64, budget: 64 << 20}
	samples := []memSample{
		{phase: "first start", rss: 40 << 20, hwm: 45 << 20, gc: gcStats{n: 2, lastLive: 1 << 20, maxLive: 19 << 20, maxGoal: 28 << 20}},
		{phase: "burst", rss: 50 << 20, hwm: 60 << 20, ok: 100},
	}
	var out bytes.Buffer
	if err := printMemory(&out, o, samples); err != nil {
		t.Fatalf("peak 60 MiB under 64: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "peak RSS 60.0M: within the budget of 64.0M") {
		t.Fatalf("report:\n%s", out.String())
	}
	samples[1].hwm = 70 << 20
	if err := printMemory(&out, o, samples); err == nil {
		t.Fatal("peak 70 MiB passed a 64 MiB budget")
	}
	samples[1].hwm, samples[1].errs = 60<<20, 1
	if err := printMemory(&out, o, samples); err == nil {
		t.Fatal("a phase with errors passed")
	}
}

func TestParseMemoryOptions(t *testing.T) {
	var out bytes.Buffer
	o, err := parseMemoryOptions(nil, &out)
	if err != nil || o.concurrency != 64 || o.budget != 64<<20 {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, args := range [][]string{{"-concurrency", "0"}, {"-burst", "0s"}, {"-budget-mib", "0"}, {"extra"}} {
		if _, err := parseMemoryOptions(args, &out); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
