package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
