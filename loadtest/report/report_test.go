package report

import (
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// series builds n one-second points with f filling each.
func series(n int, f func(p *stats.Point)) []stats.Point {
	out := make([]stats.Point, n)
	for i := range out {
		out[i].Second = i + 1
		f(&out[i])
	}
	return out
}

func report(t *testing.T, s *stats.Snapshot) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, s, []stats.ThresholdResult{{Expr: "p99<1ms", Metric: "p99", Of: "message latency", Measured: 5, Unit: "ms"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script", "src=", "href=", "@import", ">no data<"} {
		if strings.Contains(out, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	// No empty chart: every SVG draws at least one line.
	for _, svg := range regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(out, -1) {
		if !strings.Contains(svg, "<polyline") {
			t.Errorf("a chart without a line: %.200s", svg)
		}
	}
	return out
}

func chartTitles(html string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`class="title">([^<]*)<`).FindAllStringSubmatch(html, -1) {
		out = append(out, m[1])
	}
	return out
}

// Broadcast: 200 msgs/s out and 200k/s in go on separate panels, and the
// verdict, units and measured phase show.
func TestReportSeparatesScales(t *testing.T) {
	s := &stats.Snapshot{Scenario: "broadcast", Workers: 1, Elapsed: 6, MeasureStart: 1, Measured: 4,
		Latency:    map[string]*stats.Hist{"message": histOf(time.Millisecond, 30*time.Millisecond), "handshake": histOf(200 * time.Microsecond)},
		Incomplete: []string{"only 1 of 2 connections opened"}, Hints: []string{"start it with `make run-bench`"},
		Series: series(6, func(p *stats.Point) {
			p.Open, p.MsgsOut, p.MsgsIn, p.P50Ms, p.P99Ms, p.MaxMs = 1004, 200, 200_000, 30, 90, 120
		}),
	}
	out := report(t, s)
	titles := chartTitles(out)
	want := []string{"Latency by percentile (log scale)", "Messages per second: msgs_out", "Messages per second: msgs_in",
		"Message latency per second (log scale)", "Open connections"}
	if !reflect.DeepEqual(titles, want) {
		t.Errorf("charts %q, want %q", titles, want)
	}
	for _, w := range []string{"msgs/s", "time since the start of the run", "measured", "<code>make run-bench</code>",
		"Incomplete:", "p99 message latency = 5.00 ms", "200k", "Not drawn"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

// Echo: identical out and in share a panel, told apart by name and style.
func TestReportMarksIdenticalSeries(t *testing.T) {
	s := &stats.Snapshot{Scenario: "echo", Workers: 1, Elapsed: 3, Measured: 3,
		Latency: map[string]*stats.Hist{"message": histOf(time.Millisecond)},
		Series:  series(3, func(p *stats.Point) { p.Open, p.MsgsOut, p.MsgsIn = 10, 5000, 5000 }),
		Server:  []stats.ProcSample{{Second: 1, RSSBytes: 1 << 20, CPUPct: 50}, {Second: 2, RSSBytes: 2 << 20, CPUPct: 70}},
	}
	out := report(t, s)
	if !strings.Contains(out, "msgs_in (identical to msgs_out)") || !strings.Contains(out, `stroke-dasharray="9 6"`) {
		t.Error("identical series not marked")
	}
	for _, w := range []string{"Server CPU", "% of one core", "Server RSS", "MiB"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

// Churn: no message charts (named as left out), and reconnects and
// closes per second are drawn.
func TestReportChurnConnectionEvents(t *testing.T) {
	s := &stats.Snapshot{Scenario: "churn", Workers: 1, Elapsed: 8, Measured: 8,
		Latency: map[string]*stats.Hist{"handshake": histOf(time.Millisecond), "message": stats.NewHist()},
		Series: series(8, func(p *stats.Point) {
			p.Open, p.Connected, p.Closed, p.Reconnects = 2000, 400, 390, 380
			if p.Second == 1 {
				p.Connected, p.Closed, p.Reconnects = 2000, 0, 0
			}
		}),
	}
	out := report(t, s)
	titles := strings.Join(chartTitles(out), "|")
	if strings.Contains(titles, "Messages") || !strings.Contains(out, "Not drawn, having no data in this run: messages per second") {
		t.Errorf("message charts drawn for a run without messages: %s", titles)
	}
	for _, w := range []string{"closed/s", "reconnects/s", "connected/s", "Zero throughout, not drawn: connect_failed/s"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

func TestTimeTicksRegular(t *testing.T) {
	cases := []struct {
		lo, hi float64
		want   []float64
	}{
		{1, 6, []float64{1, 2, 3, 4, 5, 6}},
		{1, 15, []float64{2, 4, 6, 8, 10, 12, 14}},
		{1, 61, []float64{5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60}},
		{1, 130, []float64{15, 30, 45, 60, 75, 90, 105, 120}},
		{1, 600, []float64{60, 120, 180, 240, 300, 360, 420, 480, 540, 600}},
	}
	for _, c := range cases {
		if got := timeTicks(c.lo, c.hi); !reflect.DeepEqual(got, c.want) {
			t.Errorf("timeTicks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
	if fmtSeconds(90) != "90 s" || fmtSeconds(180) != "3 min" || fmtSeconds(150) != "2 min 30 s" {
		t.Error("fmtSeconds")
	}
	if fmtLatencyTick(0.5) != "500 µs" || fmtLatencyTick(20) != "20 ms" || fmtLatencyTick(1500) != "1.5 s" {
		t.Error("fmtLatencyTick")
	}
}
