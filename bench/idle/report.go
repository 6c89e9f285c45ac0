package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

// method is printed with every report and stored in the JSON.
const method = `Method: each server runs alone as its own process, rounds alternating floor, wsgate.
One warm-up connection is opened, exercised and closed; after -settle the server's memory
is sampled -samples times -interval apart (the last sample is the baseline). Then -conns
connections are opened from the harness process (bounded dial pool, no goroutine per
connection afterwards) in two halves; after each half they idle for -idle and memory is
sampled again the same way. bytes/conn = (after - before) / conns for VmRSS
(/proc/PID/status, headline), RssAnon (anonymous pages: heap, stacks) and Pss
(/proc/PID/smaps_rollup); marginal = VmRSS (after - after first half) / second half, which
leaves out fixed costs first paid while connecting (code pages, queues, fd tables). Nothing forces a GC in
either server before the RSS samples, so RSS includes garbage the runtime has not yet
collected (both servers alike; GOGC is set the same for both). heap/conn is HeapInuse
after a runtime.GC inside the server: the floor's stats hook, wsgate's GET
/debug/memstats?gc=1 on its admin listener (both allocate next to nothing). Both servers
are asked once before the baseline samples (so each starts from a collected heap), once
right after them (heap before) and once after the RSS samples (heap after). Heap in use is
the live heap: what a long-running server's RSS scales with (up to 1 + GOGC/100 times it
at the collector's peak), while the RSS delta of one burst of connections also holds
garbage the burst left that the collector has not yet reclaimed.
wsgate runs with -ping-interval 0 -idle-timeout 0 (-admin on a free port, -pprof) and its other defaults; the floor with
the same pollers (GOMAXPROCS) and 64 KiB read buffer. Kernel socket buffers are not
process memory and are not counted.`

// report is everything one invocation measured.
type report struct {
	Date    string `json:"date"`
	Command string `json:"command"`
	// Source is `git describe --always --dirty` of the tree the servers
	// were built from.
	Source  string          `json:"source"`
	Machine procmem.Machine `json:"machine"`
	Conns   int             `json:"conns"`
	Rounds  int             `json:"rounds"`
	Sources int             `json:"sources"`
	GOGC    string          `json:"gogc"`
	// WSGateFlags are the flags given with -wsgate-flags.
	WSGateFlags []string    `json:"wsgate_flags,omitempty"`
	Echo        string      `json:"echo"`
	Runs        []runResult `json:"runs"`
	// Mean per-connection figures over rounds, per server.
	FloorRSS       float64 `json:"floor_rss_per_conn"`
	WSGateRSS      float64 `json:"wsgate_rss_per_conn"`
	FloorAnon      float64 `json:"floor_anon_per_conn"`
	WSGateAnon     float64 `json:"wsgate_anon_per_conn"`
	FloorHeap      float64 `json:"floor_heap_inuse_per_conn"`
	WSGateHeap     float64 `json:"wsgate_heap_inuse_per_conn,omitempty"`
	RatioHeap      float64 `json:"ratio_heap_inuse,omitempty"`
	FloorMarginal  float64 `json:"floor_rss_marginal_per_conn"`
	WSGateMarginal float64 `json:"wsgate_rss_marginal_per_conn"`
	RatioMarginal  float64 `json:"ratio_rss_marginal"`
	RatioRSS       float64 `json:"ratio_rss"`
	// DeflateRSS is wsgate's RSS per connection with permessage-deflate
	// negotiated (-deflate), and DeflateRatio its ratio to WSGateRSS.
	DeflateRSS   float64      `json:"deflate_rss_per_conn,omitempty"`
	DeflateRatio float64      `json:"deflate_ratio_to_wsgate,omitempty"`
	RatioAnon    float64      `json:"ratio_anon"`
	Method       string       `json:"method"`
	Structs      []structSize `json:"wsgate_structs,omitempty"`
	StructsErr   error        `json:"-"`
}

func newReport(o *options, start time.Time) *report {
	return &report{
		Date:        start.UTC().Format(time.RFC3339),
		Machine:     procmem.Describe(),
		Conns:       o.conns,
		Rounds:      o.rounds,
		Sources:     o.sources,
		GOGC:        gogcString(o.gogc),
		WSGateFlags: o.extra,
		Method:      method,
	}
}

// summarize fills the means and ratios.
func (r *report) summarize() {
	mean := func(server string, f func(*runResult) float64) float64 {
		var sum float64
		n := 0
		for i := range r.Runs {
			if r.Runs[i].Server == server {
				sum += f(&r.Runs[i])
				n++
			}
		}
		if n == 0 {
			return 0
		}
		return sum / float64(n)
	}
	rss := func(x *runResult) float64 { return x.RSSPerConn }
	anon := func(x *runResult) float64 { return x.AnonPerConn }
	r.FloorRSS, r.WSGateRSS = mean(kindFloor, rss), mean(kindWSGate, rss)
	r.FloorAnon, r.WSGateAnon = mean(kindFloor, anon), mean(kindWSGate, anon)
	heap := func(x *runResult) float64 { return x.HeapPerConn }
	r.FloorHeap, r.WSGateHeap = mean(kindFloor, heap), mean(kindWSGate, heap)
	if r.FloorHeap > 0 && r.WSGateHeap > 0 {
		r.RatioHeap = r.WSGateHeap / r.FloorHeap
	}
	marg := func(x *runResult) float64 { return x.MarginalPerConn }
	r.FloorMarginal, r.WSGateMarginal = mean(kindFloor, marg), mean(kindWSGate, marg)
	if r.FloorMarginal > 0 {
		r.RatioMarginal = r.WSGateMarginal / r.FloorMarginal
	}
	if r.FloorRSS > 0 {
		r.RatioRSS = r.WSGateRSS / r.FloorRSS
	}
	r.DeflateRSS = mean(kindDeflate, rss)
	if r.DeflateRSS > 0 && r.WSGateRSS > 0 {
		r.DeflateRatio = r.DeflateRSS / r.WSGateRSS
	}
	if r.FloorAnon > 0 {
		r.RatioAnon = r.WSGateAnon / r.FloorAnon
	}
}

// writeReport prints the human-readable report.
func writeReport(w io.Writer, r *report) {
	m := r.Machine
	fmt.Fprintf(w, "Idle memory per connection, %s\n", r.Date)
	fmt.Fprintf(w, "machine: %s, %d cores, %.1f GiB, kernel %s, THP %s, %s\n",
		m.CPU, m.Cores, float64(m.MemTotal)/(1<<30), m.Kernel, m.THP, m.Go)
	fmt.Fprintf(w, "command: %s (source %s)\n", r.Command, r.Source)
	fmt.Fprintf(w, "conns %d, rounds %d, source addresses %d, GOGC %s", r.Conns, r.Rounds, r.Sources, r.GOGC)
	if len(r.WSGateFlags) > 0 {
		fmt.Fprintf(w, ", wsgate flags %s", strings.Join(r.WSGateFlags, " "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "wsgate echo: %s\n\n", r.Echo)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tround\tconns\tRSS before\tRSS after\tRSS B/conn\tmarginal B/conn\tanon B/conn\tPSS B/conn\theap B/conn\tratio to floor\tconnect s\t")
	for _, x := range r.Runs {
		heap := "-"
		if x.HeapAfter != nil {
			heap = fmt.Sprintf("%.0f", x.HeapPerConn)
		}
		ratio := "-"
		if (x.Server == kindWSGate || x.Server == kindDeflate) && r.FloorRSS > 0 {
			ratio = fmt.Sprintf("%.2f", x.RSSPerConn/r.FloorRSS)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%.1f\t\n", x.Server, x.Round, x.Conns,
			mib(x.Before.RSS), mib(x.After.RSS), x.RSSPerConn, x.MarginalPerConn, x.AnonPerConn, x.PSSPerConn, heap, ratio, x.ConnectSeconds)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nmean over %d rounds: floor %.0f B/conn RSS (%.0f anon, heap in use %.0f), wsgate %.0f B/conn RSS (%.0f anon, heap in use %.0f)\n",
		r.Rounds, r.FloorRSS, r.FloorAnon, r.FloorHeap, r.WSGateRSS, r.WSGateAnon, r.WSGateHeap)
	fmt.Fprintf(w, "marginal (second half of the connections): floor %.0f B/conn, wsgate %.0f B/conn\n", r.FloorMarginal, r.WSGateMarginal)
	fmt.Fprintf(w, "ratio wsgate/floor: %.2fx RSS, %.2fx anon, %.2fx marginal RSS, %.2fx heap in use (target: <= 1.2x)\n\n",
		r.RatioRSS, r.RatioAnon, r.RatioMarginal, r.RatioHeap)
	if r.DeflateRSS > 0 {
		fmt.Fprintf(w, "with permessage-deflate negotiated: wsgate %.0f B/conn RSS, %.2fx wsgate without it (target: <= 1.25x)\n\n",
			r.DeflateRSS, r.DeflateRatio)
	}
	writeStructs(w, r)
	fmt.Fprintln(w, method)
}

func writeStructs(w io.Writer, r *report) {
	if r.StructsErr != nil {
		fmt.Fprintf(w, "wsgate struct sizes: unavailable: %v\n\n", r.StructsErr)
		return
	}
	if len(r.Structs) == 0 {
		return
	}
	fmt.Fprintln(w, "wsgate per-connection structs (DWARF of the built binary; heap objects round up to a size class):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range r.Structs {
		fmt.Fprintf(tw, "  %s\t%d B\t(size class %d B)\t%s\n", s.Name, s.Size, s.Class, strings.Join(s.Note, "; "))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func writeJSON(path string, r *report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
