// Package report renders a load run's results (a stats.Snapshot and the
// checked thresholds): the per-second progress line, the end-of-run text
// summary and the self-contained HTML report with its inline SVG charts.
package report

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"fmt"
	"github.com/wsgate/wsgate/loadtest/stats"
	"io"
	"os"
	"strings"
)

// ProgressLine formats one second of a run with the counters' own names:
// open connections, connections opened and failed, messages per second
// out and in, latency and errors in that second.
func ProgressLine(p stats.Point, server *stats.ProcSample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%4ds] open %6d  connected +%-5d connect_failed %-5d  msgs_out %7s/s  msgs_in %7s/s  p50 %7s  p99 %7s  errors %d",
		p.Second, p.Open, p.Connected, p.ConnectFailed, stats.Human(float64(p.MsgsOut)), stats.Human(float64(p.MsgsIn)),
		fmtMs(p.P50Ms), fmtMs(p.P99Ms), p.Errors)
	if server != nil {
		fmt.Fprintf(&b, "  server cpu %5.1f%% rss %s", server.CPUPct, humanBytes(server.RSSBytes))
	}
	return b.String()
}

// isTerminal reports whether w is a character device (a TTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ProgressPrinter writes progress lines to a writer, rewriting one line
// with \r when the writer is a terminal.
type ProgressPrinter struct {
	w   io.Writer
	tty bool
}

// NewProgressPrinter returns a ProgressPrinter writing to w.
func NewProgressPrinter(w io.Writer) *ProgressPrinter {
	return &ProgressPrinter{w: w, tty: isTerminal(w)}
}

// Print writes the progress line of one second.
func (pp *ProgressPrinter) Print(p stats.Point, s *stats.ProcSample) {
	line := ProgressLine(p, s)
	if pp.tty {
		fmt.Fprintf(pp.w, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(pp.w, line)
}

// Done ends the progress output: on a terminal, it ends the line that
// was rewritten in place.
func (pp *ProgressPrinter) Done() {
	if pp.tty {
		fmt.Fprintln(pp.w)
	}
}

func humanBytes(v int64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(v)/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(v)/(1<<10))
	}
	return fmt.Sprintf("%d B", v)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// trimFloat formats v without trailing zeros: 99.9, 50, 99.95.
func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

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

// alwaysShown are the counters the summary prints even when zero; every
// other counter is printed when it is not zero (and the deflate ones when
// deflate was negotiated).
var alwaysShown = map[string]bool{"connect_attempts": true, "connected": true, "msgs_out": true, "msgs_in": true, "errors": true}

// shownFor adds the counters a scenario always prints.
func shownFor(s *stats.Snapshot, name string) bool {
	if alwaysShown[name] {
		return true
	}
	switch name {
	case "expected", "delivered", "lost":
		return s.Scenario != "connect" && s.Scenario != "stomp-connect" && s.Scenario != "churn"
	case "subscribers":
		return s.Scenario == "broadcast" || s.Scenario == "stomp-broadcast" || s.Scenario == "stomp-connect"
	case "published":
		return s.Scenario == "broadcast" || s.Scenario == "stomp-broadcast"
	}
	return s.Counters.DeflateConns > 0 && strings.HasPrefix(name, "deflate_")
}

// WriteSummary writes the end-of-run summary. Every counter row is
// labelled with the counter's JSON name and starts with its value; what
// follows in parentheses explains it.
func WriteSummary(w io.Writer, s *stats.Snapshot, checks []stats.ThresholdResult) {
	version := ""
	if s.Version != "" {
		version = ", wsload " + s.Version
	}
	fmt.Fprintf(w, "\nwsload %s: %s (%d worker process%s%s)\n", s.Scenario, strings.Join(s.Targets, " "),
		s.Workers, plural(s.Workers, "", "es"), version)
	row := func(k string, v any) { fmt.Fprintf(w, "  %-20s %v\n", k, v) }
	row("elapsed_s", fmt.Sprintf("%.1f  (measured_s %.1f from %.1f s after the start: rates are per measured second)",
		s.Elapsed, s.Measured, s.MeasureStart))
	c := &s.Counters
	for _, name := range stats.CounterNames() {
		v, _ := c.Get(name)
		if v == 0 && !shownFor(s, name) {
			continue
		}
		note := counterNote(s, name)
		if note == "" {
			row(name, v)
		} else {
			row(name, fmt.Sprintf("%d  %s", v, note))
		}
		switch name {
		case "connect_failed":
			examples(w, s.Failures, s.Examples)
		case "server_closes":
			examples(w, s.Closes, s.CloseExamples)
		}
	}
	writeLatency(w, s)
	if n := len(s.Server); n > 0 {
		peak := int64(0)
		for _, p := range s.Server {
			peak = max(peak, p.RSSBytes)
		}
		cpu := s.Server[n-1].CPUSecs - s.Server[0].CPUSecs
		row("server_rss_peak", humanBytes(peak))
		row("server_cpu", fmt.Sprintf("%.2f s over %d s (%.0f%% of one core on average)", cpu, n, 100*cpu/float64(n)))
	}
	for _, r := range checks {
		fmt.Fprintf(w, "  threshold %-20s %s  (%s)\n", r.Expr, passWord(r.Pass), r.Describe())
	}
	for _, m := range s.Incomplete {
		fmt.Fprintf(w, "  INCOMPLETE: %s\n", m)
	}
	for _, h := range s.Hints {
		fmt.Fprintf(w, "  hint: %s\n", wrap(h, 92, "        "))
	}
}

// wrap breaks s into lines of at most width bytes at spaces, indenting
// every line after the first.
func wrap(s string, width int, indent string) string {
	// `Quoted commands` stay on one line: their spaces are not breaks.
	parts := strings.Split(s, "`")
	for i := 1; i < len(parts); i += 2 {
		parts[i] = strings.ReplaceAll(parts[i], " ", "\x00")
	}
	s = strings.Join(parts, "`")
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		if i > 0 && line+1+len(word) > width {
			b.WriteString("\n" + indent)
			line = 0
		} else if i > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return strings.ReplaceAll(b.String(), "\x00", " ")
}

func passWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// examples writes one line per kind with the example kept for it.
func examples(w io.Writer, counts map[string]int64, ex map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if e := ex[k]; e != "" {
			fmt.Fprintf(w, "    e.g. %s: %s\n", k, e)
		}
	}
}

// counterNote explains a counter's value in the summary.
func counterNote(s *stats.Snapshot, name string) string {
	c := &s.Counters
	perSec := func(n int64) string {
		if s.Window() <= 0 {
			return "-"
		}
		return stats.Human(float64(n)/s.Window()) + " msgs/s"
	}
	switch name {
	case "connected":
		return "(" + stats.Percent(c.Connected, c.ConnectAttempts) + " of connect_attempts)"
	case "connect_failed":
		return stats.FormatCounts(s.Failures)
	case "cancelled":
		return "(dials still in their handshake when the run ended)"
	case "deflate_conns":
		return "(of " + fmt.Sprint(c.Connected) + " connected, negotiated permessage-deflate)"
	case "closed":
		return fmt.Sprintf("(open connections closed during the run: %d by wsload, %d by the server)", c.Closed-c.ServerCloses, c.ServerCloses)
	case "server_closes":
		return stats.FormatCounts(s.Closes)
	case "msgs_out", "msgs_in":
		v, _ := c.Get(name)
		note := "(" + perSec(v)
		if name == "msgs_in" && c.PublisherMsgsIn > 0 {
			note += "; includes publisher_msgs_in"
		}
		return note + ")"
	case "bytes_out", "bytes_in":
		v, _ := c.Get(name)
		return "(" + humanBytes(v) + ", " + humanBytes(int64(float64(v)/max(s.Window(), 1e-9))) + "/s; uncompressed payload)"
	case "deflate_msgs_out":
		return "(of " + fmt.Sprint(c.MsgsOut) + " msgs_out sent compressed)"
	case "deflate_msgs_in":
		note := "(of " + fmt.Sprint(c.MsgsIn) + " msgs_in the server sent compressed"
		if c.DeflateMsgsIn == 0 && c.MsgsIn > 0 {
			note += ": none, see the hint below"
		}
		return note + ")"
	case "deflate_bytes_out", "deflate_bytes_in":
		v, _ := c.Get(name)
		return "(" + humanBytes(v) + " before compression)"
	case "deflate_wire_out":
		return "(" + humanBytes(c.DeflateWireOut) + " compressed: " + stats.Percent(c.DeflateWireOut, c.DeflateBytesOut) + " of deflate_bytes_out)"
	case "deflate_wire_in":
		return "(" + humanBytes(c.DeflateWireIn) + " compressed: " + stats.Percent(c.DeflateWireIn, c.DeflateBytesIn) + " of deflate_bytes_in)"
	case "publisher_msgs_in":
		return "(publishers are room members: what they received from the others, or their own with echo-self; not in delivered)"
	case "published":
		return "(" + perSec(c.Published) + ")"
	case "expected":
		if s.Scenario == "broadcast" || s.Scenario == "stomp-broadcast" {
			return "(published × subscribers)"
		}
		return "(one reply per msgs_out)"
	case "delivered":
		return "(" + stats.Percent(c.Delivered, c.Expected) + " of expected)"
	case "lost":
		return "(" + stats.Percent(c.Lost, c.Expected) + " of expected)"
	case "late":
		return "(open loop: left over 1 ms after their intended send time)"
	case "unsent":
		return "(open loop: scheduled sends not made: sender behind, or no open connection)"
	case "slow_closed":
		return "(of " + fmt.Sprint(c.SlowConns) + " slow_conns, disconnected by the server)"
	case "stalled_closed":
		return "(of " + fmt.Sprint(c.StalledConns) + " stalled_conns, disconnected by the server)"
	case "error_frames":
		return stats.FormatCounts(s.ErrorCodes)
	case "errors":
		return errorsNote(c)
	}
	return ""
}

// errorsNote spells out the sum that Counters.Errors is.
func errorsNote(c *stats.Counters) string {
	var parts []string
	for _, n := range stats.ErrorParts {
		if v, _ := c.Get(n); v != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", n, v))
		}
	}
	if len(parts) == 0 {
		return "(none: " + strings.Join(stats.ErrorParts, " + ") + ")"
	}
	return "(= " + strings.Join(parts, " + ") + ")"
}

// latencyPercentiles are the columns of the summary's latency table.
var latencyPercentiles = []float64{50, 90, 99, 99.9}

func writeLatency(w io.Writer, s *stats.Snapshot) {
	names := slices.Sorted(maps.Keys(s.Latency))
	shown := false
	for _, k := range names {
		h := s.Latency[k]
		if h.Count() == 0 {
			continue
		}
		if !shown {
			fmt.Fprintf(w, "  %-10s %9s %9s", "latency", "count", "min")
			for _, p := range latencyPercentiles {
				fmt.Fprintf(w, " %9s", "p"+trimFloat(p))
			}
			fmt.Fprintf(w, " %9s\n", "max")
			shown = true
		}
		fmt.Fprintf(w, "  %-10s %9d %9s", k, h.Count(), fmtMs(ms(h.Min())))
		for _, p := range latencyPercentiles {
			fmt.Fprintf(w, " %9s", fmtMs(ms(h.Quantile(p))))
		}
		fmt.Fprintf(w, " %9s\n", fmtMs(ms(h.Max())))
	}
}
