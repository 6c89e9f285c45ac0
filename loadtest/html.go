package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
)

// WriteHTML writes a self-contained HTML report: summary tables and inline
// SVG charts (latency by percentile, latency over time, throughput over
// time, connections over time, server CPU and RSS). It loads nothing from
// the network and runs no script.
func WriteHTML(w io.Writer, s *Snapshot, checks []ThresholdResult) error {
	var sum strings.Builder
	WriteSummary(&sum, s, checks)
	d := struct {
		S       *Snapshot
		Summary string
		Checks  []ThresholdResult
		Config  [][2]string
		Charts  []template.HTML
	}{S: s, Summary: sum.String(), Checks: checks, Config: sortedConfig(s.Config)}
	d.Charts = append(d.Charts, percentileChart(s))
	d.Charts = append(d.Charts, seriesCharts(s)...)
	return reportTmpl.Execute(w, d)
}

func sortedConfig(m map[string]any) [][2]string {
	var out [][2]string
	for k, v := range m {
		out = append(out, [2]string{k, fmt.Sprint(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

var reportTmpl = template.Must(template.New("r").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>wsload {{.S.Scenario}} report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
pre{background:#f6f6f6;padding:12px;overflow:auto}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
.pass{color:#080}.fail{color:#b00;font-weight:bold}
svg{background:#fff;border:1px solid #ddd;margin:8px 0}
svg text{font:11px sans-serif;fill:#444}
</style></head><body>
<h1>wsload {{.S.Scenario}}: {{range .S.Targets}}{{.}} {{end}}</h1>
<p>Started {{.S.Start.Format "2006-01-02 15:04:05 MST"}}, ran {{printf "%.1f" .S.Elapsed}} s on {{.S.Workers}} worker process(es).</p>
{{if .Checks}}<h2>Thresholds</h2><table><tr><th>check</th><th>measured</th><th>result</th></tr>
{{range .Checks}}<tr><td>{{.Expr}}</td><td>{{printf "%.4g" .Measured}}</td><td class="{{if .Pass}}pass">PASS{{else}}fail">FAIL{{end}}</td></tr>{{end}}</table>{{end}}
<h2>Summary</h2><pre>{{.Summary}}</pre>
<h2>Charts</h2>
{{range .Charts}}{{.}}
{{end}}
<h2>Configuration</h2><table>{{range .Config}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>
<p>Latencies are HdrHistogram figures (3 significant digits). In open-loop echo and in broadcast they are measured from the intended send time, so a sender that falls behind shows as latency (coordinated omission corrected). The JSON output (--json) holds the full encoded histograms.</p>
</body></html>
`))

// chartSeries is one line of a chart.
type chartSeries struct {
	name  string
	color string
	xs    []float64
	ys    []float64
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// percentileChart plots latency against percentile on a "nines" axis
// (x = log10(1/(1-q))), the usual HdrHistogram percentile plot.
func percentileChart(s *Snapshot) template.HTML {
	var series []chartSeries
	names := make([]string, 0, len(s.Latency))
	for k := range s.Latency {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		h := s.Latency[k]
		if h.Count() == 0 {
			continue
		}
		cs := chartSeries{name: k + " latency", color: palette[i%len(palette)]}
		for _, p := range []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100} {
			x := 5.0
			if p < 100 {
				x = math.Min(5, math.Log10(100/(100-p)))
			}
			cs.xs = append(cs.xs, x)
			cs.ys = append(cs.ys, ms(h.Quantile(p)))
		}
		series = append(series, cs)
	}
	nines := func(x float64) string {
		labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
		if i := int(math.Round(x)); i >= 0 && i < len(labels) && math.Abs(x-float64(i)) < 1e-9 {
			return labels[i]
		}
		return ""
	}
	return svgChart("Latency by percentile (ms)", series, nines, []float64{0, 1, 2, 3, 4, 5})
}

// seriesCharts plots the per-second series.
func seriesCharts(s *Snapshot) []template.HTML {
	var xs []float64
	pick := func(f func(p *Point) float64) []float64 {
		out := make([]float64, len(s.Series))
		for i := range s.Series {
			out[i] = f(&s.Series[i])
		}
		return out
	}
	for i := range s.Series {
		xs = append(xs, float64(s.Series[i].Second))
	}
	secs := func(x float64) string { return fmt.Sprintf("%.0fs", x) }
	out := []template.HTML{
		svgChart("Messages per second", []chartSeries{
			{"out", palette[0], xs, pick(func(p *Point) float64 { return float64(p.MsgsOut) })},
			{"in", palette[1], xs, pick(func(p *Point) float64 { return float64(p.MsgsIn) })},
		}, secs, nil),
		svgChart("Message latency per second (ms)", []chartSeries{
			{"p50", palette[2], xs, pick(func(p *Point) float64 { return p.P50Ms })},
			{"p99", palette[3], xs, pick(func(p *Point) float64 { return p.P99Ms })},
			{"max", palette[4], xs, pick(func(p *Point) float64 { return p.MaxMs })},
		}, secs, nil),
		svgChart("Connections", []chartSeries{
			{"open", palette[0], xs, pick(func(p *Point) float64 { return float64(p.Open) })},
			{"connects/s", palette[2], xs, pick(func(p *Point) float64 { return float64(p.Connects) })},
			{"failures/s", palette[1], xs, pick(func(p *Point) float64 { return float64(p.Failures) })},
		}, secs, nil),
	}
	if len(s.Server) > 0 {
		var sx, cpu, rss []float64
		for _, p := range s.Server {
			sx = append(sx, float64(p.Second))
			cpu = append(cpu, p.CPUPct)
			rss = append(rss, float64(p.RSSBytes)/(1<<20))
		}
		out = append(out,
			svgChart("Server CPU (% of one core)", []chartSeries{{"cpu", palette[3], sx, cpu}}, secs, nil),
			svgChart("Server RSS (MiB)", []chartSeries{{"rss", palette[4], sx, rss}}, secs, nil))
	}
	return out
}

// svgChart draws a line chart. xfmt labels x ticks; xticks, when nil, are
// chosen evenly.
func svgChart(title string, series []chartSeries, xfmt func(float64) string, xticks []float64) template.HTML {
	const W, H, L, R, T, B = 900.0, 260.0, 60.0, 20.0, 30.0, 30.0
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range series {
		for i := range s.xs {
			minX, maxX = math.Min(minX, s.xs[i]), math.Max(maxX, s.xs[i])
			maxY = math.Max(maxY, s.ys[i])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`, W, H, W, H)
	fmt.Fprintf(&b, `<text x="%.0f" y="18" style="font-weight:bold">%s</text>`, L, template.HTMLEscapeString(title))
	if math.IsInf(minX, 0) {
		b.WriteString(`<text x="60" y="130">no data</text></svg>`)
		return template.HTML(b.String())
	}
	if maxX == minX {
		maxX = minX + 1
	}
	maxY = 4 * niceCeil(maxY/4) // four gridline steps of 1, 2 or 5 x 10^n
	px := func(x float64) float64 { return L + (x-minX)/(maxX-minX)*(W-L-R) }
	py := func(y float64) float64 { return H - B - y/maxY*(H-T-B) }
	for i := 0; i <= 4; i++ {
		y := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, L, W-R, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, L-4, py(y)+4, axisNum(y))
	}
	if xticks == nil {
		for i := 0; i <= 6; i++ {
			xticks = append(xticks, math.Round(minX+(maxX-minX)*float64(i)/6))
		}
	}
	for _, x := range xticks {
		anchor := "middle"
		if x >= maxX {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, px(x), H-B+16, anchor, xfmt(x))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#888"/>`, L, W-R, H-B, H-B)
	for i, s := range series {
		var pts strings.Builder
		for j := range s.xs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.xs[j]), py(s.ys[j]))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`, s.color, pts.String())
		fmt.Fprintf(&b, `<text x="%.1f" y="18" fill="%s" style="fill:%s">&#9632; %s</text>`, W-R-150*float64(len(series)-i), s.color, s.color, template.HTMLEscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func axisNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
