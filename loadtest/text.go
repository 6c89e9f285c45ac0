package loadtest

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// ProgressLine formats one second of a run: connections, message rates,
// latency and errors.
func ProgressLine(p Point, server *ProcSample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%4ds] conns %7d  +%-6d fail %-5d  out %8s/s  in %8s/s  p50 %7s  p99 %7s  err %d",
		p.Second, p.Open, p.Connects, p.Failures, human(float64(p.MsgsOut)), human(float64(p.MsgsIn)),
		fmtMs(p.P50Ms), fmtMs(p.P99Ms), p.Errors)
	if server != nil {
		fmt.Fprintf(&b, "  server cpu %5.1f%% rss %s", server.CPUPct, humanBytes(server.RSSBytes))
	}
	return b.String()
}

// isTerminal reports whether f is a character device (a TTY).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressPrinter writes progress lines to w, rewriting one line with \r
// when w is a terminal.
type progressPrinter struct {
	w   io.Writer
	tty bool
}

func (pp *progressPrinter) print(p Point, s *ProcSample) {
	line := ProgressLine(p, s)
	if pp.tty {
		fmt.Fprintf(pp.w, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(pp.w, line)
}

func (pp *progressPrinter) done() {
	if pp.tty {
		fmt.Fprintln(pp.w)
	}
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func humanBytes(v int64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(v)/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(v)/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(v)/(1<<10))
	}
	return fmt.Sprintf("%dB", v)
}

func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1:
		return fmt.Sprintf("%.0fµs", v*1000)
	case v < 1000:
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

// WriteSummary writes the end-of-run table.
func WriteSummary(w io.Writer, s *Snapshot, checks []ThresholdResult) {
	c := &s.Counters
	el := s.window()
	if el <= 0 {
		el = 1
	}
	fmt.Fprintf(w, "\nwsload %s: %s, %d worker(s), %.1fs (%.1fs measured)\n", s.Scenario, strings.Join(s.Targets, " "), s.Workers, s.Elapsed, s.Measured)
	row := func(k string, v any) { fmt.Fprintf(w, "  %-22s %v\n", k, v) }
	row("connect attempts", c.ConnectAttempts)
	row("connected", c.Connected)
	if c.ConnectFailed > 0 {
		row("connect failures", fmt.Sprintf("%d  %s", c.ConnectFailed, fmtMap(s.Failures)))
		for _, k := range sortedKeys(s.Examples) {
			row("  e.g. "+k, s.Examples[k])
		}
	}
	if c.Disconnects > 0 {
		row("server disconnects", fmt.Sprintf("%d  %s", c.Disconnects, fmtMap(s.Closes)))
	}
	if c.Reconnects > 0 {
		row("reconnects", c.Reconnects)
	}
	if c.SlowConns+c.StalledConns > 0 {
		row("slow readers", fmt.Sprintf("%d (%d disconnected by server)", c.SlowConns, c.SlowClosed))
		row("stalled readers", fmt.Sprintf("%d (%d disconnected by server)", c.StalledConns, c.StalledClosed))
	}
	row("messages out", fmt.Sprintf("%d (%s/s, %s)", c.MsgsOut, human(float64(c.MsgsOut)/el), humanBytes(c.BytesOut)))
	row("messages in", fmt.Sprintf("%d (%s/s, %s)", c.MsgsIn, human(float64(c.MsgsIn)/el), humanBytes(c.BytesIn)))
	if s.Scenario == "broadcast" || s.Scenario == "stomp-broadcast" {
		row("subscribers", c.Subscribers)
		row("published", fmt.Sprintf("%d (%d failed)", c.Published, c.PublishFailed))
	}
	if c.Expected > 0 {
		row("delivered/expected", fmt.Sprintf("%d / %d", c.Delivered, c.Expected))
		row("lost", fmt.Sprintf("%d (%.4f%%)", c.Lost, 100*float64(c.Lost)/float64(c.Expected)))
		row("duplicates, reordered", fmt.Sprintf("%d, %d", c.Duplicates, c.Reordered))
	}
	if c.Late > 0 {
		row("sent late (>1ms)", c.Late)
	}
	if c.Unsent > 0 {
		row("not sent (behind)", c.Unsent)
	}
	row("errors", c.Errors+c.Corrupt)
	names := make([]string, 0, len(s.Latency))
	for k := range s.Latency {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "  %-10s %9s %9s %9s %9s %9s %9s %9s\n", "latency", "count", "min", "p50", "p90", "p99", "p99.9", "max")
	for _, k := range names {
		h := s.Latency[k]
		if h.Count() == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-10s %9d %9s %9s %9s %9s %9s %9s\n", k, h.Count(), fmtMs(ms(h.Min())),
			fmtMs(ms(h.Quantile(50))), fmtMs(ms(h.Quantile(90))), fmtMs(ms(h.Quantile(99))),
			fmtMs(ms(h.Quantile(99.9))), fmtMs(ms(h.Max())))
	}
	if n := len(s.Server); n > 0 {
		peak := int64(0)
		for _, p := range s.Server {
			peak = max(peak, p.RSSBytes)
		}
		cpu := s.Server[n-1].CPUSecs - s.Server[0].CPUSecs
		row("server rss peak", humanBytes(peak))
		row("server cpu", fmt.Sprintf("%.2fs over %ds (%.0f%% avg)", cpu, n, 100*cpu/float64(n)))
	}
	for _, r := range checks {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  threshold %-20s %s (measured %.4g)\n", r.Expr, verdict, r.Measured)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func fmtMap(m map[string]int64) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
