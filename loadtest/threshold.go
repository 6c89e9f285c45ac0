package loadtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadThreshold reports a --threshold expression that cannot be parsed.
var ErrBadThreshold = errors.New("loadtest: bad threshold (want METRIC<VALUE or METRIC>VALUE, e.g. p99<50ms, errors<1, loss<=0.1%, rate>1000)")

// Threshold is one pass/fail check on a run's results, such as "p99<50ms".
//
// Metrics: p50, p90, p99, p999, max (message latency; for connect and churn
// the handshake latency), hs_p99 (handshake latency), errors (protocol
// errors plus connect failures), failures (connect failures), loss (lost
// messages; a value with % is a share of expected), rate (messages received
// per second of the measuring phase), conns (connections that opened).
type Threshold struct {
	Expr   string
	Metric string
	Op     string // "<", "<=", ">", ">="
	Value  float64
	Pct    bool // Value is a percentage (loss)
	IsTime bool // Value is in milliseconds
}

var thresholdMetrics = map[string]bool{
	"p50": true, "p90": true, "p99": true, "p999": true, "max": true, "hs_p99": true,
	"errors": true, "failures": true, "loss": true, "rate": true, "conns": true,
}

// ParseThreshold parses one expression.
func ParseThreshold(expr string) (Threshold, error) {
	t := Threshold{Expr: expr}
	s := strings.ReplaceAll(expr, " ", "")
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return t, ErrBadThreshold
	}
	t.Metric = strings.ToLower(s[:i])
	t.Op = s[i : i+1]
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		t.Op += "="
		rest = rest[1:]
	}
	if !thresholdMetrics[t.Metric] {
		return t, fmt.Errorf("%w: unknown metric %q", ErrBadThreshold, t.Metric)
	}
	switch {
	case strings.HasSuffix(rest, "%"):
		t.Pct = true
		rest = strings.TrimSuffix(rest, "%")
	case strings.HasSuffix(rest, "s"):
		d, err := time.ParseDuration(rest)
		if err != nil {
			return t, fmt.Errorf("%w: %v", ErrBadThreshold, err)
		}
		t.IsTime, t.Value = true, ms(d)
		return t, nil
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil {
		return t, fmt.Errorf("%w: %q", ErrBadThreshold, rest)
	}
	t.Value = v
	if strings.HasPrefix(t.Metric, "p") || t.Metric == "max" || t.Metric == "hs_p99" {
		t.IsTime = true // a bare number is milliseconds
	}
	return t, nil
}

// Measure returns the metric's value in s (milliseconds for latencies, a
// percentage when t.Pct).
func (t Threshold) Measure(s *Snapshot) float64 {
	lat := s.Latency["message"]
	if lat == nil || lat.Count() == 0 {
		lat = s.Latency["handshake"]
	}
	if lat == nil {
		lat = NewHist()
	}
	c := &s.Counters
	switch t.Metric {
	case "p50":
		return ms(lat.Quantile(50))
	case "p90":
		return ms(lat.Quantile(90))
	case "p99":
		return ms(lat.Quantile(99))
	case "p999":
		return ms(lat.Quantile(99.9))
	case "max":
		return ms(lat.Max())
	case "hs_p99":
		if h := s.Latency["handshake"]; h != nil {
			return ms(h.Quantile(99))
		}
		return 0
	case "errors":
		return float64(c.Errors + c.ConnectFailed + c.Corrupt)
	case "failures":
		return float64(c.ConnectFailed)
	case "loss":
		if t.Pct {
			if c.Expected == 0 {
				return 0
			}
			return 100 * float64(c.Lost) / float64(c.Expected)
		}
		return float64(c.Lost)
	case "rate":
		if s.window() <= 0 {
			return 0
		}
		return float64(c.MsgsIn) / s.window()
	case "conns":
		return float64(c.Connected)
	}
	return 0
}

// Check reports whether s passes t, and the measured value.
func (t Threshold) Check(s *Snapshot) (bool, float64) {
	v := t.Measure(s)
	switch t.Op {
	case "<":
		return v < t.Value, v
	case "<=":
		return v <= t.Value, v
	case ">":
		return v > t.Value, v
	case ">=":
		return v >= t.Value, v
	}
	return false, v
}

// ThresholdResult is one checked threshold, as written to JSON.
type ThresholdResult struct {
	Expr     string  `json:"expr"`
	Measured float64 `json:"measured"`
	Pass     bool    `json:"pass"`
}

// CheckAll checks every threshold.
func CheckAll(ts []Threshold, s *Snapshot) (results []ThresholdResult, allPass bool) {
	allPass = true
	for _, t := range ts {
		ok, v := t.Check(s)
		results = append(results, ThresholdResult{Expr: t.Expr, Measured: v, Pass: ok})
		allPass = allPass && ok
	}
	return results, allPass
}
