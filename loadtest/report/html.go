package report

import (
	"maps"

	"fmt"
	"github.com/wsgate/wsgate/loadtest/stats"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
)

// WriteHTML writes a self-contained HTML report: the verdict, thresholds,
// the summary and inline SVG charts (latency by percentile, messages per
// second, latency per second, connections and connection events per
// second, errors, server CPU and RSS). It loads nothing from the network
// and runs no script.
func WriteHTML(w io.Writer, s *stats.Snapshot, checks []stats.ThresholdResult) error {
	var sum strings.Builder
	WriteSummary(&sum, s, checks)
	d := struct {
		S       *stats.Snapshot
		Summary string
		Checks  []stats.ThresholdResult
		Config  [][2]string
		Charts  []template.HTML
		Omitted []string
	}{S: s, Summary: sum.String(), Checks: checks, Config: sortedConfig(s.Config)}
	charts, omitted := reportCharts(s)
	for _, ch := range charts {
		d.Charts = append(d.Charts, ch.render())
	}
	d.Omitted = omitted
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

// codeSpans escapes s and sets its `backquoted` parts as code.
func codeSpans(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
			continue
		}
		b.WriteString(template.HTMLEscapeString(part))
	}
	return template.HTML(b.String())
}

var reportTmpl = template.Must(template.New("r").Funcs(template.FuncMap{"code": codeSpans}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>wsload {{.S.Scenario}} report</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:24px 32px;color:#222}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin:28px 0 8px}
pre{background:#f6f6f6;padding:12px;overflow:auto;font-size:13px}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:3px 10px;text-align:left}
.pass{color:#080}.fail{color:#b00;font-weight:bold}
.incomplete{border-left:5px solid #b00;background:#fdf0f0;padding:8px 14px;margin:12px 0}
.hint{border-left:5px solid #d90;background:#fff8e6;padding:8px 14px;margin:12px 0}
figure{margin:10px 0 22px} figcaption{color:#555;font-size:13px;margin-left:78px}
svg{display:block;background:#fff;border:1px solid #ddd}
svg text{font:13px system-ui,sans-serif;fill:#333} svg .title{font-weight:bold;font-size:15px}
svg .axis{fill:#555} svg .shade{fill:#6a8bb5;font-size:12px}
</style></head><body>
<h1>wsload {{.S.Scenario}}: {{range .S.Targets}}{{.}} {{end}}</h1>
<p>Started {{.S.Start.Format "2006-01-02 15:04:05 MST"}}; ran {{printf "%.1f" .S.Elapsed}} s, measured {{printf "%.1f" .S.Measured}} s
from {{printf "%.1f" .S.MeasureStart}} s (shaded in the time charts); {{.S.Workers}} worker process(es){{if .S.Version}}; wsload {{.S.Version}}{{end}}.</p>
{{range .S.Incomplete}}<div class="incomplete"><b>Incomplete:</b> {{code .}}</div>{{end}}
{{range .S.Hints}}<div class="hint"><b>Hint:</b> {{code .}}</div>{{end}}
{{if .Checks}}<h2>Thresholds</h2><table><tr><th>check</th><th>measured</th><th>result</th></tr>
{{range .Checks}}<tr><td>{{.Expr}}</td><td>{{.Describe}}</td><td class="{{if .Pass}}pass">PASS{{else}}fail">FAIL{{end}}</td></tr>{{end}}</table>{{end}}
<h2>Summary</h2><pre>{{.Summary}}</pre>
<h2>Charts</h2>
{{range .Charts}}{{.}}
{{end}}{{if .Omitted}}<p>Not drawn, having no data in this run: {{range $i, $o := .Omitted}}{{if $i}}; {{end}}{{$o}}{{end}}.</p>{{end}}
<h2>Configuration</h2><table>{{range .Config}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>
<p>Latencies are HdrHistogram figures (3 significant digits). In open-loop echo and in broadcast they are measured from the intended send time, so a sender that falls behind shows as latency (coordinated omission corrected). Per-second figures are plotted at the end of their second. The JSON output (--json) holds the full encoded histograms.</p>
</body></html>
`))

// reportCharts chooses the report's charts for what the run measured:
// series of different scales go on separate panels; charts without data
// are left out and named in omitted.
func reportCharts(s *stats.Snapshot) (out []*chart, omitted []string) {
	add := func(title string, cs ...*chart) {
		if len(cs) == 0 {
			omitted = append(omitted, title)
		}
		out = append(out, cs...)
	}
	if ch := percentileChart(s); ch != nil {
		out = append(out, ch)
	}
	xs := make([]float64, len(s.Series))
	for i := range s.Series {
		xs[i] = float64(s.Series[i].Second)
	}
	pick := func(name string, f func(p *stats.Point) float64) chartSeries {
		cs := chartSeries{name: name, xs: xs, ys: make([]float64, len(s.Series))}
		for i := range s.Series {
			cs.ys[i] = f(&s.Series[i])
		}
		return cs
	}
	timeChart := func(title, unit string, logY bool, series ...chartSeries) *chart {
		return &chart{title: title, yUnit: unit, xLabel: "time since the start of the run", logY: logY,
			xfmt: fmtSeconds, series: series, shade: [2]float64{s.MeasureStart, s.MeasureStart + s.Measured}}
	}
	msgs := panels(timeChart("Messages per second", "msgs/s", false,
		pick("msgs_out", func(p *stats.Point) float64 { return float64(p.MsgsOut) }),
		pick("msgs_in", func(p *stats.Point) float64 { return float64(p.MsgsIn) })))
	add("messages per second and message latency per second (no messages)", msgs...)
	lat := timeChart("Message latency per second (log scale)", "latency", true,
		pick("p50", func(p *stats.Point) float64 { return p.P50Ms }),
		pick("p99", func(p *stats.Point) float64 { return p.P99Ms }),
		pick("max", func(p *stats.Point) float64 { return p.MaxMs }))
	lat.yfmt = fmtLatencyTick
	if hasData(lat.series) {
		out = append(out, lat)
	} else if len(msgs) > 0 {
		omitted = append(omitted, "message latency per second (no message was timed)")
	}
	add("open connections (none at any second's end)", panels(timeChart("Open connections", "connections", false,
		pick("open", func(p *stats.Point) float64 { return float64(p.Open) })))...)
	add("connection events per second (none)", panels(timeChart("Connection events per second", "per second", false,
		pick("connected/s", func(p *stats.Point) float64 { return float64(p.Connected) }),
		pick("connect_failed/s", func(p *stats.Point) float64 { return float64(p.ConnectFailed) }),
		pick("closed/s", func(p *stats.Point) float64 { return float64(p.Closed) }),
		pick("reconnects/s", func(p *stats.Point) float64 { return float64(p.Reconnects) })))...)
	add("errors per second (there were none)", panels(timeChart("Errors per second", "errors/s", false,
		pick("errors/s", func(p *stats.Point) float64 { return float64(p.Errors) })))...)
	if len(s.Server) > 0 {
		var cpu, rss chartSeries
		cpu.name, rss.name = "server cpu", "server rss"
		for _, p := range s.Server {
			cpu.xs, rss.xs = append(cpu.xs, float64(p.Second)), append(rss.xs, float64(p.Second))
			cpu.ys, rss.ys = append(cpu.ys, p.CPUPct), append(rss.ys, float64(p.RSSBytes)/(1<<20))
		}
		c := timeChart("Server CPU", "% of one core", false, cpu)
		r := timeChart("Server RSS", "MiB", false, rss)
		out = append(out, c, r)
	}
	return out, omitted
}

// hasData reports whether any series has a value other than zero.
func hasData(series []chartSeries) bool {
	for _, s := range series {
		for _, y := range s.ys {
			if y != 0 {
				return true
			}
		}
	}
	return false
}

func seriesMax(s chartSeries) float64 {
	m := 0.0
	for _, y := range s.ys {
		m = math.Max(m, y)
	}
	return m
}

// scaleRatio is how far apart two series' maxima may be and still share
// a linear panel.
const scaleRatio = 10

// panels splits ch into one panel per group of series with similar scales
// (maxima within scaleRatio of each other), drops series that are zero
// throughout (naming them in a note), and marks series identical to an
// earlier one. With no data at all it returns nothing.
func panels(ch *chart) []*chart {
	var live []chartSeries
	var zero []string
	style := map[string]int{} // by series name, before any is renamed
	for i, s := range ch.series {
		style[s.name] = ch.style(i)
		if hasData([]chartSeries{s}) {
			live = append(live, s)
		} else {
			zero = append(zero, s.name)
		}
	}
	if len(live) == 0 {
		return nil
	}
	for i := range live {
		for j := 0; j < i; j++ {
			if slices.Equal(live[i].ys, live[j].ys) {
				live[i].name += " (identical to " + live[j].name + ")"
				break
			}
		}
	}
	var groups [][]chartSeries
	sort.SliceStable(live, func(i, j int) bool { return seriesMax(live[i]) > seriesMax(live[j]) })
	for _, s := range live {
		if n := len(groups); n > 0 && seriesMax(groups[n-1][0]) <= scaleRatio*seriesMax(s) {
			groups[n-1] = append(groups[n-1], s)
			continue
		}
		groups = append(groups, []chartSeries{s})
	}
	// Panels in the order of their first series, series in their order.
	sort.SliceStable(groups, func(i, j int) bool {
		return minStyle(groups[i], style) < minStyle(groups[j], style)
	})
	var out []*chart
	for gi, g := range groups {
		p := *ch
		p.series = restoreOrder(ch.series, g)
		p.styles = nil
		for _, s := range p.series {
			p.styles = append(p.styles, style[baseName(s)])
		}
		if len(groups) > 1 {
			names := make([]string, len(p.series))
			for i, s := range p.series {
				names[i] = baseName(s)
			}
			p.title = ch.title + ": " + strings.Join(names, ", ")
			if gi == 0 {
				p.notes = append(p.notes, "Series of different scales are drawn on separate panels.")
			}
		}
		out = append(out, &p)
	}
	if len(zero) > 0 {
		last := out[len(out)-1]
		last.notes = append(last.notes, "Zero throughout, not drawn: "+strings.Join(zero, ", ")+".")
	}
	return out
}

// baseName is a series' name without what panels added to it.
func baseName(s chartSeries) string { return strings.SplitN(s.name, " ", 2)[0] }

// minStyle is the smallest style index in a group: its place on the page.
func minStyle(g []chartSeries, style map[string]int) int {
	m := math.MaxInt
	for _, s := range g {
		m = min(m, style[baseName(s)])
	}
	return m
}

// restoreOrder returns the series of g in their order in all, so that a
// series keeps its color and line style from panel to panel.
func restoreOrder(all, g []chartSeries) []chartSeries {
	var out []chartSeries
	for _, a := range all {
		for _, s := range g {
			if baseName(s) == a.name {
				out = append(out, s)
			}
		}
	}
	return out
}

// percentileChart plots latency against percentile on a "nines" axis
// (x = log10(1/(1-q))), the usual HdrHistogram percentile plot, with a
// logarithmic latency axis so that handshakes and messages of very
// different latencies both read well.
func percentileChart(s *stats.Snapshot) *chart {
	var series []chartSeries
	for _, k := range slices.Sorted(maps.Keys(s.Latency)) {
		h := s.Latency[k]
		if h.Count() == 0 {
			continue
		}
		cs := chartSeries{name: k + " latency"}
		for x := 0.0; x <= 5.0001; x += 0.05 {
			q := 100 * (1 - math.Pow(10, -x))
			cs.xs = append(cs.xs, x)
			cs.ys = append(cs.ys, ms(h.Quantile(q)))
		}
		series = append(series, cs)
	}
	if len(series) == 0 {
		return nil
	}
	nines := func(x float64) string {
		labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
		if i := int(math.Round(x)); i >= 0 && i < len(labels) {
			return labels[i]
		}
		return ""
	}
	return &chart{title: "Latency by percentile (log scale)", yUnit: "latency", xLabel: "percentile", logY: true,
		yfmt: fmtLatencyTick, xfmt: nines, xticks: []float64{0, 1, 2, 3, 4, 5}, series: series}
}
