package stats

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadThreshold reports a --threshold expression that cannot be parsed.
var ErrBadThreshold = errors.New("loadtest: bad threshold (want METRIC<VALUE or METRIC>VALUE, e.g. p99<50ms, p99.95<200ms, errors<1, lost<=0.1%, rate>1000)")

// Threshold is one pass/fail check on a run's results, such as "p99<50ms".
//
// Metrics:
//   - pQ for any percentile Q from 0 to 100 (p50, p95, p99.95; p999 and
//     p9999 are read as p99.9 and p99.99), min, mean and max: message
//     latency, or handshake latency in a run without messages (connect,
//     churn). hs_pQ, hs_min, hs_mean and hs_max: handshake latency. Values
//     are durations (50ms, 1.5s, 800us) or bare numbers of milliseconds.
//   - every counter by its JSON name (errors, connect_failed, lost,
//     error_frames, server_closes, ...). lost and connect_failed also take
//     a percentage: of expected and of connect_attempts.
//   - rate: msgs_in per measured second.
//
// loss, conns and failures are accepted for lost, connected and
// connect_failed.
type Threshold struct {
	Expr   string
	Metric string // canonical name: p99.95, hs_max, a counter's JSON name, rate
	Op     string // "<", "<=", ">", ">="
	Value  float64
	Pct    bool // Value is a percentage (lost, connect_failed)
	IsTime bool // Value is in milliseconds

	lat       string  // latency metric: "" (message, else handshake) or "handshake"
	stat      string  // latency statistic: "q" (Quantile at q), "min", "mean", "max"
	q         float64 // the percentile of a pQ metric
	isCounter bool
}

var thresholdAliases = map[string]string{"loss": "lost", "conns": "connected", "failures": "connect_failed"}

// pctOf is what a percentage of a counter is a share of.
var pctOf = map[string]string{"lost": "expected", "connect_failed": "connect_attempts"}

// ParseThreshold parses one expression.
func ParseThreshold(expr string) (Threshold, error) {
	t := Threshold{Expr: expr}
	s := strings.ReplaceAll(expr, " ", "")
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return t, ErrBadThreshold
	}
	t.Op = s[i : i+1]
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		t.Op += "="
		rest = rest[1:]
	}
	if err := t.parseMetric(strings.ToLower(s[:i])); err != nil {
		return t, err
	}
	if strings.HasSuffix(rest, "%") {
		if _, ok := pctOf[t.Metric]; !ok {
			return t, fmt.Errorf("%w: %s takes no percentage (only lost and connect_failed do)", ErrBadThreshold, t.Metric)
		}
		t.Pct = true
		rest = strings.TrimSuffix(rest, "%")
	}
	if t.IsTime && strings.HasSuffix(rest, "s") {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return t, fmt.Errorf("%w: %v", ErrBadThreshold, err)
		}
		t.Value = ms(d)
		return t, nil
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil {
		return t, fmt.Errorf("%w: value %q", ErrBadThreshold, rest)
	}
	t.Value = v
	return t, nil
}

// parseMetric sets the metric fields from its name.
func (t *Threshold) parseMetric(m string) error {
	if a, ok := thresholdAliases[m]; ok {
		m = a
	}
	t.Metric = m
	if m == "rate" {
		return nil
	}
	if _, ok := (&Counters{}).Get(m); ok {
		t.isCounter = true
		return nil
	}
	name := m
	if strings.HasPrefix(name, "hs_") {
		t.lat, name = "handshake", name[3:]
	}
	t.IsTime = true
	switch name {
	case "min", "mean", "max":
		t.stat = name
		return nil
	}
	q, ok := parsePercentile(name)
	if !ok {
		return fmt.Errorf("%w: unknown metric %q (pQ such as p95 or p99.95, min, mean, max, hs_ of those, rate, or a counter: %s)",
			ErrBadThreshold, m, strings.Join(CounterNames(), ", "))
	}
	t.stat, t.q = "q", q
	t.Metric = strings.TrimSuffix(m, name) + "p" + trimFloat(q)
	return nil
}

// parsePercentile reads "p95", "p99.95", and the shorthands "p999"
// (99.9) and "p9999" (99.99).
func parsePercentile(s string) (float64, bool) {
	if len(s) < 2 || s[0] != 'p' {
		return 0, false
	}
	d := s[1:]
	if len(d) > 2 && !strings.Contains(d, ".") && strings.HasPrefix(d, "99") {
		d = "99." + d[2:]
	}
	q, err := strconv.ParseFloat(d, 64)
	if err != nil || q < 0 || q > 100 || strings.ContainsAny(d, "eE+-") {
		return 0, false
	}
	return q, true
}

// trimFloat formats v without trailing zeros: 99.9, 50, 99.95.
func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// latency returns the histogram the metric reads and what it is.
func (t Threshold) latency(s *Snapshot) (*Hist, string) {
	h := s.Latency["message"]
	what := "message latency"
	if t.lat == "handshake" || h == nil || h.Count() == 0 {
		h, what = s.Latency["handshake"], "handshake latency"
	}
	if h == nil {
		h = NewHist()
	}
	return h, what
}

// Measure returns the metric's value in s (milliseconds for latencies, a
// percentage when t.Pct) and what it measured.
func (t Threshold) Measure(s *Snapshot) (float64, string) {
	c := &s.Counters
	switch {
	case t.IsTime:
		h, what := t.latency(s)
		switch t.stat {
		case "min":
			return ms(h.Min()), what
		case "mean":
			return ms(h.Mean()), what
		case "max":
			return ms(h.Max()), what
		}
		return ms(h.Quantile(t.q)), what
	case t.isCounter:
		v, _ := c.Get(t.Metric)
		if !t.Pct {
			return float64(v), ""
		}
		of, _ := c.Get(pctOf[t.Metric])
		if of == 0 {
			return 0, "of " + pctOf[t.Metric]
		}
		return 100 * float64(v) / float64(of), "of " + pctOf[t.Metric]
	case t.Metric == "rate":
		if s.Window() <= 0 {
			return 0, "msgs_in per measured second"
		}
		return float64(c.MsgsIn) / s.Window(), "msgs_in per measured second"
	}
	return 0, ""
}

// Unit is the unit of the metric's values: ms, %, msgs/s, or "" for counts.
func (t Threshold) Unit() string {
	switch {
	case t.IsTime:
		return "ms"
	case t.Pct:
		return "%"
	case t.Metric == "rate":
		return "msgs/s"
	}
	return ""
}

// Check reports whether s passes t, with the measured value.
func (t Threshold) Check(s *Snapshot) ThresholdResult {
	v, what := t.Measure(s)
	var ok bool
	switch t.Op {
	case "<":
		ok = v < t.Value
	case "<=":
		ok = v <= t.Value
	case ">":
		ok = v > t.Value
	case ">=":
		ok = v >= t.Value
	}
	return ThresholdResult{Expr: t.Expr, Metric: t.Metric, Of: what, Measured: v, Limit: t.Value, Unit: t.Unit(), Pass: ok}
}

// ThresholdResult is one checked threshold, as written to JSON.
type ThresholdResult struct {
	Expr     string  `json:"expr"`
	Metric   string  `json:"metric"`       // canonical name (p99.9, connected, ...)
	Of       string  `json:"of,omitempty"` // what was measured: message latency, of expected...
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"` // ms, %, msgs/s, or "" for counts
	Pass     bool    `json:"pass"`
}

// Describe says what was measured, with its unit: "p99 message latency =
// 12.3 ms", "lost = 0.0012% of expected", "connected = 89".
func (r ThresholdResult) Describe() string {
	val := fmtValue(r.Measured, r.Unit)
	switch r.Unit {
	case "ms":
		return r.Metric + " " + r.Of + " = " + val
	case "%":
		return r.Metric + " = " + val + " " + r.Of
	case "msgs/s":
		return r.Metric + " = " + val + " (" + r.Of + ")"
	}
	return r.Metric + " = " + val
}

func fmtValue(v float64, unit string) string {
	switch unit {
	case "ms":
		if v > 0 && v < 1 {
			return strconv.FormatFloat(v*1000, 'f', 0, 64) + " µs"
		}
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case "%":
		return strconv.FormatFloat(v, 'g', 4, 64) + "%"
	case "msgs/s":
		return Human(v) + " msgs/s"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// CheckAll checks every threshold.
func CheckAll(ts []Threshold, s *Snapshot) (results []ThresholdResult, allPass bool) {
	allPass = true
	for _, t := range ts {
		r := t.Check(s)
		results = append(results, r)
		allPass = allPass && r.Pass
	}
	return results, allPass
}
