package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestFanoutWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var samples []cpuSample
	for i := range 200 { // 20 s: the server burns 0.5 s of CPU a second, wsload 0.25
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		sec := at.Sub(t0).Seconds()
		samples = append(samples, cpuSample{at: at, server: sec / 2, client: sec / 4})
	}
	var rep wsloadReport
	rep.Start, rep.MeasureStartS, rep.MeasuredS, rep.DrainEndS = t0, 3, 10, 13.9
	rep.Counters.Delivered = 1_000_000
	m := fanoutWindow(rep, samples)
	// The window runs from 3 s to the drain's end plus windowTail: 11 s.
	near := func(key string, want float64) {
		t.Helper()
		if math.Abs(m[key]-want) > want*1e-6 {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
	near("cpu_s", 5.5)
	near("cpu_us", 5.5)
	near("per_cpu", 1_000_000/5.5)
	near("deliveries_s", 100_000)
	near("client_cpu_pct", 25)
	// Without a drain end the window closes windowTail after measuring.
	rep.DrainEndS = 0
	if got, want := fanoutWindow(rep, samples)["cpu_s"], (10+windowTail.Seconds())/2; math.Abs(got-want) > 1e-9 {
		t.Errorf("cpu_s without a drain end = %v, want %v", got, want)
	}
	// A window outside the samples gives no CPU figures.
	rep.MeasureStartS = 30
	if m := fanoutWindow(rep, samples); m["cpu_s"] != 0 || m["per_cpu"] != 0 {
		t.Errorf("window past the samples: %v", m)
	}
}

func TestIdleFigures(t *testing.T) {
	var rep wsloadReport
	m := idleFigures(rep, memStats{HeapAlloc: 1_000_000}, memStats{Conns: 1000, HeapAlloc: 1_650_000}, 10_000_000, 10_900_000)
	if m["heap_per_conn"] != 650 || m["rss_per_conn"] != 900 || m["connected"] != 1000 {
		t.Errorf("idle figures %v", m)
	}
}

func TestMarkdownVariants(t *testing.T) {
	id := "stomp-fanout-x"
	k := kept{Meta: meta{Plan: "quick", Rounds: 2, Servers: []string{"wsgate", "nbio"},
		Titles: map[string]string{id: "STOMP X"}, Kinds: map[string]kind{id: kindStompFanout}, Order: []string{id},
		Rows: map[string][]string{id: {"wsgate /room", "wsgate /stomp"}}}}
	add := func(row string, round int, v float64) {
		k.Results = append(k.Results, result{Scenario: id, Server: row, Round: round, Metrics: map[string]float64{"per_cpu": v}})
	}
	add("wsgate /room", 1, 1000)
	add("wsgate /stomp", 1, 900)
	add("wsgate /room", 2, 1000)
	add("wsgate /stomp", 2, 700)
	var b strings.Builder
	markdown(&b, "results/x", k)
	out := b.String()
	for _, want := range []string{"| wsgate /room | 1,000 |", "| wsgate /stomp | 800 |", " 0.80 |\n",
		"r1 0.90, r2 0.70 (target ≥ 0.8)", "STOMP tables"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "| nbio |") {
		t.Errorf("a variant table has a server row:\n%s", out)
	}
}
