package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// chartSeries is one line of a chart.
type chartSeries struct {
	name string
	xs   []float64
	ys   []float64
}

// chart is one inline SVG line chart. Its width follows the page (the
// SVG scales to its container); the drawing is in viewBox units.
type chart struct {
	title  string
	yUnit  string // shown on the y axis and in its tick labels (msgs/s, ms, MiB...)
	xLabel string
	series []chartSeries
	logY   bool                   // logarithmic y axis (values <= 0 are left out)
	yfmt   func(v float64) string // y tick labels; default axisNum + unit
	xfmt   func(x float64) string // x tick labels
	xticks []float64              // fixed x ticks; default regular time ticks
	shade  [2]float64             // x range shaded as the measuring phase, when shade[1] > shade[0]
	notes  []string               // shown under the chart
	styles []int                  // color and line style of each series; default its index
}

// style returns series i's color, line style and marker index.
func (ch *chart) style(i int) int {
	if i < len(ch.styles) {
		return ch.styles[i]
	}
	return i
}

// Chart geometry in viewBox units.
const (
	chartW, chartH             = 1200.0, 300.0
	padL, padR, padT, padB     = 78.0, 24.0, 40.0, 44.0
	legendChar, legendSwatch   = 7.2, 26.0
	markerMaxPoints            = 40
	regularTickTarget          = 12
	seriesStrokeFirst, strokeN = 2.6, 2.0
)

// seriesColors and seriesDashes tell lines apart even when they lie on
// top of each other: the later ones are dashed over the earlier ones.
var (
	seriesColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}
	seriesDashes = []string{"", "9 6", "2 4", "12 4 3 4", "6 3", "1 3"}
)

// render draws the chart as HTML (an SVG and its notes).
func (ch *chart) render() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<figure><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`,
		chartW, chartH, template.HTMLEscapeString(ch.title))
	fmt.Fprintf(&b, `<text x="%.0f" y="20" class="title">%s</text>`, padL, template.HTMLEscapeString(ch.title))
	minX, maxX, minY, maxY := ch.bounds()
	if math.IsInf(minX, 0) {
		b.WriteString(`<text x="78" y="150">no data</text></svg></figure>`)
		return template.HTML(b.String())
	}
	if maxX == minX {
		minX, maxX = minX-1, maxX+1
	}
	ys := ch.yScale(minY, maxY)
	px := func(x float64) float64 { return padL + (x-minX)/(maxX-minX)*(chartW-padL-padR) }
	if ch.shade[1] > ch.shade[0] {
		x0, x1 := px(math.Max(ch.shade[0], minX)), px(math.Min(ch.shade[1], maxX))
		if x1 > x0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f2f6fb"/>`, x0, padT, x1-x0, chartH-padT-padB)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="shade">measured</text>`, x0+4, padT-6)
		}
	}
	for _, t := range ys.ticks {
		y := ys.py(t)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padL-6, y+4, template.HTMLEscapeString(ch.yLabel(t)))
	}
	fmt.Fprintf(&b, `<text transform="translate(14 %.1f) rotate(-90)" text-anchor="middle" class="axis">%s</text>`,
		(padT+chartH-padB)/2, template.HTMLEscapeString(ch.yUnit))
	xt := ch.xticks
	if xt == nil {
		xt = timeTicks(minX, maxX)
	}
	for _, x := range xt {
		if x < minX-1e-9 || x > maxX+1e-9 {
			continue
		}
		anchor := "middle"
		if px(x) > chartW-padR-30 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>`, px(x), px(x), padT, chartH-padB)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, px(x), chartH-padB+16, anchor, template.HTMLEscapeString(ch.xfmt(x)))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="axis">%s</text>`, (padL+chartW-padR)/2, chartH-6, template.HTMLEscapeString(ch.xLabel))
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#888"/>`, padL, chartW-padR, chartH-padB, chartH-padB)
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#888"/>`, padL, padL, padT, chartH-padB)
	for i, s := range ch.series {
		ch.drawSeries(&b, ch.style(i), s, px, ys)
	}
	ch.legend(&b)
	b.WriteString(`</svg>`)
	for _, n := range ch.notes {
		fmt.Fprintf(&b, `<figcaption>%s</figcaption>`, template.HTMLEscapeString(n))
	}
	b.WriteString(`</figure>`)
	return template.HTML(b.String())
}

// bounds returns the data range; minY is the smallest positive value (for
// a log axis).
func (ch *chart) bounds() (minX, maxX, minY, maxY float64) {
	minX, maxX, minY, maxY = math.Inf(1), math.Inf(-1), math.Inf(1), 0
	for _, s := range ch.series {
		for i := range s.xs {
			minX, maxX = math.Min(minX, s.xs[i]), math.Max(maxX, s.xs[i])
			maxY = math.Max(maxY, s.ys[i])
			if s.ys[i] > 0 {
				minY = math.Min(minY, s.ys[i])
			}
		}
	}
	return minX, maxX, minY, maxY
}

// yScale is a y axis: its ticks and the value-to-pixel map.
type yScale struct {
	ticks []float64
	py    func(v float64) float64
}

func (ch *chart) yScale(minY, maxY float64) yScale {
	top, bottom := padT, chartH-padB
	if ch.logY && !math.IsInf(minY, 0) {
		lo := math.Floor(math.Log10(minY))
		hi := math.Ceil(math.Log10(maxY))
		if hi <= lo {
			hi = lo + 1
		}
		var ticks []float64
		for d := lo; d <= hi; d++ {
			for _, m := range logMantissas(hi - lo) {
				if v := m * math.Pow(10, d); math.Log10(v) <= hi+1e-9 {
					ticks = append(ticks, v)
				}
			}
		}
		return yScale{ticks: ticks, py: func(v float64) float64 {
			if v <= 0 {
				return math.NaN()
			}
			return bottom - (math.Log10(v)-lo)/(hi-lo)*(bottom-top)
		}}
	}
	ch.logY = false
	step := niceCeil(maxY / 5) // at most five steps of 1, 2, 2.5 or 5 x 10^n
	top1 := step * math.Ceil(maxY/step*(1-1e-12))
	if maxY <= 0 {
		step, top1 = 0.25, 1
	}
	var ticks []float64
	for v := 0.0; v <= top1*(1+1e-9); v += step {
		ticks = append(ticks, v)
	}
	return yScale{ticks: ticks, py: func(v float64) float64 { return bottom - v/top1*(bottom-top) }}
}

// logMantissas are the tick multiples per decade: 1, 2, 5 for few decades,
// 1 alone for many.
func logMantissas(decades float64) []float64 {
	if decades <= 3 {
		return []float64{1, 2, 5}
	}
	return []float64{1}
}

func (ch *chart) yLabel(v float64) string {
	if ch.yfmt != nil {
		return ch.yfmt(v)
	}
	return axisNum(v)
}

// drawSeries draws one line, with markers when there are few points.
func (ch *chart) drawSeries(b *strings.Builder, i int, s chartSeries, px func(float64) float64, ys yScale) {
	color := seriesColors[i%len(seriesColors)]
	width := strokeN
	if i == 0 {
		width = seriesStrokeFirst
	}
	var pts strings.Builder
	n := 0
	for j := range s.xs {
		y := ys.py(s.ys[j])
		if math.IsNaN(y) {
			continue
		}
		fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.xs[j]), y)
		n++
	}
	dash := ""
	if d := seriesDashes[i%len(seriesDashes)]; d != "" {
		dash = ` stroke-dasharray="` + d + `"`
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="%.1f"%s points="%s"/>`, color, width, dash, pts.String())
	if n > markerMaxPoints {
		return
	}
	for j := range s.xs {
		y := ys.py(s.ys[j])
		if !math.IsNaN(y) {
			marker(b, i, px(s.xs[j]), y, color)
		}
	}
}

// marker draws series i's point shape: circle, square, triangle, diamond.
func marker(b *strings.Builder, i int, x, y float64, color string) {
	switch i % 4 {
	case 0:
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.2" fill="%s"/>`, x, y, color)
	case 1:
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="6" height="6" fill="none" stroke="%s" stroke-width="1.5"/>`, x-3, y-3, color)
	case 2:
		fmt.Fprintf(b, `<path d="M%.1f %.1fl4 7h-8z" fill="%s"/>`, x, y-4, color)
	default:
		fmt.Fprintf(b, `<path d="M%.1f %.1fl4 4-4 4-4-4z" fill="none" stroke="%s" stroke-width="1.5"/>`, x, y-4, color)
	}
}

// legend draws the series names at the top right, each with its line
// style and marker.
func (ch *chart) legend(b *strings.Builder) {
	w := 0.0
	for _, s := range ch.series {
		w += legendSwatch + 8 + legendChar*float64(len([]rune(s.name))) + 18
	}
	x := chartW - padR - w
	for k, s := range ch.series {
		i := ch.style(k)
		color := seriesColors[i%len(seriesColors)]
		dash := ""
		if d := seriesDashes[i%len(seriesDashes)]; d != "" {
			dash = ` stroke-dasharray="` + d + `"`
		}
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="16" y2="16" stroke="%s" stroke-width="2.4"%s/>`, x, x+legendSwatch, color, dash)
		marker(b, i, x+legendSwatch/2, 16, color)
		fmt.Fprintf(b, `<text x="%.1f" y="20">%s</text>`, x+legendSwatch+8, template.HTMLEscapeString(s.name))
		x += legendSwatch + 8 + legendChar*float64(len([]rune(s.name))) + 18
	}
}

// timeTicks returns ticks at a regular step (1, 2, 5, 10, 15, 30 s, 1, 2,
// 5, 10 min...) between lo and hi, about a dozen of them.
func timeTicks(lo, hi float64) []float64 {
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		step = s
		if (hi-lo)/s <= regularTickTarget {
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+1e-9; t += step {
		out = append(out, t)
	}
	return out
}

// fmtSeconds labels a time tick: "45 s", "2 min", "1 min 30 s".
func fmtSeconds(x float64) string {
	s := int(math.Round(x))
	switch {
	case s < 120:
		return fmt.Sprintf("%d s", s)
	case s%60 == 0:
		return fmt.Sprintf("%d min", s/60)
	}
	return fmt.Sprintf("%d min %d s", s/60, s%60)
}

// fmtLatencyTick labels a latency in milliseconds: 500 µs, 2 ms, 1.5 s.
func fmtLatencyTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return trimFloat(math.Round(v*1000*10)/10) + " µs"
	case v < 1000:
		return trimFloat(math.Round(v*100)/100) + " ms"
	}
	return trimFloat(math.Round(v/10)/100) + " s"
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}

// axisNum labels a plain number: 250, 1.5k, 2M.
func axisNum(v float64) string {
	switch {
	case v >= 1e6:
		return trimFloat(math.Round(v/1e4)/100) + "M"
	case v >= 1e3:
		return trimFloat(math.Round(v/10)/100) + "k"
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return trimFloat(math.Round(v*100) / 100)
}
