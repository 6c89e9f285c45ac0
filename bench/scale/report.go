package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

// snapshot is the part of wsload's --json summary the harness reads.
type snapshot struct {
	Start        time.Time `json:"start"`
	Elapsed      float64   `json:"elapsed_s"`
	MeasureStart float64   `json:"measure_start_s"`
	Counters     struct {
		Connected     int64 `json:"connected"`
		ConnectFailed int64 `json:"connect_failed"`
		Subscribers   int64 `json:"subscribers"`
		Published     int64 `json:"published"`
		PublishFailed int64 `json:"publish_failed"`
		Expected      int64 `json:"expected"`
		Delivered     int64 `json:"delivered"`
		Lost          int64 `json:"lost"`
		Duplicates    int64 `json:"duplicates"`
		Reordered     int64 `json:"reordered"`
		ServerCloses  int64 `json:"server_closes"`
	} `json:"counters"`
	Failures map[string]int64 `json:"failures"`
	Latency  map[string]struct {
		Count int64   `json:"count"`
		P50   float64 `json:"p50_ms"`
		P90   float64 `json:"p90_ms"`
		P99   float64 `json:"p99_ms"`
		P999  float64 `json:"p999_ms"`
		Max   float64 `json:"max_ms"`
	} `json:"latency"`
	Series []struct {
		T         int   `json:"t"`
		Connected int64 `json:"connected"`
		MsgsIn    int64 `json:"msgs_in"`
	} `json:"series"`
	Incomplete []string `json:"incomplete"`
}

// result is one run's figures.
type result struct {
	Name  string `json:"name"`
	Nodes int    `json:"nodes"`
	Conns int    `json:"conns"`
	Load  string `json:"loadavg_before"`

	Held           int64   `json:"held"` // connections open over the nodes when the broadcast began
	Connected      int64   `json:"connected"`
	ConnectFailed  int64   `json:"connect_failed"`
	ConnectSeconds float64 `json:"connect_seconds"`
	ConnectRate    float64 `json:"connect_rate"`
	HandshakeP50   float64 `json:"handshake_p50_ms"`
	HandshakeP99   float64 `json:"handshake_p99_ms"`

	Published   int64   `json:"published"`
	Expected    int64   `json:"expected"`
	Delivered   int64   `json:"delivered"`
	Lost        int64   `json:"lost"`
	Duplicates  int64   `json:"duplicates"`
	Reordered   int64   `json:"reordered"`
	ActiveSecs  int     `json:"active_seconds"` // seconds with deliveries
	PerSec      float64 `json:"deliveries_per_s"`
	PeakPerSec  int64   `json:"peak_deliveries_per_s"`
	LatP50      float64 `json:"latency_p50_ms"`
	LatP90      float64 `json:"latency_p90_ms"`
	LatP99      float64 `json:"latency_p99_ms"`
	LatMax      float64 `json:"latency_max_ms"`
	CPUNodes    float64 `json:"cpu_nodes_s"` // CPU seconds of the nodes from the first publish to the last delivery
	CPUNATS     float64 `json:"cpu_nats_s"`
	CPUPerDeliv float64 `json:"cpu_us_per_delivery"`

	RSS        []int64  `json:"rss_held"` // per node at the start of the broadcast, nats-server last
	RSSPeak    []int64  `json:"rss_peak"`
	RSSTotal   int64    `json:"rss_total_held"`   // the nodes only
	RSSBase    int64    `json:"rss_total_before"` // the nodes, before the first connection
	SockBefore sockstat `json:"sockstat_before"`
	SockHeld   sockstat `json:"sockstat_held"`
	SockPeak   sockstat `json:"sockstat_peak"`
	Incomplete []string `json:"incomplete,omitempty"`
	// Queued counts the messages the nodes queued to their connections
	// during the run (their messages_out), SlowClosed the connections
	// they closed as slow consumers: a delivery wsload counts lost that a
	// node queued was lost on the client's side (or was still on its way
	// when wsload stopped waiting).
	Queued     uint64 `json:"nodes_queued"`
	SlowClosed uint64 `json:"nodes_slow_closed"`
}

// fill computes r from wsload's summary and the samples.
func (r *result) fill(s *snapshot, samples []sample, c *cluster) {
	k := s.Counters
	r.Connected, r.ConnectFailed = k.Connected, k.ConnectFailed
	r.Published, r.Expected, r.Delivered, r.Lost, r.Duplicates, r.Reordered = k.Published, k.Expected, k.Delivered, k.Lost, k.Duplicates, k.Reordered
	r.Incomplete = s.Incomplete
	if h, ok := s.Latency["handshake"]; ok {
		r.HandshakeP50, r.HandshakeP99 = h.P50, h.P99
	}
	if m, ok := s.Latency["message"]; ok {
		r.LatP50, r.LatP90, r.LatP99, r.LatMax = m.P50, m.P90, m.P99, m.Max
	}
	first, last, lastDeliv := 0, 0, 0
	measure := int(s.MeasureStart)
	for _, p := range s.Series {
		if p.Connected > 0 {
			if first == 0 {
				first = p.T
			}
			last = p.T
		}
		if p.T > measure && p.MsgsIn > 0 {
			r.ActiveSecs++
			r.PeakPerSec = max(r.PeakPerSec, p.MsgsIn)
			lastDeliv = p.T
		}
	}
	if first > 0 {
		r.ConnectSeconds = float64(last - first + 1)
		r.ConnectRate = float64(k.Connected) / r.ConnectSeconds
	}
	if r.ActiveSecs > 0 {
		r.PerSec = float64(k.Delivered) / float64(r.ActiveSecs)
	}
	from := s.Start.Add(time.Duration(s.MeasureStart * float64(time.Second)))
	to := s.Start.Add(time.Duration(lastDeliv) * time.Second)
	before, after := held(samples, from), at(samples, to, true)
	if before != nil {
		r.Held = before.Open
		r.RSS = before.RSS
		r.SockHeld = before.Sock
		for _, v := range before.RSS[:len(c.nodes)] {
			r.RSSTotal += v
		}
	}
	if before != nil && after != nil {
		n := len(c.nodes)
		for i := range n {
			r.CPUNodes += after.CPU[i] - before.CPU[i]
		}
		r.CPUNATS = after.CPU[n] - before.CPU[n]
		if k.Delivered > 0 {
			r.CPUPerDeliv = (r.CPUNodes + r.CPUNATS) / float64(k.Delivered) * 1e6
		}
	}
	if len(samples) > 0 {
		for _, v := range samples[0].RSS[:len(c.nodes)] {
			r.RSSBase += v
		}
		first, last := samples[0], samples[len(samples)-1]
		for i := range last.Nodes {
			r.Queued += last.Nodes[i].MessagesOut - first.Nodes[i].MessagesOut
			r.SlowClosed += last.Nodes[i].SlowClosed - first.Nodes[i].SlowClosed
		}
	}
	r.RSSPeak = make([]int64, len(c.nodes)+1)
	for _, sm := range samples {
		for i, v := range sm.RSS {
			r.RSSPeak[i] = max(r.RSSPeak[i], v)
		}
		if sm.Sock.MemPages > r.SockPeak.MemPages {
			r.SockPeak = sm.Sock
		}
	}
}

// held returns the sample that shows the connections held: the first
// with the most connections open, taken before from (the broadcast's
// start) if one was.
func held(samples []sample, from time.Time) *sample {
	var best *sample
	for i := range samples {
		s := &samples[i]
		if best == nil || s.Open > best.Open || (s.Open == best.Open && best.At.After(from)) && !s.At.After(from) {
			best = s
		}
	}
	return best
}

// at returns the last sample taken at or before t (after false), or the
// first at or after it (after true).
func at(samples []sample, t time.Time, after bool) *sample {
	var best *sample
	for i := range samples {
		s := &samples[i]
		if !after && !s.At.After(t) {
			best = s
		}
		if after && !s.At.Before(t) {
			return s
		}
	}
	if after && best == nil && len(samples) > 0 {
		return &samples[len(samples)-1]
	}
	return best
}

// report is everything one run of the harness measured.
type report struct {
	Command string          `json:"command"`
	Start   time.Time       `json:"start"`
	Source  string          `json:"source"`
	NATS    string          `json:"nats_server"`
	Machine procmem.Machine `json:"machine"`
	Compare []result        `json:"compare,omitempty"`
	Scale   *result         `json:"scale,omitempty"`
}

func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// writeReport prints the figures as Markdown, ready for bench/RESULTS.md.
func writeReport(w io.Writer, rep *report) {
	m := rep.Machine
	fmt.Fprintf(w, "Run %s UTC, source %s, %s.\n", rep.Start.Format("2006-01-02 15:04"), rep.Source, rep.NATS)
	fmt.Fprintf(w, "Machine: %s, %d cores, %s RAM, kernel %s, %s.\n", m.CPU, m.Cores, mib(m.MemTotal), m.Kernel, m.Go)
	fmt.Fprintf(w, "Command: `%s`\n\n", rep.Command)
	if s := rep.Scale; s != nil {
		fmt.Fprintf(w, "### %d connections on %d wsgate processes (one port, -reuseport), broadcast to all\n\n", s.Conns, s.Nodes)
		fmt.Fprintf(w, "Load average before: %s.\n\n", s.Load)
		fmt.Fprintf(w, "| Figure | Value |\n|---|---|\n")
		fmt.Fprintf(w, "| connections held (open on the nodes when the broadcast began) | %d of %d (%d failed to connect) |\n", s.Held, s.Conns+1, s.ConnectFailed)
		fmt.Fprintf(w, "| connect rate | %.0f /s over %.0f s (handshake p50 %.1f ms, p99 %.1f ms) |\n", s.ConnectRate, s.ConnectSeconds, s.HandshakeP50, s.HandshakeP99)
		fmt.Fprintf(w, "| RSS per wsgate process | %s |\n", rssList(s.RSS[:s.Nodes]))
		fmt.Fprintf(w, "| RSS of the %d wsgate processes | %s; %s before the first connection: %.0f B per connection held |\n",
			s.Nodes, mib(s.RSSTotal), mib(s.RSSBase), float64(s.RSSTotal-s.RSSBase)/float64(max(s.Held, 1)))
		fmt.Fprintf(w, "| RSS of nats-server | %s |\n", mib(s.RSS[s.Nodes]))
		fmt.Fprintf(w, "| kernel TCP buffer memory, both ends (sockstat mem) | %s held, %s at peak (%s before); %d TCP sockets in use |\n",
			mib(s.SockHeld.bytes()), mib(s.SockPeak.bytes()), mib(s.SockBefore.bytes()), s.SockHeld.InUse)
		slab := s.SockHeld.Slab - s.SockBefore.Slab
		fmt.Fprintf(w, "| kernel slab memory grown while holding them (meminfo Slab) | %s (%.0f B per socket, both ends counted) |\n",
			mib(slab), float64(slab)/float64(max(2*s.Held, 1)))
		writeDelivery(w, s)
		fmt.Fprintln(w)
	}
	if len(rep.Compare) > 0 {
		fmt.Fprintf(w, "### Same fan-out on 1 node and on 3 nodes\n\n")
		fmt.Fprintf(w, "| Nodes | Subscribers | Published | Delivered | Lost | Deliveries/s | p50 | p99 | max | CPU nodes + NATS | CPU per delivery | Load before |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range rep.Compare {
			fmt.Fprintf(w, "| %d | %d | %d | %d | %d | %.0f | %.1f ms | %.1f ms | %.1f ms | %.2f + %.2f s | %.2f µs | %s |\n",
				c.Nodes, c.Conns, c.Published, c.Delivered, c.Lost, c.PerSec, c.LatP50, c.LatP99, c.LatMax, c.CPUNodes, c.CPUNATS, c.CPUPerDeliv, c.Load)
		}
		fmt.Fprintln(w)
	}
}

func writeDelivery(w io.Writer, s *result) {
	fmt.Fprintf(w, "| broadcasts | %d published to one room holding every connection, %d deliveries expected, %d delivered |\n", s.Published, s.Expected, s.Delivered)
	fmt.Fprintf(w, "| messages lost | %d (duplicates %d, out of order %d); the nodes queued %d deliveries and closed %d slow consumers |\n",
		s.Lost, s.Duplicates, s.Reordered, s.Queued, s.SlowClosed)
	fmt.Fprintf(w, "| deliveries/s | %.0f over the %d seconds with deliveries (peak second %d) |\n", s.PerSec, s.ActiveSecs, s.PeakPerSec)
	fmt.Fprintf(w, "| delivery latency | p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms |\n", s.LatP50, s.LatP90, s.LatP99, s.LatMax)
	if s.LatMax > 0 {
		fmt.Fprintf(w, "| one broadcast to all %d | reaches 99%% in %.0f ms, all in %.0f ms: %.0f deliveries/s while it lasts |\n",
			s.Held-1, s.LatP99, s.LatMax, float64(s.Held-1)/(s.LatMax/1000))
	}
	fmt.Fprintf(w, "| CPU from first publish to last delivery | nodes %.2f s, nats-server %.2f s: %.2f µs per delivery |\n", s.CPUNodes, s.CPUNATS, s.CPUPerDeliv)
	if len(s.Incomplete) > 0 {
		fmt.Fprintf(w, "| wsload says incomplete | %s |\n", strings.Join(s.Incomplete, "; "))
	}
}

func rssList(v []int64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprintf("%.0f", float64(x)/(1<<20)))
	}
	return strings.Join(parts, ", ") + " MiB"
}
