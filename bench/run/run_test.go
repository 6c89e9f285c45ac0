package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFigures(t *testing.T) {
	var rep wsloadReport
	rep.MeasuredS, rep.ElapsedS = 2, 3
	rep.Counters.Connected, rep.Counters.MsgsIn, rep.Counters.Delivered = 100, 1000, 4000
	rep.Latency.Message.P50, rep.Latency.Message.P99 = 1.5, 9
	cases := []struct {
		kind kind
		key  string
		want float64
	}{
		{kindEcho, "msgs_s", 500},
		{kindEcho, "p99_ms", 9},
		{kindEcho, "per_cpu", 250},
		{kindFanout, "deliveries_s", 2000},
		{kindHandshake, "hs_s", 100},
		{kindIdle, "rss_per_conn", 1000},
	}
	for _, c := range cases {
		m := figures(scenario{Kind: c.kind}, rep, 4, 1_000_000, 1_100_000)
		if got := m[c.key]; got != c.want {
			t.Errorf("kind %d %s = %v, want %v", c.kind, c.key, got, c.want)
		}
	}
}

func sample() kept {
	k := kept{Meta: meta{Plan: "quick", Rounds: 2, Servers: []string{"wsgate", "nbio", "gobwas"},
		Titles: map[string]string{"echo-x": "Echo X"}, Kinds: map[string]kind{"echo-x": kindEcho}, Order: []string{"echo-x"}}}
	add := func(server string, round int, v float64) {
		k.Results = append(k.Results, result{Scenario: "echo-x", Server: server, Round: round, Metrics: map[string]float64{"msgs_s": v}})
	}
	add("wsgate", 1, 900)
	add("wsgate", 2, 1100)
	add("nbio", 1, 400)
	add("nbio", 2, 600)
	k.Results = append(k.Results, result{Scenario: "echo-x", Server: "gobwas", Round: 1, Err: "boom"})
	return k
}

func TestMarkdownRatiosAndErrors(t *testing.T) {
	var b strings.Builder
	markdown(&b, "results/x", sample())
	out := b.String()
	for _, want := range []string{"| wsgate | 1,000 |", "| nbio | 500 |", " 0.50 |", "| gobwas | – |", "gobwas: r1: boom", "results/x/echo-x.svg"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestUpdateMarkdownKeepsOtherSections(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "RESULTS.md")
	if err := os.WriteFile(path, []byte("# Results\n\n## Idle memory\n\nkeep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := sample()
	for range 2 { // twice: the second run replaces the first section
		if err := updateMarkdown(path, filepath.Join(dir, "results/x"), k); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	if !strings.Contains(s, "keep me") {
		t.Error("existing section lost")
	}
	begin, _ := markers("quick")
	if n := strings.Count(s, begin); n != 1 {
		t.Errorf("%d generated sections, want 1", n)
	}
}

func TestBarChartIsXML(t *testing.T) {
	var b strings.Builder
	barChart(&b, "a <title> & more", metric{"msgs_s", "msgs/s", true}, aggregate(sample(), "echo-x"))
	d := xml.NewDecoder(strings.NewReader(b.String()))
	rects := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects != 3 {
		t.Errorf("%d bars, want 3 (wsgate, nbio, gobwas with 0)", rects)
	}
}

func TestCompareRuns(t *testing.T) {
	oldDir, newDir := t.TempDir(), t.TempDir()
	o, n := sample(), sample()
	n.Results[0].Metrics["msgs_s"] = 1900 // wsgate mean 1000 -> 1500
	if err := writeJSON(filepath.Join(oldDir, "results.json"), o); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(filepath.Join(newDir, "results.json"), n); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := compareRuns(&b, oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "1.50") {
		t.Errorf("compare lacks wsgate's 1.50:\n%s", b.String())
	}
}

func TestNeutralFigures(t *testing.T) {
	var rep clientReport
	rep.Msgs, rep.MsgsPerS, rep.Connected, rep.Errors = 2_000_000, 200_000, 1000, 3
	rep.RTT.P50, rep.RTT.P99 = 4, 9
	w := window{opened: true, closed: true, cpu: 5, rss: 64 << 20}
	m := neutralFigures(kindNeutralEcho, rep, w)
	for key, want := range map[string]float64{"msgs_s": 200_000, "cpu_per_m": 2.5, "per_cpu": 400_000, "rss_mib": 64, "p99_ms": 9, "errors": 3} {
		if m[key] != want {
			t.Errorf("echo %s = %v, want %v", key, m[key], want)
		}
	}
	rep.HandshakesPerS, rep.Connected = 12_000, 10_000
	w.cpu = 0.5
	m = neutralFigures(kindNeutralConnect, rep, w)
	if m["hs_s"] != 12_000 || m["cpu_us_per_hs"] != 50 {
		t.Errorf("connect: %v", m)
	}
}

// TestWatchWindow feeds phase lines through a pipe and reads this test
// process as the "server".
func TestWatchWindow(t *testing.T) {
	pr, pw := io.Pipe()
	done := make(chan window, 1)
	go func() { done <- watchWindow(context.Background(), pr, os.Getpid()) }()
	fmt.Fprintln(pw, "phase connect")
	fmt.Fprintln(pw, "phase warmup")
	fmt.Fprintln(pw, "phase measure")
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ { // spend some CPU inside the window
		_ = x * x
	}
	fmt.Fprintln(pw, "phase done")
	pw.Close()
	w := <-done
	if !w.opened || !w.closed || w.rss <= 0 || w.cpu < 0 {
		t.Errorf("window %+v", w)
	}
}

func TestWatchWindowWithoutMeasure(t *testing.T) {
	w := watchWindow(context.Background(), strings.NewReader("phase connect\nphase done\n"), os.Getpid())
	if w.opened || w.closed {
		t.Errorf("window %+v from a run that never measured", w)
	}
}

func TestMarkdownDescribesTheNeutralClient(t *testing.T) {
	k := sample()
	k.Meta.Command = "go run ./bench/run -quick"
	k.Meta.Kinds["echo-x"] = kindNeutralEcho
	var b strings.Builder
	markdown(&b, "results/x", k)
	for _, want := range []string{"Command: `go run ./bench/run -quick`", "Neutral client", "server CPU s per 1M msgs"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// The best peer of a neutral scenario is chosen among the peers only: a
// floor row is cheaper than any server and must not become the bar.
func TestBestPeerLeavesOutFloors(t *testing.T) {
	k := kept{Meta: meta{Plan: "full", Rounds: 1, Servers: []string{"wsgate", "quickws", "gws", "floor-rw", "floor-ring"},
		Floors: []string{"floor-rw", "floor-ring"},
		Titles: map[string]string{"n": "Echo"}, Kinds: map[string]kind{"n": kindNeutralEcho}, Order: []string{"n"}}}
	for server, v := range map[string]float64{"wsgate": 120, "quickws": 100, "gws": 80, "floor-rw": 125, "floor-ring": 150} {
		k.Results = append(k.Results, result{Scenario: "n", Server: server, Round: 1, Metrics: map[string]float64{"per_cpu": v, "msgs_s": 1}})
	}
	got := bestPeer(k, "n", aggregate(k, "n"))
	want := "Best peer by msgs per server CPU s: quickws (100). Divided by it: wsgate 1.20, floor-rw 1.25, floor-ring 1.50.\n\n"
	if got != want {
		t.Errorf("bestPeer = %q, want %q", got, want)
	}
	k.Meta.Kinds["n"] = kindEcho // wsload's rows name no best peer
	if got := bestPeer(k, "n", aggregate(k, "n")); got != "" {
		t.Errorf("bestPeer of a wsload scenario = %q, want none", got)
	}
}
